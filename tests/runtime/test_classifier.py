"""The Python API and the engines behind it, on the tiny committed models."""

from __future__ import annotations

import re
import shutil
import threading

import numpy as np
import pytest
from conftest import DATA, runnable
from PIL import Image

from edgexray import Classifier, ClassifierOptions
from edgexray.card_resolution import CardOverrides
from edgexray.engines import EngineOptions, engine_for
from edgexray.engines.base import TensorInfo, dequantize, quantize
from edgexray.errors import CardError, EngineUnavailableError, ImageError, ModelError
from edgexray.extras import install_hint


def sigmoid_reference(tiny_reference):
    return tiny_reference["binary_gray_x"], tiny_reference["binary_gray_y"][:, 0]


@pytest.mark.parametrize("filename", ["binary_gray.tflite", "binary_gray.onnx"])
def test_binary_probabilities_are_two_columns(carded, tiny_reference, filename):
    x, p = sigmoid_reference(tiny_reference)
    with Classifier(carded(filename), ClassifierOptions(input_check="off")) as clf:
        probs = clf.predict_tensor(x)
    np.testing.assert_allclose(probs[:, 1], p, atol=1e-5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)


def test_int8_engine_quantizes_inputs_and_dequantizes_outputs(carded, tiny_reference):
    x, p = sigmoid_reference(tiny_reference)
    clf = Classifier(carded("binary_gray.int8.tflite"), ClassifierOptions(input_check="off"))
    assert clf.engine.input.dtype == np.int8 and clf.engine.input.quantized
    np.testing.assert_allclose(clf.predict_tensor(x)[:, 1], p, atol=0.02)


def test_logits_become_softmax_probabilities(carded, tiny_reference):
    x, logits = tiny_reference["logits_gray_x"], tiny_reference["logits_gray_y"]
    probs = Classifier(
        carded("logits_gray.onnx"), ClassifierOptions(input_check="off")
    ).predict_tensor(x)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(probs, e / e.sum(axis=1, keepdims=True), atol=1e-5)


def test_threshold_decides_binary_labels(carded):
    image = np.full((16, 16), 128, dtype=np.uint8)
    low = Classifier(
        carded("binary_gray.tflite", threshold=0.01), ClassifierOptions(input_check="off")
    ).predict(image)
    high = Classifier(
        carded("binary_gray.tflite", threshold=0.99), ClassifierOptions(input_check="off")
    ).predict(image)
    assert low.label == "PNEUMONIA" and high.label == "NORMAL"
    assert low.probabilities == pytest.approx(high.probabilities)
    assert high.confidence == pytest.approx(high.probabilities["NORMAL"])


def test_predict_accepts_path_pil_and_numpy_alike(carded, tmp_path):
    pixels = np.random.default_rng(1).integers(0, 255, (40, 30, 3), dtype=np.uint8)
    path = tmp_path / "x.png"
    Image.fromarray(pixels).save(path)
    clf = Classifier(carded("three_rgb.onnx"), ClassifierOptions(input_check="off"))
    by_path = clf.predict(path)
    by_pil = clf.predict(Image.fromarray(pixels))
    by_array = clf.predict(pixels)
    assert by_path.path == str(path) and by_pil.path is None
    assert by_path.label == by_pil.label == by_array.label
    assert by_path.probabilities == pytest.approx(by_array.probabilities, abs=1e-6)
    assert set(by_path.probabilities) == {"COVID", "NORMAL", "PNEUMONIA"}


def test_batch_with_a_bad_file_keeps_the_others(carded, tmp_path):
    good = []
    for i in range(5):
        path = tmp_path / f"{i}.png"
        Image.new("L", (20, 20), i * 40).save(path)
        good.append(path)
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    clf = Classifier(carded("binary_gray.tflite"), ClassifierOptions(input_check="off"))
    results = clf.predict_batch([good[0], bad, *good[1:]], batch_size=2)
    assert [r.ok for r in results] == [True, False, True, True, True, True]
    assert "bad.png" in results[1].error
    singles = [clf.predict(p) for p in good]
    batched = [r for r in results if r.ok]
    for one, many in zip(singles, batched, strict=True):
        assert one.probabilities == pytest.approx(many.probabilities, abs=1e-6)
    with pytest.raises(ImageError):
        clf.predict(bad)


def test_cardless_model_needs_labels_and_normalize(tmp_path):
    source = DATA / runnable("three_rgb.onnx")
    path = tmp_path / f"plain{source.suffix}"
    shutil.copy(source, path)
    with pytest.raises(CardError, match="give --labels and --normalize"):
        Classifier(path, ClassifierOptions(input_check="off"))
    clf = Classifier(
        path,
        ClassifierOptions(input_check="off"),
        overrides=CardOverrides(labels=("a", "b", "c"), normalize="unit"),
    )
    assert clf.card.task == "multiclass" and clf.card.input_channels == 3
    assert clf.card.input_height == 16 and clf.card.variant == "uncarded"


