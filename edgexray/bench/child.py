"""Entry point of the measuring child process: `python -m edgexray.bench.child JOB.json OUT.json`.

JOB.json: {"factory", "path", "card" (dict or null), "overrides" (CardOverrides.to_dict()),
"sha256" (of the bytes the parent verified, or null), "threads", "files", "plan", "tensors" (an .npy of the files preprocessed, or null)}. OUT.json gets the
measurement, or {"error": one line} when the subject could not be measured. Anything the runtimes
print goes to this process's own stdout/stderr, which the runner keeps apart from the result.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from edgexray.bench.measure import TimingPlan, measure
from edgexray.bench.subjects import subject_class
from edgexray.card import ModelCard
from edgexray.card_resolution import CardOverrides
from edgexray.errors import EdgexrayError


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Measure the subject a job describes; {"error": ...} instead of raising for a failure."""
    try:
        card = ModelCard.from_dict(job["card"]) if job.get("card") else None
        overrides = CardOverrides.from_dict(job.get("overrides") or {})
        subject = subject_class(job["factory"])(
            Path(job["path"]), card, job.get("threads"), overrides, sha256=job.get("sha256")
        )
        files = [Path(f) for f in job["files"]]
        tensors = Path(job["tensors"]) if job.get("tensors") else None
        return measure(subject, files, TimingPlan.from_dict(job["plan"]), tensors).to_dict()
    except EdgexrayError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # a runtime's own failure must not lose the other rows
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return {"error": f"{type(exc).__name__}: {first}"}


def main(argv: list[str]) -> int:
    job_path, out_path = (Path(a) for a in argv)
    result = run_job(json.loads(job_path.read_text(encoding="utf-8")))
    out_path.write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
