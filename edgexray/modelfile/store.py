"""Read and write the model card of a .tflite or .onnx file, and check the file against it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Protocol

from edgexray.atomic import write_bytes_atomically
from edgexray.card import ModelCard
from edgexray.errors import CardError, ModelError
from edgexray.modelfile.onnx_format import ONNXCardFormat
from edgexray.modelfile.tflite_format import TFLiteCardFormat


class CardFormat(Protocol):
    suffix: str

    def split(self, data: bytes) -> tuple[bytes, str | None]: ...

    def join(self, payload: bytes, card_json: str) -> bytes: ...


_FORMATS: dict[str, CardFormat] = {f.suffix: f for f in (TFLiteCardFormat(), ONNXCardFormat())}
SUPPORTED_SUFFIXES = tuple(sorted(_FORMATS))


def sidecar_path(model_path: Path) -> Path:
    """`name.tflite-int8.tflite` -> `name.tflite-int8.json`."""
    return model_path.with_suffix(".json")


def _format_for(path: Path) -> CardFormat:
    try:
        return _FORMATS[path.suffix.lower()]
    except KeyError:
        raise ModelError(
            f"{path}: unknown model file type {path.suffix!r}; expected {' or '.join(SUPPORTED_SUFFIXES)}"
        ) from None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path}: model file not found") from None
    except IsADirectoryError:
        raise ModelError(f"{path}: is a folder, not a model file") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model file ({exc.strerror or exc})") from None


def _split(path: Path, data: bytes) -> tuple[bytes, str | None]:
    if not data:
        raise ModelError(f"{path}: model file is empty")
    try:
        return _format_for(path).split(data)
    except (ValueError, UnicodeDecodeError) as exc:
        kind = path.suffix.lower().lstrip(".").upper()
        raise ModelError(f"{path}: not a valid {kind} model ({exc})") from None


def read_embedded_card(path: Path) -> tuple[bytes, ModelCard | None]:
    """(model bytes without the card, the embedded card or None). Checks the payload against it."""
    payload, text = _split(path, _read_bytes(path))
    if text is None:
        return payload, None
    try:
        card = ModelCard.from_json(text)
    except CardError as exc:
        raise CardError(f"{path}: {exc}") from None
    verify_payload(path, payload, card)
    return payload, card


def read_card(path: Path) -> ModelCard | None:
    """The card embedded in `path`, else the one in its JSON sidecar, else None."""
    payload, card = read_embedded_card(path)
    if card is not None:
        return card
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        return None
    try:
        card = ModelCard.from_json(sidecar.read_bytes())
    except CardError as exc:
        raise CardError(f"{sidecar}: {exc}") from None
    verify_payload(path, payload, card)
    return card


def verify_payload(path: Path, payload: bytes, card: ModelCard) -> None:
    """Raise ModelError if the model bytes are not the ones the card was written for."""
    if card.payload_size is not None and card.payload_size != len(payload):
        raise ModelError(
            f"{path}: model is {len(payload)} bytes but its card says {card.payload_size}: "
            "the file is corrupted or was changed after export"
        )
    if card.payload_sha256 is not None:
        digest = hashlib.sha256(payload).hexdigest()
        if digest != card.payload_sha256:
            raise ModelError(
                f"{path}: SHA-256 of the model does not match its card: "
                "the file is corrupted or was changed after export"
            )


def write_card(path: Path, card: ModelCard, *, sidecar: bool = True) -> ModelCard:
    """Embed `card` in the model file at `path` (replacing any card there) and write the sidecar.

    Returns the card as embedded, with payload_sha256 and payload_size filled in.
    """
    path = Path(path)
    payload, _ = _split(path, _read_bytes(path))
    card = card.replace(
        payload_sha256=hashlib.sha256(payload).hexdigest(), payload_size=len(payload)
    )
    write_bytes_atomically(path, _format_for(path).join(payload, card.to_json(indent=None)))
    if sidecar:
        write_bytes_atomically(sidecar_path(path), (card.to_json() + "\n").encode("utf-8"))
    return card
