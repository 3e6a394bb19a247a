"""The README's quick start must stay true: CI runs exactly its test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_start_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_quick_start_is_two_commands_and_ci_runs_the_test_command():
    setup, test = quick_start_commands()
    assert "edgexray classify models/samples/binary" in setup
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci


def test_the_device_install_is_the_wheel_path_ci_runs():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Installing on a device", 1)[1].split("\n## ", 1)[0]
    # edgexray is on no public index: `pip install 'edgexray[tflite]'` cannot work on a device.
    assert "pip install 'edgexray[" not in section
    assert "pip wheel --no-deps . -w dist" in section and "python3 -m venv" in section
    assert ".whl[tflite]'" in section
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip wheel --quiet --no-deps . -w" in ci and '"$wheel[tflite,onnx]"' in ci
    assert '-m "not tensorflow"' in ci


def test_the_kiosk_guide_installs_the_wheel_not_a_name_from_an_index():
    # edgexray is on no public index: `pip install 'edgexray[...]'` would fail (or, worse, install
    # whatever someone else published under that name).
    readme = (ROOT / "README.md").read_text()
    readme_kiosk = readme.split("## Run on a kiosk", 1)[1].split("\n## ", 1)[0]
    kiosk = (ROOT / "docs" / "kiosk.md").read_text()
    for text in (kiosk, readme_kiosk):
        assert "pip install 'edgexray[" not in text
    assert ".whl[tflite,serve]'" in kiosk and "device-install.md" in kiosk
