"""ONNX Runtime engine (CPU)."""

from __future__ import annotations

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
from edgexray.engines.batch_independence import onnx_quantizes_per_call
from edgexray.engines.outputs import EngineOutputs, output_positions
from edgexray.errors import EngineUnavailableError, ModelError
from edgexray.extras import install_hint

_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
}


def _dim(value: Any) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


def _is_nchw(shape: tuple[int | None, ...]) -> bool:
    return len(shape) == 4 and shape[1] in (1, 3) and shape[3] not in (1, 3)


class ONNXRuntimeEngine(Engine):
    name = "onnxruntime"
    suffixes = (".onnx",)
    libraries = ("onnxruntime",)

    def __init__(self, path: Path, options: EngineOptions, content: bytes | None = None) -> None:
        super().__init__(path, options, content)
        try:
            import onnxruntime as ort
        except ImportError:
            raise EngineUnavailableError(
                f"ONNX Runtime is not installed: {install_hint('onnx')}"
            ) from None
        self._version = f"onnxruntime {ort.__version__}"
        session_options = ort.SessionOptions()
        session_options.intra_op_num_threads = options.resolved_threads
        session_options.inter_op_num_threads = 1
        session_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # 4 = fatal only: a failure on a batch is reported in its records, not logged as well.
        session_options.log_severity_level = 2 if options.verbose else 4
        try:
            self._session = ort.InferenceSession(
                content if content is not None else str(path),
                session_options,
                providers=["CPUExecutionProvider"],
            )
        except Exception as exc:  # ORT raises its own exception types for a bad file
            raise ModelError(
                f"{path}: ONNX Runtime cannot load this model ({first_line(exc)})"
            ) from None
        self._batch_independent = not onnx_quantizes_per_call(
            content if content is not None else path
        )
        if content is not None and getattr(self._session, "_model_bytes", None) is not None:
            # ORT's Python wrapper keeps the model bytes for the session's life (its own comment:
            # "holding the memory indefinitely"), only to rebuild the session on a provider
            # fallback, which a CPU-only session never does: one model size less on the device.
            self._session._model_bytes = None
        model_input = self._session.get_inputs()[0]
        outputs = self._session.get_outputs()
        at = output_positions([o.name for o in outputs])
        model_output = outputs[at.prediction]
        shape = tuple(_dim(d) for d in model_input.shape)
        # Models exported from PyTorch are channels-first; the runtime feeds NHWC everywhere.
        self._nchw = _is_nchw(shape)
        if self._nchw:
            shape = (shape[0], shape[2], shape[3], shape[1])
        self._input_name = model_input.name
        self._input = TensorInfo(shape, np.dtype(_DTYPES.get(model_input.type, np.float32)))
        self._output = TensorInfo(
            tuple(_dim(d) for d in model_output.shape),
            np.dtype(_DTYPES.get(model_output.type, np.float32)),
        )
        self._output_names = [model_output.name]
        if at.features is not None:
            self._output_names.append(outputs[at.features].name)
            self._features = TensorInfo(
                tuple(_dim(d) for d in outputs[at.features].shape), np.dtype(np.float32)
            )
        if at.evidence is not None:
            self._output_names.append(outputs[at.evidence].name)
            self._evidence = TensorInfo(
                tuple(_dim(d) for d in outputs[at.evidence].shape), np.dtype(np.float32)
            )

    def _invoke(self, batch: np.ndarray) -> EngineOutputs:
        x = batch.transpose(0, 3, 1, 2) if self._nchw else batch
        if self._input.quantized:
            x = quantize(x, self._input)
        x = np.ascontiguousarray(x, dtype=self._input.dtype)
        y, *others = self._session.run(self._output_names, {self._input_name: x})
        y = dequantize(y, self._output) if self._output.quantized else y.astype(np.float32)
        n = len(batch)
        pooled = others.pop(0).astype(np.float32).reshape(n, -1) if self._features else None
        evidence = others.pop(0).astype(np.float32) if self._evidence else None
        return EngineOutputs(y.reshape(n, -1), pooled, evidence)

    def close(self) -> None:
        self._session = None
