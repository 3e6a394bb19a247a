"""Where edgexray runs: 64-bit operating systems. On 32-bit ARM (32-bit Raspberry Pi OS, armv7l)
`import edgexray` refuses with a message that says to install the 64-bit OS.

Why refuse rather than support it through tflite-runtime: ai-edge-litert, onnxruntime and openvino
publish no armv7l wheels; tflite-runtime 2.14 does for Python 3.10/3.11 but is unmaintained since
2023 and needs numpy 1, for which PyPI has no armv7l wheel either (pip would build numpy from source
on the device, or needs piwheels). Nothing of that can be checked in CI here, and every Pi 3, 4
and 5 runs the 64-bit OS. EDGEXRAY_ALLOW_32BIT=1 lets you try anyway, unsupported.
"""

from __future__ import annotations

import os
import platform
import struct
from collections.abc import Mapping

ALLOW_32BIT_ENV = "EDGEXRAY_ALLOW_32BIT"


def is_32bit_arm(machine: str, bits: int) -> bool:
    """armv6l/armv7l/armv8l, or a 32-bit Python on a 64-bit ARM kernel (32-bit Raspberry Pi OS with
    the 64-bit kernel reports aarch64)."""
    machine = machine.lower()
    if machine in ("aarch64", "arm64"):
        return bits == 32
    return machine.startswith("arm")


def unsupported_platform(
    machine: str | None = None, bits: int | None = None, environ: Mapping[str, str] = os.environ
) -> str | None:
    """Why edgexray does not run here, in one line; None where it does (or the user overrides)."""
    machine = machine if machine is not None else platform.machine()
    bits = bits if bits is not None else struct.calcsize("P") * 8
    if not is_32bit_arm(machine, bits) or environ.get(ALLOW_32BIT_ENV) == "1":
        return None
    return (
        f"edgexray needs a 64-bit OS and this is a 32-bit ARM one ({machine}, {bits}-bit Python): "
        "no inference engine publishes wheels for it. Install Raspberry Pi OS (64-bit) (any Pi 3, "
        f"4 or 5 runs it); to try tflite-runtime with numpy 1 anyway, unsupported, set {ALLOW_32BIT_ENV}=1"
    )


def check_platform() -> None:
    """ImportError with the message of unsupported_platform() on a platform edgexray refuses."""
    message = unsupported_platform()
    if message is not None:
        raise ImportError(message)
