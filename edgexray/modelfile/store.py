"""Read a model file once, check it against its card, and write cards and entries into model files."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from edgexray.atomic import write_bytes_atomically
from edgexray.card import ModelCard
from edgexray.errors import CardError, DamagedCardError, ModelError
from edgexray.modelfile.container import (
    CARD_ENTRY,
    CardFormat,
    DamagedContainer,
    Split,
    read_small_file,
)
from edgexray.modelfile.onnx_format import ONNXCardFormat
from edgexray.modelfile.tflite_format import TFLiteCardFormat

_FORMATS: dict[str, CardFormat] = {f.suffix: f for f in (TFLiteCardFormat(), ONNXCardFormat())}
SUPPORTED_SUFFIXES = tuple(sorted(_FORMATS))

_DAMAGED_ADVICE = "re-export the model or copy the original file again"


def sidecar_path(model_path: Path) -> Path:
    """`name.tflite-int8.tflite` -> `name.tflite-int8.json`."""
    return model_path.with_suffix(".json")


@dataclass(frozen=True)
class ModelFile:
    """A model file as read once from disk and checked.

    data: the whole file, container included: the bytes an engine is given (every byte of it was
    checked: the model bytes against the card's payload hash, the card against its own digest).
    payload_ranges: where the model bytes without the container are in `data`.
    entries: the container's named text entries (the card's JSON under "card"); {} for a plain file.
    card: the checked card, embedded or from the JSON sidecar (`card_source`), or None.
    sidecar: the JSON sidecar's bytes when the card came from it (what a copy of this model sent
    elsewhere needs besides `data`: edgexray.scale.ShippedModel), else None.
    """

    path: Path
    data: bytes
    payload_ranges: tuple[tuple[int, int], ...]
    entries: Mapping[str, str] = field(default_factory=dict)
    card: ModelCard | None = None
    card_source: str | None = None  # "embedded", "sidecar" or None
    sidecar: bytes | None = None

    @property
    def payload(self) -> bytes:
        """The model bytes without the container (a copy)."""
        return b"".join(self.data[start:end] for start, end in self.payload_ranges)

    @property
    def payload_size(self) -> int:
        return sum(end - start for start, end in self.payload_ranges)

    def payload_sha256(self) -> str:
        """SHA-256 of the model bytes, hashed in place (no copy of a large model)."""
        digest = hashlib.sha256()
        view = memoryview(self.data)
        for start, end in self.payload_ranges:
            digest.update(view[start:end])
        return digest.hexdigest()


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


def _split(path: Path, data: bytes) -> Split:
    if not data:
        raise ModelError(f"{path}: model file is empty")
    try:
        return _format_for(path).split(data)
    except DamagedContainer as exc:
        raise DamagedCardError(
            f"{path}: the model card in this file is damaged ({exc}): the file was cut short or "
            f"changed after export; {_DAMAGED_ADVICE}"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        kind = path.suffix.lower().lstrip(".").upper()
        raise ModelError(f"{path}: not a valid {kind} model ({exc})") from None


def _parse_card(where: Path, text: str | bytes, *, embedded: bool) -> ModelCard:
    try:
        return ModelCard.from_json(text)
    except DamagedCardError as exc:
        raise DamagedCardError(f"{where}: {exc}; {_DAMAGED_ADVICE}") from None
    except CardError as exc:
        if embedded and "not valid JSON" in str(exc):
            # The container said "here is a card": text that is not JSON was damaged, not absent.
            raise DamagedCardError(
                f"{where}: the model card is damaged ({exc}); {_DAMAGED_ADVICE}"
            ) from None
        raise CardError(f"{where}: {exc}") from None


def read_model_file(path: Path) -> ModelFile:
    """Read `path` once and check it: the embedded card (else the JSON sidecar's) against its own
    digest, and the model bytes against the card. ModelError for an unreadable or changed model,
    DamagedCardError for a card that is damaged or was edited, CardError for an invalid one."""
    path = Path(path)
    sidecar = sidecar_path(path)
    return _check_model(path, _read_bytes(path), lambda: _read_sidecar(sidecar))


def check_model_bytes(path: Path, data: bytes, sidecar: bytes | None = None) -> ModelFile:
    """The checks of read_model_file on a model file already in memory (e.g. shipped to another
    machine): `path` only names it (its suffix gives the format); `sidecar` is the JSON sidecar's
    bytes, used only when the file has no embedded card. Same errors as read_model_file."""
    return _check_model(Path(path), data, lambda: sidecar)


def _read_sidecar(sidecar: Path) -> bytes | None:
    try:
        return read_small_file(sidecar)
    except OSError as exc:
        raise CardError(f"{sidecar}: cannot read the card sidecar ({exc})") from None


def _check_model(path: Path, data: bytes, load_sidecar: Callable[[], bytes | None]) -> ModelFile:
    split = _split(path, data)
    entries = dict(split.entries)
    model = ModelFile(path, data, split.payload, entries)
    text = entries.get(CARD_ENTRY)
    sidecar = None
    if text is not None:
        card = _parse_card(path, text, embedded=True)
    elif entries:
        raise DamagedCardError(
            f"{path}: the file has edgexray entries ({', '.join(sorted(entries))}) but no card; "
            + _DAMAGED_ADVICE
        )
    else:
        sidecar = load_sidecar()
        if sidecar is None:
            return model
        card = _parse_card(sidecar_path(path), sidecar, embedded=False)
    verify_payload(path, model, card)
    source = "embedded" if sidecar is None else "sidecar"
    return ModelFile(path, data, split.payload, entries, card, source, sidecar)


def read_embedded_card(path: Path) -> tuple[bytes, ModelCard | None]:
    """(model bytes without the container, the embedded card or None), checked like read_model_file."""
    model = read_model_file(path)
    return model.payload, model.card if model.card_source == "embedded" else None


def read_card(path: Path) -> ModelCard | None:
    """The checked card embedded in `path`, else the one in its JSON sidecar, else None."""
    return read_model_file(path).card


def verify_payload(path: Path, model: ModelFile, card: ModelCard) -> None:
    """Raise ModelError if the model bytes are not the ones the card was written for."""
    if card.payload_size is not None and card.payload_size != model.payload_size:
        raise ModelError(
            f"{path}: model is {model.payload_size} bytes but its card says {card.payload_size}: "
            "the file is corrupted or was changed after export"
        )
    if card.payload_sha256 is not None and model.payload_sha256() != card.payload_sha256:
        raise ModelError(
            f"{path}: SHA-256 of the model does not match its card: "
            "the file is corrupted or was changed after export"
        )


def is_canonical(model: ModelFile) -> bool:
    """True when `model.data` is exactly what writing its model bytes and entries gives: no byte of
    the file lies outside what the card, the entries and the payload hash cover. A file without
    entries is canonical (its payload is the whole file)."""
    if not model.entries:
        return True
    return _format_for(model.path).join(model.payload, model.entries) == model.data


def _check_entry_names(entries: Mapping[str, str]) -> None:
    for name in entries:
        if not name or not all(c.isascii() and (c.isalnum() or c in "_-") for c in name):
            raise ValueError(f"invalid entry name {name!r}")


def _rewrite(model: ModelFile, entries: Mapping[str, str]) -> None:
    _check_entry_names(entries)
    write_bytes_atomically(model.path, _format_for(model.path).join(model.payload, entries))


def _read_for_writing(path: Path) -> ModelFile:
    data = _read_bytes(path)
    return ModelFile(path, data, _split(path, data).payload)


def write_entries(path: Path, entries: Mapping[str, str]) -> None:
    """Rewrite the container of the model file at `path` to hold exactly `entries` (name -> text;
    the card under "card"); the model bytes are kept as they are. Entry names are ASCII letters,
    digits, `_` and `-`. This does not check or seal anything: use write_card for the card."""
    _rewrite(_read_for_writing(Path(path)), entries)


def write_card(
    path: Path,
    card: ModelCard,
    *,
    sidecar: bool = True,
    entries: Mapping[str, str] | None = None,
) -> ModelCard:
    """Embed `card` in the model file at `path` and write the sidecar. The container is replaced:
    it then holds the card and `entries` (other named entries, e.g. a signature), nothing else.

    Returns the card as embedded: payload_sha256 and payload_size filled in, sealed with its digest.
    """
    model = _read_for_writing(Path(path))
    card = card.replace(
        payload_sha256=model.payload_sha256(), payload_size=model.payload_size
    ).sealed()
    extra = dict(entries or {})
    if CARD_ENTRY in extra:
        raise ValueError("give the card as `card`, not as an entry")
    _rewrite(model, {CARD_ENTRY: card.to_json(indent=None), **extra})
    if sidecar:
        write_bytes_atomically(sidecar_path(model.path), (card.to_json() + "\n").encode("utf-8"))
    return card


def reseal_card(path: Path) -> ModelCard:
    """Rewrite the card of `path` with its digest (e.g. a card written by edgexray 0.1), after
    checking the model bytes against it; the model bytes stay the same. Returns the sealed card."""
    model = read_model_file(path)
    if model.card is None or model.card_source != "embedded":
        raise CardError(f"{path}: no embedded card to reseal")
    extra = {name: text for name, text in model.entries.items() if name != CARD_ENTRY}
    return write_card(path, model.card, sidecar=sidecar_path(path).is_file(), entries=extra)
