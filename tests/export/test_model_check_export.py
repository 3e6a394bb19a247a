"""Export keeps the pooled features as a second output in every variant and fits each variant's
own model check on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
import keras
from click.testing import CliRunner
from edgexray_export.model_check_fit import WEAK_BELOW, ModelCheckConfig, fit_model_check
from edgexray_export.model_check_layer import HEAD_INPUT, choose_layer
from edgexray_export.pipeline import export_model
from synthetic import CLASSES, training_arrays, write_folder

from edgexray import Classifier, ClassifierOptions
from edgexray.cli.main import cli
from edgexray.engines import EngineOptions, open_engine
from edgexray.modelfile import read_card

pytestmark = pytest.mark.tensorflow

VARIANTS = ("tflite-fp32", "tflite-int8", "tflite-int8-io", "onnx-fp32", "onnx-int8")


@pytest.fixture(scope="module")
def calibration(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_folder(tmp_path_factory.mktemp("calibration"), CLASSES, 16, seed=4)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, calibration: Path) -> dict:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(12, activation="relu")(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    x_train, y_train = training_arrays(CLASSES, 32, 1)
    model.compile(optimizer=keras.optimizers.Adam(0.003), loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=8, batch_size=16, verbose=0)
    folder = tmp_path_factory.mktemp("features")
    model.save(folder / "tap.keras")
    lines: list[str] = []
    report = export_model(
        folder / "tap.keras",
        folder / "out",
        normalize="unit",
        calibration_dir=calibration,
        calibration_size=48,
        variants=VARIANTS,
        allow_degraded=True,
        model_check_layer=HEAD_INPUT,
        # These pictures are not films: the model check already refuses every generated
        # non-chest image, and the appearance check would be left out (tested on its own below).
        keep_appearance_check=True,
        progress=lines.append,
    )
    return {"model": model, "path": folder / "tap.keras", "report": report, "progress": lines}


def _inverted_pictures_score_higher(path: Path) -> None:
    """Pictures like the calibration images, upright and inverted, through the Classifier: every
    one gets an appearance score, and the inverted ones score higher."""
    # warn: the tiny test pictures are smoother than radiographs; the image checks only flag them.
    x = training_arrays(CLASSES, 2, 1, seed=9)[0]
    with Classifier(path, ClassifierOptions(input_check="warn")) as classifier:
        upright = [classifier.predict((255 * image[..., 0]).astype(np.uint8)) for image in x]
        inverted = [classifier.predict((255 * (1 - image[..., 0])).astype(np.uint8)) for image in x]
    upright_scores = [r.input_check.appearance_score for r in upright]
    inverted_scores = [r.input_check.appearance_score for r in inverted]
    assert None not in upright_scores + inverted_scores
    assert np.mean(inverted_scores) > np.mean(upright_scores) + 0.15  # type: ignore[arg-type]


def _export_fp32(
    model: Path, out: Path, calibration: Path, lines: list[str], keep: bool = True, size: int = 48
) -> Path:
    """tflite-fp32 of `model` from `size` images of `calibration`, with the export's progress
    lines appended to `lines`; `keep`: the appearance check, whatever export_model's choice."""
    report = export_model(
        model,
        out,
        normalize="unit",
        calibration_dir=calibration,
        calibration_size=size,
        variants=["tflite-fp32"],
        allow_degraded=True,
        keep_appearance_check=keep,
        progress=lines.append,
    )
    path = report.result("tflite-fp32").path
    assert path is not None
    return path


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_keeps_both_outputs_and_its_own_model_check(
    exported: dict, variant: str
) -> None:
    path = exported["report"].result(variant).path
    card = read_card(path)
    assert card is not None and card.schema_version == 4
    summary = card.model_check
    assert summary is not None and summary.feature_dim == 12
    # Fitted on every image the user gave (24 calibration and 24 parity) by the cosine method,
    # each image scored left out.
    assert summary.method == "cosine" and summary.threshold_images == summary.fit_images == 48
    assert set(summary.thresholds) == {"cosine"}
    parity = card.parity
    assert parity is not None and parity.feature_cosine_mean is not None
    assert parity.feature_cosine_mean > 0.99 and parity.feature_relative_error < 0.1
    engine = open_engine(path, EngineOptions(threads=1))
    x = training_arrays(CLASSES, 2, 1, seed=9)[0]  # pictures like the calibration images
    outputs = engine.infer(x)
    engine.close()
    assert outputs.prediction.shape == (6, 3) and outputs.features is not None
    model = exported["model"]
    two = keras.Model(model.inputs, [model.outputs[0], model.layers[-1].input])
    want = np.asarray(two(x, training=False)[1])
    cosine = np.sum(outputs.features * want, axis=1) / (
        np.linalg.norm(outputs.features, axis=1) * np.linalg.norm(want, axis=1)
    )
    assert outputs.features.shape == (6, 12) and np.all(cosine > 0.98), cosine


