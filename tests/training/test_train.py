"""Short real training runs on tiny synthetic sets: the seed CNN learns, the CLI writes its files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from click.testing import CliRunner
from edgexray_export.data.synthetic import BINARY_CLASSES, THREE_CLASSES, SynthConfig, write_dataset

from edgexray.cli.main import cli, main

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

# Strong lesions (difficulty < 1) so a 64x64 seed CNN learns them in seconds from 80 images a class.
TINY = SynthConfig(BINARY_CLASSES, count=80, seed=0, min_side=64, max_side=96, difficulty=0.15)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(data folder, model path): the seed CNN at 64x64 trained by `edgexray train cnn`."""
    root = tmp_path_factory.mktemp("train")
    data = root / "data"
    write_dataset(data, TINY)
    model = root / "cnn.keras"
    args = [
        "train",
        "cnn",
        str(data),
        "-o",
        str(model),
        "--input-size",
        "64",
        "--epochs",
        "30",
        "--batch-size",
        "16",
        "--patience",
        "8",
        "--val-fraction",
        "0.2",
        "--test-fraction",
        "0.2",
        "--seed",
        "0",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return data, model


def test_training_writes_model_history_and_info(trained: tuple[Path, Path]) -> None:
    _, model = trained
    info = json.loads(model.with_name("cnn.training.json").read_text())
    assert info["labels"] == ["NORMAL", "PNEUMONIA"]
    assert info["task"] == "binary"
    assert (info["input_height"], info["input_channels"], info["normalize"]) == (64, 1, "imagenet")
    assert 0 < info["threshold"] < 1
    assert info["split_counts"]["test"] == {"NORMAL": 16, "PNEUMONIA": 16}
    history = model.with_name("cnn.history.csv").read_text().splitlines()
    assert history[0].startswith("phase,epoch")
    assert len(history) - 1 == info["epochs_run"]


def test_the_seed_cnn_clearly_beats_chance(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, model = trained
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["evaluate", str(model), str(data), "-o", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["count"] == 32  # the test split, split as in training
    assert report["accuracy"] >= 0.75  # chance is 0.5
    assert np.array(report["confusion_matrix"]).sum() == 32
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    # Outside the working directory: the folder's and the model's names, no machine's absolute path.
    assert (report["data"], report["model"]) == (data.name, model.name)


def test_evaluate_refuses_data_with_other_classes(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, model = trained
    write_dataset(tmp_path, SynthConfig(("COVID", "NORMAL"), count=10, min_side=32, max_side=40))
    with pytest.raises(SystemExit) as exited:
        main(["evaluate", str(model), str(tmp_path)])
    assert exited.value.code == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "edgexray:" in line]
    assert errors == [
        "edgexray: error: model labels ['NORMAL', 'PNEUMONIA'] differ from the data's class "
        "folders ['COVID', 'NORMAL']"
    ]


def test_finetune_from_a_local_weights_file_keeps_the_frozen_layers(tmp_path: Path) -> None:
    """--weights PATH: head-only phase, then the top layers; the layers below stay as loaded."""
    import keras

    data = tmp_path / "data"
    write_dataset(data, SynthConfig(THREE_CLASSES, count=12, seed=1, min_side=40, max_side=48))
    backbone = keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None
    )
    weights = tmp_path / "backbone.weights.h5"
    backbone.save_weights(weights)
    model = tmp_path / "ft.keras"
    args = [
        "train",
        "finetune",
        str(data),
        "--weights",
        str(weights),
        "--input-size",
        "32",
        "--epochs",
        "1",
        "--fine-tune-epochs",
        "1",
        "--fine-tune-layers",
        "10",
        "-o",
        str(model),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    history = model.with_name("ft.history.csv").read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in history] == ["head", "fine-tune"]
    trained = keras.models.load_model(model).get_layer("backbone")
    first_conv = backbone.get_layer("Conv1").get_weights()[0]
    assert np.array_equal(trained.get_layer("Conv1").get_weights()[0], first_conv)
    info = json.loads(model.with_name("ft.training.json").read_text())
    assert info["pretrained"] is True and info["normalize"] == "symmetric"
