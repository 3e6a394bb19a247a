"""Reading and checking a model file costs one copy of it, not two or three (issue 11, item 12)."""

from __future__ import annotations

import subprocess
import sys

from conftest import DATA, tiny_card

from edgexray.modelfile import write_card
from edgexray.modelfile.onnx_format import _length_delimited

SIZE = 48 * 2**20
_PEAK = "from edgexray.bench.memory import peak_rss_mb; print(peak_rss_mb())"


def _peak_mb(code: str) -> float:
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{_PEAK}"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return float(result.stdout.split()[-1])


def test_checking_a_large_model_holds_one_copy_of_it(tmp_path):
    # A valid ONNX model made large by a 48 MiB metadata_props entry of another tool: part of the
    # payload, hashed like weights.
    path = tmp_path / "large.onnx"
    entry = _length_delimited(1, b"other.blob") + _length_delimited(2, b"x" * SIZE)
    path.write_bytes((DATA / "three_rgb.onnx").read_bytes() + _length_delimited(14, entry))
    write_card(path, tiny_card("three_rgb"))
    imports = "import pathlib; from edgexray.modelfile import read_card"
    baseline = _peak_mb(imports)
    checked = _peak_mb(f"{imports}\nassert read_card(pathlib.Path({str(path)!r})) is not None")
    assert checked - baseline < 1.5 * SIZE / 2**20, (baseline, checked)
