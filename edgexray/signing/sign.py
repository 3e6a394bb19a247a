"""Sign model files (workstation side): the signature goes into the file's container and into a
`.sig` sidecar beside it."""

from __future__ import annotations

from pathlib import Path

from edgexray.atomic import write_bytes_atomically
from edgexray.errors import CardError
from edgexray.modelfile import read_model_file, write_entries
from edgexray.signing.keys import key_id, load_private_key, raw_public
from edgexray.signing.statement import (
    SIGNATURE_ENTRY,
    Signature,
    file_statement,
    signature_sidecar,
    version_from_created,
)


def sign_model(model: Path, private_key: Path, version: int | None = None) -> Signature:
    """Sign the model file at `model` with the Ed25519 key in `private_key`: the signature covers
    the model bytes and the card (an exported file's embedded card), the model's name, the export
    gate's verdict and `version` (default: the card's creation time, YYYYMMDDHHMMSS), which a
    device's trust policy can require a minimum of. Writes it into the file's container (the model
    bytes and the card stay byte for byte the same) and as a sidecar."""
    if version is not None and version < 0:
        raise ValueError(f"a model version is a whole number >= 0, got {version}")
    key = load_private_key(private_key)
    checked = read_model_file(Path(model))
    if checked.card is None or checked.card_source != "embedded":
        raise CardError(
            f"{model}: only a model with an embedded card can be signed; export it with edgexray"
        )
    if version is None:
        version = version_from_created(checked.card, str(model))
    statement = file_statement(checked, version)
    public = raw_public(key.public_key())
    signature = Signature(
        key_id=key_id(public),
        public_key=public,
        signature=key.sign(statement.message()),
        statement=statement,
    )
    text = signature.to_json()
    write_entries(Path(model), {**checked.entries, SIGNATURE_ENTRY: text})
    write_bytes_atomically(signature_sidecar(Path(model)), (text + "\n").encode("utf-8"))
    return signature
