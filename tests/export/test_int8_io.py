"""tflite-int8 computes in int8 but takes and gives float32, so its probabilities keep float
precision; the int8-input-and-output form exists only on request (`--int8-io`), under its own name;
every int8 card says what its file holds, read back from the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
from click.testing import CliRunner
from edgexray_export.variants import DEFAULT_VARIANTS, VARIANTS
from edgexray_export.variants.tflite_contents import TFLiteContents, read_tflite_contents
from synthetic import trained_binary_cnn, write_folder

from edgexray import Classifier
from edgexray.cli.main import cli
from edgexray.modelfile import read_card

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

BINARY = ("NORMAL", "PNEUMONIA")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny binary CNN exported by the CLI as tflite-int8 and, with --int8-io, tflite-int8-io."""
    folder = tmp_path_factory.mktemp("int8io")
    trained_binary_cnn(folder / "tiny.keras", BINARY)
    images = write_folder(folder / "images", BINARY, 24, seed=3)
    args = ["export", "--normalize", "unit", str(folder / "tiny.keras"), "-o", str(folder / "out")]
    args += ["--calibration", str(images), "--calibration-size", "48"]
    args += ["--variants", "tflite-int8", "--int8-io"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return folder / "out"


def _probabilities(path: Path) -> np.ndarray:
    x = np.random.default_rng(0).uniform(0, 1, (40, 32, 32, 1)).astype(np.float32)
    with Classifier(path) as classifier:
        return classifier.predict_tensor(x)[:, 1]


def _on_the_1_256_grid(p: np.ndarray) -> np.ndarray:
    return np.abs(p * 256 - np.round(p * 256)) < 1e-4


def test_tflite_int8_takes_and_gives_float32_and_its_probabilities_are_not_in_1_256_steps(
    exported: Path,
) -> None:
    path = exported / "tiny.tflite-int8.tflite"
    holds = read_tflite_contents(path)
    assert (holds.input_type, holds.output_type) == ("float32", "float32")
    assert holds.int8_layers  # int8 inside
    notes = read_card(path).quantization
    assert notes["input_type"] == "float32" and notes["output_type"] == "float32"
    assert notes["int8_layers"] == len(holds.int8_layers)
    assert notes["float_layers"] == len(holds.float_layers)
    assert notes["layers"] == holds.describe_layers()
    assert notes["input_output"].startswith("float32")
    assert not _on_the_1_256_grid(_probabilities(path)).all()


def test_int8_io_is_on_request_named_so_and_holds_only_int8(exported: Path) -> None:
    assert "tflite-int8-io" in VARIANTS and "tflite-int8-io" not in DEFAULT_VARIANTS
    path = exported / "tiny.tflite-int8-io.tflite"
    card = read_card(path)
    assert card.variant == "tflite-int8-io"
    holds = read_tflite_contents(path)
    assert (holds.input_type, holds.output_type) == ("int8", "int8")
    assert holds.float_layers == () and holds.int8_layers
    notes = card.quantization
    assert notes["input_type"] == "int8" and notes["output_type"] == "int8"
    assert notes["float_layers"] == 0 and notes["layers"].startswith("int8 in all")
    assert notes["input_output"].startswith("int8")
    # A sigmoid's int8 output has 256 levels: the probabilities come in steps of 1/256.
    assert _on_the_1_256_grid(_probabilities(path)).all()


def test_float_layers_are_counted_by_type() -> None:
    mixed = TFLiteContents(
        "float32", "float32", ("CONV_2D",) * 6, ("FULLY_CONNECTED",) * 3 + ("LOGISTIC",)
    )
    assert mixed.describe_layers() == (
        "int8 in 6 of 10 layers, float32 in 4 (FULLY_CONNECTED x3, LOGISTIC)"
    )
    assert TFLiteContents("int8", "int8", ("CONV_2D",) * 2, ()).describe_layers() == (
        "int8 in all 2 layers"
    )
