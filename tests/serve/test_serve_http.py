"""`edgexray serve` as a real process on a free port, talked to over HTTP with httpx: every status
code, the token rules, limits, metrics and a clean stop with requests in flight."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

# The service needs the [serve] extra and its tests httpx: a runtime-only install skips them.
pytest.importorskip("fastapi")
pytest.importorskip("httpx")
import httpx
from PIL import Image
from serve_process import (
    DEMO_MODEL,
    REPO,
    TOKEN,
    ServerProcess,
    large_film,
    large_jpeg,
    raw_request,
    running_server,
    sample,
    serve_command,
    upload,
)

from edgexray.classifier import Classifier


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(tmp_path_factory.mktemp("serve"), "--workers", "2") as process:
        yield process


# Auth ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}"],
)
@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/v1/model"), ("GET", "/metrics"), ("POST", "/v1/classify")]
)
def test_a_missing_or_wrong_token_is_401_and_says_nothing_about_the_model(
    server: ServerProcess, authorization: str | None, method: str, path: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    files = upload(sample("NORMAL")) if method == "POST" else None
    with server.client(token=None) as client:
        response = client.request(method, path, files=files, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {"error": "missing or wrong bearer token"}
    assert "seed_cnn" not in response.text


def test_health_and_readiness_stay_open(server: ServerProcess) -> None:
    with server.client(token=None) as client:
        assert client.get("/healthz").json() == {"status": "alive"}
        assert client.get("/readyz").json() == {"status": "ready"}


def test_the_right_token_opens_the_model_card(server: ServerProcess) -> None:
    with server.client() as client:
        model = client.get("/v1/model").json()
    assert model["card"]["name"] == "seed_cnn"
    assert model["card"]["variant"] == "tflite-int8"
    assert model["model"]["engine"] == "litert"
    assert len(model["model"]["sha256"]) == 64
    # The seed CNN's head (two Dense layers after the pooling) has no class evidence.
    assert model["explain"] is True and model["explain_method"] == "occlusion"


def test_new_token_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "token"
    first = subprocess.run(serve_command("--new-token", str(path)), capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = path.read_text().strip()
    assert len(token) >= 40
    again = subprocess.run(serve_command("--new-token", str(path)), capture_output=True, text=True)
    assert again.returncode == 1
    assert "exists" in again.stderr
    assert path.read_text().strip() == token


def test_a_token_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "token"
    subprocess.run(serve_command("--new-token", str(path)), check=True, capture_output=True)
    with running_server(tmp_path, "--token-file", str(path), token=None) as process:
        with process.client(path.read_text().strip()) as client:
            assert client.get("/v1/model").status_code == 200
        with process.client(TOKEN) as client:
            assert client.get("/v1/model").status_code == 401


# Classification -----------------------------------------------------------------------------------


def test_a_corrupt_file_among_good_ones_gets_422_and_the_others_their_labels(
    server: ServerProcess, tmp_path: Path
) -> None:
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(sample("NORMAL").read_bytes()[:300])
    uploads = [sample("NORMAL", 1), sample("PNEUMONIA", 1), corrupt, sample("PNEUMONIA", 2)]
    with server.client() as client, ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda p: client.post("/v1/classify", files=upload(p)), uploads))
    statuses = [r.status_code for r in responses]
    assert statuses == [200, 200, 422, 200]
    records = [r.json() for r in responses]
    assert [r.get("label") for r in records] == ["NORMAL", "PNEUMONIA", None, "PNEUMONIA"]
    assert records[0]["path"] == "NORMAL_01.png"
    assert set(records[0]["probabilities"]) == {"NORMAL", "PNEUMONIA"}
    assert records[2]["error"].startswith("broken.png: ")
    # The error record names the upload's bytes and the model asked, like every other record.
    assert records[2]["sha256"] == hashlib.sha256(corrupt.read_bytes()).hexdigest()
    assert records[2]["model"] == records[0]["model"]
    # GET /v1/model states the identity the records carry, all of it (signer, card state...).
    assert records[2]["model"] == served_identity(server)


def served_identity(server: ServerProcess) -> dict[str, object]:
    with server.client() as client:
        identity: dict[str, object] = client.get("/v1/model").json()["model"]
    return identity


def test_the_record_is_the_one_classify_writes(server: ServerProcess) -> None:
    path = sample("PNEUMONIA", 0)
    expected = Classifier(DEMO_MODEL).predict(path).to_record()
    with server.client() as client:
        record = client.post("/v1/classify", files=upload(path)).json()
    # The upload's SHA-256 is the file's, as classify records it: the whole record is classify's
    # but for the name.
    assert record == {**expected, "path": path.name}
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_request_without_a_file_is_422_json(server: ServerProcess) -> None:
    with server.client() as client:
        response = client.post("/v1/classify", data={"other": "x"})
    assert response.status_code == 422
    assert response.json() == {"error": "file: Field required"}


def test_unknown_paths_are_404_json(server: ServerProcess) -> None:
    with server.client() as client:
        response = client.get("/v1/nothing")
    assert response.status_code == 404
    assert "error" in response.json()


def test_explain_lights_up_when_the_classifier_can_explain(server: ServerProcess) -> None:
    with server.client() as client:
        response = client.post(
            "/v1/classify", params={"explain": 1}, files=upload(sample("PNEUMONIA"))
        )
    if callable(getattr(Classifier, "explain", None)):
        assert response.status_code == 200
        assert response.json()["overlay"].startswith("data:image/png;base64,")
    else:
        assert response.status_code == 501
        assert response.json() == {"error": "heatmaps are not available in this build"}


@pytest.mark.parametrize(("label", "localized"), [("PNEUMONIA", False), ("NORMAL", True)])
def test_the_heatmap_says_when_there_is_no_localized_evidence(
    server: ServerProcess, label: str, localized: bool
) -> None:
    # The demo model is saturated on its PNEUMONIA samples: no window moves P(PNEUMONIA) by 1e-5,
    # while a window of a NORMAL film alone brings P(NORMAL) back by 0.38.
    with server.client() as client:
        response = client.post(
            "/v1/classify", params={"explain": 1}, files=upload(sample(label, 2))
        )
    assert response.status_code == 200
    record = response.json()
    assert record["label"] == label and record["overlay"].startswith("data:image/png;base64,")
    explanation = record["explanation"]
    assert explanation["explained"] == label
    assert explanation["localized"] is localized
    assert explanation["localization_floor"] == 0.01
    if localized:
        assert explanation["peak_value"] >= 0.01 and "not_localized" not in explanation
    else:
        assert explanation["peak_value"] < 0.01
        assert explanation["not_localized"].startswith("no localized evidence: ")


def test_a_preview_is_the_decoded_image_as_png_and_only_for_a_decoded_upload(
    server: ServerProcess,
) -> None:
    pydicom = pytest.importorskip("pydicom")
    dicom = REPO / "models" / "samples" / "dicom" / "NORMAL" / "NORMAL_00000.dcm"
    header = pydicom.dcmread(dicom, stop_before_pixels=True)
    with server.client() as client:
        shown = client.post("/v1/classify", params={"preview": 1}, files=upload(dicom))
        refused = client.post(
            "/v1/classify", params={"preview": 1}, files={"file": ("notes.txt", b"notes")}
        )
        plain = client.post("/v1/classify", files=upload(dicom))
    assert shown.status_code == 200 and shown.json()["label"] == "NORMAL"
    url = shown.json()["preview"]
    assert url.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert image.format == "PNG" and image.mode == "L"  # the demo model's grey input
    assert image.size == (header.Columns, header.Rows)  # smaller than 512 px: not resized
    assert refused.status_code == 422 and "preview" not in refused.json()
    assert "preview" not in plain.json()


def test_the_openapi_document_describes_the_versioned_api(server: ServerProcess) -> None:
    with server.client(token=None) as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/classify", "/v1/model", "/healthz", "/readyz", "/metrics"} <= set(paths)


def test_metrics_count_outcomes_and_name_the_model(server: ServerProcess) -> None:
    with server.client() as client:
        client.post("/v1/classify", files=upload(sample("NORMAL")))
        client.post("/v1/classify", files={"file": ("x.png", b"not an image")})
        text = client.get("/metrics").text
    lines = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert float(lines['edgexray_requests_total{outcome="classified"}']) >= 1
    assert float(lines['edgexray_requests_total{outcome="unreadable"}']) >= 1
    assert float(lines["edgexray_request_seconds_count"]) >= 2
    assert float(lines["edgexray_inference_seconds_count"]) >= 2
    assert lines["edgexray_queue_depth"] == "0.0"
    assert any(k.startswith("edgexray_model_info{") and 'variant="tflite-int8"' in k for k in lines)


def test_an_unexpected_error_is_counted_as_500() -> None:
    # No request makes the real server fail, so the counter runs around ASGI apps that do.
    import asyncio
    from types import SimpleNamespace

    from edgexray.serve.service_metrics import ResponseCounter, ServiceMetrics

    metrics = ServiceMetrics("m:v:0", "m", "v", "0" * 64)
    scope = {"type": "http", "state": {"service": SimpleNamespace(metrics=metrics)}}
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def fails(scope: object, receive: object, send: object) -> None:
        raise RuntimeError("a bug")  # Starlette's outermost middleware then answers 500

    async def answers(scope: object, receive: object, send: Callable[..., Awaitable[None]]) -> None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with pytest.raises(RuntimeError, match="a bug"):
        asyncio.run(ResponseCounter(fails)(scope, receive, send))
    asyncio.run(ResponseCounter(answers)(scope, receive, send))
    count = metrics.registry.get_sample_value
    assert count("edgexray_responses_total", {"status": "500"}) == 1
    assert count("edgexray_responses_total", {"status": "404"}) == 1
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


# Limits -------------------------------------------------------------------------------------------


def test_uploads_past_the_limit_are_413_without_reading_the_rest(tmp_path: Path) -> None:
    with running_server(tmp_path, "--max-upload-mb", "0.1") as process:
        with process.client() as client:
            too_big = client.post("/v1/classify", files={"file": ("big.jpg", large_jpeg(1, 400))})
            fits = client.post("/v1/classify", files=upload(sample("NORMAL", 0)))
        assert too_big.status_code == 413
        assert too_big.json() == {"error": "upload larger than the server's limit of 0.1 MiB"}
        assert fits.status_code == 200
        # A client announcing 1 GB and sending 10 bytes is answered at once: the server does not
        # wait for (or keep) the rest.
        assert _announce_a_gigabyte(process.port).startswith("HTTP/1.1 413 ")
        # Without a length (chunked), the count of bytes received stops it.
        assert _send_chunks_past_the_limit(process.port).startswith("HTTP/1.1 413 ")


_UPLOAD_HEAD = (
    f"POST /v1/classify HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
    "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000000\r\n\r\n"
)


def _announce_a_gigabyte(port: int) -> str:
    """An upload announcing 1 GB that sends 10 bytes; the answer's status line."""
    return raw_request(port, _UPLOAD_HEAD, b"--b\r\n1234")


