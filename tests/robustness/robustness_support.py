"""Shared by the robustness tests (a plain module: a second conftest.py would shadow tests/conftest.py
for `from conftest import ...`): a carded tiny model, the real `edgexray` process, its peak memory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, runnable, tiny_card
from PIL import Image

from edgexray.modelfile import write_card

# Runs the real entry point and reports the process's own peak resident memory in KiB: VmHWM of
# /proc/self/status, which belongs to this address space alone. Not ru_maxrss: a child made by
# fork + exec keeps the parent's high-water mark in it, so a pytest holding 500 MB would make every
# child read at least 500 MB and both sides of a comparison would read pytest's peak.
_MEASURED_MAIN = """
import sys
from edgexray.cli.main import main
try:
    main(sys.argv[2:])
    code = 0
except SystemExit as exc:
    code = exc.code
with open("/proc/self/status", encoding="ascii") as status:
    (hwm,) = [line.split()[1] for line in status if line.startswith("VmHWM:")]
with open(sys.argv[1], "w") as report:
    report.write(hwm)
sys.exit(code)
"""


def carded_copy(factory: pytest.TempPathFactory, filename: str) -> Path:
    """A copy of a tiny committed model with its card embedded (16x16 input, unit normalization),
    in the other format if no installed engine reads `filename`'s."""
    filename = runnable(filename)
    target = factory.mktemp("model") / filename
    shutil.copy(DATA / filename, target)
    write_card(target, tiny_card(filename, variant=filename))
    return target


def edgexray_command(*args: object) -> list[str | bytes]:
    """argv of the real `edgexray` process; bytes arguments (non-UTF-8 names) are passed as is."""
    return [
        sys.executable,
        "-m",
        "edgexray.cli.main",
        *(a if isinstance(a, bytes) else str(a) for a in args),
    ]


def run_edgexray(*args: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(edgexray_command(*args), capture_output=True, timeout=120)


def peak_rss_kib(tmp_path: Path, *args: object) -> tuple[int, subprocess.CompletedProcess[bytes]]:
    """Run `edgexray ARGS` in a fresh process; its peak RSS in KiB and the finished process."""
    report = tmp_path / f"rss-{len(list(tmp_path.glob('rss-*')))}.txt"
    result = subprocess.run(
        [sys.executable, "-c", _MEASURED_MAIN, str(report), *map(str, args)],
        capture_output=True,
        timeout=300,
    )
    return int(report.read_text()), result


def linked_images(folder: Path, count: int, size: int) -> Path:
    """`count` hard links to one constant gray PNG of size x size: cheap to make, each one a full
    decode (size * size bytes) for the classifier."""
    folder.mkdir(parents=True, exist_ok=True)
    original = folder.parent / f"source-{size}.png"
    if not original.exists():
        Image.new("L", (size, size), 128).save(original)
    for i in range(count):
        os.link(original, folder / f"{i:04d}.png")
    return folder


def jsonl_records(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]
