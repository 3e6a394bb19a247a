"""Which model decided: made once, where the model is loaded, and carried by every decision.

The identity is computed from the bytes the engine was given (not from another read of the file),
so the SHA-256 in a record or an audit line is the SHA-256 of what ran. It also says how far the
card can be trusted (sealed with its digest, legacy without one, or no card at all), who signed the
file when a trust policy checked it, and every card value the user replaced (flag, environment or
configuration), as the card's value and the value used.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from edgexray.card import ModelCard

#: How the card that runs came to be: `sealed` (its digest held), `legacy` (no digest: an edit to
#: it cannot be detected; loads only when the user accepts that), `none` (no card: flags alone).
CardState = Literal["sealed", "legacy", "none"]


@dataclass(frozen=True)
class Override:
    """One card value the user replaced: the card's value, then the value the model runs with."""

    field: str
    card: Any
    used: Any

    def to_dict(self) -> dict[str, Any]:
        return {"card": _plain(self.card), "used": _plain(self.used)}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def overrides_applied(card: ModelCard | None, used: ModelCard) -> tuple[Override, ...]:
    """The fields of `used` that differ from the file's own `card` (all given fields when the file
    had no card, with None as the card's value)."""
    fields = ("labels", "normalize", "interpolation", "output_kind", "threshold")
    return tuple(
        Override(name, None if card is None else getattr(card, name), getattr(used, name))
        for name in fields
        if card is None or getattr(card, name) != getattr(used, name)
    )


@dataclass(frozen=True)
class ModelIdentity:
    """file: the model file's name. sha256: SHA-256 of the bytes the engine loaded (the whole
    file, container included). card_sha256: the card's own digest, None for a legacy card or none.
    card: see CardState. name, variant: the card's. signer: the key ID of the trusted signature
    (None without a trust policy). version: the version that signature binds (None without a trust
    policy, or for a signature made before versions were bound). overrides: the card values replaced by the user. engine and
    engine_version: what ran it."""

    file: str
    sha256: str
    card: CardState
    card_sha256: str | None
    name: str
    variant: str
    engine: str
    engine_version: str
    precision: str = "f32"
    threshold: float | None = None
    signer: str | None = None
    version: int | None = None
    overrides: tuple[Override, ...] = ()

    @property
    def legacy(self) -> bool:
        """True when the card has no digest: an edit to it cannot be detected."""
        return self.card == "legacy"

    def describe_overrides(self) -> str | None:
        """`threshold 0.5 -> 0.3, labels [...] -> [...]`: the card values replaced, for people;
        None when the card runs as it is (or there is no card: the values given are its facts)."""
        if self.card == "none" or not self.overrides:
            return None
        return ", ".join(
            f"{o.field} {_plain(o.card)!r} -> {_plain(o.used)!r}" for o in self.overrides
        )

    def to_record(self) -> dict[str, Any]:
        """The `model` object of every record and audit line (JSON-ready)."""
        record: dict[str, Any] = {
            "file": self.file,
            "sha256": self.sha256,
            "name": self.name,
            "variant": self.variant,
            "card": self.card,
            "card_sha256": self.card_sha256,
            "signer": self.signer,
            "version": self.version,
            "engine": self.engine,
            "engine_version": self.engine_version,
            "precision": self.precision,
            "threshold": self.threshold,
        }
        if self.overrides:
            record["overrides"] = {o.field: o.to_dict() for o in self.overrides}
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ModelIdentity:
        """Inverse of to_record (e.g. a Ray worker's record back on the driver)."""
        fields = {key: value for key, value in record.items() if key != "overrides"}
        overrides = tuple(
            Override(name, _frozen(value["card"]), _frozen(value["used"]))
            for name, value in (record.get("overrides") or {}).items()
        )
        return cls(**fields, overrides=overrides)


def bytes_sha256(data: bytes) -> str:
    """SHA-256 (hex) of bytes already in memory, hashed in place."""
    return hashlib.sha256(memoryview(data)).hexdigest()