def _send_chunks_past_the_limit(port: int) -> str:
    """A chunked upload of 128 KiB, sent in two pieces; the answer's status line. The body is a
    well-formed file part as far as it goes, so the form parser has no reason of its own to refuse
    it (garbage would be a 400 whenever the parser saw the first piece before the limit passed)."""
    part_head = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n"
    )
    chunks = [part_head] + [b"x" * 8192] * 16
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks)
    head = _UPLOAD_HEAD.replace("Content-Length: 1000000000", "Transfer-Encoding: chunked")
    return raw_request(port, head, chunked[:9000], chunked[9000:])


def test_an_oversized_upload_without_the_token_is_401_not_413(tmp_path: Path) -> None:
    """Authentication first: a stranger's oversized upload gets 401, announced or chunked, unread."""
    stranger = _UPLOAD_HEAD.replace(f"Authorization: Bearer {TOKEN}\r\n", "")
    wrong = _UPLOAD_HEAD.replace(TOKEN, "not-the-token")
    with running_server(tmp_path, "--max-upload-mb", "0.1") as process:
        for head in (stranger, wrong):
            assert raw_request(process.port, head, b"--b\r\n1234").startswith("HTTP/1.1 401 ")
            chunked = head.replace("Content-Length: 1000000000", "Transfer-Encoding: chunked")
            body = b"%x\r\n%s\r\n" % (200_000, b"x" * 200_000)
            assert raw_request(process.port, chunked, body).startswith("HTTP/1.1 401 ")
        # With the token, the same uploads are 413.
        assert _announce_a_gigabyte(process.port).startswith("HTTP/1.1 413 ")