def test_a_threshold_on_few_calibration_images_is_called_weak_at_export_in_the_card_and_info(
    exported: dict,
) -> None:
    """48 images sampled (24 calibrate, 24 check parity; the checks are fitted on all 48): under
    WEAK_BELOW."""
    warnings = [line for line in exported["progress"] if line.startswith("warning:")]
    assert warnings == [
        f"warning: 48 calibration and parity images, under {WEAK_BELOW}: a weak model check "
        "(cosine method) and a weak appearance check (knn method); the cards say so. Give a "
        f"folder and --calibration-size of at least {WEAK_BELOW} images"
    ]
    path = exported["report"].result("tflite-fp32").path
    card = read_card(path)
    assert card is not None and card.model_check is not None and card.appearance_check is not None
    assert card.model_check.notes["calibration_images"] == 48
    assert "leave-one-out scores of 48 calibration images" in card.model_check.notes["weak"]
    assert card.appearance_check.notes["calibration_images"] == 48
    assert "rests on 24 held-out of 48 calibration images" in card.appearance_check.notes["weak"]
    shown = CliRunner().invoke(cli, ["info", str(path)])
    assert shown.exit_code == 0, shown.output
    lines = [line for line in shown.output.splitlines() if "check:" in line]
    model_line = next(x for x in lines if x.startswith("model check:"))
    appearance_line = next(x for x in lines if x.startswith("appearance check:"))
    assert "cosine" in model_line and "WEAK: the threshold rests on the leave-one-out" in model_line
    assert "WEAK: the threshold rests on 24 held-out" in appearance_line
    # The orientation check sets no threshold on held-out images, so it is never called weak;
    # these noise-and-blob pictures have no common layout, and export says so instead of fitting.
    assert card.orientation_check is None
    reason = "none (the calibration images' layouts disagree)"
    assert f"orientation check: {reason}" in lines
    assert f"orientation check: {reason}" in exported["progress"]


def test_a_threshold_on_enough_calibration_images_is_not_weak() -> None:
    features = np.random.default_rng(0).normal(size=(WEAK_BELOW, 8))
    summary = fit_model_check(features)
    assert summary is not None and summary.notes["calibration_images"] == WEAK_BELOW
    assert summary.method == "cosine"
    assert "weak" not in summary.notes and "WEAK" not in summary.describe()
    fewer = fit_model_check(features[:-1])
    assert fewer is not None and "WEAK" in fewer.describe()
    knn = fit_model_check(features, ModelCheckConfig(method="knn"))
    assert knn is not None and "weak" not in knn.notes
    fewer_knn = fit_model_check(features[:-1], ModelCheckConfig(method="knn"))
    assert fewer_knn is not None and "rests on 25 held-out of 49" in fewer_knn.notes["weak"]


