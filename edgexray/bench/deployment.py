"""A deployment: a model file, the engine that runs it and its thread count; and how to write it
down for classify/serve/watch."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from edgexray.engines.registry import ENGINES


@dataclass(frozen=True)
class Deployment:
    path: Path
    engine: str
    threads: int

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}")
        if self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")

    def row_name(self, variant: str) -> str:
        """The bench row: `tflite-int8 litert 2t`."""
        return f"{variant} {self.engine} {self.threads}t"

    def arguments(self) -> list[str]:
        """The classify/serve/watch options that select this deployment."""
        return ["-m", str(self.path), "--engine", self.engine, "--threads", str(self.threads)]

    def command(self, program: str = "edgexray classify") -> str:
        return f"{program} {shlex.join(self.arguments())}"


def config_text(deployment: Deployment, why: str) -> str:
    """What `bench --sweep --write-config FILE` writes. There is no edgexray configuration file yet,
    so this is the exact command line, with `why` as a comment; when classify/serve/watch read a
    configuration file, this is the one function to change."""
    return f"# {why}\n{deployment.command()} IMAGES...\n"