def _responses_by_status(client: httpx.Client) -> dict[str, float]:
    counts = {}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("edgexray_responses_total{"):
            labels, value = line.rsplit(" ", 1)
            counts[labels.split('status="', 1)[1].split('"', 1)[0]] = float(value)
    return counts


def test_metrics_count_every_answer_with_its_status(tmp_path: Path) -> None:
    with running_server(tmp_path, "--max-upload-mb", "0.1") as process:
        with process.client() as client:
            before = _responses_by_status(client)
            assert client.post("/v1/classify", files=upload(sample("NORMAL", 0))).status_code == 200
            big = {"file": ("big.jpg", large_jpeg(1, 400))}
            assert client.post("/v1/classify", files=big).status_code == 413  # announced length
            assert _send_chunks_past_the_limit(process.port).startswith("HTTP/1.1 413 ")
            assert client.post("/v1/classify", data={"other": "x"}).status_code == 422
            unreadable = {"file": ("x.png", b"not an image")}
            assert client.post("/v1/classify", files=unreadable).status_code == 422
            assert client.get("/v1/nothing").status_code == 404
        with process.client(token="wrong-token") as stranger:
            assert stranger.get("/v1/model").status_code == 401
        with process.client() as client:
            after = _responses_by_status(client)
    counted = {status: after[status] - before.get(status, 0.0) for status in after}
    # The first /metrics answer (200) is counted once it has gone out: the second one sees it.
    assert counted == {"200": 2, "401": 1, "404": 1, "413": 2, "422": 2}