def test_eight_calibration_images_give_a_model_check_fitted_on_all_of_them(
    tmp_path: Path, exported: dict, calibration: Path
) -> None:
    """The issue's third-party model had 8 calibration images and no model check at all: export
    needed 20. Now the 4 calibration and 4 parity images fit a cosine check; the appearance check,
    whose k-NN threshold would rest on 4 images, is left out, and the warning says both."""
    lines: list[str] = []
    path = _export_fp32(exported["path"], tmp_path / "out", calibration, lines, size=8)
    card = read_card(path)
    assert card is not None and card.appearance_check is None
    summary = card.model_check
    assert summary is not None and summary.method == "cosine"
    assert summary.fit_images == summary.threshold_images == 8
    assert summary.threshold == pytest.approx(summary.notes["left_out_max"] * 1.25, rel=1e-5)
    assert [x for x in lines if x.startswith("warning:")] == [
        f"warning: 8 calibration and parity images, under {WEAK_BELOW}: a weak model check "
        "(cosine method) and no appearance check (it needs 20); the cards say so. Give a folder "
        f"and --calibration-size of at least {WEAK_BELOW} images"
    ]
    # Pictures like the calibration images pass; the same pictures' negatives, which pool to other
    # features, score higher.
    x = training_arrays(CLASSES, 2, 1, seed=9)[0]
    with Classifier(path, ClassifierOptions(input_check="warn")) as classifier:
        like = [classifier.predict((255 * image[..., 0]).astype(np.uint8)) for image in x]
        unlike = [classifier.predict((255 * (1 - image[..., 0])).astype(np.uint8)) for image in x]
    like_scores = [r.input_check.model_score for r in like]
    unlike_scores = [r.input_check.model_score for r in unlike]
    assert None not in like_scores + unlike_scores
    assert np.mean(unlike_scores) > np.mean(like_scores)  # type: ignore[arg-type]


def test_the_int8_model_checks_are_fitted_on_their_own_features(exported: dict) -> None:
    float32 = read_card(exported["report"].result("tflite-fp32").path)
    int8 = read_card(exported["report"].result("tflite-int8-io").path)
    assert float32 is not None and int8 is not None
    assert float32.model_check is not None and int8.model_check is not None
    assert float32.model_check.mean != int8.model_check.mean


def test_every_variant_carries_the_same_appearance_check_of_the_calibration_images(
    exported: dict,
) -> None:
    cards = [read_card(exported["report"].result(v).path) for v in VARIANTS]
    checks = [card.appearance_check for card in cards if card is not None]
    assert len(checks) == len(VARIANTS) and checks[0] is not None
    assert all(check == checks[0] for check in checks)  # fitted once, on the model input
    assert checks[0].feature_dim == 256 and checks[0].fit_images + checks[0].threshold_images == 48
    _inverted_pictures_score_higher(exported["report"].result("onnx-fp32").path)


def test_an_appearance_check_that_adds_nothing_is_left_out_and_the_cards_say_why(
    exported: dict, tmp_path: Path, calibration: Path
) -> None:
    """Issue 24: on the third-party benchmark's model the appearance check refused up to 5% of
    the held-out films, and nothing the cosine model check let through. Export now leaves it out
    when it refuses no generated non-chest image the model and orientation checks pass."""
    lines: list[str] = []
    path = _export_fp32(exported["path"], tmp_path / "out", calibration, lines, keep=False)
    card = read_card(path)
    assert card is not None and card.appearance_check is None and card.model_check is not None
    note = card.model_check.notes["appearance_check"]
    assert note.startswith("left out: each of the ") and "generated non-chest images" in note
    assert f"appearance check: {note}" in lines
    shown = CliRunner().invoke(cli, ["info", str(path)])
    assert f"appearance check: none ({note})" in shown.output.splitlines()
    # With the flag it stays, and the note says it was kept against the choice.
    kept = exported["report"].result("tflite-fp32").path
    kept_card = read_card(kept)
    assert kept_card is not None and kept_card.appearance_check is not None
    assert kept_card.model_check is not None
    assert kept_card.model_check.notes["appearance_check"].startswith(
        "kept by --keep-appearance-check, though each of the "
    )


