"""`edgexray classify --ray ADDRESS` against a real Ray head node started as a separate process."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
from conftest import run_edgexray

from edgexray.cli.classify import ray_address_given
from edgexray.demo import default_model, samples_folder

pytest.importorskip("ray")
pq = pytest.importorskip("pyarrow.parquet")
psutil = pytest.importorskip("psutil")


@pytest.mark.parametrize(
    ("value", "address"),
    [
        ("127.0.0.1:6379", True),
        ("head.example.org:10001", True),
        ("ray://head:10001", True),
        ("auto", True),
        ("images/", False),
        ("scan.png", False),
        ("/archive/2024", False),
    ],
)
def test_value_after_ray_is_an_address_or_the_first_path(value, address):
    assert ray_address_given(value) is address


def _ray_env() -> dict[str, str]:
    """No RAY_ADDRESS from outside; token authentication on for head and client alike (Ray 2.60's
    head enables it by default, and a client sends its token, ~/.ray/auth_token, only in token mode)."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    return env | {"RAY_AUTH_MODE": "token"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ray start exited with {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"the Ray head did not listen on port {port}")


@pytest.fixture
def head_node():
    """A Ray head on a free port, in its own temp folder (so no other Ray on this machine finds it
    or is touched by it), stopped by process id afterwards: `ray stop` would stop every Ray
    instance of this user on the machine, not only this one."""
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="rh", dir="/tmp")  # short: Ray's socket paths have a limit
    head = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ray.scripts.scripts",
            "start",
            "--head",
            f"--port={port}",
            "--num-cpus=2",
            f"--temp-dir={temp}",
            "--include-dashboard=false",
            "--disable-usage-stats",
            "--block",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_ray_env(),
        start_new_session=True,
    )
    try:
        _wait_for_port(port, head)
        yield f"127.0.0.1:{port}"
    finally:
        family = [head.pid] + [p.pid for p in psutil.Process(head.pid).children(recursive=True)]
        head.send_signal(signal.SIGTERM)  # `ray start --block` stops what it started
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            head.kill()
        for pid in family:  # and anything left of it, by process id
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)


def _edgexray(*args: str) -> subprocess.CompletedProcess[str]:
    return run_edgexray(*args, timeout=600, env=_ray_env())


@pytest.mark.slow
def test_classify_on_a_ray_head_node_writes_classify_records(head_node, tmp_path):
    images = tmp_path / "archive"
    shutil.copytree(samples_folder(), images)
    (images / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    model = str(default_model())
    expected = {
        r["path"]: r
        for r in json.loads(
            _edgexray("classify", "-m", model, "--format", "json", str(images)).stdout
        )
    }

    parquet = tmp_path / "results.parquet"
    done = _edgexray("classify", "--ray", head_node, "-m", model, str(images), "-o", str(parquet))
    assert done.returncode == 3, done.stderr  # the broken file: exit 3, the others written
    assert f"{len(expected) - 1} classified, 1 failed" in done.stderr
    assert f"{len(expected) - 1} images in class folders: accuracy" in done.stderr

    rows = pq.read_table(parquet).to_pylist()
    assert len(rows) == len(expected)
    for row in rows:
        want = expected[row["path"]]
        if "error" in want:
            assert row["error"] == want["error"] and row["label"] is None
            continue
        assert row["error"] is None and row["label"] == want["label"]
        for label, p in want["probabilities"].items():
            assert row["probabilities"][label] == pytest.approx(p, abs=1e-6)


def test_ray_missing_is_one_line_naming_the_extra(tmp_path):
    code = (
        "import sys; sys.modules['ray'] = None; from edgexray.cli.main import main; "
        f"main(['classify', '--ray', '{tmp_path}', '-o', '{tmp_path / 'r.parquet'}'])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "edgexray: error: --ray needs Ray Data (ray is not installed here): pip install '"
    )
    assert "[ray]'" in last and "'edgexray[" not in last


def test_ray_needs_a_parquet_or_jsonl_output(tmp_path):
    done = run_edgexray("classify", "--ray", str(tmp_path), "-o", str(tmp_path / "r.csv"))
    assert done.returncode == 2 and "-o results.parquet or -o results.jsonl" in done.stderr


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr.strip().splitlines()[-1]


def test_a_cluster_address_where_nothing_listens_is_one_line_not_a_hang(tmp_path):
    # Ray itself retries such an address for about 12 minutes; the test's own timeout is the
    # bound that fails it, well under that and over edgexray's 30 s default.
    started = time.monotonic()
    done = run_edgexray(
        "classify", "--ray", "127.0.0.1:1", "-m", str(default_model()), str(samples_folder()),
        "-o", str(tmp_path / "x.jsonl"), timeout=90, env=_ray_env(),
    )  # fmt: skip
    assert _one_error_line(done) == (
        "edgexray: error: cannot connect to Ray at 127.0.0.1:1: connection refused "
        "(no Ray head listens there)"
    )
    assert done.stderr.count("\n") == 1
    assert time.monotonic() - started < 60
    assert not (tmp_path / "x.jsonl").exists()


def test_an_address_that_never_answers_as_ray_gives_up_after_ray_timeout(tmp_path):
    # Something listens (a mistyped port: the dashboard's, say) but is no Ray GCS.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        address = f"127.0.0.1:{server.getsockname()[1]}"
        done = run_edgexray(
            "bench", "--ray", address, "-m", str(default_model()), "--data",
            str(samples_folder()), timeout=90, env=_ray_env() | {"EDGEXRAY_RAY_TIMEOUT": "3"},
        )  # fmt: skip
    assert _one_error_line(done) == (
        f"edgexray: error: cannot connect to Ray at {address}: it did not answer as a Ray "
        "cluster within 3 s (--ray-timeout; the address is the head's GCS port, 6379 by default)"
    )


def test_ray_timeout_must_be_positive(tmp_path):
    done = run_edgexray(
        "classify", "--ray", "127.0.0.1:1", "--ray-timeout", "0", str(samples_folder()),
        "-o", str(tmp_path / "x.jsonl"),
    )  # fmt: skip
    assert done.returncode == 2 and "--ray-timeout" in done.stderr
