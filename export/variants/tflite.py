"""LiteRT (TensorFlow Lite) variants: float32, float16 weights, dynamic-range int8, full integer int8."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Any

from edgexray_export.variants.base import (
    SAVED_MODEL_ENDPOINT,
    ConversionInput,
    VariantExporter,
    write_saved_model,
)
from edgexray_export.variants.ladder import Candidate, climb


class TFLiteExporter(VariantExporter):
    """Base for LiteRT variants: build a converter, let the subclass configure it, write the bytes."""

    suffix = ".tflite"

    def configure(self, converter: Any, job: ConversionInput) -> dict[str, Any]:
        """Set converter options; return the notes for the card."""
        return {"weights": "float32", "activations": "float32"}

    def convert(self, job: ConversionInput, out_path: Path) -> dict[str, Any]:
        import tensorflow as tf

        with tempfile.TemporaryDirectory(dir=out_path.parent) as folder:
            endpoint = write_saved_model(job, Path(folder))
            converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=[endpoint])
            notes = self.configure(converter, job)
            out_path.write_bytes(converter.convert())
        return notes


class TFLiteFloat32(TFLiteExporter):
    name = "tflite-fp32"


class TFLiteFloat16(TFLiteExporter):
    name = "tflite-fp16"

    def configure(self, converter: Any, job: ConversionInput) -> dict[str, Any]:
        import tensorflow as tf

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
        return {"weights": "float16 (dequantized to float32 at load)", "activations": "float32"}


class TFLiteDynamicRange(TFLiteExporter):
    name = "tflite-dynamic"

    def configure(self, converter: Any, job: ConversionInput) -> dict[str, Any]:
        import tensorflow as tf

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        return {
            "weights": "int8, per-channel",
            "activations": "float32 (quantized on the fly where kernels allow)",
        }


# Ops of the classifier head: few weights, but an int8 error there flips decisions directly.
HEAD_OPS = ("FULLY_CONNECTED", "LOGISTIC", "SOFTMAX")


class TFLiteInt8(TFLiteExporter):
    """Full integer: int8 weights (per-channel), int8 activations, int8 input and output tensors.

    The runtime quantizes the float input and dequantizes the output with the tensors' scale and zero
    point, so the device code stays float. Activation ranges come from the calibration images. When
    top-1 agreement with Keras on those images falls short of the quality target, the classifier
    head is kept in float inside the int8 model (selective quantization), and that is recorded.
    """

    name = "tflite-int8"

    def configure(self, converter: Any, job: ConversionInput) -> dict[str, Any]:
        import tensorflow as tf

        images = job.calibration[: job.quantization.max_calibration_images]

        def representative_dataset() -> Any:
            for i in range(len(images)):
                yield [images[i : i + 1]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        return self._notes(len(images))

    @staticmethod
    def _notes(calibration_images: int) -> dict[str, Any]:
        return {
            "weights": "int8, per-channel (symmetric)",
            "activations": "int8, per-tensor",
            "input_output": "int8 (scale and zero point in the tensor metadata)",
            "calibration": f"min/max over {calibration_images} representative images",
        }

    def _write(
        self, saved_model: str, job: ConversionInput, float_ops: tuple[str, ...], path: Path
    ) -> None:
        import tensorflow as tf

        converter = tf.lite.TFLiteConverter.from_saved_model(
            saved_model, signature_keys=[SAVED_MODEL_ENDPOINT]
        )
        self.configure(converter, job)
        if not float_ops:
            path.write_bytes(converter.convert())
            return
        with warnings.catch_warnings():
            # The debugger uses tf.lite.Interpreter internally, which warns it is deprecated.
            warnings.simplefilter("ignore", UserWarning)
            debugger = tf.lite.experimental.QuantizationDebugger(
                converter=converter,
                debug_dataset=converter.representative_dataset,
                debug_options=tf.lite.experimental.QuantizationDebugOptions(
                    denylisted_ops=list(float_ops), fully_quantize=True
                ),
            )
            path.write_bytes(debugger.get_nondebug_quantized_model())

    def convert(self, job: ConversionInput, out_path: Path) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(dir=out_path.parent) as folder:
            saved_model = str(Path(folder, "saved_model"))
            write_saved_model(job, Path(saved_model))
            candidates = [
                Candidate(
                    ops,
                    "full int8" + (f", float ops: {', '.join(ops)}" if ops else ""),
                    lambda path, ops=ops: self._write(saved_model, job, ops, path),
                )
                for ops in ((), HEAD_OPS)
            ]
            result = climb(candidates, job, Path(folder), self.suffix)
            out_path.write_bytes(result.path.read_bytes())
        notes = self._notes(len(job.calibration[: job.quantization.max_calibration_images]))
        return {**notes, "op_types_kept_float": list(result.chosen.setting), **result.notes()}
