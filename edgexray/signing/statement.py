"""What a signature covers, as bytes: the model bytes' SHA-256, the card's digest and a digest of
the container's other entries.

All are computed from the file being checked, never taken from its card, so one changed byte in
the model, in the card or in the signature makes the signature fail. Pure Python: no cryptography
needed to build or parse a statement.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from edgexray.errors import UntrustedModelError

FORMAT = "edgexray-ed25519/1"
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


def signed_message(payload_sha256: str, card_sha256: str, entries_digest: str) -> bytes:
    """The exact bytes an Ed25519 signature is made over."""
    return (
        f"{FORMAT}\npayload-sha256 {payload_sha256}\ncard-sha256 {card_sha256}\n"
        f"entries-sha256 {entries_digest}\n"
    ).encode()


@dataclass(frozen=True)
class Signature:
    """One signature as stored in a model file's `signature` entry and in its `.sig` sidecar.

    key_id: the signer's key ID (see keys.key_id); public_key: the signer's raw 32-byte public key;
    signature: the 64-byte Ed25519 signature over signed_message(payload_sha256, card_sha256,
    entries_sha256)."""

    key_id: str
    public_key: bytes
    signature: bytes
    payload_sha256: str
    card_sha256: str
    entries_sha256: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "key_id": self.key_id,
                "public_key": base64.b64encode(self.public_key).decode("ascii"),
                "signature": base64.b64encode(self.signature).decode("ascii"),
                "payload_sha256": self.payload_sha256,
                "card_sha256": self.card_sha256,
                "entries_sha256": self.entries_sha256,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str, where: str) -> Signature:
        """Parse a stored signature; UntrustedModelError naming `where` when it is damaged."""
        try:
            data = json.loads(text)
            if data.get("format") != FORMAT:
                raise ValueError(f"unknown signature format {data.get('format')!r}")
            signature = cls(
                key_id=str(data["key_id"]),
                public_key=base64.b64decode(data["public_key"], validate=True),
                signature=base64.b64decode(data["signature"], validate=True),
                payload_sha256=str(data["payload_sha256"]),
                card_sha256=str(data["card_sha256"]),
                entries_sha256=str(data["entries_sha256"]),
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
