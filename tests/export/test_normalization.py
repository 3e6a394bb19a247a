"""Export takes the pixel normalization from --normalize or from the model's graph, never a guess
(issue 24): a model without a Rescaling layer or a known keras.applications preprocessing is
refused without the flag, in one line naming it and its choices."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("tensorflow")
import keras
from edgexray_export.errors import ExportError
from edgexray_export.normalization import choose_normalization, detect_normalization
from synthetic import write_folder

from edgexray.cli.main import main

pytestmark = pytest.mark.tensorflow

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_VARIANCE = [0.229**2, 0.224**2, 0.225**2]


def _model(*first: Callable[[Any], Any], shape: tuple[int, int, int] = (32, 32, 3)) -> Any:
    inputs = keras.Input(shape)
    x = inputs
    for step in first:
        x = step(x)
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(x))
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))


def _mobilenet_shaped(*first: Callable[[Any], Any]) -> Any:
    """A user's fine-tuned keras.applications MobileNetV2: the backbone nested, a new head."""
    backbone = keras.applications.MobileNetV2(
        alpha=0.35, weights=None, include_top=False, input_shape=(32, 32, 3)
    )
    inputs = keras.Input((32, 32, 3))
    x = inputs
    for step in first:
        x = step(x)
    x = keras.layers.GlobalAveragePooling2D()(backbone(x))
    return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))


@pytest.mark.parametrize(
    ("preprocess", "value", "mode"),
    [
        (keras.applications.mobilenet_v2.preprocess_input, "raw", "'tf' mode"),
        (keras.applications.resnet50.preprocess_input, "raw", "'caffe' mode"),
        (keras.applications.densenet.preprocess_input, "raw", "'torch' mode"),
        (
            keras.layers.Normalization(
                mean=[255 * m for m in IMAGENET_MEAN],
                variance=[255**2 * v for v in IMAGENET_VARIANCE],
            ),
            "raw",
            "'torch' mode (Normalization",
        ),
        (
            keras.layers.Normalization(mean=IMAGENET_MEAN, variance=IMAGENET_VARIANCE),
            "unit",
            "'torch' mode (Normalization",
        ),
    ],
)
def test_known_keras_applications_preprocessing_is_recognised(
    preprocess: Callable[[Any], Any], value: str, mode: str
) -> None:
    found = detect_normalization(_model(preprocess), (32, 32, 3))
    assert found is not None and found.value == value
    assert (
        found.source.startswith("detected preprocessing: keras.applications")
        and mode in found.source
    )


@pytest.mark.parametrize(
    "first",
    [
        (),  # no preprocessing at all
        (keras.layers.Normalization(mean=[5.0, 6.0, 7.0], variance=[3.0, 3.0, 3.0]),),  # unknown
        (lambda x: x * 2.0,),  # arithmetic, but no keras.applications mode
    ],
)
def test_no_or_unknown_preprocessing_states_nothing(
    first: tuple[Callable[[Any], Any], ...],
) -> None:
    assert detect_normalization(_model(*first), (32, 32, 3)) is None
    with pytest.raises(
        ExportError, match=r"give --normalize \(unit, symmetric, imagenet, caffe, raw\)"
    ):
        choose_normalization(None, None)


def test_the_flag_wins_and_is_recorded_as_the_source() -> None:
    # Named: Keras numbers unnamed layers per process, and other tests make Rescaling layers too.
    rescaling = keras.layers.Rescaling(1 / 255, name="rescaling")
    detected = detect_normalization(_model(rescaling), (32, 32, 3))
    chosen = choose_normalization("unit", detected)
    assert (chosen.value, chosen.source) == ("unit", "flag --normalize")
    assert choose_normalization(None, detected).source == "Rescaling layer 'rescaling'"


def test_a_mobilenet_without_preprocessing_or_flag_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keras.utils.set_random_seed(0)
    _mobilenet_shaped().save(tmp_path / "mobilenet.keras")
    data = write_folder(tmp_path / "data", ("NORMAL", "PNEUMONIA"), per_class=4)
    args = ["export", str(tmp_path / "mobilenet.keras"), "--calibration", str(data)]
    with pytest.raises(SystemExit) as exited:
        main([*args, "-o", str(tmp_path / "out"), "--variants", "tflite-fp32"])
    assert exited.value.code == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "edgexray:" in line]
    assert len(errors) == 1, errors
    assert "--normalize (unit, symmetric, imagenet, caffe, raw)" in errors[0]
    assert not list((tmp_path / "out").glob("*.tflite"))
    # The same backbone behind keras.applications' own preprocessing states its normalization.
    preprocessed = _mobilenet_shaped(keras.applications.mobilenet_v2.preprocess_input)
    found = detect_normalization(preprocessed, (32, 32, 3))
    assert found is not None and found.value == "raw" and "'tf' mode" in found.source


def test_a_sequential_model_starting_with_rescaling_is_read_too() -> None:
    model = keras.Sequential(
        [
            keras.Input((32, 32, 1)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(4, 3),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    found = detect_normalization(model, (32, 32, 1))
    assert found is not None and found.value == "raw" and found.source.startswith("Rescaling")
