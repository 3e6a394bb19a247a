"""Without the [export] extra, `edgexray export` says in one line what to install (no TensorFlow needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from edgexray.cli.main import main
from edgexray.extras import install_hint


def test_missing_export_extra_names_the_pip_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "m.keras"
    model.write_bytes(b"not used")
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # makes `import tensorflow` fail
    with pytest.raises(SystemExit) as exited:
        main(["export", str(model), "--calibration", str(tmp_path), "-o", str(tmp_path / "out")])
    assert exited.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert install_hint("export") in err and "tensorflow" in err
    assert not (tmp_path / "out").exists()
