"""The machine a benchmark ran on: CPU model and features, cores, threads used, tool versions.

Versions are read from installed package metadata, never by importing the package, so describing the
machine does not load TensorFlow or an engine into the process that reports it.
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from edgexray.cpuinfo import read_cpuinfo
from edgexray.engines.base import EngineOptions

# CPU features that decide which kernels the engines pick (int8 dot products above all).
_INTERESTING_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")
TOOLS = (
    "edgexray",
    "numpy",
    "Pillow",
    "ai-edge-litert",
    "tflite-runtime",
    "onnxruntime",
    "openvino",
    "tensorflow",
    "tensorflow-cpu",
    "keras",
)


@dataclass(frozen=True)
class MachineInfo:
    """cpu_model: as /proc/cpuinfo names it; cpu_features: the SIMD flags that matter for inference;
    logical_cores: os.cpu_count(); threads: engine threads the benchmark ran with, as the engines
    resolve them (None only in reports written before that was recorded: then all cores);
    threads_swept: True for `bench --sweep`, whose rows ran at 1 to `threads` threads, each row
    naming its own; tool_versions: installed distribution -> version."""

    cpu_model: str
    cpu_features: tuple[str, ...]
    logical_cores: int
    threads: int | None
    system: str
    machine: str
    python: str
    tool_versions: dict[str, str] = field(default_factory=dict)
    threads_swept: bool = False

    @property
    def threads_used(self) -> int:
        return self.threads or self.logical_cores

    def describe(self) -> str:
        """One line for people: `AMD EPYC (avx2, avx512_vnni), 2 cores, 2 threads, Linux x86_64`."""
        features = f" ({', '.join(self.cpu_features)})" if self.cpu_features else ""
        threads = (
            f"1 to {self.threads_used} threads, one count per row"
            if self.threads_swept and self.threads_used > 1
            else f"{self.threads_used} threads used"
        )
        return (
            f"{self.cpu_model}{features}, {self.logical_cores} logical cores, "
            f"{threads}, {self.system} {self.machine}, Python {self.python}"
        )

    def describe_host(self) -> str:
        """The machine alone, for a results file whose rows set their own threads:
        `AMD EPYC (avx2, avx512_vnni), 2 logical cores, Linux x86_64, Python 3.11.7`."""
        features = f" ({', '.join(self.cpu_features)})" if self.cpu_features else ""
        return (
            f"{self.cpu_model}{features}, {self.logical_cores} logical cores, "
            f"{self.system} {self.machine}, Python {self.python}"
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cpu_features"] = list(self.cpu_features)
        data["threads_used"] = self.threads_used
        return data


def _cpuinfo(path: Path = Path("/proc/cpuinfo")) -> tuple[str, tuple[str, ...]]:
    cpu = read_cpuinfo(path)
    return cpu.model, tuple(f for f in _INTERESTING_FLAGS if f in cpu.flags)


def tool_versions(names: tuple[str, ...] = TOOLS) -> dict[str, str]:
    """Installed version of each distribution in `names`; the ones not installed are left out."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def describe_machine(threads: int | None, swept: bool = False) -> MachineInfo:
    """This machine, with the engine threads the benchmark uses for `threads` (None: what the
    engines take then, one per core this process may use); `swept`: the rows ran at 1 to that
    many threads (bench --sweep)."""
    model, features = _cpuinfo()
    return MachineInfo(
        cpu_model=model,
        cpu_features=features,
        logical_cores=os.cpu_count() or 1,
        threads=EngineOptions(threads).resolved_threads,
        system=platform.system(),
        machine=platform.machine(),
        python=platform.python_version(),
        tool_versions=tool_versions(),
        threads_swept=swept,
    )
