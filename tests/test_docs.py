"""The docs that are generated or checked against the code: the CLI reference and the exit codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edgexray import exit_codes

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.tensorflow  # the workstation commands (export, train...) render only where installed
def test_the_cli_reference_is_what_the_commands_take() -> None:
    from edgexray.cli.main import cli
    from edgexray.cli.reference import render

    written = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert written == render(cli), "docs/cli.md is stale: run tools/cli-reference"


def test_every_exit_code_is_in_the_table() -> None:
    table = (DOCS / "exit-codes.md").read_text(encoding="utf-8")
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.M)}
    codes = {
        value
        for name, value in vars(exit_codes).items()
        if name.isupper() and isinstance(value, int)
    }
    assert documented == codes
