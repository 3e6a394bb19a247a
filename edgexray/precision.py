"""Arithmetic precision as a deployment choice: which precisions exist, and which this CPU offers.

`f32` is exact: every exported variant's parity figures were measured with it, and it is what every
engine runs unless told otherwise. A reduced precision (`bf16`, `f16`) is faster where the hardware
has it (bf16 on AMX or AVX512-BF16; f16 on AVX512-FP16 and on ARMv8.2+ cores such as the
Raspberry Pi 5's Cortex-A76), and moves the probabilities: `bench --sweep` measures its parity like
any variant's before it can be recommended (docs/bench.md).
"""

from __future__ import annotations

from edgexray.cpuinfo import CpuInfo

EXACT = "f32"
PRECISIONS = (EXACT, "bf16", "f16")

# /proc/cpuinfo flags that give each reduced precision arithmetic of its own (not an emulation).
_X86 = {"bf16": ("amx_bf16", "avx512_bf16"), "f16": ("avx512_fp16", "amx_fp16")}
_ARM = {"bf16": ("bf16",), "f16": ("asimdhp",)}


def check_precision(value: str) -> str:
    """`value` when it names a precision; ValueError otherwise."""
    if value not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {value!r}")
    return value


def offered_precisions(cpu: CpuInfo, machine: str) -> tuple[str, ...]:
    """The precisions this CPU computes natively: always f32, then each reduced one whose
    instructions `cpu` reports for `machine`'s architecture."""
    arm = machine.lower().startswith(("arm", "aarch"))
    table = _ARM if arm else _X86
    return (EXACT, *(p for p, flags in table.items() if cpu.flags.intersection(flags)))
