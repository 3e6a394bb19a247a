"""Check a model file against a trust policy (device side): the set of trusted public keys."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edgexray.errors import UntrustedModelError
from edgexray.modelfile import ModelFile, read_model_file
from edgexray.modelfile.container import read_small_file
from edgexray.modelfile.store import is_canonical
from edgexray.signing.keys import key_id, load_public_key, raw_public
from edgexray.signing.statement import (
    SIGNATURE_ENTRY,
    Signature,
    entries_sha256,
    signature_sidecar,
    signed_message,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# The CLI reads trusted key files from this variable too (separated like PATH, by os.pathsep).
ENV_TRUSTED_KEYS = "EDGEXRAY_TRUSTED_KEYS"


@dataclass(frozen=True)
class Signer:
    """Who signed a file: key_id, and where the signature that held was (`embedded`/`sidecar`)."""

    key_id: str
    source: str


def stored_signatures(model: ModelFile) -> list[tuple[str, str]]:
    """[(source, text)] of the signature that speaks for the file: the one in its container when
    there is one (then a changed byte in it is a changed file, whatever the sidecar says), else
    the sidecar's; [] when it has neither."""
    if SIGNATURE_ENTRY in model.entries:
        return [("embedded", model.entries[SIGNATURE_ENTRY])]
    sidecar = signature_sidecar(model.path)
    try:
        data = read_small_file(sidecar)
    except OSError as exc:
        raise UntrustedModelError(f"{sidecar}: cannot read the signature ({exc})") from None
    return [] if data is None else [("sidecar", data.decode("utf-8", errors="replace"))]


def describe_signature(model: ModelFile) -> str:
    """For `info` without a trust policy: who signed the file, unchecked, or that it is unsigned."""
    try:
        found = stored_signatures(model)
    except UntrustedModelError as exc:
        return f"unreadable signature ({exc})"
    if not found:
        return "not signed"
    source, text = found[0]
    try:
        signature = Signature.from_json(text, str(model.path))
    except UntrustedModelError:
        return f"damaged signature ({source})"
    return f"signed by key {signature.key_id} ({source}; give --trusted-key to check it)"


@dataclass(frozen=True)
class TrustPolicy:
    """trusted_keys: public key files (PEM, Ed25519). A model runs only when signed by one of them
    (several allow key rotation)."""

    trusted_keys: tuple[Path, ...]

    def __post_init__(self) -> None:
        if not self.trusted_keys:
            raise ValueError("a trust policy needs at least one trusted key")

    def _raw_keys(self) -> dict[str, Ed25519PublicKey]:
        keys = {}
        for path in self.trusted_keys:
            key = load_public_key(path)
            keys[key_id(raw_public(key))] = key
        return keys

    def check(self, model: ModelFile) -> Signer:
        """The signer of `model` if one trusted key signed exactly these model bytes and this card;
        else UntrustedModelError, one line naming the file and the reason."""
        from cryptography.exceptions import InvalidSignature

        where = str(model.path)
        found = stored_signatures(model)
        if not found:
            raise UntrustedModelError(f"{where}: refused: not signed (a trust policy is set)")
        if model.card is None:
            raise UntrustedModelError(f"{where}: refused: no model card for a signature to cover")
        if not is_canonical(model):
            raise UntrustedModelError(
                f"{where}: refused: bytes of the file's container were changed after signing"
            )
        trusted = self._raw_keys()
        payload_sha256, card_sha256 = model.payload_sha256(), model.card.digest()
        entries_digest = entries_sha256(model.entries)
        message = signed_message(payload_sha256, card_sha256, entries_digest)
        reasons = []
        for source, text in found:
            signature = Signature.from_json(text, where)
            key = trusted.get(signature.key_id)
            if key is None:
                reasons.append(f"signed by key {signature.key_id}, which is not trusted")
                continue
            # Every field of the stored signature must hold, not only the signature bytes.
            exact = (
                raw_public(key) == signature.public_key
                and signature.payload_sha256 == payload_sha256
                and signature.card_sha256 == card_sha256
                and signature.entries_sha256 == entries_digest
            )
            try:
                key.verify(signature.signature, message)
                if not exact:
                    raise InvalidSignature
            except InvalidSignature:
                reasons.append(
                    f"the {source} signature by key {signature.key_id} does not match the file "
                    "(changed after signing)"
                )
                continue
            return Signer(signature.key_id, source)
        raise UntrustedModelError(f"{where}: refused: {reasons[0]}")


def verify_model(path: Path, policy: TrustPolicy) -> Signer:
    """Read and check the model file at `path` (card, model bytes) and its signature."""
    return policy.check(read_model_file(Path(path)))
