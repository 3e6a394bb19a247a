"""Inference engines: one class per engine behind the small `Engine` interface."""

from edgexray.engines.base import Engine, EngineOptions, TensorInfo
from edgexray.engines.registry import ENGINES, available_engines, engine_for, open_engine

__all__ = [
    "ENGINES",
    "Engine",
    "EngineOptions",
    "TensorInfo",
    "available_engines",
    "engine_for",
    "open_engine",
]
