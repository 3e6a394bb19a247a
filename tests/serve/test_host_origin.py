"""The Host and Origin checks, with requests written by hand against a real server: a DNS-rebinding
Host and a foreign page's Origin are refused, with the token and without one (--insecure-no-auth),
before anything about the model is said or any image is classified."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from serve_process import TOKEN, ServerProcess, raw_request, running_server, sample

from edgexray.serve.request_guards import same_origin

REBOUND = "rebind.attacker.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(
        tmp_path_factory.mktemp("guards"), "--allow-host", "kiosk.local"
    ) as process:
        yield process


def _get(port: int, path: str, host: str, *extra: str, token: str | None = TOKEN) -> str:
    """The status line of GET `path` with this Host (and extra header lines)."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", *extra, "Connection: close"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    return raw_request(port, "\r\n".join(lines) + "\r\n\r\n")


def _post_image(port: int, host: str, *extra: str, token: str | None = TOKEN) -> str:
    """The status line of a multipart POST of a sample to /v1/classify, as a web page's form or
    fetch would send it (a CORS simple request: no preflight)."""
    image = sample("NORMAL", 1).read_bytes()
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + image + b"\r\n--b--\r\n"
    )
    lines = [
        "POST /v1/classify HTTP/1.1",
        f"Host: {host}",
        *extra,
        "Content-Type: multipart/form-data; boundary=b",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    return raw_request(port, "\r\n".join(lines) + "\r\n\r\n", body)


def _status(line: str) -> int:
    return int(line.split()[1])


def test_a_dns_rebinding_host_is_refused_even_with_the_token(server: ServerProcess) -> None:
    port = server.port
    for path in ("/v1/model", "/metrics", "/"):
        assert _status(_get(port, path, f"{REBOUND}:{port}")) == 400, path
    assert _status(_post_image(port, f"{REBOUND}:{port}")) == 400
    # The names that are this machine's, and the one the operator added, are let through.
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "KIOSK.local", f"kiosk.local:{port}"):
        assert _status(_get(port, "/v1/model", host)) == 200, host


@pytest.mark.parametrize(
    "origin",
    [
        "https://attacker.example",
        "null",  # a sandboxed frame, a file:// page
        "http://127.0.0.1:1",  # another service's page on this machine
        f"http://{REBOUND}",
    ],
)
def test_a_foreign_origin_is_refused_on_a_multipart_post_and_on_v1(
    server: ServerProcess, origin: str
) -> None:
    port = server.port
    host = f"127.0.0.1:{port}"
    assert _status(_post_image(port, host, f"Origin: {origin}")) == 403
    assert _status(_get(port, "/v1/model", host, f"Origin: {origin}")) == 403
    assert _status(_get(port, "/metrics", host, f"Origin: {origin}")) == 403


def test_the_services_own_page_and_clients_without_origin_are_served(
    server: ServerProcess,
) -> None:
    port = server.port
    host = f"127.0.0.1:{port}"
    assert _status(_post_image(port, host, f"Origin: http://127.0.0.1:{port}")) == 200
    assert _status(_post_image(port, "kiosk.local", "Origin: http://kiosk.local")) == 200
    assert _status(_post_image(port, host)) == 200  # curl, scripts: no Origin


def test_without_a_token_the_host_and_origin_checks_still_hold(tmp_path: Path) -> None:
    with running_server(tmp_path, "--insecure-no-auth", token=None) as process:
        port = process.port
        host = f"127.0.0.1:{port}"
        assert _status(_get(port, "/v1/model", f"{REBOUND}:{port}", token=None)) == 400
        origin = "Origin: https://attacker.example"
        assert _status(_post_image(port, host, origin, token=None)) == 403
        assert _status(_post_image(port, host, token=None)) == 200


@pytest.mark.parametrize(
    ("origin", "host", "same"),
    [
        ("http://127.0.0.1:8080", "127.0.0.1:8080", True),
        ("http://LOCALHOST:8080", "localhost:8080", True),
        ("http://[::1]:8080", "[::1]:8080", True),
        ("https://kiosk.example", "kiosk.example", True),
        ("http://kiosk.example", "kiosk.example:80", True),
        ("http://127.0.0.1:3000", "127.0.0.1:8080", False),
        ("https://kiosk.example", "kiosk.example:80", False),
        ("null", "127.0.0.1:8080", False),
        ("http://kiosk.example:x", "kiosk.example", False),
        ("http://a@kiosk.example", "kiosk.example", False),
        ("http://kiosk.example/", "kiosk.example", False),
        ("ftp://kiosk.example", "kiosk.example", False),
        ("http://kiosk.example", None, False),
    ],
)
def test_same_origin_compares_host_and_port(origin: str, host: str | None, same: bool) -> None:
    assert same_origin(origin, host) is same
