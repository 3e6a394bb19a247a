"""Every exit code edgexray uses is in docs/exit-codes.md's table, and the table lists no other."""

from __future__ import annotations

import re
from pathlib import Path

from edgexray import exit_codes

EXIT_CODES = Path(__file__).resolve().parents[2] / "docs" / "exit-codes.md"


def test_the_table_lists_exactly_the_exit_codes() -> None:
    section = EXIT_CODES.read_text()
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", section, flags=re.MULTILINE)}
    used = {value for name, value in vars(exit_codes).items() if name.isupper()}
    assert documented == used == {0, 1, 2, 3, 4, 130, 141}
