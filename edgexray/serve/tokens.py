"""The bearer token: where it comes from, and the private file it is kept in.

`serve` always runs with a token unless told `--insecure-no-auth`: from `--token-file`, else the
environment variable, else the file `serve-token` in the service's state folder, made on first start.
The state folder is `--state-dir`, else systemd's `$STATE_DIRECTORY` (a unit with `StateDirectory=`),
else `$XDG_STATE_HOME/edgexray`, else `~/.local/state/edgexray`. The token itself is never printed.
No FastAPI here: the CLI imports this module without the service stack.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from edgexray.errors import EdgexrayError

TOKEN_ENV = "EDGEXRAY_SERVE_TOKEN"
#: The token's file in the state folder.
STATE_TOKEN_NAME = "serve-token"


class TokenError(EdgexrayError):
    """The token file cannot be made or read."""


@dataclass(frozen=True)
class Token:
    """The token clients must send, and where it is kept, for a message that never shows the
    token: `origin` is a file's path or the environment variable's name. created: made now."""

    value: str = field(repr=False)
    origin: str
    created: bool = False


def default_state_dir(environ: Mapping[str, str]) -> Path:
    """The service's state folder: $STATE_DIRECTORY (systemd; the first of a colon-separated
    list), else $XDG_STATE_HOME/edgexray, else ~/.local/state/edgexray."""
    systemd = environ.get("STATE_DIRECTORY", "").split(":")[0]
    if systemd:
        return Path(systemd)
    xdg = environ.get("XDG_STATE_HOME", "")
    base = Path(xdg) if xdg else Path(environ.get("HOME") or Path.home()) / ".local" / "state"
    return base / "edgexray"


def write_new_token(path: Path) -> None:
    """Create `path` holding a new random token (256 bits, URL-safe), readable by its owner only.
    It is written whole under a temporary name (mode 0600 from the start, so never briefly
    readable by others) and then linked to `path`, which fails if `path` exists: an existing file
    is never overwritten, and a reader never sees a half-written one."""
    token = secrets.token_urlsafe(32)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                stream.write(token + "\n")
                stream.flush()
                os.fsync(stream.fileno())
            os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    except FileExistsError:
        raise TokenError(f"{path} exists; remove it first to make a new token") from None
    except OSError as exc:
        raise TokenError(f"cannot create {path}: {exc.strerror or exc}") from None


def read_token_file(path: Path) -> str:
    """The token in `path` (surrounding white space removed)."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenError(f"cannot read the token file {path}: {exc}") from None
    if not token:
        raise TokenError(f"the token file {path} is empty")
    return token


def state_token(state_dir: Path) -> Token:
    """The token in `state_dir`/serve-token, made there (folder 0700 if it is new, file 0600) when
    there is none yet. A file others may read is refused rather than used: the token may have
    leaked."""
    path = state_dir / STATE_TOKEN_NAME
    created = False
    if not path.exists():
        try:
            state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise TokenError(
                f"cannot create the state folder {state_dir}: {exc.strerror}"
            ) from None
        try:
            write_new_token(path)
            created = True
        except TokenError:
            if not path.exists():  # not another start that made it first
                raise
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise TokenError(f"cannot read the token file {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise TokenError(
            f"the token file {path} may be read by others (mode {mode:04o}): "
            f"chmod 600 it, or remove it to make a new token"
        )
    return Token(read_token_file(path), str(path), created)


def configured_token(token_file: Path | None, environ: Mapping[str, str]) -> Token | None:
    """The token from `token_file`, else from the environment variable, else None (then serve
    uses the state folder's, state_token, unless it runs with --insecure-no-auth)."""
    if token_file is not None:
        return Token(read_token_file(token_file), str(token_file))
    value = environ.get(TOKEN_ENV, "").strip()
    return Token(value, TOKEN_ENV) if value else None
