"""A variant takes its final name only once the parity gate has judged it (issue 24): converted,
carded and sealed under a temporary name, so an exception nothing catches leaves no valid-looking
file without parity figures."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("tensorflow")
import keras
from edgexray_export.pipeline import export_model
from synthetic import write_folder

from edgexray.modelfile import read_card

pytestmark = pytest.mark.tensorflow


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Path, Path]:
    """An untrained 16 px binary CNN and 8 labelled images: parity is not the point here."""
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x)).save(tmp_path / "t.keras")
    return tmp_path / "t.keras", write_folder(tmp_path / "images", ("NORMAL", "PNEUMONIA"), 4)


def _export(model: Path, out: Path, images: Path) -> None:
    export_model(
        model,
        out,
        normalize="unit",
        calibration_dir=images,
        variants=["tflite-fp32"],
        min_agreement=0.0,
        model_check_layer="head-input",
    )


def test_a_gate_that_raises_leaves_no_file_under_the_final_name(
    tiny: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import edgexray_export.pipeline as pipeline

    def broken_gate(*args: object, **kwargs: object) -> None:
        raise KeyError("the gate broke")

    monkeypatch.setattr(pipeline, "measure_parity", broken_gate)
    out = tmp_path / "out"
    with pytest.raises(KeyError, match="the gate broke"):
        _export(*tiny[:1], out, tiny[1])
    assert (out / "t.reference.json").exists()  # the export got as far as the variant
    assert sorted(p.name for p in out.iterdir()) == ["t.reference.json"]


def test_a_judged_variant_is_renamed_into_place_with_its_sidecar(
    tiny: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    _export(*tiny[:1], out, tiny[1])
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "t.parity.json",
        "t.reference.json",
        "t.tflite-fp32.json",
        "t.tflite-fp32.tflite",
    ]
    card = read_card(out / "t.tflite-fp32.tflite")
    assert card is not None and card.parity is not None
