"""`edgexray watch` against what a kiosk's inbox holds and what a kill or a power cut leaves
(issue 23): one bad file never ends the loop, and no restart repeats or loses a decision.

The watcher runs as a real process. Where a test needs a file the service user cannot read and
the tests run as root (which reads a chmod 000 file), the watcher drops the capabilities that let
root ignore file permissions before it starts (see `service_user`): the kernel then refuses the
read exactly as it does for the unprivileged `edgexray` user of the systemd unit.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from watch_support import folders, png, read_results, watch_args

from edgexray import exit_codes

LABELS = ("NORMAL", "PNEUMONIA")
_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2
MTIME_NS = 1_700_000_000_123_456_789


def run_once(
    inbox: Path, out: Path, model: str, *args: str, **popen: Any
) -> subprocess.CompletedProcess[str]:
    """`edgexray watch --once --settle 0` (bounded: a watcher that hangs fails the test)."""
    return subprocess.run(
        watch_args(inbox, out, "-m", model, "--settle", "0", "--once", *args),
        capture_output=True,
        text=True,
        timeout=120,
        **popen,
    )


def by_path(out: Path) -> dict[object, dict[str, object]]:
    records = read_results(out)
    assert len(records) == len({r["path"] for r in records}), records
    return {r["path"]: r for r in records}


def json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSONL file, each of which must be whole JSON."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_torn_last_journal_line_is_cut_and_nothing_decided_is_decided_again(
    carded, tmp_path: Path
) -> None:
    model = str(carded("binary_gray.tflite"))
    inbox, out = folders(tmp_path)
    audit = out / "audit.jsonl"
    for i, name in enumerate(("a.png", "b.png")):
        (inbox / name).write_bytes(png(60 * i))
    assert run_once(inbox, out, model, "--audit", str(audit)).returncode == exit_codes.OK
    journal = out / "results.jsonl.journal"
    whole = journal.read_bytes()
    # What a power cut during the next commit leaves: the start of a line, no newline.
    journal.write_bytes(whole + whole.splitlines(keepends=True)[0][:40])
    (inbox / "c.png").write_bytes(png(170))
    again = run_once(inbox, out, model, "--audit", str(audit))
    assert again.returncode == exit_codes.OK, again.stderr
    assert "1 classified, 0 failed" in again.stderr
    assert sorted(by_path(out)) == ["a.png", "b.png", "c.png"]
    assert journal.read_bytes().startswith(whole)
    assert len(json_lines(journal)) == 3
    assert len(json_lines(audit)) == 3


@pytest.mark.parametrize("torn", ["results.jsonl", "audit.jsonl"])
def test_a_torn_last_line_of_the_results_or_the_audit_is_cut(
    carded, tmp_path: Path, torn: str
) -> None:
    model = str(carded("binary_gray.tflite"))
    inbox, out = folders(tmp_path)
    audit = out / "audit.jsonl"
    (inbox / "a.png").write_bytes(png(0))
    assert run_once(inbox, out, model, "--audit", str(audit)).returncode == exit_codes.OK
    damaged = out / torn
    damaged.write_bytes(damaged.read_bytes() + damaged.read_bytes()[:40])
    (inbox / "b.png").write_bytes(png(120))
    again = run_once(inbox, out, model, "--audit", str(audit))
    assert again.returncode == exit_codes.OK, again.stderr
    assert sorted(r["path"] for r in json_lines(out / "results.jsonl")) == ["a.png", "b.png"]
    assert len(json_lines(audit)) == 2
