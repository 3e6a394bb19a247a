"""The physical limit of a model on a CPU: its multiply-accumulates over the cores' peak rate.

MACs are counted from the float ONNX file (Conv, Gemm and MatMul, after shape inference).
The peak rates per core per cycle are the textbook figures of each instruction set (two vector
FMA ports on x86 server cores, two NEON pipes on Cortex-A76), an upper bound that no real kernel
reaches: the limit is a floor for the latency, not a target.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgexray.cpuinfo import CpuInfo

# (flag that must be present, MACs per core per cycle), best first, per arithmetic.
_X86 = {
    "int8": (("amx_int8", 1024), ("avx512_vnni", 128), ("avx_vnni", 64), ("avx2", 32)),
    "bf16": (("amx_bf16", 512), ("avx512_bf16", 64)),
    "f16": (("avx512_fp16", 64),),
    "f32": (("avx512f", 32), ("fma", 16)),
}
_ARM = {
    "int8": (("i8mm", 64), ("asimddp", 32), ("asimd", 16)),
    "f16": (("asimdhp", 16),),
    "f32": (("asimd", 8),),
}


@dataclass(frozen=True)
class PeakRate:
    arithmetic: str
    instructions: str
    macs_per_cycle: int
    ghz: float
    cores: int

    @property
    def macs_per_second(self) -> float:
        return self.macs_per_cycle * self.ghz * 1e9 * self.cores

    def floor_ms(self, macs: int) -> float:
        return 1000 * macs / self.macs_per_second


def peak_rate(cpu: CpuInfo, arithmetic: str, ghz: float, cores: int) -> PeakRate | None:
    arm = platform.machine().lower().startswith(("arm", "aarch"))
    for flag, rate in (_ARM if arm else _X86).get(arithmetic, ()):
        if flag in cpu.flags:
            return PeakRate(arithmetic, flag, rate, ghz, cores)
    return None


def cpu_ghz(cpuinfo: Path = Path("/proc/cpuinfo")) -> float:
    """The cores' clock: cpufreq's maximum when the kernel has it, else /proc/cpuinfo's MHz."""
    maximum = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    if maximum.is_file():
        return int(maximum.read_text()) / 1e6
    for line in cpuinfo.read_text().splitlines():
        if line.lower().startswith("cpu mhz"):
            return float(line.split(":")[1]) / 1000
    return 0.0


def onnx_macs(path: Path) -> int:
    """Multiply-accumulates of one image through a float ONNX model."""
    import onnx
    from onnx import numpy_helper, shape_inference

    model = shape_inference.infer_shapes(onnx.load(str(path)))
    graph = model.graph
    shapes: dict[str, list[int]] = {}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        dims = [d.dim_value if d.dim_value > 0 else 1 for d in value.type.tensor_type.shape.dim]
        shapes[value.name] = dims
    for init in graph.initializer:
        shapes[init.name] = list(numpy_helper.to_array(init).shape)
    total = 0
    for node in graph.node:
        if node.op_type == "Conv":
            out, weight = shapes.get(node.output[0]), shapes.get(node.input[1])
            if out and weight:
                total += int(np.prod(out)) * int(np.prod(weight[1:]))
        elif node.op_type in ("Gemm", "MatMul"):
            a, out = shapes.get(node.input[0]), shapes.get(node.output[0])
            if a and out:
                total += int(np.prod(out)) * a[-1]
    return total
