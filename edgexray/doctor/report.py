"""What doctor concludes: the known traps on edge devices, as warnings computed from the facts, and
everything doctor found as one DoctorReport; text for people, a dict for --json.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from edgexray.doctor.engines import (
    EngineWheels,
    InstalledEngine,
    installable_engines,
    installed_engines,
)
from edgexray.doctor.facts import (
    ARM_INT8_FEATURES,
    HOT_C,
    X86_INT8_FEATURES,
    CpuFacts,
    MemoryFacts,
    SystemFacts,
    ThermalFacts,
    collect_cpu,
    collect_memory,
    collect_system,
    collect_thermal,
)
from edgexray.doctor.smoke import SmokeResult, smoke_all
from edgexray.extras import install_hint
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
            f"use ai-edge-litert ({install_hint('tflite')}) or numpy<2"
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


@dataclass(frozen=True)
class DoctorReport:
    """installable: the engine wheels PyPI has for this machine and Python (the package's table),
    but for the engines already installed;
    smoke: one result per installed engine (empty when the smoke test was skipped)."""

    system: SystemFacts
    cpu: CpuFacts
    memory: MemoryFacts
    thermal: ThermalFacts
    installed: tuple[InstalledEngine, ...]
    installable: tuple[EngineWheels, ...]
    smoke: tuple[SmokeResult, ...]
    warnings: tuple[str, ...]

    @property
    def working_engines(self) -> tuple[str, ...]:
        return tuple(result.engine for result in self.smoke if result.ok)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["installable"] = [wheels.describe() for wheels in self.installable]
        data["working_engines"] = list(self.working_engines)
        return data

    def lines(self) -> list[str]:
        """The report for people, one fact a line."""
        s, c, m = self.system, self.cpu, self.memory
        names = {**ARM_INT8_FEATURES, **X86_INT8_FEATURES}
        features = ", ".join(
            f"{names[f]} {'yes' if has else 'no'}" for f, has in c.features.items()
        )
        cores = f" ({', '.join(c.arm_cores)})" if c.arm_cores else ""
        lines = [
            f"system:      {s.os_name}, {s.kernel}, {s.machine}, {s.bits}-bit",
            f"python:      {s.python}, numpy {s.numpy or 'not installed'}",
            f"cpu:         {c.model}{cores}",
            f"cores:       {c.usable_cores} usable of {c.logical_cores}",
            f"int8 features: {features or 'none known for this architecture'}",
            f"precisions:  {', '.join(c.precisions)} (bench --sweep measures each; f32 is exact)",
            f"memory:      {_mb(m.total_mb)} total, {_mb(m.available_mb)} available",
        ]
        if self.thermal.max_temperature_c is not None:
            lines.append(f"temperature: {self.thermal.max_temperature_c:.0f} °C")
        installed = ", ".join(f"{e.distribution} {e.version}" for e in self.installed)
        lines.append(f"installed engines: {installed or 'none'}")
        can = "; ".join(wheels.describe() for wheels in self.installable)
        none = "none beyond those installed" if self.installed else "no engine wheels here"
        lines.append(f"installable here:  {can or none}")
        for r in self.smoke:
            if r.ok:
                lines.append(
                    f"smoke test:  {r.engine} ok, {r.model} -> {r.label}; load {r.load_ms:.0f} ms, "
                    f"first inference {r.first_ms:.1f} ms, second {r.second_ms:.1f} ms ({r.library})"
                )
            else:
                lines.append(f"smoke test:  {r.engine} FAILED on {r.model}: {r.error}")
        lines.extend(f"warning:     {w}" for w in self.warnings)
        return lines


def _mb(value: int | None) -> str:
    return f"{value} MiB" if value is not None else "unknown"


def examine(run_smoke: bool = True) -> DoctorReport:
    """Look at this device; with run_smoke, run the demo model on every installed engine."""
    system = collect_system()
    cpu = collect_cpu(system.machine)
    installed = tuple(installed_engines())
    thermal = collect_thermal()
    smoke = tuple(smoke_all()) if run_smoke else ()
    warnings = find_traps(system, cpu, installed, thermal)
    if run_smoke and not any(r.ok for r in smoke):
        warnings.append("no engine works here: install one of the engines listed as installable")
    return DoctorReport(
        system=system,
        cpu=cpu,
        memory=collect_memory(),
        thermal=thermal,
        installed=installed,
        installable=tuple(
            installable_engines(
                system.machine, system.python, system.bits, {e.engine for e in installed}
            )
        ),
        smoke=smoke,
        warnings=tuple(warnings),
    )
