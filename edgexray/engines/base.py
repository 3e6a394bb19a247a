"""The interface every inference engine implements.

An engine takes float32 NHWC batches and returns float32 (N, units) outputs, and, from the same
call, the pooled features (N, D) and class evidence (N, h, w, units) of models exported with
them (EngineOutputs). Quantized tensors
(int8/uint8 inputs or outputs) are quantized and dequantized inside the engine with the tensor's own
scale and zero point, so the code around it stays float.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from edgexray.cores import usable_cores
from edgexray.engines.outputs import EngineOutputs
from edgexray.errors import EdgexrayError, EngineError, EngineUnavailableError
from edgexray.precision import EXACT, check_precision


@dataclass(frozen=True)
class EngineOptions:
    """threads: intra-op threads for the engine; None means one per core this process may use.
    verbose: let the runtime's own messages through (e.g. LiteRT's "INFO: Created TensorFlow Lite
    XNNPACK delegate for CPU."); by default they are silenced while the model loads.
    precision: the arithmetic precision to run in (edgexray.precision); an engine that cannot run
    it on this CPU refuses to load (EngineUnavailableError) rather than run another one."""

    threads: int | None = None
    verbose: bool = False
    precision: str = EXACT

    def __post_init__(self) -> None:
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")
        check_precision(self.precision)

    @property
    def resolved_threads(self) -> int:
        """The thread count to give the engine: `threads`, else one per usable core."""
        return self.threads or usable_cores()


@dataclass(frozen=True)
class TensorInfo:
    """Shape (None for a dynamic dimension), dtype, and (scale, zero_point) when quantized."""

    shape: tuple[int | None, ...]
    dtype: np.dtype
    scale: float = 0.0
    zero_point: int = 0

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0 and np.issubdtype(self.dtype, np.integer)


def quantize(x: np.ndarray, info: TensorInfo) -> np.ndarray:
    """float -> the tensor's integer type with its (scale, zero_point), rounded and saturated."""
    limits = np.iinfo(info.dtype)
    q = np.rint(x / np.float32(info.scale)) + info.zero_point
    return np.clip(q, limits.min, limits.max).astype(info.dtype)


def dequantize(q: np.ndarray, info: TensorInfo) -> np.ndarray:
    return (q.astype(np.float32) - np.float32(info.zero_point)) * np.float32(info.scale)


def first_line(exc: BaseException) -> str:
    """The first line of an engine library's error, which can run to pages of C++ context."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class Engine(ABC):
    """Loads one model and runs batches through it.

    `content` is the model file's bytes as already read and checked (edgexray.modelfile): the engine
    loads the model from them, so the file is read once and the bytes that were checked are the
    bytes that run. Without `content` the engine reads `path` itself. Subclasses import their runtime
    library inside `__init__`, so a missing engine costs nothing until it is used. An engine is not
    thread-safe: callers serialize `run` (Classifier does). A failure of the runtime while running
    is raised as EngineError, with the runtime's message in one line.
    """

    name: ClassVar[str]
    suffixes: ClassVar[tuple[str, ...]]
    #: Import names of the runtime library, in order of preference (for messages and `available`).
    libraries: ClassVar[tuple[str, ...]]
    #: The precisions (edgexray.precision) this engine can be told to run in.
    precisions: ClassVar[tuple[str, ...]] = (EXACT,)

    def __init__(self, path: Path, options: EngineOptions, content: bytes | None = None) -> None:
        self.path = Path(path)
        self.options = options
        if options.precision not in self.precisions:
            raise EngineUnavailableError(
                f"the {self.name} engine runs {' or '.join(self.precisions)} only, "
                f"not {options.precision}"
            )
        # Set by each subclass once its model is loaded.
        self._input: TensorInfo
        self._output: TensorInfo
        # The pooled-features output (edgexray.engines.outputs), for models exported with one.
        self._features: TensorInfo | None = None
        # The class evidence output (edgexray.engines.outputs), for models exported with one.
        self._evidence: TensorInfo | None = None
        self._version = "unknown"
        # False for models whose output for an image depends on its batch companions (see
        # batch_independence.py): `run` then calls the runtime one image at a time.
        self._batch_independent = True

    @property
    def input(self) -> TensorInfo:
        """The model input in NHWC order."""
        return self._input

    @property
    def output(self) -> TensorInfo:
        return self._output

    @property
    def features(self) -> TensorInfo | None:
        """The pooled-features output, or None when the model has none (no model check)."""
        return self._features

    @property
    def evidence(self) -> TensorInfo | None:
        """The class evidence output (N, h, w, units), or None when the model has none."""
        return self._evidence

    @property
    def batch_dynamic(self) -> bool:
        """True when any batch size can run in one call; otherwise `run` loops over images."""
        return self.input.shape[0] is None

    @property
    def batch_independent(self) -> bool:
        """True when an image's output does not depend on the other images of its call."""
        return self._batch_independent

    @property
    def precision(self) -> str:
        """The precision the runtime computes in (the one asked for: see EngineOptions)."""
        return self.options.precision

    @property
    def library_version(self) -> str:
        """The runtime library and its version, e.g. "onnxruntime 1.31.1"."""
        return self._version

    @abstractmethod
    def _invoke(self, batch: np.ndarray) -> EngineOutputs:
        """One call of the runtime on a batch the model accepts as it is: every output it has."""

    def _run(self, batch: np.ndarray) -> EngineOutputs:
        """Batches the model's fixed batch dimension does not allow, and every batch of a model
        that is not batch-independent, run image by image: one image, one answer, whatever its
        companions."""
        fits = self.batch_dynamic or len(batch) == self.input.shape[0]
        if fits and (self.batch_independent or len(batch) == 1):
            return self._invoke(batch)
        return EngineOutputs.concatenate(
            [self._invoke(batch[i : i + 1]) for i in range(len(batch))]
        )

    def run(self, batch: np.ndarray) -> np.ndarray:
        """float32 (N, H, W, C) -> float32 (N, units), dequantized. EngineError when the runtime
        fails on this batch (its exception, whatever its type, in one line)."""
        return self.infer(batch).prediction

    def infer(self, batch: np.ndarray) -> EngineOutputs:
        """Like `run`, with the pooled features and the class evidence too (None without them),
        from the same call."""
        try:
            return self._run(batch)
        except EdgexrayError:
            raise
        except Exception as exc:  # each runtime raises its own types (ORT Fail, RuntimeError, ...)
            raise EngineError(
                f"{self.path.name}: {self.name} failed on a batch of {len(batch)} "
                f"({type(exc).__name__}: {first_line(exc)})"
            ) from exc

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the runtime's resources."""
