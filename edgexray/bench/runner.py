"""Measure each subject in a fresh Python process, one after another.

A fresh process per subject is what makes the figures honest: load time and the first inference
include importing the engine, as on a device that just booted; the peak RSS is this subject's alone
(see memory.py); and no subject runs on caches, allocators or thread pools another one warmed.
Subjects run one at a time, never side by side, so they do not compete for the cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from edgexray.bench.measure import Measurement, TimingPlan
from edgexray.card import ModelCard
from edgexray.card_resolution import CardOverrides


@dataclass(frozen=True)
class SubjectSpec:
    """One row to measure.

    name: the row name (`tflite-int8`, `keras-tf-function`). factory: a key of
    edgexray.bench.subjects.BUILTIN_SUBJECTS or `module:Class`. card: needed by subjects whose file
    has none (Keras, peers). role: "variant", "full-model" or "peer", for reports. python_path:
    folders the child needs on sys.path to import `factory`. overrides: card facts given by the
    user (--labels, --normalize...), applied by the child as `edgexray classify` applies them.
    sha256: of the model file's bytes as the parent read and checked them (its signature verified
    under a trust policy); the child refuses a file whose bytes no longer have it (a file
    replaced since), so the bytes measured are the bytes verified. None: not checked.
    """

    name: str
    factory: str
    path: Path
    format: str
    card: ModelCard | None = None
    role: str = "variant"
    python_path: tuple[str, ...] = field(default_factory=tuple)
    overrides: CardOverrides = field(default_factory=CardOverrides)
    sha256: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ("variant", "full-model", "peer"):
            raise ValueError(f"role must be variant, full-model or peer, got {self.role!r}")


@dataclass(frozen=True)
class RunOutcome:
    """A measurement, or the one-line reason there is none."""

    spec: SubjectSpec
    measurement: Measurement | None = None
    error: str | None = None


def _child_env(spec: SubjectSpec) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if spec.python_path:
        env["PYTHONPATH"] = os.pathsep.join(
            [*spec.python_path, *filter(None, [env.get("PYTHONPATH")])]
        )
    return env


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


def run_isolated(
    spec: SubjectSpec,
    files: list[Path],
    plan: TimingPlan,
    threads: int | None,
    tensors: Path | None = None,
    timeout_s: float | None = None,
) -> RunOutcome:
    """Measure `spec` on the image `files` in a child process; never raises for the subject's own
    failure (a crash, a timeout, a model that will not load): that comes back as `error`.
    tensors: the files preprocessed once for all subjects (.npy), so each child does not decode
    every image again for parity; None to let the child decode them. timeout_s: seconds before
    the child is killed and the row fails (None: no limit)."""
    job = {
        "factory": spec.factory,
        "path": str(spec.path),
        "card": spec.card.to_dict() if spec.card else None,
        "overrides": spec.overrides.to_dict(),
        "sha256": spec.sha256,
        "threads": threads,
        "files": [str(f) for f in files],
        "plan": plan.to_dict(),
        "tensors": str(tensors) if tensors else None,
    }
    with tempfile.TemporaryDirectory(prefix="edgexray-bench-") as folder:
        job_path, out_path = Path(folder, "job.json"), Path(folder, "result.json")
        job_path.write_text(json.dumps(job), encoding="utf-8")
        command = [sys.executable, "-m", "edgexray.bench.child", str(job_path), str(out_path)]
        try:
            done = subprocess.run(
                command, env=_child_env(spec), capture_output=True, text=True, timeout=timeout_s
            )
        except subprocess.TimeoutExpired:  # subprocess.run has killed the child
            return RunOutcome(spec, error=f"timed out after {timeout_s:g} s (see --timeout)")
        if not out_path.is_file():
            return RunOutcome(
                spec,
                error=f"measuring process failed ({done.returncode}): {_last_line(done.stderr)}",
            )
        result = json.loads(out_path.read_text(encoding="utf-8"))
    if "error" in result:
        return RunOutcome(spec, error=str(result["error"]))
    return RunOutcome(spec, measurement=Measurement.from_dict(result))
