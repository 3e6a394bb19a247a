"""Decode one image file into an 8-bit grayscale ("L") or RGB image: DICOM files with the DICOM
reader (`edgexray.preprocessing.dicom`), everything else with Pillow.

Handles PNG (8 and 16 bit), JPEG (incl. CMYK), BMP, TIFF, GIF and WebP in any Pillow mode, applies the
EXIF orientation, and uses the first frame of animated or multi-page files; files in other formats are
refused before any parser reads them. Pixel-count limits are checked from the header, before any pixel
data is read, so a decompression bomb or a huge file costs neither time nor memory.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from edgexray.errors import ImageError
from edgexray.inputcheck.facts import SampleDepth
from edgexray.preprocessing.depth import depth_table, png_significant_bits, read_depth
from edgexray.preprocessing.dicom.detect import has_dicom_name, looks_like_dicom
from edgexray.preprocessing.dicom.options import DicomOptions
from edgexray.preprocessing.dicom.reader import read_dicom
from edgexray.preprocessing.input_file import InputFile, read_input

TargetMode = Literal["L", "RGB"]
# A path, a file already read (InputFile), the encoded file's bytes or a binary file object (e.g.
# io.BytesIO, an upload), a decoded PIL image, or a uint8/uint16 pixel array.
ImageInput = (
    str
    | os.PathLike[str]
    | InputFile
    | bytes
    | bytearray
    | memoryview
    | BinaryIO
    | Image.Image
    | np.ndarray
)

# 16-bit and 32-bit integer modes Pillow uses for high-bit-depth grayscale (PNG, TIFF).
_WIDE_INT_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N"}
_EXIF_ORIENTATION = 0x0112
# Modes that hold one grey value per pixel (with or without alpha).
_GREY_MODES = {*_WIDE_INT_MODES, "1", "L", "LA", "La", "F"}


@dataclass(frozen=True)
class DecodeLimits:
    """Refuse images larger than `max_pixels` (width x height; Pillow's own default is ~89 Mpx) and
    files larger than `max_bytes`, before reading them: an input is read whole, once (a 4300 x 4300
    16-bit radiograph is 37 MB uncompressed), so this bounds what one hostile file can cost."""

    max_pixels: int = 89_478_485
    max_bytes: int = 128 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_pixels <= 0:
            raise ValueError("max_pixels must be positive")
        if self.max_bytes <= 0:
            raise ValueError("max_bytes must be positive")


# What Pillow's parsers raise on corrupt data, besides OSError: their own header checks
# (SyntaxError), and whatever malformed numbers and offsets trip in plain Python code.
_CORRUPT_DATA = (
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    ArithmeticError,
    MemoryError,
)
# Only the formats this runtime documents are parsed: another plugin (EPS would start Ghostscript)
# never sees an untrusted file. (JPEGs with several frames still open, as MPO.)
_FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "GIF", "WEBP")
_NOT_AN_IMAGE = "not an image in a supported format (PNG, JPEG, BMP, TIFF, GIF, WebP)"


def _open(path: str | os.PathLike[str] | BinaryIO, limits: DecodeLimits, name: str) -> Image.Image:
    try:
        image = Image.open(path, formats=_FORMATS)  # reads the header only
    except FileNotFoundError:
        raise ImageError(f"{name}: file not found") from None
    except PermissionError:
        raise ImageError(f"{name}: permission denied") from None
    except Image.DecompressionBombError:
        raise ImageError(f"{name}: refused, too many pixels (decompression bomb limit)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: {_NOT_AN_IMAGE}") from None
    except OSError as exc:
        if exc.errno is None:  # raised by a Pillow parser, not by the file system
            raise ImageError(f"{name}: corrupt or truncated image ({exc})") from None
        raise ImageError(f"{name}: cannot read ({exc.strerror or exc})") from None
    except _CORRUPT_DATA as exc:
        raise ImageError(f"{name}: corrupt or truncated image ({exc})") from None
    width, height = image.size
    if width * height > limits.max_pixels:
        image.close()
        raise ImageError(
            f"{name}: refused, {width}x{height} pixels exceeds the limit of {limits.max_pixels}"
        )
    return image


def to_mode(image: Image.Image, mode: TargetMode, keep_grey: bool = False) -> Image.Image:
    """Convert any Pillow image to 8-bit "L" or "RGB".

    16-bit grayscale keeps its full range (scaled by 1/257 to 0..255) where a plain `convert("L")`
    would clip everything above 255 to white. Alpha is dropped, as `keras.utils.load_img` does.
    keep_grey: a grey image becomes "L" even when `mode` is "RGB", so that a caller can resize
    one channel instead of three and convert after; the result is the same, as "L" to "RGB"
    only copies the grey value into each channel.
    """
    if keep_grey and image.mode in _GREY_MODES:
        mode = "L"
    if image.mode in _WIDE_INT_MODES or image.mode == "F":
        image = Image.fromarray(_wide_to_8bit(image), "L")
    elif image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    elif image.mode in ("LA", "La"):
        image = image.getchannel("L")  # also for "La", which has no conversion to "RGB"
    if image.mode == mode:
        return image
    try:
        return image.convert(mode)
    except ValueError:  # "LAB" has no conversion to "L"; every mode has one to "RGB"
        return image.convert("RGB").convert(mode)


@dataclass(frozen=True)
class Decoded:
    """A decoded image and the region of it that shows the whole picture.

    box: None, or (left, upper, right, lower) in `image` pixels when the JPEG decoder scaled the
    picture down (see `decode`): the scaled size is rounded up, so the last row and column can
    cover only part of a pixel; resizing from `box` keeps the geometry exact, as Pillow's own
    `thumbnail` does.
    source_size: (width, height) of the picture as stored, before any reduced-scale decode.
    colour_sample: with `sample_colour`, a uint8 (N, 3) RGB sample of the source taken before
    any conversion to grey; None for a grey source.
    source: what the result records about the file (DICOM: UIDs, view, window).
    depth: how a 16-bit grey file's range was read (edgexray.preprocessing.depth); None for
    other images.
    """

    image: Image.Image
    box: tuple[float, float, float, float] | None = None
    source_size: tuple[int, int] | None = None
    colour_sample: np.ndarray | None = None
    source: Mapping[str, Any] | None = None
    depth: SampleDepth | None = None


@functools.cache
def _sixteen_to_eight_bit_table() -> np.ndarray:
    """uint8 value of each 16-bit value: rint(p * 255 / 65535), which is (p + 128) // 257 (no
    ties, as 257 is odd). Looking it up is about four times faster than computing it in floats."""
    table = (np.arange(65536, dtype=np.uint32) + 128) // 257
    table = table.astype(np.uint8)
    table.flags.writeable = False
    return table


def _wide_to_8bit(image: Image.Image) -> np.ndarray:
    """16-bit, 32-bit or float grayscale -> uint8, rounded to nearest.

    "I" can hold 16-bit data (PNG) or signed 32-bit: 16-bit data are scaled by 255/65535, anything
    else is stretched from its own minimum to maximum. Float ("F") is taken as 0..255.
    """
    if image.mode != "F":
        pixels = np.asarray(image)
        if pixels.dtype.kind == "u" and pixels.dtype.itemsize <= 2:
            return _sixteen_to_eight_bit_table()[pixels]
        if pixels.size == 0 or (pixels.min() >= 0 and pixels.max() <= 65535):
            return _sixteen_to_eight_bit_table()[pixels.astype(np.uint16)]
        wide = pixels.astype(np.float64)
        lo, hi = float(wide.min()), float(wide.max())
        scaled = (wide - lo) * (255.0 / (hi - lo) if hi > lo else 0.0)
    else:
        scaled = np.asarray(image, dtype=np.float64)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def load_image(
    source: ImageInput, mode: TargetMode = "RGB", limits: DecodeLimits | None = None
) -> Image.Image:
    """Decode `source` (a path, a PIL image or a uint8/uint16 numpy array) into an "L" or "RGB" image.

    Raises ImageError with a one-line message naming the file and the cause.
    """
    return decode(source, mode, limits).image


# Side of the colour sample: 4,096 pixels tell a photograph from a grey picture as well as
# millions do, for a nearest-neighbour resize that costs microseconds.
_COLOUR_SAMPLE_SIDE = 64


def colour_sample(image: Image.Image) -> np.ndarray | None:
    """A uint8 (N, 3) RGB sample of `image`'s pixels (nearest neighbours on a regular grid), or None
    when the image holds one grey value per pixel."""
    if image.mode in _GREY_MODES:
        return None
    side = _COLOUR_SAMPLE_SIDE
    small = image.resize(
        (min(side, image.width), min(side, image.height)), Image.Resampling.NEAREST
    )
    return np.asarray(to_mode(small, "RGB"), dtype=np.uint8).reshape(-1, 3)


def _finish(
    image: Image.Image,
    mode: TargetMode,
    keep_grey: bool,
    sample_colour: bool,
    box: tuple[float, float, float, float] | None = None,
    source_size: tuple[int, int] | None = None,
) -> Decoded:
    sample = colour_sample(image) if sample_colour else None
    return Decoded(to_mode(image, mode, keep_grey), box, source_size or image.size, sample)


def decode(
    source: ImageInput,
    mode: TargetMode = "RGB",
    limits: DecodeLimits | None = None,
    draft: tuple[int, int] | None = None,
    keep_grey: bool = False,
    sample_colour: bool = False,
    dicom: DicomOptions | None = None,
) -> Decoded:
    """Like `load_image`; with `draft` (width, height), a JPEG file may be decoded at 1/2, 1/4 or
    1/8 scale, in the decoder's DCT, as long as the result stays at least that large (Pillow's
    `Image.draft`). Other formats, and JPEGs whose EXIF orientation turns them, decode in full.
    keep_grey: see `to_mode`. sample_colour: also return `colour_sample` (see Decoded). A DICOM
    file (by name or content, see `looks_like_dicom`) is read by the DICOM reader with `dicom`
    (default: DicomOptions()); anything else by Pillow.
    """
    limits = limits or DecodeLimits()
    # A 16-bit grey image in memory is read at its data's depth as a file without sBIT is: the
    # same pixels whether a caller hands over the file, its decoded image or its array.
    if isinstance(source, np.ndarray):
        image, depth = _sixteen_bit(_from_array(source), None)
        return _with_depth(_finish(image, mode, keep_grey, sample_colour), depth)
    if isinstance(source, Image.Image):
        try:
            image, depth = _sixteen_bit(_upright(source), None)
            return _with_depth(_finish(image, mode, keep_grey, sample_colour), depth)
        except (OSError, *_CORRUPT_DATA) as exc:
            raise ImageError(f"cannot use this {source.mode} image ({exc})") from None
    if isinstance(source, (str, os.PathLike)):
        source = read_input(source, limits.max_bytes)
    stream: BinaryIO
    raw: bytes | bytearray | memoryview | None = None  # the encoded bytes, when in memory
    if isinstance(source, InputFile):
        name, stream, raw = source.name, io.BytesIO(source.data), source.data
    elif isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ImageError("image data: empty")
        name, stream, raw = "image data", io.BytesIO(source), source
    elif hasattr(source, "read"):
        name, stream = "image data", source
    else:
        raise ImageError(
            f"cannot classify a {type(source).__name__}: give a path, the file's bytes, a binary "
            "file object, a PIL image or a numpy array"
        )
    if looks_like_dicom(stream) or (isinstance(source, InputFile) and has_dicom_name(source.path)):
        dicom_image = read_dicom(stream, name, dicom or DicomOptions(), limits.max_pixels)
        decoded = _finish(dicom_image.image, mode, keep_grey, sample_colour)
        return dataclasses.replace(decoded, source=dicom_image.source)
    image = _open(stream, limits, name)
    try:
        with image:
            image.seek(0)  # first frame of animated GIF / multi-page TIFF
            stored = image.size
            box = _draft(image, draft) if draft else None
            image.load()
            transposed, depth = _sixteen_bit(_upright(image), raw)
            if box is None:
                stored = transposed.size
            decoded = _finish(transposed, mode, keep_grey, sample_colour, box, stored)
            return _with_depth(decoded, depth)
    except Image.DecompressionBombError:
        raise ImageError(f"{name}: refused, too many pixels (decompression bomb limit)") from None
    except (OSError, *_CORRUPT_DATA) as exc:
        raise ImageError(f"{name}: corrupt or truncated image ({exc})") from None


def _with_depth(decoded: Decoded, depth: SampleDepth | None) -> Decoded:
    return decoded if depth is None else dataclasses.replace(decoded, depth=depth)


def _sixteen_bit(
    image: Image.Image, raw: bytes | bytearray | memoryview | None
) -> tuple[Image.Image, SampleDepth | None]:
    """A 16-bit grey file's image as 8-bit grey, scaled from the depth its data have (the PNG's
    sBIT chunk in `raw`, else the data's range; see edgexray.preprocessing.depth), and that
    depth. Other images as they are, with None."""
    if image.mode not in _WIDE_INT_MODES:
        return image, None
    pixels = np.asarray(image)
    if pixels.dtype.kind != "u" and pixels.size and (pixels.min() < 0 or pixels.max() > 65535):
        return image, None  # wider than 16 bits: to_mode stretches it over its range
    depth = read_depth(pixels, None if raw is None else png_significant_bits(raw))
    return Image.fromarray(depth_table(depth.bits)[pixels], "L"), depth


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation `image` asks for (1: as stored)."""
    return int(image.getexif().get(_EXIF_ORIENTATION, 1) or 1)


