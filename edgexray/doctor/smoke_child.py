"""Entry point of a smoke-test process: `python -m edgexray.doctor.smoke_child ENGINE MODEL IMAGE`.

Loads MODEL on ENGINE, classifies IMAGE twice, and prints one JSON object: engine library, label,
confidence, load and first/second inference times in ms, or {"error": one line}. Run in its own
process because an engine can kill the process that loads it (an illegal instruction).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from edgexray.classifier import Classifier, ClassifierOptions
from edgexray.errors import EdgexrayError


def smoke(engine: str, model: Path, image: Path) -> dict[str, Any]:
    try:
        started = time.perf_counter()
        with Classifier(model, ClassifierOptions(engine=engine)) as classifier:
            loaded = time.perf_counter()
            first = classifier.predict(image)
            done_first = time.perf_counter()
            classifier.predict(image)
            done_second = time.perf_counter()
            library = classifier.engine.library_version
    except EdgexrayError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # an engine's own failure is the finding, not a crash of doctor
        return {
            "error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        }
    if first.error:
        return {"error": first.error}
    return {
        "library": library,
        "label": first.label,
        "load_ms": (loaded - started) * 1000,
        "first_ms": (done_first - loaded) * 1000,
        "second_ms": (done_second - done_first) * 1000,
    }


def main(argv: list[str]) -> int:
    engine, model, image = argv
    print(json.dumps(smoke(engine, Path(model), Path(image))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
