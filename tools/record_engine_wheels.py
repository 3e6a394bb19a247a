"""Record which engine wheels PyPI has for each Linux machine and Python: tests/data/engine_wheels.json.

For every engine distribution, machine (x86_64, aarch64, armv7l) and Python (3.10 to 3.13), asks pip
which wheel it would install, within the versions edgexray's extras allow, with
`pip install --dry-run --only-binary=:all: --platform ... --python-version ...` (pip reads the
wheels' metadata, it does not download them). The test of edgexray.doctor.engines checks its
table against this file; re-run this when the extras or the engines' releases change:

    python tools/record_engine_wheels.py > tests/data/engine_wheels.json
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

# What the extras allow (setup.cfg), and tflite-runtime, the fallback edgexray also reads.
REQUIREMENTS = {
    "ai-edge-litert": "ai-edge-litert>=1.2",
    "onnxruntime": "onnxruntime>=1.17,!=1.21.0",
    "openvino": "openvino>=2024.0",
    "tflite-runtime": "tflite-runtime>=2.13",
}
GLIBC = (17, 24, 27, 28, 31, 34, 35, 36)  # up to Debian bookworm's glibc 2.36
PYTHONS = ("3.10", "3.11", "3.12", "3.13")


def platforms(machine: str) -> list[str]:
    tags = [f"manylinux_2_{minor}_{machine}" for minor in GLIBC]
    return [f"manylinux2014_{machine}", *tags, f"linux_{machine}"]


def wheel_for(requirement: str, machine: str, python: str) -> str | None:
    """The wheel file pip picks, or None when there is none for this machine and Python."""
    with tempfile.TemporaryDirectory() as target:
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
            "--no-deps", "--only-binary=:all:", "--target", target, "--python-version", python,
            *(f"--platform={p}" for p in platforms(machine)), "--report", "-", requirement,
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return None
    install = json.loads(done.stdout)["install"]
    return install[0]["download_info"]["url"].rsplit("/", 1)[-1] if install else None


def main() -> None:
    record = {
        name: {
            machine: {python: wheel_for(req, machine, python) for python in PYTHONS}
            for machine in ("x86_64", "aarch64", "armv7l")
        }
        for name, req in REQUIREMENTS.items()
    }
    json.dump(record, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