def test_without_the_flag_export_chooses_the_layer_that_separates_best_and_says_why(
    exported: dict, tmp_path: Path, calibration: Path
) -> None:
    model = exported["model"]
    model.save(tmp_path / "tap.keras")
    lines: list[str] = []
    card = read_card(_export_fp32(tmp_path / "tap.keras", tmp_path / "out", calibration, lines))
    assert card is not None and card.model_check is not None
    note = card.model_check.notes["layer_choice"]
    assert note["chosen"] == "automatically, by separation of generated non-chest images"
    assert note["non_chest_images"] == 5 * 8 and note["held_out_images"] == 24
    # The conv, pooling and ReLU maps and the head's input (12-d) were all candidates.
    names = [layer.name for layer in model.layers if len(layer.output.shape) == 4]
    assert note["candidates"] == 1 + len(names) - 1  # every map but the input's own
    winner, runner_up = note, note["runner_up"]
    assert winner["separation"] >= runner_up["separation"]
    assert winner["separation"] == round(
        winner["non_chest_refused"] - winner["held_out_refused"], 4
    )
    chosen = [line for line in lines if line.startswith("model check layer:")]
    assert len(chosen) == 1 and f"{note['layer']}, chosen from" in chosen[0]
    expected = "pooled features" if note["layer"] == HEAD_INPUT else note["layer"]
    assert expected in card.model_check.notes["features"]


def test_a_model_input_smaller_than_the_old_grid_gets_an_appearance_check(
    tmp_path: Path, calibration: Path
) -> None:
    """12 x 12 pixels, under the 16 x 16 grid the check used to need: the layout is resampled
    onto the fixed grid at export and on the device, and an inverted picture scores higher."""
    keras.utils.set_random_seed(2)
    inputs = keras.Input((12, 12, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x)).save(tmp_path / "s.keras")
    lines: list[str] = []
    path = _export_fp32(tmp_path / "s.keras", tmp_path / "out", calibration, lines)
    assert not any("grid" in line for line in lines)
    card = read_card(path)
    assert card is not None and card.input_height == 12 and card.appearance_check is not None
    assert card.appearance_check.feature_dim == 256
    _inverted_pictures_score_higher(path)


def test_a_model_without_pooled_features_before_its_head_exports_without_a_check(
    tmp_path: Path, calibration: Path
) -> None:
    keras.utils.set_random_seed(1)
    inputs = keras.Input((32, 32, 1))
    x = keras.layers.Conv2D(3, 3, padding="same")(inputs)
    outputs = keras.layers.GlobalAveragePooling2D()(x)  # the head reads a feature map
    keras.Model(inputs, outputs).save(tmp_path / "map.keras")
    lines: list[str] = []
    report = export_model(
        tmp_path / "map.keras",
        tmp_path / "out",
        normalize="unit",
        calibration_dir=calibration,
        calibration_size=48,
        variants=["tflite-fp32", "onnx-fp32"],
        allow_degraded=True,
        progress=lines.append,
    )
    assert any("without a model check" in line for line in lines)
    for result in report.results:
        card = read_card(result.path)
        assert card is not None and card.model_check is None and card.schema_version == 4
        assert card.appearance_check is not None  # it needs no features
        with Classifier(result.path) as classifier:
            assert classifier.engine.features is None and classifier.model_check is None


