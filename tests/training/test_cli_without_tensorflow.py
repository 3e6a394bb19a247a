"""The training commands without TensorFlow: one line and exit 1; synth needs no TensorFlow."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgexray.cli.main import cli, main
from edgexray.extras import install_hint


@pytest.mark.parametrize(
    "command",
    [
        ["train", "cnn"],
        ["train", "finetune"],
        ["evaluate", "m.keras"],
        ["explain", "--keras", "-m", "m.keras", "-o", "out"],
    ],
)
def test_missing_tensorflow_is_one_line(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # makes `import tensorflow` fail
    (tmp_path / "m.keras").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main([*command, str(tmp_path)])
    assert exited.value.code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "edgexray: error: this command needs the export toolchain (tensorflow is missing): "
        + install_hint("export")
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


@pytest.mark.parametrize("command", ["export", "train", "evaluate", "synth"])
def test_a_missing_workstation_toolchain_names_the_extra(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A runtime-only install: the edgexray_export package is absent altogether.
    for name in [m for m in sys.modules if m.startswith("edgexray_export")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "edgexray_export", None)
    with pytest.raises(SystemExit) as exited:
        main([command, "anything", "--any-flag"])
    assert exited.value.code == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(
        f"edgexray: error: `edgexray {command}` is not installed here (edgexray_export"
    )
    assert line.endswith(f"is missing): {install_hint('export')}")
    listing = CliRunner().invoke(cli, ["--help"])
    assert listing.exit_code == 0 and f"  {command} " in listing.output
