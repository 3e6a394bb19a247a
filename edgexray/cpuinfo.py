"""What /proc/cpuinfo says about this CPU: its model name, its feature flags and, on ARM, its cores."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

_MODEL_KEYS = ("model name", "cpu model", "model", "hardware")
# ARM "CPU part" numbers (implementer 0x41, Arm Ltd) of the cores edge devices use.
ARM_CORES = {
    "0xd03": "Cortex-A53",  # Raspberry Pi 3, Zero 2 W
    "0xd04": "Cortex-A35",
    "0xd05": "Cortex-A55",
    "0xd08": "Cortex-A72",  # Raspberry Pi 4, 400, CM4
    "0xd0b": "Cortex-A76",  # Raspberry Pi 5
    "0xd0c": "Neoverse-N1",
    "0xd40": "Neoverse-V1",
    "0xd41": "Cortex-A78",
    "0xd49": "Neoverse-N2",
}


@dataclass(frozen=True)
class CpuInfo:
    """model: as /proc/cpuinfo names it (x86 "model name"; on a Raspberry Pi the board's "Model");
    flags: x86 "flags" or ARM "Features"; arm_cores: ARM core names from "CPU part", one per kind."""

    model: str
    flags: frozenset[str]
    arm_cores: tuple[str, ...] = ()


def parse_cpuinfo(text: str) -> CpuInfo:
    names: dict[str, str] = {}
    flags: set[str] = set()
    parts: list[str] = []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("flags", "features"):
            flags.update(value.split())
        elif key == "cpu part" and value.strip() not in parts:
            parts.append(value.strip())
        elif value.strip():
            names.setdefault(key, value.strip())
    # x86 says "model name" (its "model" is a number); a Raspberry Pi says "Model" for the board.
    model = next((names[k] for k in _MODEL_KEYS if k in names), "")
    cores = tuple(ARM_CORES.get(part.lower(), f"ARM part {part}") for part in parts)
    return CpuInfo(model or platform.processor() or platform.machine(), frozenset(flags), cores)


def read_cpuinfo(path: Path = Path("/proc/cpuinfo")) -> CpuInfo:
    """This machine's CPU; only the platform's processor name where /proc/cpuinfo is missing."""
    try:
        return parse_cpuinfo(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return CpuInfo(platform.processor() or platform.machine(), frozenset())
