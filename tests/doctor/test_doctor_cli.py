"""`edgexray doctor` as a user runs it: a real process, the real engines installed here, and engines
that break the way they do on devices (an illegal instruction on import, a library that will not load)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgexray.doctor.engines import installed_engines
from edgexray.engines import available_engines


def doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edgexray.cli.main", "doctor", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


def test_json_report_with_the_installed_engines_smoke_tested() -> None:
    done = doctor("--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["system"]["python"].startswith(f"{sys.version_info.major}.")
    assert report["cpu"]["usable_cores"] == len(os.sched_getaffinity(0))
    assert report["memory"]["total_mb"] > 0
    assert {e["distribution"] for e in report["installed"]} == {
        e.distribution for e in installed_engines()
    }
    assert [s["engine"] for s in report["smoke"]] == available_engines()
    assert report["working_engines"] == available_engines()
    for result in report["smoke"]:
        assert result["label"] == "NORMAL" and result["first_ms"] > 0, result


@pytest.fixture
def broken_engines(tmp_path: Path) -> dict[str, str]:
    """Engines that are "installed" (importable names) but fail: onnxruntime dies of SIGILL on
    import as 1.21.0 does on a Pi 4; the LiteRT and OpenVINO libraries raise on import."""
    (tmp_path / "onnxruntime").mkdir()
    (tmp_path / "onnxruntime" / "__init__.py").write_text(
        "import os, signal\nos.kill(os.getpid(), signal.SIGILL)\n"
    )
    for name in ("ai_edge_litert", "openvino"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(
            "raise ImportError('libfoo.so: cannot open')\n"
        )
    (tmp_path / "ai_edge_litert" / "interpreter.py").write_text("")
    return {"PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}


def test_exit_1_and_the_reason_when_no_engine_works(broken_engines: dict[str, str]) -> None:
    done = doctor(env=broken_engines)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "onnxruntime FAILED" in done.stdout and "SIGILL" in done.stdout
    assert "illegal instruction" in done.stdout
    assert "warning:     no engine works here" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_no_smoke_skips_the_engines_and_exits_0(broken_engines: dict[str, str]) -> None:
    done = doctor("--no-smoke", "--json", env=broken_engines)
    assert done.returncode == 0 and json.loads(done.stdout)["smoke"] == []


def test_an_installed_engine_is_not_listed_as_installable() -> None:
    installed = {e.engine for e in installed_engines()}
    assert installed, "this test needs an engine installed"
    done = doctor("--no-smoke", "--json")
    listed = {line.split(":")[0] for line in json.loads(done.stdout)["installable"]}
    assert not listed & installed, (listed, installed)
    text = doctor("--no-smoke").stdout
    (line,) = [x for x in text.splitlines() if x.startswith("installable here:")]
    assert not any(f"{engine}:" in line for engine in installed), line
