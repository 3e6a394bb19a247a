"""Hostile files: decompression bombs and huge files are refused per file, from their first bytes,
without the memory a full read or decode would take."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image
from robustness_support import carded_copy, jsonl_records, peak_rss_kib

from edgexray import exit_codes
from edgexray.errors import ImageError
from edgexray.preprocessing import load_image

HUGE = 200 * 1024 * 1024  # bytes: sparse on disk, but a whole read would show in the peak memory


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return carded_copy(tmp_path_factory, "binary_gray.onnx")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height 8-bit gray pixels; the pixel data is absent."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG with the frame header (SOF0) patched to claim width x height pixels."""
    buffer = io.BytesIO()
    Image.new("L", (16, 16), 77).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def sparse_file(path: Path, head: bytes = b"") -> Path:
    with open(path, "wb") as handle:
        handle.write(head)
        handle.truncate(HUGE)
    return path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    files = {
        "bomb.png": png_claiming(100_000, 100_000),  # 10 Gpx: 10 GB once decoded
        "bomb.jpg": jpeg_claiming(65_000, 65_000),
        "over-limit.png": png_claiming(10_000, 10_000),  # past our limit, not Pillow's hard one
    }
    paths = {}
    for name, data in files.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    paths["huge.png"] = sparse_file(folder / "huge.png")
    small = io.BytesIO()
    Image.new("L", (8, 8), 50).save(small, "PNG")
    # A real PNG header followed by 200 MB of zeros where the next chunk should be.
    paths["huge-after-header.png"] = sparse_file(
        folder / "huge-after-header.png", small.getvalue()[:33]
    )
    return paths


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    "name, reason",
    [
        ("bomb.png", "refused, too many pixels (decompression bomb limit)"),
        ("bomb.jpg", "refused, too many pixels (decompression bomb limit)"),
        ("over-limit.png", "refused, 10000x10000 pixels exceeds the limit of 89478485"),
        # Over the byte limit (DecodeLimits.max_bytes): refused from its size, before a byte is read.
        ("huge.png", f"refused, {HUGE} bytes exceeds the limit of {128 * 1024 * 1024}"),
        (
            "huge-after-header.png",
            f"refused, {HUGE} bytes exceeds the limit of {128 * 1024 * 1024}",
        ),
    ],
)
def test_hostile_file_is_refused_with_a_clear_error(hostile, name, reason):
    with pytest.raises(ImageError) as info:
        load_image(hostile[name], "L")
    assert str(info.value).startswith(f"{hostile[name]}: {reason}")
    assert "\n" not in str(info.value)


def test_hostile_files_cost_no_memory_and_the_good_file_is_classified(model, hostile, tmp_path):
    good = tmp_path / "good.png"
    Image.new("L", (64, 64), 120).save(good)
    baseline, _ = peak_rss_kib(tmp_path, "classify", "-m", model, good)
    peak, run = peak_rss_kib(
        tmp_path, "classify", "-m", model, "--format", "jsonl", *hostile.values(), good
    )
    assert run.returncode == exit_codes.PARTIAL
    records = jsonl_records(run.stdout)
    assert [Path(r["path"]).name for r in records if "error" in r] == list(hostile)
    assert records[-1]["label"] in ("NORMAL", "PNEUMONIA")
    assert b"1 classified, 5 failed" in run.stderr
    assert b"Traceback" not in run.stderr and b"Warning" not in run.stderr
    # A 200 MB read or a 10 Gpx decode would at least triple a ~70 MB process.
    assert peak < 1.25 * baseline, (peak, baseline)
