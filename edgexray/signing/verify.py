"""Check a model file against a trust policy (device side): the set of trusted public keys, then
the policy's rules (rollback, the export gate's verdict, card overrides: edgexray.signing.rules)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from edgexray.card_resolution import CardOverrides
from edgexray.errors import UntrustedModelError
from edgexray.modelfile import ModelFile, read_model_file
from edgexray.modelfile.container import read_small_file
from edgexray.modelfile.store import is_canonical
from edgexray.signing.keys import key_id, load_public_key, raw_public
from edgexray.signing.rules import TrustRules
from edgexray.signing.statement import (
    SIGNATURE_ENTRY,
    Signature,
    file_statement,
    gate_verdict,
    signature_sidecar,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

# The CLI reads trusted key files from this variable too (separated like PATH, by os.pathsep).
ENV_TRUSTED_KEYS = "EDGEXRAY_TRUSTED_KEYS"


@dataclass(frozen=True)
class Signer:
    """Who signed a file: key_id, and where the signature that held was (`embedded`/`sidecar`);
    what it bound: the model's name, its version (None for a format-1 signature, which binds
    none) and the export gate's verdict (for a format-1 signature, the signed card's)."""

    key_id: str
    source: str
    name: str
    version: int | None
    gate: str

    def describe(self) -> str:
        """`signed by trusted key K (embedded; model NAME, version V, gate passed)`."""
        return (
            f"signed by trusted key {self.key_id} ({self.source}; model {self.name!r}, "
            f"{bound(self.version)}, export gate {self.gate})"
        )


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
    return (
        f"signed by key {signature.key_id} ({source}, {bound(signature.statement.version)}; "
        "give --trusted-key to check it)"
    )


def bound(version: int | None) -> str:
    """How a signature's version reads in a message."""
    return "no version bound: signed by edgexray 0.1" if version is None else f"version {version}"


@dataclass(frozen=True)
class TrustPolicy:
    """trusted_keys: public key files (PEM, Ed25519). A model runs only when signed by one of them
    (several allow key rotation), and when the rules let it (rollback, gate verdict)."""

    trusted_keys: tuple[Path, ...]
    rules: TrustRules = field(default_factory=TrustRules)

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
        """The signer of `model` if one trusted key signed exactly these model bytes and this card,
        and the rules let it run; else UntrustedModelError (TrustPolicyError for a rule), one line
        naming the file and the reason."""
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
        reasons = []
        for source, text in found:
            signature = Signature.from_json(text, where)
            key = trusted.get(signature.key_id)
            if key is None:
                reasons.append(f"signed by key {signature.key_id}, which is not trusted")
                continue
            # Every field of the stored signature must hold, not only the signature bytes: the
            # statement is computed from the file (the version alone is the signer's word).
            expected = file_statement(model, signature.statement.version)
            exact = raw_public(key) == signature.public_key and signature.statement == expected
            try:
                key.verify(signature.signature, expected.message())
                if not exact:
                    raise InvalidSignature
            except InvalidSignature:
                reasons.append(
                    f"the {source} signature by key {signature.key_id} does not match the file "
                    "(changed after signing)"
                )
                continue
            signer = Signer(
                signature.key_id,
                source,
                model.card.name,
                expected.version,
                gate_verdict(model.card),
            )
            self.rules.check_model(where, model.data, signer.name, signer.version, signer.gate)
            return signer
        raise UntrustedModelError(f"{where}: refused: {reasons[0]}")

    def check_overrides(self, model: ModelFile, overrides: CardOverrides | None) -> None:
        """TrustPolicyError when `overrides` replace a value of the signed card that the rules do
        not allow (call after check(), which makes sure there is a card)."""
        if model.card is not None:
            self.rules.check_overrides(str(model.path), model.card, overrides)


def verify_model(path: Path, policy: TrustPolicy) -> Signer:
    """Read and check the model file at `path` (card, model bytes) and its signature."""
    return policy.check(read_model_file(Path(path)))