def test_a_full_queue_is_503_with_retry_after(tmp_path: Path) -> None:
    images = [large_jpeg(seed) for seed in range(8)]
    with (
        running_server(tmp_path, "--workers", "1", "--queue-size", "0") as process,
        process.client() as client,
        ThreadPoolExecutor(8) as pool,
    ):
        responses = list(
            pool.map(
                lambda data: client.post("/v1/classify", files={"file": ("n.jpg", data)}),
                images,
            )
        )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) == {200, 503}
    busy = next(r for r in responses if r.status_code == 503)
    assert busy.headers["retry-after"] == "1"
    assert busy.json() == {"error": "busy: the inference queue is full"}


def test_an_inference_past_the_timeout_is_504(tmp_path: Path) -> None:
    with running_server(tmp_path, "--timeout", "0.001") as process, process.client() as client:
        response = client.post("/v1/classify", files={"file": ("n.jpg", large_jpeg(3))})
        assert response.status_code == 504
        assert response.json() == {"error": "the inference took longer than the timeout"}
        # The server is still fine afterwards.
        assert client.get("/readyz").status_code == 200


def _audit_lines(audit: Path, count: int, timeout: float = 60.0) -> list[dict[str, object]]:
    """The audit file's lines once it has `count` of them."""
    deadline = time.monotonic() + timeout
    while True:
        text = audit.read_text() if audit.exists() else ""
        lines = [json.loads(line) for line in text.splitlines()]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_after_a_504_the_audit_says_the_decision_was_not_delivered(tmp_path: Path) -> None:
    """A running job is not stopped by its request's timeout: its audit line says `delivered:
    false`. A job still waiting in the queue at its timeout never runs: no audit line at all."""
    audit = tmp_path / "audit.jsonl"
    # A 6000-pixel film explained: most of a second even on a quiet machine, past the 0.3 s timeout.
    slow = {"params": {"explain": 1}, "files": {"file": ("large.png", large_film())}}
    args = ["--workers", "1", "--queue-size", "4", "--timeout", "0.3", "--audit", str(audit)]
    with running_server(tmp_path, *args) as process:
        with process.client() as client, ThreadPoolExecutor(2) as pool:
            running = pool.submit(client.post, "/v1/classify", **slow)
            deadline = time.monotonic() + 30
            while _queue_depth(client) < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            waiting = pool.submit(client.post, "/v1/classify", **slow)
            timed_out = [running.result(), waiting.result()]
            assert [r.status_code for r in timed_out] == [504, 504]
            abandoned = _audit_lines(audit, 1)  # written when the running job finishes
            deadline = time.monotonic() + 30
            while _queue_depth(client) > 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert _queue_depth(client) == 0  # the waiting job was dropped, not run behind it
            good = client.post("/v1/classify", files=upload(sample("NORMAL", 1)))
            assert good.status_code == 200
        lines = _audit_lines(audit, 2)
    assert [line["request_id"] for line in lines] == [
        timed_out[0].headers["x-request-id"],
        good.headers["x-request-id"],
    ]
    assert abandoned[0]["delivered"] is False and abandoned[0]["label"] == "NORMAL"
    assert lines[1]["delivered"] is True


