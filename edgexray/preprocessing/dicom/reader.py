"""Read one DICOM file into an 8-bit PIL image and the identifiers its result carries.

pydicom and the pylibjpeg decoders are the optional extra `edgexray[dicom]`; they are imported here,
when a DICOM file is first read, never by `import edgexray`. Only the first frame is decoded.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from PIL import Image

from edgexray.errors import ImageError
from edgexray.extras import install_hint
from edgexray.preprocessing.dicom.header import (
    frame_count,
    gate_problem,
    identifiers,
    no_image_problem,
    size_problem,
)
from edgexray.preprocessing.dicom.options import DicomOptions
from edgexray.preprocessing.dicom.pixels import PixelProblem, render

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

INSTALL_HINT = install_hint("dicom")
# What pydicom raises on a malformed or truncated file. Their text is never shown: a message about
# a bad element could quote its value, and that value could be patient data.
_CORRUPT = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
    struct.error,
    ArithmeticError,
    NotImplementedError,
    RuntimeError,
    MemoryError,
)


@dataclass(frozen=True)
class DicomImage:
    """The first frame as an "L" or "RGB" image, and what the result records about the file."""

    image: Image.Image
    source: dict[str, Any]


def _pydicom() -> Any:
    try:
        import pydicom
    except ImportError:
        raise ImageError(
            f"DICOM files need pydicom, which is not installed: {INSTALL_HINT}"
        ) from None
    return pydicom


def _corrupt(pydicom: Any) -> tuple[type[BaseException], ...]:
    errors = pydicom.errors
    return (errors.InvalidDicomError, errors.BytesLengthException, *_CORRUPT)


Source = str | os.PathLike[str] | BinaryIO


def read_header(path: Source, name: str) -> Dataset:
    """Everything before the pixel data (files without preamble or file meta too)."""
    pydicom = _pydicom()
    try:
        # defer_size: a huge private element is not read into memory (only named ones are used).
        return pydicom.dcmread(path, stop_before_pixels=True, force=True, defer_size="1 MB")
    except FileNotFoundError:
        raise ImageError(f"{name}: file not found") from None
    except PermissionError:
        raise ImageError(f"{name}: permission denied") from None
    except _corrupt(pydicom) as exc:
        raise ImageError(f"{name}: corrupt or truncated DICOM ({type(exc).__name__})") from None


def _transfer_syntax(header: Dataset) -> Any:
    """The file's transfer syntax; for a bare dataset (no file meta), the encoding pydicom found."""
    from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(header, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    if uid:
        return UID(str(uid))
    implicit, little = header.original_encoding
    if little is False:
        from pydicom.uid import ExplicitVRBigEndian

        return ExplicitVRBigEndian
    return ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian


def _check_decoder(syntax: Any, name: str) -> None:
    from pydicom.pixels import get_decoder

    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise ImageError(
            f"{name}: transfer syntax {syntax.name or syntax} is not supported"
        ) from None
    if not decoder.is_available:
        raise ImageError(
            f"{name}: pixel data compressed as {syntax.name}, whose decoder is not installed: "
            f"{INSTALL_HINT}"
        )


def read_dicom(path: Source, name: str, options: DicomOptions, max_pixels: int) -> DicomImage:
    """Header gate and size check from the header, then the first frame, rendered for the model.
    `path` may be a seekable binary file object (an upload), read from its current position.

    Raises ImageError (with the file's identifiers as `source` once they are known).
    """
    stream = None if isinstance(path, (str, os.PathLike)) else path
    if stream is not None and stream.tell() != 0:
        # pydicom reads a file object from its start; copy what follows the current position.
        stream = path = io.BytesIO(stream.read())
    header = read_header(path, name)
    # pydicom converts an element when it is first used: a damaged one fails here, not in dcmread.
    corrupt = _corrupt(_pydicom())
    source: dict[str, Any] = {}  # stays empty when the identifiers themselves are damaged
    try:
        source.update(identifiers(header))
        # A file cut short in its header has no Rows: say so before the gate judges what is left.
        refused = (
            no_image_problem(header)
            or gate_problem(header, options)
            or size_problem(header, max_pixels)
        )
        if refused:
            raise ImageError(f"{name}: {refused}", source=source)
        syntax = _transfer_syntax(header)
        _check_decoder(syntax, name)
        from pydicom.pixels import pixel_array

        # view_only: native pixel data is used in place, not copied (compressed data is decoded).
        if stream is not None:
            stream.seek(0)
        target = stream if stream is not None else os.fspath(path)  # type: ignore[arg-type]
        frame = pixel_array(target, index=0, transfer_syntax_uid=syntax, view_only=True)
        rendered = render(frame, header, options)
        del frame
        photometric = str(header.get("PhotometricInterpretation", "")).strip()
        frames = frame_count(header)
    except PixelProblem as exc:
        raise ImageError(f"{name}: {exc}", source=source or None) from None
    except corrupt as exc:
        raise ImageError(
            f"{name}: corrupt or truncated DICOM ({type(exc).__name__})", source=source or None
        ) from None
    mode = "L" if rendered.pixels.ndim == 2 else "RGB"
    source.update(photometric=photometric, window=rendered.window, inverted=rendered.inverted)
    if frames > 1:
        source["frame"] = f"1 of {frames}"
    return DicomImage(Image.fromarray(rendered.pixels, mode), source)
