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
