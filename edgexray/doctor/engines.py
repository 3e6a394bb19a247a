"""Which engines are here and which could be: the installed engine libraries with their versions
(read from package metadata, so no engine is imported into this process), and edgexray's own table
of the engine wheels PyPI publishes for each Linux machine and Python, so doctor can say what could
be installed on a device without asking the network.

tests/doctor/test_doctor_availability.py checks the table against what pip resolved for each
machine and Python (tests/data/engine_wheels.json, recorded by tools/record_engine_wheels.py).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from importlib import metadata

from edgexray.extras import install_hint

# edgexray engine -> the distributions that provide it, in the order the engine prefers them.
ENGINE_DISTRIBUTIONS = {
    "litert": ("ai-edge-litert", "tflite-runtime", "tensorflow", "tensorflow-cpu"),
    "onnxruntime": ("onnxruntime",),
    "openvino": ("openvino",),
}


@dataclass(frozen=True)
class InstalledEngine:
    engine: str
    distribution: str
    version: str


def installed_engines() -> list[InstalledEngine]:
    """Every installed distribution that provides an edgexray engine, engines in registry order."""
    found = []
    for engine, distributions in ENGINE_DISTRIBUTIONS.items():
        for distribution in distributions:
            try:
                found.append(InstalledEngine(engine, distribution, metadata.version(distribution)))
            except metadata.PackageNotFoundError:
                continue
    return found


PY310_313 = ("3.10", "3.11", "3.12", "3.13")
# platform.machine() spellings -> the machine names of the table.
MACHINES = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "aarch64",
    "arm64": "aarch64",
    "armv7l": "armv7l",
    "armv8l": "armv7l",  # a 32-bit userland on a 64-bit CPU runs armv7l wheels
}


@dataclass(frozen=True)
class EngineWheels:
    """engine: the edgexray engine; distribution: what pip installs; install: how, for a user;
    machines: Linux machine -> Python versions with a wheel; note: a condition of use."""

    engine: str
    distribution: str
    install: str
    machines: dict[str, tuple[str, ...]]
    note: str = ""

    def describe(self) -> str:
        note = f" ({self.note})" if self.note else ""
        return f"{self.engine}: {self.install}{note}"


WHEELS = (
    EngineWheels(
        "litert",
        "ai-edge-litert",
        install_hint("tflite"),
        {"x86_64": PY310_313, "aarch64": PY310_313},
    ),
    EngineWheels(
        "onnxruntime",
        "onnxruntime",
        install_hint("onnx"),
        {"x86_64": PY310_313, "aarch64": PY310_313},
    ),
    EngineWheels(
        "openvino",
        "openvino",
        install_hint("openvino"),
        {"x86_64": PY310_313, "aarch64": PY310_313},
    ),
    EngineWheels(
        "litert",
        "tflite-runtime",
        "pip install tflite-runtime 'numpy<2'",
        {"x86_64": ("3.10", "3.11"), "aarch64": ("3.10", "3.11"), "armv7l": ("3.10", "3.11")},
        note="unmaintained since 2023, numpy 1 only",
    ),
)


def table_machine(machine: str, bits: int = 64) -> str | None:
    """The table's name for platform.machine() (a 32-bit Python on aarch64 runs armv7l wheels)."""
    name = MACHINES.get(machine.lower())
    if name == "aarch64" and bits == 32:
        return "armv7l"
    return name


def installable_engines(
    machine: str, python: str, bits: int = 64, installed: Collection[str] = ()
) -> list[EngineWheels]:
    """The engine wheels PyPI has for Linux on `machine` with Python `python` ("3.11.2" or "3.11"),
    leaving out the engines named in `installed` (an engine already here is not a suggestion, nor
    is another distribution of it)."""
    name = table_machine(machine, bits)
    minor = ".".join(python.split(".")[:2])
    return [
        w
        for w in WHEELS
        if name is not None and minor in w.machines.get(name, ()) and w.engine not in installed
    ]
