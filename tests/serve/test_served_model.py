"""What one upload costs the served model: its bytes hashed once, decoded once (preview and
heatmap included), and every record, an error's too, naming the model that was asked."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PIL import Image

pytest.importorskip("fastapi")
from serve_process import DEMO_MODEL, sample

from edgexray.classifier import Classifier
from edgexray.errors import EngineError
from edgexray.preprocessing import transform
from edgexray.serve.served_model import ServedModel, png_data_url


@pytest.fixture(scope="module")
def served() -> Iterator[ServedModel]:
    model = ServedModel(Classifier(DEMO_MODEL))
    yield model
    model.close()


def _counting(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[object]:
    """Calls of `owner.name` from now on (the real function still runs)."""
    calls: list[object] = []
    real: Callable[..., Any] = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0] if args else None)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


@pytest.mark.parametrize(
    ("explain", "preview"), [(False, False), (False, True), (True, False), (True, True)]
)
def test_an_upload_is_hashed_once_and_decoded_once(
    served: ServedModel, monkeypatch: pytest.MonkeyPatch, explain: bool, preview: bool
) -> None:
    data = sample("NORMAL", 2).read_bytes()
    decoded = _counting(monkeypatch, transform, "decode")
    hashed = _counting(monkeypatch, hashlib, "sha256")
    classified = served.classify_upload(io.BytesIO(data), "chest.png", explain, preview)
    assert classified.prediction.label == "NORMAL"
    assert (classified.preview is not None) is preview
    assert (classified.heatmap is not None) is explain
    assert len(decoded) == 1, "the upload was decoded more than once"
    assert len(hashed) == 1, "the upload was hashed more than once"
    assert classified.record()["sha256"] == hashlib.sha256(data).hexdigest()


def test_the_preview_is_the_film_of_the_decision(served: ServedModel) -> None:
    data = sample("PNEUMONIA", 1).read_bytes()
    classified = served.classify_upload(io.BytesIO(data), "p.png", explain=False, preview=True)
    expected = served.classifier.judge(io.BytesIO(data)).film
    assert classified.preview == png_data_url(expected)


def test_error_records_carry_the_upload_and_the_model(
    served: ServedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    unreadable = served.classify_upload(io.BytesIO(b"not an image"), "bad.png", False, True)

    def engine_fails(batch: object) -> object:
        raise EngineError("the engine gave up")

    monkeypatch.setattr(served.classifier.engine, "infer", engine_fails)
    data = sample("NORMAL", 1).read_bytes()
    failed = served.classify_upload(io.BytesIO(data), "good.png", False, False)
    for classified, content in ((unreadable, b"not an image"), (failed, data)):
        record = classified.record()
        assert record["model"] == served.classifier.identity.to_record()
        assert record["sha256"] == hashlib.sha256(content).hexdigest()
        assert "preview" not in record
    assert unreadable.record()["error"].startswith("bad.png: ")
    assert failed.record()["error"] == "good.png: the engine gave up"


def test_a_refusal_by_the_input_checks_carries_the_model_and_its_preview(
    served: ServedModel,
) -> None:
    blank = io.BytesIO()
    Image.new("L", (512, 512), 128).save(blank, format="PNG")
    classified = served.classify_upload(io.BytesIO(blank.getvalue()), "blank.png", True, True)
    record = classified.record()
    assert record["rejected"] and "label" not in record
    assert record["model"] == served.classifier.identity.to_record()
    assert classified.heatmap is None  # no map of an image the model is not fit to judge
    assert record["preview"].startswith("data:image/png;base64,")  # it was decoded: shown