def test_card_that_disagrees_with_the_tensors_is_refused(carded):
    with pytest.raises(ModelError, match="card says input 32x32x1"):
        Classifier(carded("binary_gray.tflite", input_height=32, input_width=32))
    with pytest.raises(ModelError, match="card expects 3 output"):
        Classifier(
            carded(
                "binary_gray.onnx", labels=("A", "B", "C"), task="multiclass", output_kind="logits"
            ),
            ClassifierOptions(input_check="off"),
        )


def test_overrides_change_the_card(carded):
    clf = Classifier(
        carded("binary_gray.tflite"),
        ClassifierOptions(input_check="off"),
        overrides=CardOverrides(threshold=0.2),
    )
    assert clf.card.threshold == 0.2


def test_shared_between_threads(carded):
    clf = Classifier(carded("binary_gray.tflite"), ClassifierOptions(input_check="off", threads=1))
    images = [np.full((16, 16), v, dtype=np.uint8) for v in range(0, 250, 10)]
    expected = [clf.predict(img).probabilities["PNEUMONIA"] for img in images]
    results: dict[int, float] = {}

    def work(i: int) -> None:
        results[i] = clf.predict(images[i]).probabilities["PNEUMONIA"]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(len(images))] == pytest.approx(expected)


def test_engine_choice_and_errors(tmp_path, monkeypatch):
    assert engine_for(DATA / "binary_gray.tflite").name == "litert"
    assert engine_for(DATA / "binary_gray.onnx").name == "onnxruntime"
    with pytest.raises(ModelError, match=r"does not read \.tflite"):
        engine_for(DATA / "binary_gray.tflite", "onnxruntime")
    with pytest.raises(ValueError, match="threads must be at least 1"):
        EngineOptions(threads=0)
    import builtins

    real_import = builtins.__import__

    def no_onnxruntime(name, *args, **kwargs):
        if name == "onnxruntime":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnxruntime)
    with pytest.raises(EngineUnavailableError, match=re.escape(install_hint("onnx"))):
        Classifier(DATA / "three_rgb.onnx")


def test_quantize_round_trip_saturates():
    info = TensorInfo((1,), np.dtype(np.int8), scale=0.5, zero_point=-10)
    q = quantize(np.array([0.0, 1.0, 1000.0, -1000.0], dtype=np.float32), info)
    assert q.tolist() == [-10, -8, 127, -128]
    assert dequantize(q, info).tolist() == [0.0, 1.0, 68.5, -59.0]


def test_decode_workers_and_engine_threads_default_to_the_cores_this_process_may_use(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {1, 3}, raising=False)  # taskset -c 1,3
    assert ClassifierOptions().resolved_decode_workers == 2
    assert EngineOptions().resolved_threads == 2
    monkeypatch.delattr("os.sched_getaffinity", raising=False)  # macOS, Windows
    assert ClassifierOptions().resolved_decode_workers == 4
    assert EngineOptions(threads=3).resolved_threads == 3
    assert ClassifierOptions(decode_workers=0).resolved_decode_workers == 0
    with pytest.raises(ValueError, match="decode_workers"):
        ClassifierOptions(decode_workers=-1)


@pytest.mark.parametrize("workers", [0, 1, 3, None])
def test_decode_workers_keep_order_and_results(carded, tmp_path, workers):
    paths = []
    for i in range(13):
        path = tmp_path / f"{i:02d}.png"
        Image.new("L", (24, 24), i * 19).save(path)
        paths.append(path)
    paths.insert(5, tmp_path / "missing.png")
    clf = Classifier(
        carded("binary_gray.tflite"), ClassifierOptions(input_check="off", decode_workers=workers)
    )
    results = clf.predict_batch(paths, batch_size=4)
    assert [r.path for r in results] == [str(p) for p in paths]
    assert [r.ok for r in results].count(False) == 1 and not results[5].ok
    expected = [clf.predict(p).probabilities["PNEUMONIA"] for p in paths if p.exists()]
    got = [r.probabilities["PNEUMONIA"] for r in results if r.ok]
    assert got == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("filename", ["three_rgb.onnx", "logits_gray.onnx"])
def test_openvino_engine_matches_onnx_runtime(carded, tiny_reference, filename):
    pytest.importorskip("openvino")
    name = filename.split(".")[0]
    path = carded(filename)
    x = tiny_reference[f"{name}_x"]
    openvino = Classifier(path, ClassifierOptions(input_check="off", engine="openvino"))
    assert openvino.engine.name == "openvino"
    reference = Classifier(path, ClassifierOptions(input_check="off")).predict_tensor(x)
    np.testing.assert_allclose(openvino.predict_tensor(x), reference, atol=1e-5)
    np.testing.assert_allclose(openvino.predict_tensor(x[:1]), reference[:1], atol=1e-5)


def test_error_records_are_not_held_back_by_a_run_of_bad_files(carded, tmp_path):
    clf = Classifier(carded("binary_gray.tflite"), ClassifierOptions(input_check="off"))

    def endless_missing_files():
        for i in range(20):
            yield tmp_path / f"gone{i}.png"
        raise AssertionError("read 20 inputs without reporting the first failures")

    stream = clf.iter_predictions(endless_missing_files(), batch_size=2)
    first_two = [next(stream), next(stream)]  # reported after a batch's worth, not at the end
    assert [r.ok for r in first_two] == [False, False]
