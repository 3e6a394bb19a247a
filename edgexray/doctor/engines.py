"""Which engine libraries are installed, with their versions (read from package metadata, so no
engine is imported into this process)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

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
