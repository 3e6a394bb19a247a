"""Every exit code edgexray uses is in the README's table, and the table lists no other."""

from __future__ import annotations

import re
from pathlib import Path

from edgexray import exit_codes

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_table_lists_exactly_the_exit_codes() -> None:
    section = README.read_text().split("### Exit codes", 1)[1].split("\n#", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", section, flags=re.MULTILINE)}
    used = {value for name, value in vars(exit_codes).items() if name.isupper()}
    assert documented == used == {0, 1, 2, 3, 4, 130, 141}