def test_a_feature_map_layer_gives_its_statistics_in_every_variant(
    exported: dict, tmp_path: Path, calibration: Path
) -> None:
    model = exported["model"]
    model.save(tmp_path / "tap.keras")
    conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.MaxPooling2D))
    lines: list[str] = []
    report = export_model(
        tmp_path / "tap.keras",
        tmp_path / "out",
        normalize="unit",
        calibration_dir=calibration,
        calibration_size=48,
        variants=["tflite-fp32", "tflite-int8", "onnx-int8"],
        allow_degraded=True,
        model_check_layer=conv.name,
        progress=lines.append,
    )
    assert any(f"{conv.name}'s feature map statistics" in line for line in lines)
    assert not any(line.startswith("model check layer:") for line in lines)  # the flag overrides
    x = training_arrays(CLASSES, 2, 1, seed=9)[0]
    feature_map = np.asarray(keras.Model(model.inputs, conv.output)(x, training=False), np.float64)
    n, h, w, c = feature_map.shape  # 16 x 16: averaged into 8 x 8 cells of 2 x 2
    cells = feature_map.reshape(n, 8, h // 8, 8, w // 8, c).mean(axis=(2, 4))
    mean = cells.mean(axis=(1, 2))
    want = np.concatenate(
        [
            mean,
            np.abs(cells - mean[:, None, None]).mean(axis=(1, 2)),
            cells[:, :4].mean(axis=(1, 2)),
            cells[:, 4:].mean(axis=(1, 2)),
        ],
        axis=1,
    )
    for result in report.results:
        card = read_card(result.path)
        assert card is not None and card.model_check is not None
        assert card.model_check.feature_dim == 4 * 8
        assert conv.name in card.model_check.notes["features"]
        assert card.model_check.notes["layer_choice"] == {
            "chosen": "by the flag --model-check-layer",
            "layer": conv.name,
        }
        engine = open_engine(result.path, EngineOptions(threads=1))
        outputs = engine.infer(x)
        engine.close()
        got = outputs.features
        assert got is not None and got.shape == want.shape, result.variant
        if result.variant == "tflite-fp32":  # the same statistics, in the same order
            np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)
        cosine = np.sum(got * want, axis=1) / (
            np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1)
        )
        assert np.all(cosine > 0.98), (result.variant, cosine)
    # The features branch off the network: in onnx-int8 every conv still writes a quantized
    # output (the float tail stops at the branch instead of running the convs before it in float).
    import onnx

    graph = onnx.load(str(report.result("onnx-int8").path)).graph
    readers = {name: node.op_type for node in graph.node for name in node.input}
    convs = [node for node in graph.node if node.op_type == "Conv"]
    assert len(convs) == 2
    assert all(readers.get(node.output[0]) == "QuantizeLinear" for node in convs)
    # ... and reads a DequantizeLinear of its own (ONNX Runtime fuses only such a DQ into an int8
    # QLinearConv): the branch reads the tensor before the Q/DQ pair.
    producers = {out: node for node in graph.node for out in node.output}
    for conv in convs:
        dq = producers[conv.input[0]]
        assert dq.op_type == "DequantizeLinear"
        assert [n.name for n in graph.node if dq.output[0] in n.input] == [conv.name]


@pytest.mark.parametrize(
    ("layer", "message"),
    [("nowhere", "has no layer 'nowhere'"), ("dense", "not a feature map")],
)
def test_a_model_check_layer_that_is_not_a_feature_map_is_one_clear_error(
    exported: dict, tmp_path: Path, calibration: Path, layer: str, message: str
) -> None:
    from edgexray_export.errors import ExportError

    model = exported["model"]
    model.save(tmp_path / "tap.keras")
    name = layer
    if layer == "dense":
        name = next(lay.name for lay in model.layers if isinstance(lay, keras.layers.Dense))
    with pytest.raises(ExportError, match=message):
        export_model(
            tmp_path / "tap.keras",
            tmp_path / "out",
            normalize="unit",
            calibration_dir=calibration,
            calibration_size=48,
            variants=["tflite-fp32"],
            model_check_layer=name,
        )


def test_the_leading_preprocessing_is_no_candidate_for_the_model_check() -> None:
    """A Rescaling layer's output is the image itself (the appearance check's business): the
    candidates are the head's input and the conv layer's map."""
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(x)
    x = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    rng = np.random.default_rng(0)
    images = [rng.uniform(0, 255, (n, 16, 16, 1)).astype(np.float32) for n in (24, 12, 10)]
    choice = choose_layer(model, *images, ModelCheckConfig())
    assert choice is not None and choice.candidates == 2
    assert choice.layer in (None, "conv") and choice.runner_up is not None
