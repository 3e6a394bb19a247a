"""`edgexray train finetune --backbone efficientnet-lite0`: the ImageNet Lite0 with a new head, the
frozen layers' output cached once, the trained weights the model's own (skips without the
checkpoint; `.ci/run` sets $EDGEXRAY_LITE0_WEIGHTS)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from click.testing import CliRunner
from edgexray_export.data.synthetic import THREE_CLASSES, SynthConfig, write_dataset
from edgexray_export.training import efficientnet_lite as lite
from edgexray_export.training.feature_cache import cut_at

from edgexray.cli.main import cli

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]


@pytest.fixture(scope="module")
def weights() -> Path:
    path = lite.find_weights()
    if path is None:
        pytest.skip(f"no Lite0 checkpoint: set ${lite.WEIGHTS_ENV} (see .ci/run)")
    return path


def test_lite0_finetune_trains_from_cached_features(weights: Path, tmp_path: Path) -> None:
    import keras

    data = tmp_path / "data"
    write_dataset(data, SynthConfig(THREE_CLASSES, count=10, seed=1, min_side=64, max_side=72))
    model_path = tmp_path / "lite0.keras"
    args = ["train", "finetune", str(data), "--backbone", "efficientnet-lite0"]
    args += ["--backbone-weights", str(weights), "--input-size", "64", "--epochs", "2"]
    args += ["--fine-tune-epochs", "2", "--learning-rate", "0.01", "-o", str(model_path)]
    args += ["--fine-tune-learning-rate", "0.001"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    info = json.loads(model_path.with_name("lite0.training.json").read_text())
    assert info["architecture"] == "efficientnet-lite0" and info["cached_features"] is True
    assert info["fine_tune_layers"] == 38
    phases = [
        row.split(",")[0]
        for row in model_path.with_name("lite0.history.csv").read_text().splitlines()[1:]
    ]
    assert phases[0] == "head" and phases[-1] == "fine-tune"

    model = keras.models.load_model(model_path)
    backbone = model.get_layer("backbone")
    state = lite.load_state(weights)
    original = lite.lite0_backbone((64, 64, 3), state)
    # Below the cut the ImageNet weights are untouched; above it the fine-tune phase changed them.
    assert np.array_equal(
        backbone.get_layer("block11_project_conv").get_weights()[0],
        original.get_layer("block11_project_conv").get_weights()[0],
    )
    assert not np.array_equal(
        backbone.get_layer("head_conv").get_weights()[0],
        original.get_layer("head_conv").get_weights()[0],
    )
    # The model that is saved computes what the cached-feature models trained.
    cut = cut_at(model, "block12_expand_conv")
    assert cut is not None
    images = np.random.default_rng(0).uniform(-1, 1, (4, 64, 64, 3)).astype(np.float32)
    whole = np.asarray(model(images, training=False))
    staged = np.asarray(cut.upper(cut.lower(images, training=False), training=False))
    np.testing.assert_allclose(whole, staged, atol=1e-5)
    assert not np.allclose(whole, whole[0])