# Lifetime -----------------------------------------------------------------------------------------


def _queue_depth(client: httpx.Client) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("edgexray_queue_depth "):
            return float(line.split()[1])
    raise AssertionError("no queue depth in /metrics")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_lets_requests_in_flight_finish_and_exits_0(
    tmp_path: Path, sig: signal.Signals
) -> None:
    images = [large_jpeg(seed) for seed in range(4)]
    with running_server(tmp_path, "--workers", "1") as process:
        with process.client() as client, ThreadPoolExecutor(4) as pool:
            futures = [
                pool.submit(client.post, "/v1/classify", files={"file": (f"{i}.jpg", data)})
                for i, data in enumerate(images)
            ]
            with process.client() as watcher:
                deadline = time.monotonic() + 30
                while _queue_depth(watcher) < len(images) and time.monotonic() < deadline:
                    time.sleep(0.01)
            assert not any(f.done() for f in futures), "the requests finished too soon to test"
            process.process.send_signal(sig)
            statuses = [f.result().status_code for f in futures]
        assert statuses == [200] * len(images)
        assert process.stop() == 0
        assert "Traceback" not in process.output()


def test_a_bad_model_file_is_one_line_and_exit_1(tmp_path: Path) -> None:
    model = tmp_path / "bad.tflite"
    model.write_bytes(b"not a model")
    done = subprocess.run(
        serve_command("-m", str(model), "--port", "1"), capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.strip().startswith("edgexray: error: ")
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_plain_runtime_does_not_import_the_service_stack() -> None:
    code = (
        "import sys, edgexray, edgexray.cli.main, edgexray.cli.classify; "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'prometheus_client') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_serve_audits_every_decision_before_answering(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    with running_server(tmp_path, "--audit", str(audit)) as process, process.client() as client:
        good = client.post("/v1/classify", files=upload(sample("PNEUMONIA")))
        bad = client.post("/v1/classify", files={"file": ("bad.png", b"nope")})
        # Answered means written: the lines are there before the server stops.
        lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [line["request_id"] for line in lines] == [
        good.headers["x-request-id"],
        bad.headers["x-request-id"],
    ]
    assert lines[0]["mode"] == "serve"
    assert lines[0]["label"] == "PNEUMONIA"
    assert lines[0]["input"] == {"name": sample("PNEUMONIA").name, "sha256": good.json()["sha256"]}
    assert lines[0]["model"]["variant"] == "tflite-int8"
    assert lines[1]["label"] is None and lines[1]["error"].startswith("bad.png: ")
    assert lines[1]["model"] == lines[0]["model"]
