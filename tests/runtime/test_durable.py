"""The append-only files (audit log, watch journal and results): a torn last line, what a kill -9
in a large write or a power cut leaves, is cut; the lines before it are kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgexray.durable import AppendError, DurableAppender


def test_a_torn_last_line_is_cut_when_the_file_is_opened(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"a":1}\n{"b":2}\n{"c":')
    appender = DurableAppender(path, "log")
    appender.append('{"d":4}')
    appender.close()
    assert appender.torn == len(b'{"c":')
    assert path.read_bytes() == b'{"a":1}\n{"b":2}\n{"d":4}\n'


def test_a_last_line_that_is_not_json_is_cut_when_read(tmp_path: Path) -> None:
    # FAT on an SD card can leave the file's new size with other bytes in it after a power cut.
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"a":1}\n\x00\x00\x00\x00\n')
    appender = DurableAppender(path, "log")
    assert appender.read_records() == [{"a": 1}]
    appender.close()
    assert appender.torn == 5
    assert path.read_bytes() == b'{"a":1}\n'


def test_a_damaged_line_before_the_last_is_refused_or_skipped_never_cut(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"a":1}\nnot json\n{"c":3}\n')
    appender = DurableAppender(path, "journal")
    with pytest.raises(AppendError, match=r"journal .*log.jsonl is damaged at line 2"):
        appender.read_records()
    assert appender.read_records(skip_damaged=True) == [{"a": 1}, {"c": 3}]
    appender.close()
    assert path.read_bytes() == b'{"a":1}\nnot json\n{"c":3}\n'


def test_lines_appended_together_take_one_write_and_one_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    calls: list[str] = []
    real_write, real_fsync = os.write, os.fsync
    monkeypatch.setattr(os, "write", lambda fd, data: calls.append("write") or real_write(fd, data))
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append("fsync") or real_fsync(fd))
    appender = DurableAppender(tmp_path / "log.jsonl", "log")
    appender.append_lines(['{"a":1}', '{"b":2}', '{"c":3}'])
    appender.close()
    assert calls == ["write", "fsync"]
    assert (tmp_path / "log.jsonl").read_bytes() == b'{"a":1}\n{"b":2}\n{"c":3}\n'
