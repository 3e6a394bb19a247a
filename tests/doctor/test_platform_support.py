"""On 32-bit ARM `import edgexray` refuses with one message naming the 64-bit OS (in a real
interpreter whose platform reports armv7l)."""

from __future__ import annotations

import os
import subprocess
import sys

PRETEND_ARMV7L = "import platform; platform.machine = lambda: 'armv7l'; import edgexray"


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PRETEND_ARMV7L],
        capture_output=True,
        text=True,
        env={k: v for k, v in {**os.environ, **env}.items() if v},
        timeout=120,
    )


def test_import_refuses_32bit_arm_with_the_way_out() -> None:
    done = run({"EDGEXRAY_ALLOW_32BIT": ""})
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: edgexray needs a 64-bit OS") and "(64-bit)" in last


def test_the_override_lets_it_import() -> None:
    assert run({"EDGEXRAY_ALLOW_32BIT": "1"}).returncode == 0
