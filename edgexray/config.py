"""The configuration file, `edgexray.toml`: values for the commands that run a model (`classify`,
`serve`, `watch`, `explain`, `bench`, `info` and `dicom-node`: SECTIONS).

    model = "/opt/edgexray/pneumonia.tflite-int8.tflite"   # keys at the top apply to every command
    threads = 2                                             # that has the option
    audit = "/var/lib/edgexray/audit.jsonl"

    [serve]
    token-file = "/etc/edgexray/token"
    port = 8080

    [watch]
    results = "/var/lib/edgexray/results.jsonl"

Keys are the commands' long option names (`token-file` or `token_file`). Relative paths are taken
relative to the file's folder. This module only finds the files and reads and checks their shape;
which keys a command accepts is decided by the command line (edgexray.cli.config), and how the
two files are merged by edgexray.config_precedence. Command-line flags and environment variables
win over both files.

Two files can apply: the system file (/etc/edgexray/edgexray.toml, or $EDGEXRAY_SYSTEM_CONFIG),
in a folder only root can write, and a less protected one (--config FILE, else $EDGEXRAY_CONFIG,
else ./edgexray.toml). Both are read; the less protected one can add settings and replace
ordinary ones, but it cannot weaken a security setting (edgexray.config_precedence).
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
#: The system file: written by the device's administrator, in a folder only root can write.
SYSTEM_PATH = Path("/etc/edgexray") / FILE_NAME
#: Names another system file (an installation that keeps it elsewhere; the tests).
SYSTEM_CONFIG_ENV = "EDGEXRAY_SYSTEM_CONFIG"
SECTIONS = ("classify", "serve", "watch", "explain", "bench", "info", "dicom-node")


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


@dataclass(frozen=True)
class ConfigPaths:
    """The files a run reads. system: the system file when it exists; local: the less protected
    file (--config, $EDGEXRAY_CONFIG or ./edgexray.toml), None when there is none or it is the
    system file itself."""

    system: Path | None = None
    local: Path | None = None

    def all(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.system, self.local) if p is not None)


def system_config_path() -> Path:
    """$EDGEXRAY_SYSTEM_CONFIG, else /etc/edgexray/edgexray.toml."""
    return Path(os.environ.get(SYSTEM_CONFIG_ENV) or SYSTEM_PATH)


def find_configs(explicit: Path | None) -> ConfigPaths:
    """The system file if it exists, and the less protected one: `explicit`, else
    $EDGEXRAY_CONFIG, else ./edgexray.toml if it exists."""
    system = system_config_path()
    system_found = system if system.is_file() else None
    local: Path | None = explicit
    if local is None and os.environ.get(CONFIG_ENV):
        local = Path(os.environ[CONFIG_ENV])
    if local is None and Path(FILE_NAME).is_file():
        local = Path(FILE_NAME)
    if local is not None and system_found is not None and _same_file(local, system_found):
        local = None
    return ConfigPaths(system_found, local)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


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
