"""The bearer token: made once into a private file, read from it or from the environment."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from edgexray.errors import EdgexrayError

TOKEN_ENV = "EDGEXRAY_SERVE_TOKEN"


class TokenError(EdgexrayError):
    """The token file cannot be made or read."""


def write_new_token(path: Path) -> None:
    """Create `path` holding a new random token (256 bits, URL-safe), readable by its owner only
    (mode 0600 from the start, so it is never briefly readable by others). An existing file is
    never overwritten."""
    token = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise TokenError(f"{path} exists; remove it first to make a new token") from None
    except OSError as exc:
        raise TokenError(f"cannot create {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(token + "\n")


def read_token_file(path: Path) -> str:
    """The token in `path` (surrounding white space removed)."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenError(f"cannot read the token file {path}: {exc}") from None
    if not token:
        raise TokenError(f"the token file {path} is empty")
    return token


def resolve_token(token_file: Path | None) -> str | None:
    """The token from `token_file`, else from the environment variable, else None."""
    if token_file is not None:
        return read_token_file(token_file)
    value = os.environ.get(TOKEN_ENV, "").strip()
    return value or None
