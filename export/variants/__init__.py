"""One exporter class per deployable variant, chosen by name from VARIANTS."""

from __future__ import annotations

from edgexray_export.variants.base import ConversionInput, VariantExporter
from edgexray_export.variants.onnx import ONNXFloat32, ONNXInt8Dynamic, ONNXInt8Static
from edgexray_export.variants.tflite import (
    TFLiteDynamicRange,
    TFLiteFloat16,
    TFLiteFloat32,
    TFLiteInt8,
    TFLiteInt8IO,
)

# In the order they are exported and reported; float first so a broken model fails fast.
VARIANTS: dict[str, type[VariantExporter]] = {
    exporter.name: exporter
    for exporter in (
        TFLiteFloat32,
        TFLiteFloat16,
        TFLiteDynamicRange,
        TFLiteInt8,
        ONNXFloat32,
        ONNXInt8Dynamic,
        ONNXInt8Static,
        TFLiteInt8IO,
    )
}
# Exported when no variant is named: all but the int8-input-and-output form, which only
# integer-only accelerators need (`edgexray export --int8-io` adds it).
ON_REQUEST = ("tflite-int8-io",)
DEFAULT_VARIANTS = tuple(name for name in VARIANTS if name not in ON_REQUEST)

__all__ = ["DEFAULT_VARIANTS", "VARIANTS", "ConversionInput", "VariantExporter"]
