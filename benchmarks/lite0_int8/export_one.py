"""Export only tflite-int8 of MODEL into OUT with TF's per-layer quantization debug report."""

import sys

from edgexray_export.model_check_layer import HEAD_INPUT
from edgexray_export.pipeline import export_model

model, out, held = sys.argv[1:4]
variants = sys.argv[4].split(",") if len(sys.argv) > 4 else ["tflite-int8"]
rep = export_model(
    model,
    out,
    calibration_dir=held,
    variants=variants,
    calibration_size=720,
    quality_target=1.0,
    model_check_layer=HEAD_INPUT,
    labels=["COVID", "NORMAL", "PNEUMONIA"],
    normalize="symmetric",
    debug_quantization="tflite-int8" in variants,
    seed=2026,
    progress=print,
)
