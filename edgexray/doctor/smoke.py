"""Smoke test: the bundled demo model on every installed engine, each in its own process.

A separate process per engine because the failure doctor exists to find can kill the process that
loads the engine (onnxruntime 1.21.0 on a Cortex-A72 dies of an illegal instruction on import).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from edgexray.demo import bundled_root, samples_folder
from edgexray.engines.registry import ENGINES, available_engines

# The demo file each kind of engine runs: the int8 variants, what a device would deploy.
SMOKE_MODELS = {".tflite": "seed_cnn.tflite-int8.tflite", ".onnx": "seed_cnn.onnx-int8.onnx"}
TIMEOUT_S = 300.0  # generous: a Pi Zero or an emulated CPU loads an engine in tens of seconds


@dataclass(frozen=True)
class SmokeResult:
    """One engine's smoke test: ok, and then library, label and times in ms; else error."""

    engine: str
    model: str
    ok: bool
    library: str | None = None
    label: str | None = None
    load_ms: float | None = None
    first_ms: float | None = None
    second_ms: float | None = None
    error: str | None = None


def smoke_model(engine: str) -> Path:
    suffix = ENGINES[engine].suffixes[0]
    return bundled_root() / "demo" / SMOKE_MODELS[suffix]


def sample_image() -> Path:
    return sorted(p for p in samples_folder().rglob("*") if p.is_file())[0]


def _died(returncode: int, stderr: str) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hint = " (illegal instruction: this build uses CPU instructions this CPU lacks)"
        return f"the engine killed its process with {name}" + (hint if name == "SIGILL" else "")
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return f"the smoke-test process failed ({returncode}): {lines[-1] if lines else 'no output'}"


def smoke_test(engine: str, timeout_s: float = TIMEOUT_S) -> SmokeResult:
    """Run the demo model on `engine` in a child process; never raises for the engine's failure."""
    model = smoke_model(engine)
    command = [sys.executable, "-m", "edgexray.doctor.smoke_child", engine, str(model)]
    command.append(str(sample_image()))
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return SmokeResult(engine, model.name, False, error=f"timed out after {timeout_s:.0f} s")
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return SmokeResult(engine, model.name, False, error=_died(done.returncode, done.stderr))
    result = json.loads(lines[-1])
    if "error" in result:
        return SmokeResult(engine, model.name, False, error=result["error"])
    return SmokeResult(engine, model.name, True, **result)


def smoke_all() -> list[SmokeResult]:
    """One smoke test per installed engine, in registry order."""
    return [smoke_test(engine) for engine in available_engines()]
