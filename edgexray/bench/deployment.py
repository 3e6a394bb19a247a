"""A deployment: a model file, the engine that runs it, its thread count and its precision; and how
to write it down for classify/serve/watch."""

from __future__ import annotations

import dataclasses
import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from edgexray.engines.registry import ENGINES
from edgexray.precision import EXACT, check_precision


@dataclass(frozen=True)
class Deployment:
    path: Path
    engine: str
    threads: int
    precision: str = EXACT

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}")
        if self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")
        check_precision(self.precision)
        if self.precision not in ENGINES[self.engine].precisions:
            raise ValueError(f"the {self.engine} engine does not run {self.precision}")

    def row_name(self, variant: str) -> str:
        """The bench row: `tflite-int8 litert 2t`, `onnx-fp32 openvino 2t bf16`."""
        reduced = "" if self.precision == EXACT else f" {self.precision}"
        return f"{variant} {self.engine} {self.threads}t{reduced}"

    def arguments(self) -> list[str]:
        """The classify/serve/watch options that select this deployment."""
        arguments = ["-m", str(self.path), "--engine", self.engine, "--threads", str(self.threads)]
        return arguments + ([] if self.precision == EXACT else ["--precision", self.precision])

    def command(self, program: str = "edgexray classify") -> str:
        return f"{program} {shlex.join(self.arguments())}"


def config_text(deployment: Deployment, why: str) -> str:
    """What `bench --sweep --write-config FILE` writes: an edgexray.toml (edgexray.config) whose
    top-level keys classify, serve and watch all read, with `why` and the equivalent command line
    as comments."""
    absolute = dataclasses.replace(deployment, path=deployment.path.resolve())
    return (
        f"# {why}\n"
        f"# same as: {absolute.command()}\n"
        f"model = {json.dumps(str(absolute.path))}\n"
        f"engine = {json.dumps(deployment.engine)}\n"
        f"threads = {deployment.threads}\n"
        f"precision = {json.dumps(deployment.precision)}\n"
    )
