"""The runtimes a user could pick instead of edgexray, each used by hand the way its docs show.

Each is a benchmark Subject (edgexray.bench.subjects) so it is measured by the same protocol, in its
own process, as the edgexray rows. They share edgexray's preprocessing only to get their inputs and
its probability arithmetic only for parity: what is timed (`infer`) is the runtime call itself,
with int8 inputs quantized by hand where the model asks for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgexray.bench.subjects import Subject
from edgexray.engines.litert import named_outputs
from edgexray.engines.outputs import output_positions
from edgexray.postprocess import to_probabilities


class LiteRTByHand(Subject):
    """ai_edge_litert.interpreter.Interpreter, default delegate (XNNPACK), `num_threads` set."""

    engine = "litert"

    def load(self) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(self.path), num_threads=self.threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        # By name: LiteRT lists a model exported with pooled features with those first.
        named = named_outputs(self.interpreter)
        self.output = list(named.values())[output_positions(list(named))[0]]
        self.batch = 1

    def _resize(self, n: int) -> None:
        if n != self.batch:
            self.interpreter.resize_tensor_input(self.input["index"], [n, *self.input["shape"][1:]])
            self.interpreter.allocate_tensors()
            self.batch = n

    def infer(self, batch: np.ndarray) -> np.ndarray:
        self._resize(len(batch))
        scale, zero = self.input["quantization"]
        x = batch
        if scale:
            info = np.iinfo(self.input["dtype"])
            x = np.clip(np.rint(batch / scale) + zero, info.min, info.max)
        # copy=False: a float model's input goes in as it is. A copy per call cost the finetune
        # model's 300 kB input up to 0.12 ms (0.30 vs 0.18 ms) in some processes (fresh pages).
        self.interpreter.set_tensor(self.input["index"], x.astype(self.input["dtype"], copy=False))
        self.interpreter.invoke()
        y = self.interpreter.get_tensor(self.output["index"]).astype(np.float32)
        out_scale, out_zero = self.output["quantization"]
        if out_scale:
            y = (y - out_zero) * out_scale
        return to_probabilities(y.reshape(len(batch), -1), self.card)


class ONNXRuntimeByHand(Subject):
    """onnxruntime.InferenceSession, CPU provider, all graph optimizations, intra-op threads set."""

    engine = "onnxruntime"

    def load(self) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            str(self.path), options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name
        names = [o.name for o in self.session.get_outputs()]
        self.output_name = names[output_positions(names)[0]]

    def infer(self, batch: np.ndarray) -> np.ndarray:
        (y,) = self.session.run([self.output_name], {self.input_name: batch})
        return to_probabilities(np.asarray(y).reshape(len(batch), -1), self.card)


class OpenVINOByHand(Subject):
    """openvino.Core().compile_model(onnx, "CPU") with the LATENCY hint and the thread count, and
    otherwise its defaults (which on CPUs with bf16 may run a float model in bf16)."""

    engine = "openvino"

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if self.threads:
            config["INFERENCE_NUM_THREADS"] = self.threads
        return config

    def load(self) -> None:
        import openvino as ov

        self.compiled = ov.Core().compile_model(str(self.path), "CPU", self.config())
        self.request = self.compiled.create_infer_request()
        names = [o.get_any_name() if o.get_names() else "" for o in self.compiled.outputs]
        self.output_at = output_positions(names)[0]

    def infer(self, batch: np.ndarray) -> np.ndarray:
        self.request.infer({0: batch})
        y = np.array(self.request.get_output_tensor(self.output_at).data, dtype=np.float32)
        return to_probabilities(y.reshape(len(batch), -1), self.card)


class OpenVINODefaults(OpenVINOByHand):
    """openvino.Core().compile_model(onnx, "CPU") with no configuration at all: what a user who
    does not tune gets (on CPUs with bf16, OpenVINO then runs float models in bf16)."""

    def config(self) -> dict[str, Any]:
        return {}


# Peer factory -> the model file suffix it runs.
PEERS: dict[str, str] = {
    "peers:LiteRTByHand": ".tflite",
    "peers:ONNXRuntimeByHand": ".onnx",
    "peers:OpenVINOByHand": ".onnx",
}
PEER_NAMES = {
    "peers:LiteRTByHand": "litert",
    "peers:ONNXRuntimeByHand": "ort",
    "peers:OpenVINOByHand": "openvino",
}


def peer_models(folder: Path, suffix: str) -> list[Path]:
    return sorted(folder.glob(f"*{suffix}"))
