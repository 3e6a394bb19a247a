"""LiteRT (TensorFlow Lite) engine: ai-edge-litert, else tflite-runtime, else tensorflow.lite."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

from edgexray.engines.base import (
    Engine,
    EngineOptions,
    TensorInfo,
    dequantize,
    first_line,
    quantize,
)
from edgexray.engines.native_stderr import native_stderr_silenced
from edgexray.engines.outputs import EngineOutputs, output_positions
from edgexray.errors import EngineUnavailableError, ModelError
from edgexray.extras import install_hint

# (module, attribute) pairs, most preferred first. tflite-runtime is unmaintained (numpy 1 only);
# tensorflow.lite works wherever TensorFlow is installed but costs seconds to import.
_INTERPRETERS = (
    ("ai_edge_litert.interpreter", "Interpreter"),
    ("tflite_runtime.interpreter", "Interpreter"),
    ("tensorflow.lite", "Interpreter"),
)


def _interpreter_class() -> tuple[Any, str]:
    for module_name, attribute in _INTERPRETERS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        top = importlib.import_module(module_name.split(".")[0])
        return getattr(module, attribute), f"{top.__name__} {getattr(top, '__version__', '?')}"
    raise EngineUnavailableError(
        f"no LiteRT interpreter installed: {install_hint('tflite')} (ai-edge-litert)"
    )


def _info(detail: dict[str, Any]) -> TensorInfo:
    signature = detail.get("shape_signature", detail["shape"])
    shape = tuple(None if int(d) < 0 else int(d) for d in signature)
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return TensorInfo(shape, np.dtype(detail["dtype"]), float(scale), int(zero_point))


def named_outputs(interpreter: Any) -> dict[str, dict[str, Any]]:
    """The model's output details by name: the names of its (first) signature when it has one,
    which is how exported graphs name their prediction and features outputs; else the tensors'
    own names, in LiteRT's order."""
    signatures = interpreter.get_signature_list()
    if signatures:
        runner = interpreter.get_signature_runner(next(iter(signatures)))
        named = dict(runner.get_output_details())
        if named:
            return named
    return {d["name"]: d for d in interpreter.get_output_details()}


class LiteRTEngine(Engine):
    name = "litert"
    suffixes = (".tflite",)
    libraries = ("ai_edge_litert", "tflite_runtime", "tensorflow")

    def __init__(self, path: Path, options: EngineOptions, content: bytes | None = None) -> None:
        super().__init__(path, options, content)
        interpreter_class, self._version = _interpreter_class()
        # The interpreter keeps a reference to `content` and builds the model on it in place.
        source = {"model_content": content} if content is not None else {"model_path": str(path)}
        try:
            with native_stderr_silenced(not options.verbose):
                self._interpreter = interpreter_class(
                    **source, num_threads=options.resolved_threads
                )
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{path}: LiteRT cannot load this model ({first_line(exc)})") from None
        input_detail = self._interpreter.get_input_details()[0]
        self._input_index = input_detail["index"]
        self._input = _info(input_detail)
        outputs = named_outputs(self._interpreter)
        at = output_positions(list(outputs))
        details = list(outputs.values())
        self._output_index = details[at.prediction]["index"]
        self._output = _info(details[at.prediction])
        self._features_index = None if at.features is None else details[at.features]["index"]
        self._features = None if at.features is None else _info(details[at.features])
        self._evidence_index = None if at.evidence is None else details[at.evidence]["index"]
        self._evidence = None if at.evidence is None else _info(details[at.evidence])
        self._allocated = int(input_detail["shape"][0])
        # Most conv nets exported with batch 1 still run larger batches after a resize.
        self._resizable = True

    @property
    def batch_dynamic(self) -> bool:
        return self._resizable

    def _ensure_batch(self, n: int) -> bool:
        if n == self._allocated:
            return True
        if not self._resizable:
            return False
        try:
            self._interpreter.resize_tensor_input(
                self._input_index, [n, *self._input.shape[1:]], strict=False
            )
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError):
            self._resizable = False
            self._interpreter.resize_tensor_input(
                self._input_index, [1, *self._input.shape[1:]], strict=False
            )
            self._interpreter.allocate_tensors()
            self._allocated = 1
            return False
        self._allocated = n
        return True

    def _tensor(self, index: int, info: TensorInfo, n: int, flat: bool = True) -> np.ndarray:
        y = self._interpreter.get_tensor(index)
        y = dequantize(y, info) if info.quantized else y.astype(np.float32)
        return y.reshape(n, -1) if flat else y.reshape(n, *y.shape[1:])

    def _invoke(self, batch: np.ndarray) -> EngineOutputs:
        x = quantize(batch, self._input) if self._input.quantized else batch
        self._interpreter.set_tensor(self._input_index, x.astype(self._input.dtype, copy=False))
        self._interpreter.invoke()
        n = len(batch)
        features = evidence = None
        if self._features is not None and self._features_index is not None:
            features = self._tensor(self._features_index, self._features, n)
        if self._evidence is not None and self._evidence_index is not None:
            evidence = self._tensor(self._evidence_index, self._evidence, n, flat=False)
        return EngineOutputs(self._tensor(self._output_index, self._output, n), features, evidence)

    def _run(self, batch: np.ndarray) -> EngineOutputs:
        if self._ensure_batch(len(batch)):
            return self._invoke(batch)
        return EngineOutputs.concatenate(
            [self._invoke(batch[i : i + 1]) for i in range(len(batch))]
        )

    def close(self) -> None:
        self._interpreter = None
