"""End-to-end export of small trained models: every variant written, carded, loadable, and proven.

Models are built and briefly trained here; exported artefacts are shared per module to stay fast.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("tensorflow")
import keras
from click.testing import CliRunner
from edgexray_export.keras_loading import LoadedKerasModel, source_sha256
from edgexray_export.model_check_layer import HEAD_INPUT
from edgexray_export.pipeline import ParityGateError, export_model
from edgexray_export.report import ExportReport, format_table
from edgexray_export.variants import DEFAULT_VARIANTS, VARIANTS
from edgexray_export.variants.tflite import TFLiteFloat32
from synthetic import CLASSES, fit_briefly, write_folder

from edgexray import Classifier
from edgexray.card import ModelCard
from edgexray.cli.main import cli
from edgexray.modelfile import read_card, read_model_file, sidecar_path
from edgexray.parity import measure_parity
from edgexray.postprocess import to_probabilities
from edgexray.preprocessing import Preprocessor
from edgexray.reference import read_reference

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

BINARY = ("NORMAL", "PNEUMONIA")
FLOAT_VARIANTS = ("tflite-fp32", "onnx-fp32")
INT8_VARIANTS = ("tflite-int8", "onnx-int8")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("calibration")
    return {
        "binary": write_folder(base / "binary", BINARY, 24, seed=3),
        "three": write_folder(base / "three", CLASSES, 20, seed=4),
    }


def _keras_probabilities(model: keras.Model, x: np.ndarray, card: ModelCard) -> np.ndarray:
    return to_probabilities(np.asarray(model(x, training=False)), card)


def _parity_tensors(out: Path, name: str, root: Path, card: ModelCard) -> np.ndarray:
    reference = read_reference(out / f"{name}.reference.json")
    pre = Preprocessor.from_card(card)
    return np.stack([pre(path) for path in reference.image_paths(root)])


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory, folders: dict[str, Path]) -> dict:
    """Sequential, 1 channel, sigmoid head, BatchNorm/Dropout/depthwise conv; all seven variants."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 1)),
            keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
            keras.layers.BatchNormalization(momentum=0.5),
            keras.layers.MaxPooling2D(),
            keras.layers.DepthwiseConv2D(3, padding="same", activation="relu"),
            keras.layers.Dropout(0.25),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    fit_briefly(model, BINARY, 1, "binary_crossentropy")
    folder = tmp_path_factory.mktemp("binary")
    path = folder / "seq.keras"
    model.save(path)
    out = folder / "out"
    report = export_model(
        path, out, normalize="unit", calibration_dir=folders["binary"], calibration_size=48
    )
    return {"model": model, "path": path, "out": out, "report": report}


def test_every_variant_is_one_carded_file_that_the_runtime_loads(binary: dict) -> None:
    out, report = binary["out"], binary["report"]
    assert [r.variant for r in report.results] == list(DEFAULT_VARIANTS)
    for result in report.results:
        suffix = VARIANTS[result.variant].suffix
        path = out / f"seq.{result.variant}{suffix}"
        assert result.status == "ok" and result.path == path
        assert result.size_bytes == path.stat().st_size
        card = read_card(path)
        assert card is not None and card.variant == result.variant
        assert card.labels == BINARY and card.task == "binary"
        assert (card.input_height, card.input_width, card.input_channels) == (32, 32, 1)
        assert card.output_kind == "probabilities" and card.normalize == "unit"
        assert card.source_sha256 == source_sha256(binary["path"])
        assert card.parity is not None and card.parity.images == 24
        assert card.parity.agreement >= 0.99 and not card.parity.degraded
        assert card.parity.reference_accuracy is not None and card.parity.reference_accuracy > 0.9
        assert {"tensorflow", "keras", "tf2onnx"} <= set(card.tool_versions)
        assert json.loads(sidecar_path(path).read_text())["variant"] == result.variant
        with Classifier(path) as classifier:
            probabilities = classifier.predict_tensor(np.zeros((2, 32, 32, 1), np.float32))
            tensors = (classifier.engine.input.dtype.name, classifier.engine.output.dtype.name)
        assert probabilities.shape == (2, 2)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
        # Every card states its file's tensor types; no default variant takes or gives int8.
        notes = card.quantization
        assert (notes["input_type"], notes["output_type"]) == tensors == ("float32", "float32")


