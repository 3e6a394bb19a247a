"""Known traps on edge devices, as warnings computed from what doctor found."""

from __future__ import annotations

from collections.abc import Sequence

from edgexray.doctor.cpu import CpuFacts
from edgexray.doctor.engines import InstalledEngine
from edgexray.doctor.system import SystemFacts
from edgexray.doctor.thermal import HOT_C, ThermalFacts
from edgexray.platform_support import is_32bit_arm

# (distribution, version) -> why it is a trap on 64-bit ARM.
BAD_ARM64_RELEASES = {
    ("onnxruntime", "1.21.0"): (
        "onnxruntime 1.21.0 dies with 'Illegal instruction' on import on Cortex-A72 (Raspberry Pi 4) "
        "and other cores without the newer ARM extensions (microsoft/onnxruntime#23957); "
        "pip install 'onnxruntime!=1.21.0'"
    ),
}


def find_traps(
    system: SystemFacts,
    cpu: CpuFacts,
    installed: Sequence[InstalledEngine],
    thermal: ThermalFacts,
) -> list[str]:
    """One sentence per trap this device is in, saying what to do."""
    warnings = []
    if is_32bit_arm(system.machine, system.bits):
        warnings.append(
            f"32-bit OS ({system.machine}, {system.bits}-bit Python): ai-edge-litert, onnxruntime and "
            "openvino publish no wheels for it; install the 64-bit Raspberry Pi OS"
        )
    if system.machine.lower() in ("aarch64", "arm64"):
        for engine in installed:
            why = BAD_ARM64_RELEASES.get((engine.distribution, engine.version))
            if why:
                warnings.append(why)
    numpy_major = int(system.numpy.split(".")[0]) if system.numpy else 0
    if numpy_major >= 2 and any(e.distribution == "tflite-runtime" for e in installed):
        warnings.append(
            f"tflite-runtime is built for numpy 1 but numpy {system.numpy} is installed; "
            "use ai-edge-litert (pip install 'edgexray[tflite]') or numpy<2"
        )
    if cpu.usable_cores < cpu.logical_cores:
        warnings.append(
            f"this process may use {cpu.usable_cores} of {cpu.logical_cores} cores (CPU affinity: "
            "taskset, systemd CPUAffinity=, a container's cpuset); engines use only those"
        )
    if thermal.throttled:
        warnings.append(
            f"the firmware reports {', '.join(thermal.throttled)}: timings are not representative; "
            "cool the device (heatsink, fan) and use a sufficient power supply"
        )
    if thermal.max_temperature_c is not None and thermal.max_temperature_c >= HOT_C:
        warnings.append(
            f"CPU at {thermal.max_temperature_c:.0f} °C: the device throttles around {HOT_C:.0f} °C"
        )
    return warnings
