"""`edgexray bench --keras`: the full model timed as model.predict and as a tf.function, and used as
the reference for parity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

pytest.importorskip("tensorflow")

from edgexray.card import ModelCard
from edgexray.cli.main import cli
from edgexray.modelfile import write_card

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]


def tiny_keras_and_tflite(folder: Path) -> tuple[Path, Path]:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(5)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    keras_path = folder / "tiny.keras"
    model.save(keras_path)
    tflite_path = folder / "tiny.tflite-fp32.tflite"
    tflite_path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    card = ModelCard(("NORMAL", "PNEUMONIA"), "binary", 16, 16, 1, "unit", name="tiny")
    write_card(tflite_path, card.replace(variant="tflite-fp32"))
    return keras_path, tflite_path


def test_keras_rows_and_parity_against_the_full_model(tmp_path: Path) -> None:
    keras_path, tflite_path = tiny_keras_and_tflite(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(1)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8)).save(data / f"{i}.png")
    out = tmp_path / "bench.json"
    args = ["bench", "-m", str(tflite_path), "--data", str(data), "--keras", str(keras_path)]
    args += ["--runs", "3", "--warmup", "1", "--batch-sizes", "1", "--threads", "1"]
    args += ["--json", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    rows = {row["name"]: row for row in report["results"]}
    assert list(rows) == ["keras-predict", "keras-tf-function", "tflite-fp32"]
    assert report["comparison"]["images"] == 6 and "model.predict" in report["comparison"]["source"]
    for name in ("keras-predict", "keras-tf-function"):
        assert rows[name]["format"] == "keras" and rows[name]["role"] == "full-model"
        assert rows[name]["size_bytes"] == keras_path.stat().st_size
        assert rows[name]["latency_ms"]["count"] == 3 and rows[name]["error"] is None
    assert rows["keras-predict"]["agreement"] == 1.0 and rows["keras-predict"]["max_abs_diff"] == 0
    assert rows["keras-tf-function"]["agreement"] == 1.0
    assert rows["keras-tf-function"]["max_abs_diff"] < 1e-6
    assert rows["tflite-fp32"]["agreement"] == 1.0 and rows["tflite-fp32"]["max_abs_diff"] < 1e-5