def _upright(image: Image.Image) -> Image.Image:
    """`image` turned as its EXIF orientation asks; `image` itself when it asks for nothing
    (ImageOps.exif_transpose would copy it, ~3 ms of a 2500x2500 JPEG's 36)."""
    if _orientation(image) == 1:
        return image
    return ImageOps.exif_transpose(image) or image


def _draft(image: Image.Image, size: tuple[int, int]) -> tuple[float, float, float, float] | None:
    """Ask the decoder for a reduced scale; the box of the whole picture if it took it."""
    if _orientation(image) != 1:
        return None  # the box would have to turn with the picture; rare enough to decode in full
    before = image.size
    # None keeps the file's colour mode: a grayscale result is converted later, exactly as in
    # a full decode, instead of by the decoder.
    drafted = image.draft(None, size)
    if drafted is None or image.size == before:
        return None
    return drafted[1]


def _from_array(array: np.ndarray) -> Image.Image:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(f"numpy image must be HxW, HxWx1, HxWx3 or HxWx4, got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageError(f"numpy image is empty (shape {array.shape})")
    if array.dtype == np.uint16 and array.ndim == 2:
        return Image.fromarray(np.ascontiguousarray(array))  # "I;16": read at its depth (decode)
    if array.dtype == np.uint16:
        array = _sixteen_to_eight_bit_table()[array]
    elif array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    elif array.dtype != np.uint8:
        raise ImageError(
            f"numpy image must hold uint8 or uint16 pixels, got {array.dtype}; "
            "for a ready model input use Classifier.predict_tensor"
        )
    modes = {2: "L", 3: "RGB", 4: "RGBA"}
    channels = 2 if array.ndim == 2 else array.shape[2]
    return Image.fromarray(np.ascontiguousarray(array), modes[channels])
