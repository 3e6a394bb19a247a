"""Cores this process may use and the CPU features that decide the engines' int8 kernels."""

from __future__ import annotations

import os
from dataclasses import dataclass

from edgexray.cores import usable_cores
from edgexray.cpuinfo import CpuInfo, read_cpuinfo

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
    of this architecture in ARM_INT8_FEATURES or X86_INT8_FEATURES."""

    model: str
    arm_cores: tuple[str, ...]
    logical_cores: int
    usable_cores: int
    features: dict[str, bool]


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
    )
