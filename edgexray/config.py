"""The configuration file, `edgexray.toml`: values for the commands that run a model (`classify`,
`serve`, `watch`, `explain`, `bench` and `info`: SECTIONS).

    model = "/opt/edgexray/pneumonia.tflite-int8.tflite"   # keys at the top apply to every command
    threads = 2                                             # that has the option
    audit = "/var/lib/edgexray/audit.jsonl"

    [serve]
    token-file = "/etc/edgexray/token"
    port = 8080

    [watch]
    results = "/var/lib/edgexray/results.jsonl"

Keys are the commands' long option names (`token-file` or `token_file`). Relative paths are taken
relative to the file's folder. This module only reads and checks the file's shape; which keys a
command accepts is decided by the command line (edgexray.cli.config). Command-line flags win.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgexray.errors import EdgexrayError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_ENV = "EDGEXRAY_CONFIG"
FILE_NAME = "edgexray.toml"
# Looked up in this order when neither --config nor the environment names a file.
SEARCH_PATH = (Path(FILE_NAME), Path("/etc/edgexray") / FILE_NAME)
SECTIONS = ("classify", "serve", "watch", "explain", "bench", "info")


class ConfigError(EdgexrayError):
    """The configuration file cannot be read or holds something no command accepts."""


@dataclass(frozen=True)
class ConfigFile:
    """shared: top-level keys; sections: the tables named after SECTIONS ([classify], [serve]...)."""

    path: Path
    shared: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    def resolve_path(self, value: str) -> str:
        """A path value as written, relative to the file's folder when it is relative."""
        path = Path(os.path.expanduser(value))
        return str(path if path.is_absolute() else self.path.parent / path)


def find_config(explicit: Path | None) -> Path | None:
    """The file to read: `explicit`, else $EDGEXRAY_CONFIG, else the first of SEARCH_PATH that
    exists, else None (no configuration)."""
    if explicit is not None:
        return explicit
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return next((p for p in SEARCH_PATH if p.is_file()), None)


def load_config(path: Path) -> ConfigFile:
    try:
        with path.open("rb") as stream:
            data = tomllib.load(stream)
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    shared = {k: v for k, v in data.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    unknown = sorted(set(tables) - set(SECTIONS))
    if unknown:
        raise ConfigError(
            f"{path}: unknown section(s) [{'], ['.join(unknown)}]; "
            f"expected [{'], ['.join(SECTIONS)}]"
        )
    return ConfigFile(path.resolve(), shared, tables)