def test_float_variants_match_keras_to_1e4(binary: dict, folders: dict[str, Path]) -> None:
    card = read_card(binary["out"] / "seq.tflite-fp32.tflite")
    x = _parity_tensors(binary["out"], "seq", folders["binary"], card)
    want = _keras_probabilities(binary["model"], x, card)
    for variant in FLOAT_VARIANTS:
        path = binary["report"].result(variant).path
        with Classifier(path) as classifier:
            got = classifier.predict_tensor(x)
        assert np.max(np.abs(got - want)) < 1e-4, variant


def test_int8_variants_keep_top1_and_say_how_they_were_quantized(binary: dict) -> None:
    for variant in INT8_VARIANTS:
        card = read_card(binary["report"].result(variant).path)
        assert card.parity.agreement >= 0.995, (variant, card.parity)
        assert card.parity.max_abs_diff < 0.1
        assert "per-channel" in card.quantization["weights"]
    onnx_notes = read_card(binary["report"].result("onnx-int8").path).quantization
    assert onnx_notes["format"] == "QDQ" and onnx_notes["calibration_method"] == "minmax"
    assert onnx_notes["attempts"][0]["calibration_set_agreement"] >= 0.995


def test_saved_reference_lets_a_device_recheck_parity(
    binary: dict, folders: dict[str, Path]
) -> None:
    reference = read_reference(binary["out"] / "seq.reference.json")
    assert reference.labels == BINARY and len(reference.images) == 24
    assert reference.source_sha256 == source_sha256(binary["path"])
    assert {image.true_label for image in reference.images} == set(BINARY)
    path = binary["report"].result("tflite-int8").path
    with Classifier(path) as classifier:
        x = np.stack([classifier.preprocessor(p) for p in reference.image_paths(folders["binary"])])
        again = measure_parity(
            reference.probabilities,
            classifier.predict_tensor(x),
            classifier.card,
            true_labels=reference.true_label_indices(),
        )
    recorded = classifier.card.parity
    assert again.agreement == recorded.agreement and again.accuracy == recorded.accuracy
    assert again.max_abs_diff == pytest.approx(recorded.max_abs_diff, abs=1e-6)


def test_parity_report_json_and_table(binary: dict) -> None:
    data = json.loads((binary["out"] / "seq.parity.json").read_text())
    assert [r["variant"] for r in data["results"]] == list(DEFAULT_VARIANTS)
    assert all(r["parity"]["agreement"] >= 0.99 for r in data["results"])
    table = format_table(binary["report"])
    for variant in DEFAULT_VARIANTS:
        assert variant in table
    assert "agreement" in table and "max |dp|" in table


def test_explanation_parity_is_in_the_report_and_the_cards(binary: dict) -> None:
    data = json.loads((binary["out"] / "seq.parity.json").read_text())
    for row in data["results"]:
        parity = row["parity"]
        assert parity["explanation_images"] == 8
        assert -1 <= parity["explanation_rank_correlation"] <= 1
        assert 0 <= parity["explanation_top_overlap"] <= 1
        card = read_card(Path(row["path"]))
        assert card.parity.explanation_rank_correlation == parity["explanation_rank_correlation"]
    assert "map rho/top10" in format_table(binary["report"])


