"""Thermal state: a Raspberry Pi's throttling flags (`vcgencmd get_throttled`) and the hottest
thermal zone in /sys/class/thermal, where the device has them."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

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
