"""LiteRT (TensorFlow Lite) variants: float32, float16 weights, dynamic-range int8, full integer int8."""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import math
import tempfile
import warnings
from pathlib import Path
from typing import Any, ClassVar

from edgexray_export.quantization import QuantizationConfig
from edgexray_export.quantization_debug import layer_errors, write_layer_report
from edgexray_export.variants.base import (
    SAVED_MODEL_ENDPOINT,
    ConversionInput,
    VariantExporter,
    write_saved_model,
)
from edgexray_export.variants.control import check_control, control_notes
from edgexray_export.variants.float_fallback import ErrorBudget, FallbackInputs, float_fallback
from edgexray_export.variants.ladder import Candidate, climb
from edgexray_export.variants.layer_ranking import LayerRanking, rank_blocks, rank_layers
from edgexray_export.variants.tflite_contents import read_tflite_contents
from edgexray_export.variants.tflite_settings import HEAD_OPS, OUTPUT_OPS, Int8Setting


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


class _SelectiveQuantizer:
    """TF's Quantization Debugger over one calibration: writes models with chosen op types or layers
    kept float (no recalibration per candidate) and lists the quantized layers in execution order
    with their rmse/scale, the per-layer error measure of TF's quantization debugger guide."""

    def __init__(self, converter: Any) -> None:
        import tensorflow as tf

        with warnings.catch_warnings():
            # The debugger uses tf.lite.Interpreter internally, which warns it is deprecated.
            warnings.simplefilter("ignore", UserWarning)
            self._debugger = tf.lite.experimental.QuantizationDebugger(
                converter=converter,
                debug_dataset=converter.representative_dataset,
                debug_options=tf.lite.experimental.QuantizationDebugOptions(fully_quantize=True),
            )
        self._statistics: list[dict[str, str]] | None = None

    def statistics(self) -> list[dict[str, str]]:
        """The debugger's per-layer statistics of the plain full-int8 model on the calibration
        images (its layer_statistics_dump rows: tensor_name, op_name, mean_squared_error, scale...).
        Measured once per calibration.
        """
        import tensorflow as tf

        if self._statistics is not None:
            return self._statistics

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            # Measure the plain full-int8 model, whatever an earlier write() left configured.
            self._debugger.options = tf.lite.experimental.QuantizationDebugOptions(
                fully_quantize=True
            )
            self._debugger.run()
        dump = io.StringIO()
        self._debugger.layer_statistics_dump(dump)
        self._statistics = list(csv.DictReader(io.StringIO(dump.getvalue())))
        return self._statistics

    def layers(self) -> list[tuple[str, float]]:
        """(output tensor name, rmse/scale) per quantized layer, over the calibration images.

        rmse/scale is the layer's own rounding error in units of its quantization step (about 0.29
        for pure rounding noise); the guide keeps layers above ~0.7 in float.
        """
        return [
            (row["tensor_name"], math.sqrt(float(row["mean_squared_error"])) / float(row["scale"]))
            for row in self.statistics()
        ]

    def layer_ops(self) -> list[tuple[str, str]]:
        """(output tensor name, TFLite op type) per quantized layer, in execution order."""
        return [(row["tensor_name"], row["op_name"]) for row in self.statistics()]

    def op_types(self) -> tuple[str, ...]:
        """Every op type of the calibrated model: all of them kept float, nothing is quantized
        (the control run)."""
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_content=self._debugger.calibrated_model)
        # The only listing of ops LiteRT offers.
        return tuple(sorted({op["op_name"] for op in interpreter._get_ops_details()}))

    def write(self, setting: Int8Setting, path: Path) -> None:
        """The calibrated model quantized with `setting`'s ops and layers kept float.

        This is the quantizer call of the debugger's get_nondebug_quantized_model (TF 2.21),
        made directly: setting the debugger's options first rebuilds its instrumented model for
        each setting, and refuses one that leaves no layer quantized (the control run)."""
        from tensorflow.lite.python import convert

        path.write_bytes(
            convert.mlir_quantize(
                self._debugger.calibrated_model,
                disable_per_channel=self._debugger.converter._experimental_disable_per_channel,
                # Float32 input and output tensors (the model quantizes and dequantizes inside):
                # an int8 output would round every probability to a step of its scale.
                fully_quantize=False,
                denylisted_ops=list(setting.float_ops),
                denylisted_nodes=list(setting.float_layers),
            )
        )


