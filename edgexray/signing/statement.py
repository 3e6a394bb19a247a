"""What a signature covers, as bytes: the model's name, its version and the export gate's verdict
(format 2), the model bytes' SHA-256, the card's digest and a digest of the container's other
entries.

The digests are computed from the file being checked, never taken from its card, so one changed
byte in the model, in the card or in the signature makes the signature fail. The name and the
gate verdict are the card's own (the verifier checks that they agree with the card it read); the
version is the signer's: `edgexray sign --model-version N`, else the card's creation time. A
device's trust policy compares them (edgexray.signing.verify), so an older signed model or a
signed variant the gate flagged `degraded` can be refused. Format 1 (edgexray before versions were
bound) has the digests only. Pure Python: no cryptography needed to build or parse a statement.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from edgexray.card import ModelCard
from edgexray.errors import CardError, UntrustedModelError
from edgexray.modelfile import ModelFile

FORMAT = "edgexray-ed25519/2"
#: The format of signatures made before the name, version and gate verdict were bound.
FORMAT_V1 = "edgexray-ed25519/1"
SIGNATURE_ENTRY = "signature"
SIDECAR_SUFFIX = ".sig"


def signature_sidecar(model: Path) -> Path:
    """`name.tflite-int8.tflite` -> `name.tflite-int8.tflite.sig`: the whole file name, so that
    `m.tflite` and `m.onnx` in one folder do not share a sidecar."""
    return model.with_name(model.name + SIDECAR_SUFFIX)


def entries_sha256(entries: Mapping[str, str]) -> str:
    """SHA-256 of every container entry but the signature (name and text, canonical JSON), so an
    entry added, renamed or changed after signing is a changed file."""
    covered = {name: text for name, text in entries.items() if name != SIGNATURE_ENTRY}
    canonical = json.dumps(covered, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


#: The export gate's verdict on a variant: `passed`, `degraded` (below the gate, kept with
#: --allow-degraded), `unmeasured` (a card without parity figures).
GateVerdict = Literal["passed", "degraded", "unmeasured"]
GATE_VERDICTS: tuple[str, ...] = get_args(GateVerdict)


def gate_verdict(card: ModelCard) -> GateVerdict:
    """What the card says the export gate decided about this variant."""
    if card.parity is None:
        return "unmeasured"
    return "degraded" if card.parity.degraded else "passed"


def version_from_created(card: ModelCard, where: str) -> int:
    """The card's creation time (export) as a version, YYYYMMDDHHMMSS in UTC, so a later export
    has a higher version; CardError when the card has none (give --model-version)."""
    try:
        created = datetime.datetime.fromisoformat(card.created or "")
    except ValueError:
        raise CardError(
            f"{where}: the card has no readable creation time ({card.created!r}) to version the "
            "signature with; give --model-version N"
        ) from None
    if created.tzinfo is not None:
        created = created.astimezone(datetime.timezone.utc)
    return int(created.strftime("%Y%m%d%H%M%S"))


@dataclass(frozen=True)
class Statement:
    """What a signature covers. name, version, gate: None in a format-1 signature."""

    payload_sha256: str
    card_sha256: str
    entries_sha256: str
    name: str | None = None
    version: int | None = None
    gate: GateVerdict | None = None

    @property
    def format(self) -> str:
        return FORMAT_V1 if self.version is None else FORMAT

    def message(self) -> bytes:
        """The exact bytes an Ed25519 signature is made over."""
        bound = (
            ""
            if self.version is None
            else f"name {json.dumps(self.name, ensure_ascii=True)}\nversion {self.version}\n"
            f"gate {self.gate}\n"
        )
        return (
            f"{self.format}\n{bound}payload-sha256 {self.payload_sha256}\n"
            f"card-sha256 {self.card_sha256}\nentries-sha256 {self.entries_sha256}\n"
        ).encode()

    def fields(self) -> dict[str, Any]:
        """The statement's fields as stored in a signature's JSON."""
        stored: dict[str, Any] = {
            "payload_sha256": self.payload_sha256,
            "card_sha256": self.card_sha256,
            "entries_sha256": self.entries_sha256,
        }
        if self.version is not None:
            stored.update(name=self.name, version=self.version, gate=self.gate)
        return stored

    @classmethod
    def from_fields(cls, data: Mapping[str, Any]) -> Statement:
        """Inverse of fields(); ValueError/KeyError/TypeError when a field is missing or wrong."""
        payload, card, entries = (
            str(data[key]) for key in ("payload_sha256", "card_sha256", "entries_sha256")
        )
        if data.get("format") == FORMAT_V1:
            return cls(payload, card, entries)
        version, gate, name = data["version"], data["gate"], data["name"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise ValueError(f"version must be a whole number >= 0, got {version!r}")
        if gate not in GATE_VERDICTS:
            raise ValueError(f"unknown gate verdict {gate!r}")
        if not isinstance(name, str):
            raise ValueError(f"name must be text, got {name!r}")
        return cls(payload, card, entries, name=name, version=version, gate=gate)


def file_statement(model: ModelFile, version: int | None) -> Statement:
    """The statement a signature over `model` (read and checked, with a card) must hold: computed
    from the file itself; `version` as the signer gave it (None: format 1, no name, version or
    gate verdict bound)."""
    card = model.card
    if card is None:
        raise CardError(f"{model.path}: no model card for a signature to cover")
    digests = Statement(model.payload_sha256(), card.digest(), entries_sha256(model.entries))
    if version is None:
        return digests
    return dataclasses.replace(digests, name=card.name, version=version, gate=gate_verdict(card))


@dataclass(frozen=True)
class Signature:
    """One signature as stored in a model file's `signature` entry and in its `.sig` sidecar.

    key_id: the signer's key ID (see keys.key_id); public_key: the signer's raw 32-byte public key;
    signature: the 64-byte Ed25519 signature over statement.message()."""

    key_id: str
    public_key: bytes
    signature: bytes
    statement: Statement

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": self.statement.format,
                "key_id": self.key_id,
                "public_key": base64.b64encode(self.public_key).decode("ascii"),
                "signature": base64.b64encode(self.signature).decode("ascii"),
                **self.statement.fields(),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str, where: str) -> Signature:
        """Parse a stored signature; UntrustedModelError naming `where` when it is damaged."""
        try:
            data = json.loads(text)
            if data.get("format") not in (FORMAT, FORMAT_V1):
                raise ValueError(f"unknown signature format {data.get('format')!r}")
            signature = cls(
                key_id=str(data["key_id"]),
                public_key=base64.b64decode(data["public_key"], validate=True),
                signature=base64.b64decode(data["signature"], validate=True),
                statement=Statement.from_fields(data),
            )
            # Byte for byte as written: base64 has spare bits, JSON spare spaces, and a changed
            # byte of a signature must never go unnoticed.
            if signature.to_json() != text.strip():
                raise ValueError("not in the form edgexray writes")
            return signature
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise UntrustedModelError(
                f"{where}: refused: the signature is damaged ({exc})"
            ) from None
