"""The seed CNN layer for layer, and the fine-tune model's structure."""

from __future__ import annotations

import pytest

pytest.importorskip("tensorflow")

from edgexray_export.errors import ExportError
from edgexray_export.training.architectures import (
    BackboneWeights,
    FinetuneSpec,
    finetune_model,
    seed_cnn,
)

pytestmark = pytest.mark.tensorflow

SEED_LAYERS = [
    ("conv_1", (None, 256, 256, 32), 320),
    ("pool_1", (None, 128, 128, 32), 0),
    ("dropout", (None, 128, 128, 32), 0),
    ("conv_2", (None, 128, 128, 64), 18496),
    ("pool_2", (None, 64, 64, 64), 0),
    ("conv_3", (None, 64, 64, 128), 73856),
    ("global_average_pooling2d", (None, 128), 0),
    ("dense_1", (None, 128), 16512),
    ("dense_2", (None, 64), 8256),
    ("Output", (None, 1), 65),
]


def test_seed_cnn_matches_the_seed_summary() -> None:
    model = seed_cnn()
    assert model.count_params() == 117_505
    assert model.input_shape == (None, 256, 256, 1)
    found = [(layer.name, layer.output.shape, layer.count_params()) for layer in model.layers]
    assert [(n, tuple(s), p) for n, s, p in found] == SEED_LAYERS
    assert model.layers[-1].activation.__name__ == "sigmoid"


def test_seed_cnn_with_three_classes_has_a_softmax_head() -> None:
    model = seed_cnn(3)
    assert model.output_shape == (None, 3)
    assert model.count_params() == 117_505 - 65 + 64 * 3 + 3
    assert model.layers[-1].activation.__name__ == "softmax"


def test_finetune_model_nests_mobilenetv2_without_its_top() -> None:
    model = finetune_model(3, FinetuneSpec(96, 96, 0.35), BackboneWeights("none"))
    backbone = model.get_layer("backbone")
    assert backbone.name == "backbone"
    assert backbone.output_shape == (None, 3, 3, 1280)  # no classifier top, 32x downsampling
    assert model.input_shape == (None, 96, 96, 3)
    assert model.output_shape == (None, 3)
    assert model.layers[-1].count_params() == 1280 * 3 + 3


def test_bad_backbone_settings_are_refused(tmp_path) -> None:
    with pytest.raises(ExportError, match="alpha"):
        FinetuneSpec(alpha=0.6)
    with pytest.raises(ExportError, match="weights"):
        BackboneWeights(str(tmp_path / "missing.h5"))
    with pytest.raises(ExportError, match="at least 2 classes"):
        seed_cnn(1)
