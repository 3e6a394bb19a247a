"""Hostile model files: the container is read before anything in it is trusted, so what it declares
is bounded before a byte is inflated or decoded. A decompression bomb, oversized entries, a FIFO or
a huge file named like a sidecar are refused within the file's own size plus 50 MB of memory."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import DATA, run_edgexray, tiny_card

from edgexray.errors import CardError, DamagedCardError
from edgexray.exit_codes import FATAL
from edgexray.modelfile import read_model_file, write_card
from edgexray.modelfile.container import MAX_ENTRIES_BYTES, MAX_ENTRY_BYTES
from edgexray.modelfile.onnx_format import ONNXCardFormat

MB = 1024 * 1024
BOMB_INFLATED = 600 * MB


def tflite_with_members(path: Path, members: dict[str, bytes | int]) -> Path:
    """The tiny TFLite model with a zip appended: name -> bytes, or an int for that many zeros
    written in 1 MB pieces (a decompression bomb: deflate shrinks zeros about 1000x)."""
    payload = (DATA / "binary_gray.tflite").read_bytes()
    path.write_bytes(payload)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            if isinstance(content, int):
                info = zipfile.ZipInfo(name)
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w") as member:
                    for _ in range(content // MB):
                        member.write(bytes(MB))
            else:
                archive.writestr(name, content, compress_type=zipfile.ZIP_DEFLATED)
    return path


def incompressible(size: int) -> bytes:
    """JSON-looking text that deflate cannot shrink much (base64 of random bytes, like a card's
    model-check arrays)."""
    return json.dumps({"data": base64.b64encode(os.urandom(size * 3 // 4)).decode()}).encode()


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bomb")
    return tflite_with_members(
        folder / "bomb.tflite-int8.tflite", {"edgexray_card.json": BOMB_INFLATED}
    )


def test_a_decompression_bomb_is_refused_unread(bomb: Path) -> None:
    assert bomb.stat().st_size < 1 * MB  # 600 MB of card in under a megabyte
    with pytest.raises(DamagedCardError, match="refused unread"):
        read_model_file(bomb)


PEAK = """
import sys
from pathlib import Path
from edgexray.errors import DamagedCardError
from edgexray.modelfile import read_model_file

def high_water_kb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

before = high_water_kb()
try:
    read_model_file(Path(sys.argv[1]))
except DamagedCardError:
    print(high_water_kb() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_refusing_the_bomb_costs_less_than_its_size_plus_50_mb(bomb: Path) -> None:
    # Measured in the process that reads it (VmHWM of the child), after its imports.
    done = subprocess.run(
        [sys.executable, "-c", PEAK, str(bomb)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    grown_kb = int(done.stdout)
    assert grown_kb * 1024 < bomb.stat().st_size + 50 * MB, f"peak grew by {grown_kb} kB"


def test_classify_refuses_the_bomb_in_one_line(bomb: Path) -> None:
    done = run_edgexray("classify", "-m", str(bomb), str(DATA / "binary_gray.tflite"))
    assert done.returncode == FATAL
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "refused unread" in lines[0], done.stderr


def test_too_many_or_too_large_entries_are_refused(tmp_path: Path) -> None:
    card = tiny_card("binary_gray.tflite").to_json().encode()
    one_big = {
        "edgexray_card.json": card,
        "edgexray_notes.json": incompressible(MAX_ENTRY_BYTES + 1024),
    }
    with pytest.raises(DamagedCardError, match=r"'edgexray_notes\.json' declares"):
        read_model_file(tflite_with_members(tmp_path / "big.tflite", one_big))
    pieces = MAX_ENTRIES_BYTES // (MAX_ENTRY_BYTES // 2) + 1
    many = {"edgexray_card.json": card}
    many.update(
        {f"edgexray_part{i}.json": incompressible(MAX_ENTRY_BYTES // 2) for i in range(pieces)}
    )
    with pytest.raises(DamagedCardError, match="together"):
        read_model_file(tflite_with_members(tmp_path / "many.tflite", many))


def test_a_member_within_the_size_limit_but_inflating_like_a_bomb_is_refused(
    tmp_path: Path,
) -> None:
    card = tiny_card("binary_gray.tflite").to_json().encode()
    members: dict[str, bytes | int] = {"edgexray_card.json": card, "edgexray_x.json": MB}
    with pytest.raises(DamagedCardError, match=r"over 50x\); refused unread"):
        read_model_file(tflite_with_members(tmp_path / "ratio.tflite", members))


def test_a_member_that_is_no_entry_is_never_inflated(tmp_path: Path) -> None:
    path = tmp_path / "binary_gray.tflite"
    shutil.copy(DATA / "binary_gray.tflite", path)
    written = write_card(path, tiny_card("binary_gray.tflite"))
    with zipfile.ZipFile(path, "a") as archive:
        info = zipfile.ZipInfo("something_else.bin")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w") as member:
            for _ in range(100):
                member.write(bytes(MB))
    assert read_model_file(path).card == written


def test_onnx_metadata_over_the_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    payload = (DATA / "binary_gray.onnx").read_bytes()
    path = tmp_path / "big.onnx"
    path.write_bytes(ONNXCardFormat().join(payload, {"card": "x" * (MAX_ENTRY_BYTES + 1)}))
    with pytest.raises(DamagedCardError, match="'card' declares"):
        read_model_file(path)


def test_a_sealed_card_still_reads(tmp_path: Path) -> None:
    # The limits leave real cards alone: the shipped ones are 66-118 kB.
    path = tmp_path / "binary_gray.tflite"
    shutil.copy(DATA / "binary_gray.tflite", path)
    written = write_card(path, tiny_card("binary_gray.tflite", quantization={"pad": "x" * 200_000}))
    assert read_model_file(path).card == written


def test_a_fifo_or_a_huge_file_named_like_a_sidecar_is_refused_without_hanging(
    tmp_path: Path,
) -> None:
    model = tmp_path / "plain.tflite"
    shutil.copy(DATA / "binary_gray.tflite", model)
    os.mkfifo(tmp_path / "plain.json")  # nobody writes: a blocking open would hang for ever
    with pytest.raises(CardError, match="not a regular file"):
        read_model_file(model)
    (tmp_path / "plain.json").unlink()
    with open(tmp_path / "plain.json", "wb") as handle:
        handle.truncate(3 * MAX_ENTRY_BYTES)  # sparse: no disk, but a 6 MB read
    with pytest.raises(CardError, match="refused unread"):
        read_model_file(model)
