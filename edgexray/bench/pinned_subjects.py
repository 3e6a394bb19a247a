"""Benchmark subjects that run a file on one named engine (for `bench --sweep`): the ONNX files on
ONNX Runtime and on OpenVINO, not only on the default engine of their suffix."""

from __future__ import annotations

from edgexray.bench.subjects import EdgexraySubject


class OnLiteRT(EdgexraySubject):
    engine_name = "litert"


class OnONNXRuntime(EdgexraySubject):
    engine_name = "onnxruntime"


class OnOpenVINO(EdgexraySubject):
    engine_name = "openvino"


# edgexray engine name -> the factory a SubjectSpec names.
PINNED_FACTORIES = {
    cls.engine_name: f"{__name__}:{cls.__name__}" for cls in (OnLiteRT, OnONNXRuntime, OnOpenVINO)
}
