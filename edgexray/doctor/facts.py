"""What this device is: operating system, architecture, Python and numpy (SystemFacts), the cores
this process may use and the CPU features that decide the engines' int8 kernels (CpuFacts), memory
from /proc/meminfo (MemoryFacts), and the thermal state (ThermalFacts: a Raspberry Pi's throttling
flags, `vcgencmd get_throttled`, and the hottest zone in /sys/class/thermal, where the device has
them). Each is read without importing an engine.
"""

from __future__ import annotations

import os
import platform
import shutil
import struct
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from edgexray.cores import usable_cores
from edgexray.cpuinfo import CpuInfo, read_cpuinfo
from edgexray.precision import EXACT, offered_precisions


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


# /proc/cpuinfo flag -> what it gives int8 inference. ARM "Features", x86 "flags".
ARM_INT8_FEATURES = {
    "asimd": "NEON (Advanced SIMD)",
    "asimddp": "dot product (SDOT/UDOT)",
    "i8mm": "int8 matrix multiply",
    "sve": "SVE",
    "sve2": "SVE2",
}
X86_INT8_FEATURES = {
    "avx2": "AVX2",
    "avx512f": "AVX-512",
    "avx512_vnni": "AVX-512 VNNI",
    "avx_vnni": "AVX-VNNI",
    "amx_int8": "AMX int8",
}


@dataclass(frozen=True)
class CpuFacts:
    """model: CPU (or board) name; arm_cores: ARM core names; logical_cores: os.cpu_count();
    usable_cores: those this process may run on (affinity); features: flag -> present, for the flags
    of this architecture in ARM_INT8_FEATURES or X86_INT8_FEATURES; precisions: the arithmetic
    precisions the CPU computes natively (edgexray.precision), which `bench --sweep` measures."""

    model: str
    arm_cores: tuple[str, ...]
    logical_cores: int
    usable_cores: int
    features: dict[str, bool]
    precisions: tuple[str, ...] = (EXACT,)


def int8_features(cpu: CpuInfo, machine: str) -> dict[str, bool]:
    """Which of the int8-relevant features of `machine`'s architecture the CPU has."""
    arm = machine.lower().startswith(("arm", "aarch"))
    table = ARM_INT8_FEATURES if arm else X86_INT8_FEATURES
    # 32-bit ARM kernels call NEON "neon", 64-bit ones "asimd".
    flags = cpu.flags | ({"asimd"} if "neon" in cpu.flags else set())
    return {flag: flag in flags for flag in table}


def collect_cpu(machine: str) -> CpuFacts:
    cpu = read_cpuinfo()
    return CpuFacts(
        model=cpu.model,
        arm_cores=cpu.arm_cores,
        logical_cores=os.cpu_count() or 1,
        usable_cores=usable_cores(),
        features=int8_features(cpu, machine),
        precisions=offered_precisions(cpu, machine),
    )


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


# Bits of `vcgencmd get_throttled` (Raspberry Pi firmware documentation).
THROTTLE_BITS = {
    0: "under-voltage now",
    1: "ARM frequency capped now",
    2: "throttled now",
    3: "soft temperature limit now",
    16: "under-voltage has occurred",
    17: "ARM frequency capping has occurred",
    18: "throttling has occurred",
    19: "soft temperature limit has occurred",
}
HOT_C = 80.0  # the Pi 4/5 firmware starts throttling at 80-85 °C


@dataclass(frozen=True)
class ThermalFacts:
    """max_temperature_c: the hottest thermal zone (None without /sys/class/thermal);
    throttled: the vcgencmd flags set (None without vcgencmd)."""

    max_temperature_c: float | None
    throttled: tuple[str, ...] | None


def decode_throttled(output: str) -> tuple[str, ...]:
    """'throttled=0x50005' -> the flags it sets, in bit order."""
    value = int(output.strip().partition("=")[2] or "0", 16)
    return tuple(text for bit, text in sorted(THROTTLE_BITS.items()) if value >> bit & 1)


def _vcgencmd_throttled() -> tuple[str, ...] | None:
    command = shutil.which("vcgencmd")
    if command is None:
        return None
    try:
        done = subprocess.run([command, "get_throttled"], capture_output=True, text=True, timeout=5)
        return decode_throttled(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None


def max_zone_temperature(root: Path = Path("/sys/class/thermal")) -> float | None:
    temperatures = []
    for zone in root.glob("thermal_zone*/temp"):
        try:
            temperatures.append(int(zone.read_text().strip()) / 1000)
        except (OSError, ValueError):
            continue
    return max(temperatures) if temperatures else None


def collect_thermal() -> ThermalFacts:
    return ThermalFacts(max_zone_temperature(), _vcgencmd_throttled())
