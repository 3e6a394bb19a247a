"""Whether a model's output for one image can depend on the other images of its call.

ONNX dynamic quantization (`DynamicQuantizeLinear`, what `onnxruntime.quantization.quantize_dynamic`
writes) picks one activation scale per call from the whole batch: the same image then gets
different probabilities beside different companions (on the seed CNN, up to 0.015 between batch 1
and 240, and one decision flipped). Engines run such models one image per call. TFLite's
dynamic-range kernels quantize each image (batch row) on its own and need no such care.
"""

from __future__ import annotations

import mmap
import os
import re
from typing import TypeAlias

# Anything with the buffer protocol (collections.abc.Buffer from Python 3.12).
Buffer: TypeAlias = bytes | bytearray | memoryview | mmap.mmap

# The op type is stored as a plain string in the ONNX protobuf, so a byte search finds it without
# the `onnx` package. A doc string that happens to contain it only costs batching, never a result.
# A compiled pattern searches any buffer (bytes, memoryview, mmap) without copying it; `in` on a
# memoryview would compare single bytes and silently find nothing.
_PER_CALL_QUANTIZATION = re.compile(re.escape(b"DynamicQuantizeLinear"))


def onnx_quantizes_per_call(model: str | os.PathLike[str] | Buffer) -> bool:
    """True when the ONNX model (a file path, or its bytes in any buffer) quantizes activations
    per call."""
    if not isinstance(model, (str, os.PathLike)):
        return _PER_CALL_QUANTIZATION.search(model) is not None
    with open(model, "rb") as file:
        if os.fstat(file.fileno()).st_size == 0:
            return False
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _PER_CALL_QUANTIZATION.search(data) is not None
