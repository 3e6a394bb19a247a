"""Legacy formats are inspected as data before loading: a model that could run code on load is
refused (unless --trust-model), and the refused model's code never runs."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("tensorflow")
import keras
import tensorflow as tf
from edgexray_export.errors import ExportError
from edgexray_export.keras_loading import load_keras_model, load_model_safely
from edgexray_export.model_inspection import keras_metadata_layers, unsafe_content
from synthetic import write_folder

from edgexray.cli.main import main

pytestmark = pytest.mark.tensorflow


def _lambda_writing(marker: Path) -> keras.layers.Lambda:
    # Built from source so the saved function carries the marker path itself (no closure).
    function = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]")
    return keras.layers.Lambda(function, name="side_effect")


def _model(*middle: keras.layers.Layer) -> keras.Model:
    inputs = keras.Input((16, 16, 1))
    x = inputs
    for layer in middle:
        x = layer(x)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(x))
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))


@pytest.fixture
def lambda_h5(tmp_path: Path) -> tuple[Path, Path]:
    """(model.h5 whose Lambda touches `marker` whenever it runs, marker), marker absent."""
    marker = tmp_path / "code-ran"
    path = tmp_path / "model.h5"
    _model(_lambda_writing(marker)).save(path)
    marker.unlink()  # building the model in this test ran the Lambda once
    return path, marker


def test_a_lambda_h5_is_refused_and_its_code_never_runs(lambda_h5: tuple[Path, Path]) -> None:
    path, marker = lambda_h5
    assert unsafe_content(path)[0] == "a Lambda layer ('side_effect')"
    with pytest.raises(ExportError, match=r"Lambda layer.*--trust-model"):
        load_keras_model(path)
    assert not marker.exists()
    # The check can see code running: a trusted load does run it.
    load_model_safely(path, trust_model=True)
    assert marker.exists()


@pytest.mark.parametrize("command", ["export", "evaluate"])
def test_export_and_evaluate_refuse_it_in_one_line(
    command: str,
    lambda_h5: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, marker = lambda_h5
    data = write_folder(tmp_path / "data", ("NORMAL", "PNEUMONIA"), per_class=4)
    args = {
        "export": ["export", str(path), "--calibration", str(data), "-o", str(tmp_path / "out")],
        "evaluate": ["evaluate", str(path), str(data), "--split", "all"],
    }[command]
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "edgexray:" in line]
    assert len(errors) == 1 and "Lambda layer" in errors[0] and "--trust-model" in errors[0]
    assert not marker.exists()


@keras.saving.register_keras_serializable(package="edgexray_safety")
class _Scale(keras.layers.Layer):
    def call(self, x):  # type: ignore[no-untyped-def]
        return x * 2.0


def test_a_custom_layer_in_h5_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "custom.h5"
    _model(_Scale(name="scale")).save(path)
    problems = unsafe_content(path)
    assert (
        "a custom layer (edgexray_safety>_Scale 'scale') that is not built into Keras" in problems
    )
    with pytest.raises(ExportError, match="custom layer"):
        load_keras_model(path)


def test_a_plain_model_passes_the_inspection(tmp_path: Path) -> None:
    for suffix in (".h5", ".keras"):
        path = tmp_path / f"plain{suffix}"
        _model(keras.layers.Rescaling(1 / 255)).save(path)
        assert unsafe_content(path) == []


class _WritesAFile(keras.layers.Layer):
    def __init__(self, marker: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.marker = marker

    def call(self, x):  # type: ignore[no-untyped-def]
        tf.io.write_file(self.marker, "ran")
        return x


def test_a_saved_model_whose_graph_writes_files_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "graph-ran"
    folder = tmp_path / "saved"
    _model(_WritesAFile(str(marker))).export(folder, verbose=False)
    marker.unlink(missing_ok=True)
    assert "the graph op WriteFile" in unsafe_content(folder)
    with pytest.raises(ExportError, match="WriteFile"):
        load_keras_model(folder)
    assert not marker.exists()


def test_keras_metadata_layers_are_read_without_tensorflow_keras() -> None:
    # A keras_metadata.pb (tf.keras 2 SavedModel) as wire format: nodes = 1, identifier = 4,
    # metadata = 5.
    def field(number: int, payload: bytes) -> bytes:
        return bytes([number << 3 | 2, len(payload)]) + payload

    def node(identifier: str, metadata: str) -> bytes:
        return field(1, field(4, identifier.encode()) + field(5, metadata.encode()))

    data = node("_tf_keras_layer", '{"class_name": "Lambda", "name": "fn"}') + node(
        "_tf_keras_metric", '{"class_name": "Mean", "name": "loss"}'
    )
    assert keras_metadata_layers(data) == [{"class_name": "Lambda", "config": {"name": "fn"}}]
