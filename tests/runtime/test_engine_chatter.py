"""LiteRT's "INFO: Created TensorFlow Lite XNNPACK delegate" is silenced unless -v; fd 2 is restored."""

from __future__ import annotations

import os
import threading
import time

import pytest
from conftest import DATA, run_edgexray

from edgexray.engines.native_stderr import native_stderr_silenced

pytest.importorskip("ai_edge_litert")

CHATTER = "XNNPACK"


def test_litert_chatter_is_silenced_by_default_and_shown_with_verbose(carded, tmp_path):
    model = carded("binary_gray.tflite")
    from PIL import Image

    Image.new("L", (16, 16), 90).save(tmp_path / "one.png")
    quiet = run_edgexray("classify", "-m", str(model), str(tmp_path / "one.png"))
    assert quiet.returncode == 0, quiet.stderr
    assert CHATTER not in quiet.stderr
    assert "1 classified, 0 failed" in quiet.stderr  # edgexray's own messages still come through
    loud = run_edgexray("-v", "classify", "-m", str(model), str(tmp_path / "one.png"))
    assert loud.returncode == 0, loud.stderr
    assert CHATTER in loud.stderr


def test_a_damaged_card_is_refused_before_the_engine_exists(carded):
    path = carded("binary_gray.tflite")
    cut = path.with_name("cut.tflite")
    cut.write_bytes(path.read_bytes()[:-50])
    result = run_edgexray("-v", "classify", "-m", str(cut), str(DATA))
    assert result.returncode == 1
    assert "damaged" in result.stderr and CHATTER not in result.stderr


def _fd2_identity() -> tuple[int, int]:
    info = os.fstat(2)
    return info.st_dev, info.st_ino


def test_concurrent_silencing_restores_fd2():
    before = _fd2_identity()
    barrier = threading.Barrier(6)

    def load() -> None:
        barrier.wait()
        with native_stderr_silenced():
            time.sleep(0.02)

    threads = [threading.Thread(target=load) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _fd2_identity() == before
