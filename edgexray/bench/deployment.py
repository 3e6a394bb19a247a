"""A deployment: a model file, the engine that runs it and its thread count; and how to write it
down for classify/serve/watch."""

from __future__ import annotations

import json
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
    """What `bench --sweep --write-config FILE` writes: an edgexray.toml (edgexray.config) whose
    top-level keys classify, serve and watch all read, with `why` and the equivalent command line
    as comments."""
    absolute = Deployment(deployment.path.resolve(), deployment.engine, deployment.threads)
    return (
        f"# {why}\n"
        f"# same as: {absolute.command()}\n"
        f"model = {json.dumps(str(absolute.path))}\n"
        f"engine = {json.dumps(deployment.engine)}\n"
        f"threads = {deployment.threads}\n"
    )
