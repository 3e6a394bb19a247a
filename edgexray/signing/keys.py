"""Ed25519 key pairs in PEM files, from `cryptography` (the `[sign]` extra), imported only here."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from edgexray.atomic import write_bytes_atomically
from edgexray.errors import EngineUnavailableError, SigningKeyError
from edgexray.extras import install_hint

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

PRIVATE_SUFFIX = ".key"
PUBLIC_SUFFIX = ".pub"


def _crypto() -> None:
    try:
        import cryptography  # noqa: F401
    except ImportError:
        raise EngineUnavailableError(
            "signing and signature checks need the cryptography package: " + install_hint("sign")
        ) from None


def key_id(raw_public_key: bytes) -> str:
    """A short, stable name for a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    return hashlib.sha256(raw_public_key).hexdigest()[:16]


def raw_public(key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"{path}: cannot read {what} ({exc.strerror or exc})") from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file `path` (unencrypted PKCS#8, as keygen writes)."""
    _crypto()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(_read(path, "private key"), password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{path}: not a usable private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in the PEM file `path`."""
    _crypto()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(_read(path, "public key"))
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{path}: not a usable public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path}: not an Ed25519 public key")
    return key


def generate_key_pair(prefix: Path) -> tuple[Path, Path, str]:
    """Write a new key pair to PREFIX.key (private, mode 0600) and PREFIX.pub; refuses to overwrite
    either. Returns (private path, public path, key ID)."""
    _crypto()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private_path = Path(f"{prefix}{PRIVATE_SUFFIX}")
    public_path = Path(f"{prefix}{PUBLIC_SUFFIX}")
    for path in (private_path, public_path):
        if path.exists():
            raise SigningKeyError(f"{path}: already exists; choose another name or remove it first")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private_pem)
        write_bytes_atomically(public_path, public_pem)
    except OSError as exc:
        raise SigningKeyError(
            f"{prefix}: cannot write the key pair ({exc.strerror or exc})"
        ) from None
    return private_path, public_path, key_id(raw_public(key.public_key()))
