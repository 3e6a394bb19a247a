"""The training commands without TensorFlow: one line and exit 1; synth needs no TensorFlow."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgexray.cli.main import cli


@pytest.mark.parametrize(
    "command", [["train", "cnn"], ["train", "finetune"], ["evaluate", "m.keras"]]
)
def test_missing_tensorflow_is_one_line(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # makes `import tensorflow` fail
    (tmp_path / "m.keras").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, [*command, str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "edgexray: this command needs TensorFlow: pip install 'edgexray[export]'"
    ]


def test_synth_writes_a_reproducible_folder(tmp_path: Path) -> None:
    args = [
        "--classes",
        "three",
        "--count",
        "3",
        "--seed",
        "9",
        "--min-side",
        "40",
        "--max-side",
        "60",
    ]
    runner = CliRunner()
    assert runner.invoke(cli, ["synth", str(tmp_path / "a"), *args]).exit_code == 0
    assert runner.invoke(cli, ["synth", str(tmp_path / "b"), *args]).exit_code == 0
    for name in ("COVID", "NORMAL", "PNEUMONIA"):
        a = sorted(p.name for p in (tmp_path / "a" / name).iterdir())
        assert len(a) == 3
        assert a == sorted(p.name for p in (tmp_path / "b" / name).iterdir())
        for file in a:
            assert (tmp_path / "a" / name / file).read_bytes() == (
                tmp_path / "b" / name / file
            ).read_bytes()