class TFLiteInt8(TFLiteExporter):
    """Integer inside: int8 weights (per-channel) and activations up to the output activation, with
    a float32 input and output. The model quantizes its input itself (one QUANTIZE op), dequantizes
    the logits and applies the sigmoid or softmax in float, so the probabilities keep float
    precision instead of steps of 1/256, and the device code stays float.

    Activation ranges come from the calibration images. When top-1 agreement with Keras on those
    images falls short of the quality target, the classifier head is kept in float inside the int8
    model (selective quantization), and that is recorded. With an error budget
    (QuantizationConfig.tflite_max_mean_abs_diff / tflite_max_abs_diff) that no such setting meets,
    layers are kept in float until it is met (`float_fallback`: the worst layers by contribution to
    the final error, or the input and the leading layers, or both tried). The card records what
    the written file holds (input and output types, int8 and float layer counts), read back from it.
    """

    name = "tflite-int8"
    #: int8 input and output tensors (for integer-only accelerators) instead of float32.
    integer_io: ClassVar[bool] = False
    #: The settings tried in order (see climb); the float-prefix stage only when float I/O.
    settings: ClassVar[tuple[Int8Setting, ...]] = (
        Int8Setting(float_ops=OUTPUT_OPS),
        Int8Setting(float_ops=HEAD_OPS),
    )

    def configure(self, converter: Any, job: ConversionInput) -> dict[str, Any]:
        import tensorflow as tf

        images = job.calibration[: job.quantization.max_calibration_images]

        def representative_dataset() -> Any:
            for i in range(len(images)):
                yield [images[i : i + 1]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # TF's converter has no public switch for per-tensor weights; this private one is what
        # its own tests use (TF 2.21).
        converter._experimental_disable_per_channel = not job.quantization.per_channel
        if self.integer_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        return self._notes(len(images), job.quantization)

    def _notes(self, calibration_images: int, config: QuantizationConfig) -> dict[str, Any]:
        target = {} if config.target is None else {"target": config.target}
        return {
            **target,
            "weights": "int8, "
            + ("per-channel" if config.per_channel else "per-tensor")
            + " (symmetric)",
            "activations": "int8, per-tensor",
            "input_output": "int8 (scale and zero point in the tensor metadata)"
            if self.integer_io
            else "float32 (quantized and dequantized inside the model)",
            "calibration": f"min/max over {calibration_images} representative images",
        }

    def _converter(self, saved_model: str, job: ConversionInput) -> Any:
        import tensorflow as tf

        converter = tf.lite.TFLiteConverter.from_saved_model(
            saved_model, signature_keys=[SAVED_MODEL_ENDPOINT]
        )
        self.configure(converter, job)
        return converter

    def convert(self, job: ConversionInput, out_path: Path) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(dir=out_path.parent) as folder:
            saved_model = str(Path(folder, "saved_model"))
            write_saved_model(job, Path(saved_model))

            @functools.cache
            def selective() -> _SelectiveQuantizer:
                return _SelectiveQuantizer(self._converter(saved_model, job))

            def write(setting: Int8Setting, path: Path) -> None:
                if setting == Int8Setting():
                    path.write_bytes(self._converter(saved_model, job).convert())
                else:
                    selective().write(setting, path)

            control: dict[str, Any] = {}
            if not self.integer_io:  # its one setting is the plain converter's: no ladder
                control_path = Path(folder, "control.tflite")
                selective().write(Int8Setting(float_ops=selective().op_types()), control_path)
                control = control_notes(check_control(control_path, job))
            candidates = [
                Candidate(s, s.describe(), functools.partial(write, s)) for s in self.settings
            ]
            result = climb(candidates, job, Path(folder), self.suffix)

            @functools.cache
            def ranking() -> LayerRanking:
                layers = selective().layer_ops()
                return rank_layers(layers, selective().write, job, Path(folder, "ranking"))

            @functools.cache
            def block_ranking() -> LayerRanking:
                layers = selective().layer_ops()
                return rank_blocks(layers, selective().write, job, Path(folder, "blocks"))

            config = job.quantization
            budget = ErrorBudget(config.tflite_max_mean_abs_diff, config.tflite_max_abs_diff)
            extra: dict[str, Any] = {}
            if budget.active and not budget.met(result.chosen_attempt) and not self.integer_io:
                inputs = FallbackInputs(
                    selective().layers(),
                    selective().write,
                    ranking,
                    block_ranking,
                    Path(folder),
                    self.suffix,
                )
                result, extra = float_fallback(config.tflite_fallback, inputs, job, result, budget)
                for stop in result.stops:
                    job.progress(f"{self.name}: float fallback, {stop}")
            out_path.write_bytes(result.path.read_bytes())
            if job.debug_quantization:
                self._write_debug_report(selective(), ranking(), out_path)
        notes = self._notes(
            len(job.calibration[: job.quantization.max_calibration_images]), job.quantization
        )
        setting = result.chosen.setting
        if setting.float_layers and setting.strategy in ("worst", "blocks"):
            notes["activations"] = (
                f"float32 in the {len(setting.float_layers)} layers contributing most to the "
                "final error, int8 per-tensor elsewhere"
            )
        elif setting.float_layers:
            notes["activations"] = (
                f"float32 in the first {len(setting.float_layers)} layers, int8 per-tensor after"
            )
            notes["input_output"] = "float32 (quantized inside the model after the float layers)"
        holds = read_tflite_contents(out_path)
        if holds.float_layers:
            notes["activations"] = f"int8 per-tensor; {holds.describe_layers()}"
        return {
            **notes,
            **holds.notes(),
            "op_types_kept_float": list(setting.float_ops),
            **extra,
            **control,
            **result.notes(),
        }

    @staticmethod
    def _write_debug_report(
        quantizer: _SelectiveQuantizer, ranking: LayerRanking, out_path: Path
    ) -> None:
        """The per-layer table and JSON, with each layer's contribution to the final error."""
        details = {
            "contribution_measure": "fall of the final mean |dp| when only this layer is float",
            "contribution_images": ranking.images,
            "int8_mean_abs_diff": round(ranking.baseline_mean_abs_diff, 6),
        }
        errors = layer_errors(quantizer.statistics(), ranking.contributions)
        # The output activation is float in every candidate, so it has no contribution; its tensor
        # may share the debugger's name with another graph output (the pooled features).
        errors = [
            dataclasses.replace(e, contribution=None) if e.op_type in OUTPUT_OPS else e
            for e in errors
        ]
        write_layer_report(errors, out_path, details)


class TFLiteInt8IO(TFLiteInt8):
    """int8 input and output tensors too, every layer int8: for integer-only accelerators (NPUs,
    Edge TPU-style), which run no float op. Exported only on request (`--int8-io`). Its output
    comes in steps of its quantization scale (1/256 for a sigmoid or softmax); the runtime
    dequantizes it with the tensor's scale and zero point."""

    name = "tflite-int8-io"
    integer_io = True
    settings = (Int8Setting(),)
