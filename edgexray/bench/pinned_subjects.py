"""Benchmark subjects that run a file on one named engine, in one precision (for `bench --sweep`):
the ONNX files on ONNX Runtime and on OpenVINO, not only on the default engine of their suffix, and
on OpenVINO in each reduced precision the CPU offers."""

from __future__ import annotations

from edgexray.bench.subjects import EdgexraySubject


class OnLiteRT(EdgexraySubject):
    engine_name = "litert"


class OnONNXRuntime(EdgexraySubject):
    engine_name = "onnxruntime"


class OnOpenVINO(EdgexraySubject):
    engine_name = "openvino"


class OnOpenVINOBF16(OnOpenVINO):
    precision = "bf16"


class OnOpenVINOF16(OnOpenVINO):
    precision = "f16"


_PINNED = (OnLiteRT, OnONNXRuntime, OnOpenVINO, OnOpenVINOBF16, OnOpenVINOF16)
# (edgexray engine name, precision) -> the factory a SubjectSpec names.
PINNED_FACTORIES = {
    (cls.engine_name, cls.precision): f"{__name__}:{cls.__name__}" for cls in _PINNED
}
