"""Operating system, architecture, Python and numpy of this device."""

from __future__ import annotations

import platform
import struct
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


@dataclass(frozen=True)
class SystemFacts:
    """os_name: /etc/os-release PRETTY_NAME (else the system's name); machine: platform.machine();
    bits: 32 or 64, of this Python (a 32-bit userland on a 64-bit kernel reports aarch64 in uname on
    some Raspberry Pi images, so the pointer size is what counts); numpy: its version or None."""

    os_name: str
    kernel: str
    machine: str
    bits: int
    python: str
    numpy: str | None


def os_release(path: Path = Path("/etc/os-release")) -> str | None:
    """PRETTY_NAME of an os-release file, or None."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition("=")
        if key == "PRETTY_NAME":
            return value.strip().strip('"')
    return None


def collect_system() -> SystemFacts:
    try:
        numpy_version: str | None = metadata.version("numpy")
    except metadata.PackageNotFoundError:
        numpy_version = None
    return SystemFacts(
        os_name=os_release() or platform.system(),
        kernel=f"{platform.system()} {platform.release()}",
        machine=platform.machine(),
        bits=struct.calcsize("P") * 8,
        python=platform.python_version(),
        numpy=numpy_version,
    )
