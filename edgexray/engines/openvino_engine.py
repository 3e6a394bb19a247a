"""OpenVINO engine for ONNX files (x86-64 and 64-bit ARM CPUs), an optional extra."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgexray.engines.base import Engine, EngineOptions, TensorInfo, first_line
from edgexray.engines.batch_independence import onnx_quantizes_per_call
from edgexray.engines.outputs import EngineOutputs, output_positions
from edgexray.errors import EngineUnavailableError, ModelError
from edgexray.extras import install_hint


def _shape(partial_shape: Any) -> tuple[int | None, ...]:
    return tuple(d.get_length() if d.is_static else None for d in partial_shape)


class OpenVINOEngine(Engine):
    name = "openvino"
    suffixes = (".onnx",)
    libraries = ("openvino",)
    precisions = ("f32", "bf16", "f16")

    def __init__(self, path: Path, options: EngineOptions, content: bytes | None = None) -> None:
        super().__init__(path, options, content)
        try:
            import openvino as ov
        except ImportError:
            raise EngineUnavailableError(
                f"OpenVINO is not installed: {install_hint('openvino')}"
            ) from None
        self._version = f"openvino {ov.__version__}"
        core = ov.Core()
        try:
            # From bytes OpenVINO reads the ONNX model in memory (the weights are inside it).
            model = core.read_model(content if content is not None else str(path))
            # LATENCY: one request at a time using the given threads, the kiosk's usage pattern.
            # The precision is always set: on CPUs with bf16 OpenVINO would otherwise run float
            # models in bf16, which moves probabilities by ~1e-3, unmeasured by the parity gate;
            # a reduced precision runs only when asked for (bench --sweep measures it first).
            self._compiled = core.compile_model(
                model,
                "CPU",
                {
                    "PERFORMANCE_HINT": "LATENCY",
                    "INFERENCE_NUM_THREADS": options.resolved_threads,
                    "INFERENCE_PRECISION_HINT": options.precision,
                },
            )
        except RuntimeError as exc:
            raise ModelError(
                f"{path}: OpenVINO cannot load this model ({first_line(exc)})"
            ) from None
        # Asked for a precision the CPU lacks, OpenVINO quietly runs another: refuse instead, so a
        # deployment never claims a precision (and its measured parity) it does not run.
        ran = self._compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        if ran != options.precision:
            raise EngineUnavailableError(
                f"OpenVINO runs {ran} on this CPU, not {options.precision}"
            )
        self._request = self._compiled.create_infer_request()
        self._batch_independent = not onnx_quantizes_per_call(
            content if content is not None else path
        )
        self._input = TensorInfo(
            _shape(self._compiled.input(0).get_partial_shape()), np.dtype(np.float32)
        )
        outputs = self._compiled.outputs
        self._prediction_at, self._features_at, self._evidence_at = output_positions(
            [output.get_any_name() if output.get_names() else "" for output in outputs]
        )
        self._output = TensorInfo(
            _shape(outputs[self._prediction_at].get_partial_shape()), np.dtype(np.float32)
        )
        if self._features_at is not None:
            self._features = TensorInfo(
                _shape(outputs[self._features_at].get_partial_shape()), np.dtype(np.float32)
            )
        if self._evidence_at is not None:
            self._evidence = TensorInfo(
                _shape(outputs[self._evidence_at].get_partial_shape()), np.dtype(np.float32)
            )

    def _output_array(self, position: int, n: int, flat: bool = True) -> np.ndarray:
        y = np.array(self._request.get_output_tensor(position).data, dtype=np.float32)
        return y.reshape(n, -1) if flat else y.reshape(n, *y.shape[1:])

    def _invoke(self, batch: np.ndarray) -> EngineOutputs:
        self._request.infer({0: np.ascontiguousarray(batch, dtype=np.float32)})
        n = len(batch)
        features = evidence = None
        if self._features_at is not None:
            features = self._output_array(self._features_at, n)
        if self._evidence_at is not None:
            evidence = self._output_array(self._evidence_at, n, flat=False)
        return EngineOutputs(self._output_array(self._prediction_at, n), features, evidence)

    def close(self) -> None:
        self._request = None
        self._compiled = None