def _damaged(job):  # type: ignore[no-untyped-def]
    """`job` with a copy of its model whose output bias was pushed up: every image comes out
    positive."""
    original = job.source.model
    model = keras.models.clone_model(original)
    model.set_weights(original.get_weights())
    kernel, bias = model.layers[-1].get_weights()
    model.layers[-1].set_weights([kernel, bias + 8.0])
    return dataclasses.replace(job, source=LoadedKerasModel(model, job.source.info))


class _Damaged(TFLiteFloat32):
    """tflite-fp32 of a model whose output bias was pushed up: every image comes out positive."""

    def convert(self, job, out_path):  # type: ignore[no-untyped-def]
        return super().convert(_damaged(job), out_path)


def test_gate_fails_on_a_damaged_variant(
    binary: dict, folders: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(VARIANTS, "tflite-fp32", _Damaged)
    kwargs = dict(
        normalize="unit",
        calibration_dir=folders["binary"],
        variants=["tflite-fp32"],
        calibration_size=48,
    )
    with pytest.raises(ParityGateError, match=r"tflite-fp32 top-1 agreement 50\.00% < 99\.00%"):
        export_model(binary["path"], tmp_path / "strict", **kwargs)
    assert not (tmp_path / "strict" / "seq.tflite-fp32.tflite").exists()

    report = export_model(binary["path"], tmp_path / "kept", allow_degraded=True, **kwargs)
    card = read_card(tmp_path / "kept" / "seq.tflite-fp32.tflite")
    assert report.result("tflite-fp32").status == "degraded"
    assert card.parity.degraded and card.parity.agreement == pytest.approx(0.5)


def test_cli_exports_and_exits_4_below_the_gate(
    binary: dict, folders: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["export", "--normalize", "unit", str(binary["path"])]
    args += ["--calibration", str(folders["binary"])]
    args += ["--calibration-size", "16", "--variants", "tflite-fp32"]
    runner = CliRunner()
    ok = runner.invoke(cli, [*args, "-o", str(tmp_path / "ok")])
    assert ok.exit_code == 0, ok.output
    assert "tflite-fp32" in ok.stdout and "100.00%" in ok.stdout
    assert (tmp_path / "ok" / "seq.tflite-fp32.tflite").exists()

    monkeypatch.setitem(VARIANTS, "tflite-fp32", _Damaged)
    from edgexray.cli.main import main

    with pytest.raises(SystemExit) as exited:
        main([*args, "-o", str(tmp_path / "bad")])
    assert exited.value.code == 4


@pytest.fixture(scope="module")
def nested_rgb(tmp_path_factory: pytest.TempPathFactory, folders: dict[str, Path]) -> dict:
    """Functional, 3 channels, Rescaling, nested keras.applications MobileNetV2 backbone, softmax."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1, name="rescaling")(inputs)
    backbone = keras.applications.MobileNetV2(
        alpha=0.35, weights=None, include_top=False, input_shape=(32, 32, 3)
    )
    x = keras.layers.GlobalAveragePooling2D()(backbone(x))
    x = keras.layers.Dropout(0.2)(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    fit_briefly(model, CLASSES, 3, "sparse_categorical_crossentropy", scale=255.0)
    folder = tmp_path_factory.mktemp("nested")
    path = folder / "nested.keras"
    model.save(path)
    report = export_model(
        path,
        folder / "out",
        calibration_dir=folders["three"],
        variants=[*FLOAT_VARIANTS, *INT8_VARIANTS],
        allow_degraded=True,  # an untrained backbone has small decision margins
    )
    return {"model": model, "out": folder / "out", "report": report}


def test_nested_backbone_rgb_softmax(nested_rgb: dict, folders: dict[str, Path]) -> None:
    card = read_card(nested_rgb["report"].result("onnx-fp32").path)
    # A model that starts with Rescaling is fed raw 0..255 pixels, and its card says why.
    assert card.normalize == "raw" and card.input_channels == 3 and card.labels == CLASSES
    assert card.normalize_source == "Rescaling layer 'rescaling'"
    assert card.task == "multiclass" and card.output_kind == "probabilities"
    x = _parity_tensors(nested_rgb["out"], "nested", folders["three"], card)
    assert x.max() > 1.0  # raw pixels reached the model
    want = _keras_probabilities(nested_rgb["model"], x, card)
    for variant in FLOAT_VARIANTS:
        with Classifier(nested_rgb["report"].result(variant).path) as classifier:
            assert np.max(np.abs(classifier.predict_tensor(x) - want)) < 1e-4, variant
    # Every .tflite carries standard TFLite Metadata's labels.txt beside the card (for MediaPipe).
    for result in nested_rgb["report"].results:
        if result.path is not None and result.path.suffix == ".tflite":
            assert read_model_file(result.path).entries["labels"] == "".join(
                f"{label}\n" for label in CLASSES
            )
    # Barely trained, the backbone's decision margins are tiny, so int8 may fall below the gate; it
    # is then kept only because allow_degraded was given, and its card says so.
    for variant in INT8_VARIANTS:
        result = nested_rgb["report"].result(variant)
        card = read_card(result.path)
        assert card.parity == result.parity and card.parity.images == 30
        assert card.parity.degraded == (card.parity.agreement < 0.99)
        assert result.status == ("degraded" if card.parity.degraded else "ok")


def test_logits_head_in_h5_with_nested_custom_model(
    tmp_path: Path, folders: dict[str, Path]
) -> None:
    keras.utils.set_random_seed(1)
    block = keras.Sequential(
        [
            keras.Input((32, 32, 1)),
            keras.layers.SeparableConv2D(8, 3, padding="same", activation="relu"),
            keras.layers.BatchNormalization(momentum=0.5),
            keras.layers.MaxPooling2D(),
        ],
        name="block",
    )
    inputs = keras.Input((32, 32, 1))
    x = keras.layers.GlobalAveragePooling2D()(block(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    fit_briefly(model, CLASSES, 1, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    path = tmp_path / "logits.h5"
    model.save(path)
    report = export_model(
        path,
        tmp_path / "out",
        normalize="unit",
        calibration_dir=folders["three"],
        variants=["tflite-fp32", "onnx-int8-dynamic"],
    )
    card = read_card(report.result("tflite-fp32").path)
    assert card.output_kind == "logits" and card.labels == CLASSES
    x = _parity_tensors(tmp_path / "out", "logits", folders["three"], card)
    logits = np.asarray(model(x, training=False), dtype=np.float64)
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    with Classifier(report.result("tflite-fp32").path) as classifier:
        assert np.max(np.abs(classifier.predict_tensor(x) - softmax)) < 1e-4
    assert report.result("onnx-int8-dynamic").parity.agreement >= 0.99


def test_saved_model_folder(binary: dict, folders: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "seq_savedmodel"
    binary["model"].export(str(folder), verbose=False)
    report = export_model(
        folder,
        tmp_path / "out",
        normalize="unit",
        calibration_dir=folders["binary"],
        variants=list(FLOAT_VARIANTS),
    )
    card = read_card(tmp_path / "out" / "seq_savedmodel.onnx-fp32.onnx")
    assert card.output_kind == "probabilities" and card.task == "binary"
    assert card.source_sha256 == source_sha256(folder)
    assert all(r.parity.max_abs_diff < 1e-4 for r in report.results)


def _export_binary(
    binary: dict, folders: dict[str, Path], out: Path, **options: Any
) -> ExportReport:
    """The binary model exported into `out` from 48 images of its folder (half held out);
    `options` as export_model's. The model check reads the head's input: these tests are about
    the int8 ladders, whose figures depend on the graph the features branch adds."""
    return export_model(
        binary["path"],
        out,
        normalize="unit",
        calibration_dir=folders["binary"],
        calibration_size=48,
        model_check_layer=HEAD_INPUT,
        **options,
    )


def _pretend_measured(
    monkeypatch: pytest.MonkeyPatch, applies: Callable[[str], bool], **changes: float
) -> None:
    """Make the ladder see `changes` (agreement, mean_abs_diff) for the settings `applies` to."""
    from edgexray_export.variants import ladder

    real_measure = ladder.measure

    def pretend(path: Path, job, description: str) -> ladder.Attempt:  # type: ignore[no-untyped-def]
        attempt = real_measure(path, job, description)
        return dataclasses.replace(attempt, **changes) if applies(description) else attempt

    monkeypatch.setattr(ladder, "measure", pretend)


def test_int8_falls_back_to_a_float_head_when_plain_int8_falls_short(
    binary: dict, folders: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pretend plain int8 flips 10% of the calibration images: the head-in-float setting is tried,
    kept, recorded in the card, and still runs in the runtime and passes the gate."""
    _pretend_measured(
        monkeypatch,
        lambda settings: "FULLY_CONNECTED" not in settings and "kept float" not in settings,
        agreement=0.9,
    )
    report = _export_binary(
        binary,
        folders,
        tmp_path,
        variants=list(INT8_VARIANTS),
    )
    tflite = read_card(report.result("tflite-int8").path)
    assert tflite.quantization["op_types_kept_float"] == ["FULLY_CONNECTED", "LOGISTIC", "SOFTMAX"]
    # The card says how many layers stay float: it never claims more int8 than the file holds.
    assert tflite.quantization["float_layers"] == 2  # the Dense and its sigmoid
    assert "float32 in 2 (FULLY_CONNECTED, LOGISTIC)" in tflite.quantization["layers"]
    agreements = [a["calibration_set_agreement"] for a in tflite.quantization["attempts"]]
    assert agreements == [0.9, pytest.approx(1.0, abs=0.05)]
    onnx = read_card(report.result("onnx-int8").path)
    # After the calibration methods, the ladder keeps the worst node of the layer report float.
    worst = onnx.quantization["worst_nodes"]
    assert onnx.quantization["layers_kept_float"] == worst[:1]
    settings = [a["settings"] for a in onnx.quantization["attempts"]]
    assert settings[:3] == [
        "per-channel, minmax",
        "per-channel, percentile 99.999",
        "per-channel, entropy",
    ]
    # ... on top of the closest calibration method
    assert settings[3:] == [
        f"per-channel, {onnx.quantization['calibration_method']}".replace(
            "percentile", "percentile 99.999"
        )
        + ", 1 node(s) kept float"
    ]
    for variant in INT8_VARIANTS:
        assert report.result(variant).status == "ok"
        assert report.result(variant).parity.agreement >= 0.99


def test_int8_keeps_the_input_and_first_layers_float_to_meet_an_error_budget(
    binary: dict, folders: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pretend full int8 misses the error budget by far: the float-prefix stage runs, keeps
    the fewest leading layers in float that meet it (here the first eighth), records them, and the
    written model really holds those layers and its input in float32 and the rest in int8."""
    from ai_edge_litert.interpreter import Interpreter
    from edgexray_export.quantization import QuantizationConfig

    _pretend_measured(
        monkeypatch, lambda settings: settings.startswith("int8 up to"), mean_abs_diff=1.0
    )
    report = _export_binary(
        binary,
        folders,
        tmp_path,
        variants=["tflite-int8"],
        quantization=QuantizationConfig(tflite_max_mean_abs_diff=0.5, tflite_fallback="prefix"),
    )
    result = report.result("tflite-int8")
    assert result.status == "ok" and result.parity.agreement >= 0.99
    notes = read_card(result.path).quantization
    kept = notes["layers_kept_float"]
    assert len(kept) == 1 and notes["calibration_mean_abs_diff_budget"] == 0.5
    assert notes["input_output"].startswith("float32")
    assert notes["float_layers"] >= 1 and notes["input_type"] == "float32"
    settings = [a["settings"] for a in notes["attempts"]]
    # Plain int8 reached the agreement target, so the ladder went straight on to the prefix stage.
    assert settings[0] == "int8 up to the output activation (LOGISTIC, SOFTMAX in float)"
    assert len(settings) == 2
    assert settings[1].startswith("float input and first 1 of ")
    assert f"(through {kept[0]})" in settings[1]
    assert notes["attempts"][1]["calibration_set_mean_abs_diff"] <= 0.5
    # The output activation stays float as well: read back from the file, it is among the float ops.
    assert "LOGISTIC" in notes["layers"].split("float32 in", 1)[1]

    interpreter = Interpreter(model_path=str(result.path))
    assert interpreter.get_input_details()[0]["dtype"] == np.float32
    dtypes = {t["name"].split(";")[0]: t["dtype"] for t in interpreter.get_tensor_details()}
    assert dtypes[kept[0]] == np.float32
    assert np.int8 in set(dtypes.values())  # the layers after the first stay quantized


def test_onnx_int8_with_histogram_calibration_records_its_image_count(
    binary: dict, folders: dict[str, Path], tmp_path: Path
) -> None:
    """Percentile calibration counts its images from the prepared float model: the count is read
    before the converter's temporary folder goes (the fine-tuned model's re-export failed there)."""
    from edgexray_export.quantization import QuantizationConfig

    report = _export_binary(
        binary,
        folders,
        tmp_path,
        variants=["onnx-int8"],
        quantization=QuantizationConfig(calibration_method="percentile"),
    )
    result = report.result("onnx-int8")
    assert result.status == "ok", result
    notes = read_card(result.path).quantization
    assert notes["calibration_method"] == "percentile"
    assert 1 <= notes["calibration_images"] <= 24


@pytest.mark.parametrize("layers", [1, 2, 5, 8, 65])
def test_float_prefix_candidates_never_keep_every_layer_float(layers: int) -> None:
    from edgexray_export.variants.tflite_settings import prefix_settings as _prefix_settings

    names = tuple(f"layer{i}" for i in range(layers))
    settings = _prefix_settings(names)
    kept = [len(s.float_layers) for s in settings]
    assert all(1 <= n < layers for n in kept)
    assert all(
        s.float_ops == ("LOGISTIC", "SOFTMAX") for s in settings
    )  # no 1/256 output steps  # an int8 file keeps at least one int8 layer
    assert kept == sorted(set(kept))
    assert (kept[-1] if kept else 0) == (layers * 7 // 8 if layers >= 8 else max(0, layers - 1))


@pytest.mark.parametrize("variant", ["onnx-int8-dynamic", "tflite-int8"])
def test_export_parity_is_what_the_runtime_gives_each_image(
    binary: dict, folders: dict[str, Path], variant: str
) -> None:
    """The card's parity figures are those of each parity image run as `classify` runs it, not of
    all of them in one call (a dynamically quantized model scales activations per call)."""
    path = binary["report"].result(variant).path
    reference = read_reference(binary["out"] / "seq.reference.json")
    with Classifier(path) as classifier:
        x = np.stack([classifier.preprocessor(p) for p in reference.image_paths(folders["binary"])])
        one_by_one = np.concatenate(
            [classifier.predict_tensor(x[i : i + 1]) for i in range(len(x))]
        )
        recorded = classifier.card.parity
    again = measure_parity(reference.probabilities, one_by_one, classifier.card)
    assert again.max_abs_diff == pytest.approx(recorded.max_abs_diff, abs=1e-9)
    assert again.mean_abs_diff == pytest.approx(recorded.mean_abs_diff, abs=1e-9)
    assert again.agreement == recorded.agreement


def _break_the_graph(variant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A step of `variant`'s int8 pipeline that changes what the graph computes: onnx-int8's
    float tail without its ReLU restoration; tflite-int8's SavedModel written from a model whose
    output bias moved."""
    if variant == "onnx-int8":
        from edgexray_export.variants import onnx as onnx_variant

        monkeypatch.setattr(onnx_variant, "folded_activations", lambda float_model, qdq: {})
    else:
        from edgexray_export.variants import tflite as tflite_variant

        real = tflite_variant.write_saved_model
        monkeypatch.setattr(
            tflite_variant, "write_saved_model", lambda job, folder: real(_damaged(job), folder)
        )


@pytest.mark.parametrize("variant", INT8_VARIANTS)
def test_a_graph_changing_step_stops_the_int8_export_before_any_attempt(
    variant: str,
    binary: dict,
    folders: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The control run (the int8 pipeline with nothing quantized) differs from Keras: one line
    says it is a bug, not a quantization error, names the first output that differs (and for
    ONNX the first tensor inside), and the ladder spends no attempt (issue 22, item 4)."""
    from edgexray_export.variants import ladder

    attempts: list[str] = []
    real_measure = ladder.measure
    monkeypatch.setattr(
        ladder,
        "measure",
        lambda path, job, description: (
            attempts.append(description) or real_measure(path, job, description)
        ),
    )
    _break_the_graph(variant, monkeypatch)
    with pytest.raises(ParityGateError) as raised:
        _export_binary(binary, folders, tmp_path, variants=[variant])
    assert "\n" not in str(raised.value)
    result = raised.value.report.result(variant)
    assert result.status == "failed" and not (tmp_path / f"seq.{variant}").exists()
    assert result.error.startswith(
        "the int8 pipeline changes the graph, so this is a bug and not a quantization error: "
        "with nothing quantized, output 'output' is "
    ), result.error
    if variant == "onnx-int8":
        assert "; first differing tensor '" in result.error
    assert attempts == []


def test_the_onnx_ladder_stops_after_two_fallback_steps_that_do_not_lower_the_error(
    binary: dict, folders: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pretend every attempt is as far from Keras as the last (a graph error, or a model no float
    node helps): each fallback ladder stops after two steps, says so, and the card records it."""
    _pretend_measured(monkeypatch, lambda settings: True, agreement=0.9, mean_abs_diff=0.1)
    said: list[str] = []
    report = _export_binary(
        binary,
        folders,
        tmp_path,
        variants=["onnx-int8"],
        allow_degraded=True,
        progress=said.append,
    )
    notes = read_card(report.result("onnx-int8").path).quantization
    settings = [a["settings"] for a in notes["attempts"]]
    # Three calibration methods, then at most two steps of each fallback ladder: the prefix
    # ladder has four, the worst-node ladder as many as the layer report ranks (two or more).
    assert len(settings) == 7, settings
    assert [s.endswith("kept float") for s in settings] == [False] * 3 + [True] * 4
    stops = notes["ladder_stopped"]
    assert stops[-1].startswith(
        "prefix ladder: stopped after 2 successive steps did not lower the error"
    )
    assert all("2 successive steps did not lower the error" in stop for stop in stops)
    assert [line for line in said if "stopped after" in line] == [
        f"onnx-int8: {stop}" for stop in stops
    ]


@pytest.mark.parametrize("verbose", [False, True])
def test_onnx_runtime_calibration_messages_reach_stdout_only_with_v(
    verbose: bool, binary: dict, folders: dict[str, Path], tmp_path: Path
) -> None:
    args = ["-v"] if verbose else []
    args += ["export", "--normalize", "unit", str(binary["path"])]
    args += ["--calibration", str(folders["binary"])]
    args += ["--calibration-size", "16", "--variants", "onnx-int8"]
    args += ["--calibration-method", "percentile", "-o", str(tmp_path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "onnx-int8" in result.stdout  # the parity table
    for message in ("Collecting tensor data and making histogram", "Finding optimal threshold"):
        assert (message in result.stdout) == verbose
