"""Memory of this device, from /proc/meminfo."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MemoryFacts:
    """total_mb, available_mb: MemTotal and MemAvailable in MiB (None where not reported)."""

    total_mb: int | None
    available_mb: int | None


def collect_memory(path: Path = Path("/proc/meminfo")) -> MemoryFacts:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return MemoryFacts(None, None)
    kib = {}
    for line in lines:
        key, _, value = line.partition(":")
        fields = value.split()
        if fields and fields[0].isdigit():
            kib[key.strip()] = int(fields[0])
    total, available = kib.get("MemTotal"), kib.get("MemAvailable")
    return MemoryFacts(
        total // 1024 if total is not None else None,
        available // 1024 if available is not None else None,
    )
