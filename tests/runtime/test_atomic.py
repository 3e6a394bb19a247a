"""The one atomic writer: durable (file and folder fsync'd), right permissions, no umask toggling,
and every report and card edgexray writes goes through it."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_card

from edgexray import atomic
from edgexray.modelfile import write_card
from edgexray.reference import Reference, ReferenceImage, write_reference


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """Records (kind, name) of every fsync: kind "file" or "folder"."""
    calls: list[tuple[str, str]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        mode = os.fstat(fd).st_mode
        kind = "folder" if stat.S_ISDIR(mode) else "file"
        calls.append((kind, os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    yield calls


@pytest.fixture
def no_umask(monkeypatch: pytest.MonkeyPatch) -> None:
    """Changing the process umask would race with every other thread creating files."""

    def umask(mask: int) -> int:
        raise AssertionError("the atomic writer must not change the process umask")

    monkeypatch.setattr(os, "umask", umask)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_write_is_fsynced_then_renamed_then_the_folder_fsynced(
    tmp_path: Path, synced: list[tuple[str, str]]
) -> None:
    target = tmp_path / "report.json"
    target.write_text("old")
    atomic.write_text_atomically(target, "new")
    assert target.read_text() == "new"
    kinds = [kind for kind, _ in synced]
    assert kinds == ["file", "folder"]
    assert synced[1][1] == str(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left


def test_permissions_follow_the_umask_for_new_files_and_stay_for_existing_ones(
    tmp_path: Path, no_umask: None
) -> None:
    created = tmp_path / "new.json"
    atomic.write_text_atomically(created, "{}")
    plain = tmp_path / "plain.json"
    plain.write_text("{}")  # what open(path, "w") gives under the same umask
    assert _mode(created) == _mode(plain)
    private = tmp_path / "private.json"
    private.write_text("{}")
    private.chmod(0o600)
    atomic.write_text_atomically(private, "[]")
    assert _mode(private) == 0o600 and private.read_text() == "[]"


def test_the_umask_decides_the_mode_without_being_changed(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        atomic.write_text_atomically(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a.json") == 0o640


def test_a_failed_write_leaves_the_old_content(tmp_path: Path) -> None:
    target = tmp_path / "card.json"
    target.write_text("old")
    output = atomic.AtomicFile(target)
    output.stream.write("half")
    output.discard()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["card.json"]


def _reference(path: Path) -> None:
    image = ReferenceImage("NORMAL/a.png", "0" * 64, "NORMAL")
    write_reference(path, Reference(("NORMAL", "PNEUMONIA"), (image,), np.array([[0.5, 0.5]])))


def _card(path: Path) -> None:
    import shutil

    from conftest import DATA

    shutil.copy(DATA / "binary_gray.onnx", path)
    write_card(path, tiny_card("binary_gray.onnx"))


def _figure(path: Path) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure = plt.figure()
    atomic.write_figure_atomically(figure, path)
    plt.close(figure)


@pytest.mark.parametrize(
    ("writer", "name"),
    [(_reference, "m.reference.json"), (_card, "m.onnx"), (_figure, "plot.png")],
    ids=["reference", "card-and-sidecar", "figure"],
)
def test_reports_and_cards_go_through_the_atomic_writer(
    writer: Callable[[Path], None],
    name: str,
    tmp_path: Path,
    synced: list[tuple[str, str]],
    no_umask: None,
) -> None:
    writer(tmp_path / name)
    assert (tmp_path / name).stat().st_size > 0
    # Each file written (the model, its sidecar) is fsync'd before its rename, then the folder.
    assert [kind for kind, _ in synced][:2] == ["file", "folder"]
    assert ("folder", str(tmp_path)) in synced


# Files written directly, not reports: job and result files passed between bench processes, model
# bytes a converter writes before its card goes in (atomically), scratch models, the writer's buffer.
DIRECT_WRITES_ALLOWED = {
    "edgexray/atomic.py",
    "edgexray/bench/runner.py",
    "edgexray/bench/child.py",
    "export/variants/onnx.py",
    "export/variants/tflite.py",
    "benchmarks/load_memory.py",  # scratch model files it measures loading
}


def test_no_report_is_written_around_the_atomic_writer() -> None:
    import ast

    root = Path(__file__).resolve().parents[2]
    direct = []
    for folder in ("edgexray", "export", "benchmarks"):
        for path in sorted((root / folder).rglob("*.py")):
            name = path.relative_to(root).as_posix()
            if name in DIRECT_WRITES_ALLOWED:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in (
                    "write_text",
                    "write_bytes",
                    "savefig",
                ):
                    direct.append(f"{name}:{node.lineno}")
    assert direct == [], "write reports with edgexray.atomic"
