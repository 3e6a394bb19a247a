"""Which engine runs which file: a name-keyed map, and a default engine per file suffix."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from edgexray.engines.base import Engine, EngineOptions
from edgexray.engines.litert import LiteRTEngine
from edgexray.engines.onnx_runtime import ONNXRuntimeEngine
from edgexray.engines.openvino_engine import OpenVINOEngine
from edgexray.errors import ModelError

# Order matters: the first engine that reads a suffix is its default.
ENGINES: dict[str, type[Engine]] = {
    cls.name: cls for cls in (LiteRTEngine, ONNXRuntimeEngine, OpenVINOEngine)
}


def engine_for(path: Path, name: str | None = None) -> type[Engine]:
    """The engine class named `name`, or the first that reads files with this suffix."""
    suffix = Path(path).suffix.lower()
    if name is not None:
        try:
            cls = ENGINES[name]
        except KeyError:
            raise ModelError(
                f"unknown engine {name!r}; choose one of {', '.join(sorted(ENGINES))}"
            ) from None
        if suffix not in cls.suffixes:
            raise ModelError(
                f"{path}: the {name} engine does not read {suffix or 'extensionless'} files"
            )
        return cls
    for cls in ENGINES.values():
        if suffix in cls.suffixes:
            return cls
    known = sorted({s for cls in ENGINES.values() for s in cls.suffixes})
    raise ModelError(f"{path}: unknown model file type {suffix!r}; expected {' or '.join(known)}")


def available_engines() -> list[str]:
    """Names of the engines whose runtime library is installed (checked without importing it)."""
    return [
        name
        for name, cls in ENGINES.items()
        if any(importlib.util.find_spec(lib) is not None for lib in cls.libraries)
    ]


def open_engine(
    path: Path, options: EngineOptions, name: str | None = None, content: bytes | None = None
) -> Engine:
    """The engine for `path` (see engine_for), loading the model from `content` when given (the
    file's bytes as already read and checked), else from the file."""
    return engine_for(path, name)(path, options, content)
