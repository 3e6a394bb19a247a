"""A real `edgexray serve` process on a free port, for the service tests."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "models" / "samples" / "binary"
DEMO_MODEL = REPO / "models" / "demo" / "seed_cnn.tflite-int8.tflite"
TOKEN = "test-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, token: str | None = TOKEN, timeout: float = 60.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)

    def output(self) -> str:
        return self.log.read_text()


def serve_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "edgexray.cli.main", "serve", *args]


@contextmanager
def running_server(
    tmp_path: Path, *args: str, token: str | None = TOKEN, model: Path = DEMO_MODEL
) -> Iterator[ServerProcess]:
    """Start `edgexray serve -m MODEL --port P ARGS` (with `token` in the environment), wait until
    /healthz answers, stop it with SIGTERM at the end."""
    port = free_port()
    # A token serve makes for itself lands in the test's folder, never in the user's.
    env = dict(os.environ, EDGEXRAY_THREADS="1", XDG_STATE_HOME=str(tmp_path / "xdg-state"))
    env.pop("EDGEXRAY_SERVE_TOKEN", None)
    env.pop("STATE_DIRECTORY", None)
    if token is not None:
        env["EDGEXRAY_SERVE_TOKEN"] = token
    log = tmp_path / f"serve-{port}.log"
    with log.open("w") as stream:
        process = subprocess.Popen(
            serve_command("-m", str(model), "--port", str(port), *args),
            stdout=stream,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=REPO,
        )
    server = ServerProcess(process, port, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited {process.returncode}: {server.output()}")
            try:
                if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {server.output()}")
            time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def sample(label: str, index: int = 1) -> Path:
    return next((SAMPLES / label).glob(f"{label}_{index:02d}.*"))


def large_jpeg(seed: int, side: int = 2500) -> bytes:
    """A noise JPEG large enough that decoding it keeps a worker busy for a while."""
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def large_film(side: int = 6000) -> bytes:
    """A NORMAL sample film enlarged to a `side`-pixel PNG, with grain that keeps it from compressing
    away: decoding and explaining it takes most of a second even on a quiet machine, and it is
    still decided NORMAL."""
    film = Image.open(sample("NORMAL", 2)).convert("L").resize((side, side), Image.BILINEAR)
    grain = np.random.default_rng(3).integers(-3, 4, (side, side))
    pixels = np.clip(np.asarray(film, dtype=np.int16) + grain, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(path: Path) -> dict[str, tuple[str, bytes]]:
    return {"file": (path.name, path.read_bytes())}


def raw_request(port: int, head: str, *pieces: bytes) -> str:
    """Send a request by hand, its pieces a moment apart (so the server reads the first one on its
    own), and return the status line of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode())
        for piece in pieces:
            sock.sendall(piece)
            time.sleep(0.2)
        return sock.recv(65536).decode("latin-1").split("\r\n", 1)[0]
