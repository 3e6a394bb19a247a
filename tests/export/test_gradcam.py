"""Grad-CAM on Keras: the last feature map is found (also inside a nested model) and the map's
peak lies where the model looks by construction; `edgexray explain --keras` writes the files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
import keras
from click.testing import CliRunner
from edgexray_export.explain.gradcam import METHODS, GradCam, find_target_layer

from edgexray.cli.main import cli
from edgexray.explain import summarize

pytestmark = pytest.mark.tensorflow

DATA = Path(__file__).parent.parent / "data"


def _quadrant_model() -> keras.Model:
    spec = importlib.util.spec_from_file_location("make_tiny_models", DATA / "make_tiny_models.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.quadrant_model()


def _nested(inner: keras.Model) -> keras.Model:
    """The quadrant model used as one layer (like a keras.applications backbone) under a head."""
    inputs = keras.Input((16, 16, 1))
    return keras.Model(inputs, keras.layers.Activation("linear", name="head")(inner(inputs)))


def _image() -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 0.3, (1, 16, 16, 1)).astype(np.float32)
    x[:, :8, 8:] = rng.uniform(0.5, 0.7, (1, 8, 8, 1))
    return x


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("nested", [False, True])
def test_peak_lies_in_the_quadrant(method: str, nested: bool) -> None:
    model = _quadrant_model()
    if nested:
        model = _nested(model)
    cam = GradCam(model, method=method)
    expected = ("quadrant", "features") if nested else ("features",)
    assert cam.layer.path == expected
    probabilities, maps = cam.maps(_image(), 1)
    assert probabilities[0, 1] > 0.5
    summary = summarize(maps[0])
    assert summary.peak_y < 8 <= summary.peak_x, summary
    assert maps[0][8:, :8].max() < 0.5


def test_a_model_without_feature_maps_is_refused() -> None:
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    from edgexray_export.errors import ExportError

    with pytest.raises(ExportError, match="no layer"):
        find_target_layer(model)


def test_cli_explains_a_keras_model(tmp_path: Path) -> None:
    path = tmp_path / "quadrant.keras"
    _quadrant_model().save(path)
    from PIL import Image

    image = tmp_path / "chest.png"
    Image.fromarray(np.rint(_image()[0, ..., 0] * 255).astype(np.uint8), "L").save(image)
    out = tmp_path / "out"
    args = ["explain", "--keras", "-m", str(path), "--labels", "NORMAL,PNEUMONIA", str(image)]
    result = CliRunner().invoke(cli, [*args, "--normalize", "unit", "-o", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "chest.json").read_text())
    assert record["method"] == "gradcam" and record["layer"] == "features"
    assert record["label"] == "PNEUMONIA" and record["peak_y"] < 8 <= record["peak_x"]
