"""The clear, one-line errors a user gets for models and data the export cannot use."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("tensorflow")
import keras
from edgexray_export.errors import ExportError
from edgexray_export.keras_loading import load_keras_model
from edgexray_export.pipeline import export_model
from edgexray_export.quantization import QuantizationConfig
from synthetic import write_folder

pytestmark = pytest.mark.tensorflow


def _small(head: keras.layers.Layer, *middle: keras.layers.Layer) -> keras.Model:
    inputs = keras.Input((16, 16, 1))
    x = inputs
    for layer in middle:
        x = layer(x)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(x))
    return keras.Model(inputs, head(x))


def _one_line(exc: pytest.ExceptionInfo[ExportError]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_lambda_layer_is_refused_with_what_to_do(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"lambda{suffix}"
    _small(
        keras.layers.Dense(2, activation="softmax"), keras.layers.Lambda(lambda t: t * 2.0)
    ).save(path)
    with pytest.raises(ExportError) as exc:
        load_keras_model(path)
    message = _one_line(exc)
    assert "Lambda" in message and "replace it with a built-in layer" in message


@keras.saving.register_keras_serializable(package="edgexray_test")
class _Doubler(keras.layers.Layer):
    def call(self, x):  # type: ignore[no-untyped-def]
        return x * 2.0


def test_unknown_custom_layer_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "custom.keras"
    _small(keras.layers.Dense(2, activation="softmax"), _Doubler()).save(path)
    # Loading where the layer's code is not registered, as on another machine.
    monkeypatch.delitem(keras.saving.get_custom_objects(), "edgexray_test>_Doubler")
    with pytest.raises(ExportError) as exc:
        load_keras_model(path)
    message = _one_line(exc)
    assert "custom layer" in message and "custom.keras" in message


def test_head_detection(tmp_path: Path) -> None:
    cases = {
        "sigmoid": (keras.layers.Dense(1, activation="sigmoid"), "probabilities", 1),
        "softmax": (keras.layers.Dense(4, activation="softmax"), "probabilities", 4),
        "logits": (keras.layers.Dense(3), "logits", 3),
    }
    for name, (head, kind, units) in cases.items():
        path = tmp_path / f"{name}.keras"
        _small(head).save(path)
        info = load_keras_model(path).info
        assert (info.output_kind, info.output_units) == (kind, units), name
        assert (info.input_height, info.input_width, info.color_mode) == (16, 16, "grayscale")
        assert info.output_kind_source.startswith("head activation")


def test_model_without_fixed_input_size_is_refused(tmp_path: Path) -> None:
    inputs = keras.Input((None, None, 1))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    path = tmp_path / "anysize.keras"
    keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x)).save(path)
    with pytest.raises(ExportError, match="fixed"):
        load_keras_model(path)


@pytest.fixture(scope="module")
def softmax_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "m.keras"
    _small(keras.layers.Dense(3, activation="softmax")).save(path)
    return path


def test_empty_calibration_folder(softmax_model: Path, tmp_path: Path) -> None:
    (tmp_path / "empty" / "NORMAL").mkdir(parents=True)
    with pytest.raises(ExportError) as exc:
        export_model(softmax_model, tmp_path / "out", calibration_dir=tmp_path / "empty")
    assert "holds no images" in _one_line(exc)


def test_too_small_calibration_folder(softmax_model: Path, tmp_path: Path) -> None:
    write_folder(tmp_path / "cal", ("A", "B"), 1)
    with pytest.raises(ExportError, match="holds 2 image"):
        export_model(softmax_model, tmp_path / "out", calibration_dir=tmp_path / "cal")


def test_labels_must_fit_the_head(softmax_model: Path, tmp_path: Path) -> None:
    write_folder(tmp_path / "cal", ("A", "B"), 4)
    with pytest.raises(ExportError, match="needs 3 labels, got 2: A, B"):
        export_model(softmax_model, tmp_path / "out", calibration_dir=tmp_path / "cal")
    (tmp_path / "flat").mkdir()
    for image in (tmp_path / "cal").rglob("*.png"):
        image.rename(tmp_path / "flat" / f"{image.parent.name}{image.name}")
    with pytest.raises(ExportError, match="give --labels"):
        export_model(softmax_model, tmp_path / "out", calibration_dir=tmp_path / "flat")


def test_unknown_variant_and_quantization_option(softmax_model: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"unknown variant.*tflite-int4"):
        export_model(softmax_model, tmp_path, calibration_dir=tmp_path, variants=["tflite-int4"])
    with pytest.raises(ExportError, match=r"unknown quantization option.*percentil"):
        QuantizationConfig.from_dict({"percentil": 99.9})
    with pytest.raises(ExportError, match="calibration method"):
        QuantizationConfig(calibration_method="kl")
    config = QuantizationConfig(calibration_method="percentile", nodes_to_exclude=("head",))
    assert QuantizationConfig.from_dict(config.to_dict()) == config


def test_tflite_error_budget_is_validated_and_round_trips() -> None:
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ExportError, match="tflite_max_mean_abs_diff"):
            QuantizationConfig(tflite_max_mean_abs_diff=bad)
    config = QuantizationConfig(tflite_max_mean_abs_diff=0.0025)
    assert QuantizationConfig.from_dict(config.to_dict()) == config
