"""An engine failure at run time costs only the inputs it failed on; anything unexpected is one line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import DATA, run_edgexray, tiny_card
from PIL import Image

from edgexray import Classifier, ClassifierOptions
from edgexray.cli import main as cli_main
from edgexray.errors import EngineError
from edgexray.modelfile import write_card

pytest.importorskip("onnxruntime")


@pytest.fixture
def failing_model(tmp_path):
    """A carded ONNX model whose Gather fails in ONNX Runtime on any batch with a white pixel."""
    path = tmp_path / "fails_on_white.onnx"
    shutil.copy(DATA / "fails_on_white.onnx", path)
    write_card(path, tiny_card("binary_gray", variant="test"))
    return path


@pytest.fixture
def images(tmp_path):
    """Four 16x16 grey PNGs; the third has one white pixel (the one the model fails on)."""
    folder = tmp_path / "images"
    folder.mkdir()
    paths = []
    for i in range(4):
        pixels = np.full((16, 16), 60 + 20 * i, np.uint8)
        if i == 2:
            pixels[3, 3] = 255
        path = folder / f"img{i}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def test_engines_wrap_their_runtime_errors(failing_model):
    with (
        Classifier(failing_model) as clf,
        pytest.raises(EngineError, match="onnxruntime failed") as caught,
    ):
        clf.engine.run(np.ones((2, 16, 16, 1), np.float32))
    assert "\n" not in str(caught.value)


def test_a_wrong_shape_fed_to_litert_is_an_engine_error(carded):
    with (
        Classifier(carded("binary_gray.tflite")) as clf,
        pytest.raises(EngineError, match="litert failed"),
    ):
        clf.engine.run(np.zeros((1, 9, 9, 1), np.float32))


def test_a_failed_batch_is_retried_one_input_at_a_time(failing_model, images):
    with Classifier(
        failing_model, ClassifierOptions(batch_size=4, decode_workers=0, input_check="off")
    ) as clf:
        results = clf.predict_batch(images)
    assert [r.ok for r in results] == [True, True, False, True]
    assert "img2.png" in results[2].error and "out of data bounds" in results[2].error
    assert [r.path for r in results] == [str(p) for p in images]


def test_classify_goes_on_after_an_engine_failure_and_exits_3(failing_model, images):
    result = run_edgexray(
        "classify", "-m", str(failing_model), "--format", "jsonl", str(images[0].parent)
    )
    assert result.returncode == 3, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [("error" in r) for r in records] == [False, False, True, False]
    assert "Traceback" not in result.stderr
    assert "3 classified, 1 failed" in result.stderr


def _boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError("something nobody foresaw\nsecond line of detail")


def test_an_unexpected_error_is_one_line_and_exit_1(monkeypatch, capsys, carded):
    import edgexray.cli.info

    monkeypatch.delenv("EDGEXRAY_DEBUG", raising=False)
    monkeypatch.setattr(edgexray.cli.info, "read_model_file", _boom)
    with pytest.raises(SystemExit) as exited:
        cli_main.main(["info", str(carded("binary_gray.tflite"))])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RuntimeError: something nobody foresaw" in err
    assert "--debug" in err and "Traceback" not in err


@pytest.mark.parametrize("how", ["flag", "env"])
def test_the_traceback_only_when_asked(monkeypatch, carded, how):
    import edgexray.cli.info

    monkeypatch.setattr(edgexray.cli.info, "read_model_file", _boom)
    args = ["info", str(carded("binary_gray.tflite"))]
    if how == "flag":
        args.insert(0, "--debug")
    else:
        monkeypatch.setenv("EDGEXRAY_DEBUG", "1")
    with pytest.raises(RuntimeError, match="nobody foresaw"):
        cli_main.main(args)
