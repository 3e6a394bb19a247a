"""The DICOM pixel pipeline: every bit depth, photometric, VOI and encoding a CR/DX file may use.

Expected values come from the standard's formulas written out here, not from the reader's code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pydicom")  # the [dicom] extra; a device without it skips these
from dicom_files import dataset, ramp, save
from pydicom.dataset import Dataset
from pydicom.pixels import convert_color_space
from pydicom.uid import (
    JPEG2000,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)

from edgexray.errors import ImageError
from edgexray.preprocessing.decode import decode
from edgexray.preprocessing.dicom import DicomOptions


def read(path: Path, options: DicomOptions | None = None, mode: str = "L"):
    decoded = decode(path, mode, dicom=options)  # type: ignore[arg-type]
    return np.asarray(decoded.image), decoded.source


def linear_window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 (LINEAR) onto 0..255."""
    scaled = ((values - (center - 0.5)) / (width - 1) + 0.5) * 255
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def full_range(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    return np.clip(np.rint((values - low) * 255 / (high - low)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("bits", [8, 12, 15, 16])
def test_without_a_window_the_image_range_maps_to_0_255(tmp_path, bits):
    pixels = ramp(21, 34, bits)
    got, source = read(save(dataset(pixels, bits_stored=bits), tmp_path / "a.dcm"))
    assert np.array_equal(got, full_range(pixels.astype(np.float64)))
    assert source["window"] == "full range (no window in the file)"
    assert source["inverted"] is False


@pytest.mark.parametrize("bits", [12, 15, 16])
def test_the_first_window_is_applied(tmp_path, bits):
    pixels = ramp(25, 19, bits)
    center, width = 2 ** (bits - 1), 2 ** (bits - 2)
    ds = dataset(pixels, bits_stored=bits, WindowCenter=center, WindowWidth=width)
    got, source = read(save(ds, tmp_path / "a.dcm"))
    assert np.array_equal(got, linear_window(pixels.astype(np.float64), center, width))
    assert source["window"].startswith("window index 0 of 1 (center")


def test_monochrome1_is_inverted(tmp_path):
    pixels = ramp(16, 20, 12)
    plain, _ = read(save(dataset(pixels, bits_stored=12), tmp_path / "m2.dcm"))
    inverted, source = read(
        save(dataset(pixels, "MONOCHROME1", bits_stored=12), tmp_path / "m1.dcm")
    )
    assert np.array_equal(inverted, 255 - plain)
    assert source["inverted"] is True and source["photometric"] == "MONOCHROME1"


def test_presentation_lut_shape_decides_the_inversion(tmp_path):
    pixels = ramp(16, 20, 12)
    plain, _ = read(save(dataset(pixels, bits_stored=12), tmp_path / "m2.dcm"))
    ds = dataset(pixels, "MONOCHROME2", bits_stored=12, PresentationLUTShape="INVERSE")
    inverted, source = read(save(ds, tmp_path / "inverse.dcm"))
    assert np.array_equal(inverted, 255 - plain) and source["inverted"] is True


def test_rescale_slope_and_intercept_come_before_the_window(tmp_path):
    pixels = ramp(20, 20, 12)
    ds = dataset(
        pixels,
        bits_stored=12,
        RescaleSlope=2,
        RescaleIntercept=-1024,
        RescaleType="US",
        WindowCenter=1000,
        WindowWidth=3000,
    )
    got, _ = read(save(ds, tmp_path / "a.dcm"))
    assert np.array_equal(got, linear_window(pixels * 2.0 - 1024, 1000, 3000))


def test_a_voi_lut_sequence_is_applied(tmp_path):
    pixels = ramp(20, 20, 12)
    table = (255 - np.arange(4096) // 16).astype(np.uint16)  # 8-bit entries, reversed
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 8]
    item.LUTData = table.tolist()
    item["LUTData"].VR = "US"
    ds = dataset(pixels, bits_stored=12)
    ds.VOILUTSequence = [item]
    got, source = read(save(ds, tmp_path / "a.dcm"))
    assert np.array_equal(got, table[pixels].astype(np.uint8))
    assert source["window"] == "VOI LUT index 0 of 1"


def test_several_windows_first_by_default_or_the_one_asked(tmp_path):
    pixels = ramp(20, 20, 15)
    ds = dataset(pixels, bits_stored=15, WindowCenter=[16384, 6000], WindowWidth=[32768, 2000])
    path = save(ds, tmp_path / "a.dcm")
    first, source = read(path)
    assert np.array_equal(first, linear_window(pixels.astype(float), 16384, 32768))
    second, source = read(path, DicomOptions(window=1))
    assert np.array_equal(second, linear_window(pixels.astype(float), 6000, 2000))
    assert source["window"].startswith("window index 1 of 2")
    whole, source = read(path, DicomOptions(window="full-range"))
    assert np.array_equal(whole, full_range(pixels.astype(float)))
    assert source["window"] == "full range (asked)"
    with pytest.raises(ImageError, match="window 2 asked, the file has 2 window"):
        read(path, DicomOptions(window=2))


def test_sigmoid_voi_function(tmp_path):
    pixels = ramp(20, 20, 12)
    ds = dataset(pixels, bits_stored=12, WindowCenter=2048, WindowWidth=1024)
    ds.VOILUTFunction = "SIGMOID"
    got, source = read(save(ds, tmp_path / "a.dcm"))
    expected = 255 / (1 + np.exp(-4 * (pixels - 2048.0) / 1024))
    assert np.abs(got.astype(int) - np.rint(expected)).max() <= 1
    assert "SIGMOID" in source["window"]


def test_signed_pixels(tmp_path):
    pixels = ramp(17, 23, 16, signed=True)
    got, _ = read(save(dataset(pixels, bits_stored=16), tmp_path / "a.dcm"))
    assert np.array_equal(got, full_range(pixels.astype(float)))


def test_bits_stored_below_bits_allocated_ignores_the_unused_high_bits(tmp_path):
    pixels = ramp(17, 23, 12)
    ds = dataset(pixels, bits_stored=12)
    noisy = pixels | np.uint16(0xF000)  # garbage in the 4 unused bits, as some vendors leave
    ds.PixelData = noisy.tobytes()
    got, _ = read(save(ds, tmp_path / "a.dcm"))
    assert np.array_equal(got, full_range(pixels.astype(float)))


def test_only_the_first_frame_is_read(tmp_path):
    frames = np.stack([ramp(12, 14, 12, seed=i) for i in range(3)])
    got, source = read(save(dataset(frames, bits_stored=12), tmp_path / "a.dcm"))
    assert np.array_equal(got, full_range(frames[0].astype(float)))
    assert source["frame"] == "1 of 3"


# Every encoding must give the same pixels as the plain little-endian file: odd sizes, 15 bits.
_LOSSLESS = [
    ImplicitVRLittleEndian,
    ExplicitVRBigEndian,
    RLELossless,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
]


@pytest.mark.parametrize("syntax", _LOSSLESS, ids=lambda s: s.name.split(" (")[0])
@pytest.mark.parametrize("preamble", [True, False], ids=["file-format", "no-preamble"])
def test_every_lossless_encoding_reads_like_the_plain_file(tmp_path, syntax, preamble):
    ds = dataset(ramp(33, 47, 15), bits_stored=15, WindowCenter=12000, WindowWidth=9000)
    plain, _ = read(save(ds, tmp_path / "plain.dcm"))
    got, source = read(save(ds, tmp_path / "encoded", syntax, preamble))
    assert np.array_equal(got, plain)
    assert source["sop_instance_uid"] == ds.SOPInstanceUID


def test_a_bare_dataset_without_file_meta_is_read(tmp_path):
    ds = dataset(ramp(9, 11, 12), bits_stored=12)
    plain, _ = read(save(ds, tmp_path / "plain.dcm"))
    del ds.file_meta
    ds.save_as(tmp_path / "bare", implicit_vr=True, little_endian=True)
    assert (tmp_path / "bare").read_bytes()[:2] == b"\x08\x00"
    got, _ = read(tmp_path / "bare")
    assert np.array_equal(got, plain)


@pytest.mark.parametrize(
    ("syntax", "bits"), [(JPEGBaseline8Bit, 8), (JPEGExtended12Bit, 12), (JPEG2000, 12)]
)
def test_lossy_encodings_read_close_to_the_plain_file(tmp_path, syntax, bits):
    y, x = np.mgrid[0:64, 0:64]
    smooth = ((np.sin(x / 9) + np.cos(y / 7) + 2) / 4 * (2**bits - 1)).astype(
        np.uint8 if bits == 8 else np.uint16
    )
    ds = dataset(smooth, bits_stored=bits)
    plain, _ = read(save(ds, tmp_path / "plain.dcm"))
    got, _ = read(save(ds, tmp_path / "lossy", syntax))
    assert np.abs(got.astype(int) - plain).max() <= 3


def test_rgb_and_ybr_become_rgb_and_grey_as_pillow_converts(tmp_path):
    from PIL import Image

    rgb = np.random.default_rng(3).integers(0, 256, (10, 12, 3)).astype(np.uint8)
    got, source = read(save(dataset(rgb, "RGB"), tmp_path / "rgb.dcm"), mode="RGB")
    assert np.array_equal(got, rgb) and source["window"] == "colour (no VOI)"
    grey, _ = read(tmp_path / "rgb.dcm", mode="L")
    assert np.array_equal(grey, np.asarray(Image.fromarray(rgb).convert("L")))
    ybr = convert_color_space(rgb, "RGB", "YBR_FULL")
    got, _ = read(save(dataset(ybr, "YBR_FULL"), tmp_path / "ybr.dcm"), mode="RGB")
    assert np.abs(got.astype(int) - rgb).max() <= 2


def test_palette_colour(tmp_path):
    indices = np.random.default_rng(4).integers(0, 256, (8, 9)).astype(np.uint8)
    ds = dataset(indices, "PALETTE COLOR")
    for colour, table in (
        ("Red", np.arange(256)),
        ("Green", 255 - np.arange(256)),
        ("Blue", 0 * np.arange(256)),
    ):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [256, 0, 8])
        setattr(ds, f"{colour}PaletteColorLookupTableData", table.astype(np.uint8).tobytes())
    got, _ = read(save(ds, tmp_path / "p.dcm"), mode="RGB")
    assert np.array_equal(got[..., 0], indices) and np.array_equal(got[..., 1], 255 - indices)
    assert not got[..., 2].any()
