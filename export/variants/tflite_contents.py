"""What a written .tflite file really holds: its input and output types and, layer by layer, which
compute in int8 and which in float. Read back from the file, so a card never claims more than it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgexray.engines.litert import named_outputs
from edgexray.engines.outputs import output_positions

# Ops that only convert between float and integer: not layers of the network.
_CONVERSIONS = ("QUANTIZE", "DEQUANTIZE")


@dataclass(frozen=True)
class TFLiteContents:
    """input_type/output_type: numpy dtype names of the model's input and output tensors.
    int8_layers/float_layers: op types (in execution order) computing in 8-bit integers and in
    float; the QUANTIZE/DEQUANTIZE ops between them are not counted."""

    input_type: str
    output_type: str
    int8_layers: tuple[str, ...]
    float_layers: tuple[str, ...]

    @property
    def layers(self) -> int:
        return len(self.int8_layers) + len(self.float_layers)

    def describe_layers(self) -> str:
        """'int8 in all 10 layers', or 'int8 in 6 of 10 layers, float32 in 4 (FULLY_CONNECTED
        x3, LOGISTIC)'."""
        if not self.float_layers:
            return f"int8 in all {self.layers} layers"
        counts = Counter(self.float_layers)
        kinds = ", ".join(f"{op} x{n}" if n > 1 else op for op, n in counts.items())
        return (
            f"int8 in {len(self.int8_layers)} of {self.layers} layers, float32 in "
            f"{len(self.float_layers)} ({kinds})"
        )

    def notes(self) -> dict[str, Any]:
        """For the card's `quantization`: what the file holds, as read back from it."""
        return {
            "input_type": self.input_type,
            "output_type": self.output_type,
            "layers": self.describe_layers(),
            "int8_layers": len(self.int8_layers),
            "float_layers": len(self.float_layers),
        }


def read_tflite_contents(path: Path) -> TFLiteContents:
    """Read `path` with LiteRT's interpreter (no delegate, so every op is listed as written)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    dtypes = {t["index"]: np.dtype(t["dtype"]) for t in interpreter.get_tensor_details()}
    int8: list[str] = []
    floating: list[str] = []
    for op in interpreter._get_ops_details():  # the only listing of ops LiteRT offers
        if op["op_name"] in _CONVERSIONS:
            continue
        outputs = [dtypes[i] for i in op["outputs"] if i >= 0]
        integer = outputs and all(np.issubdtype(d, np.integer) for d in outputs)
        (int8 if integer else floating).append(op["op_name"])
    named = named_outputs(interpreter)
    prediction = output_positions(list(named)).prediction
    return TFLiteContents(
        np.dtype(interpreter.get_input_details()[0]["dtype"]).name,
        np.dtype(list(named.values())[prediction]["dtype"]).name,
        tuple(int8),
        tuple(floating),
    )
