"""ONNX variants: float32 (tf2onnx), int8 dynamic, and int8 static QDQ calibrated with ONNX Runtime."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from edgexray_export.quantization import QuantizationConfig
from edgexray_export.variants.base import ConversionInput, VariantExporter, serving_function
from edgexray_export.variants.ladder import Candidate, climb

OPSET = 17  # per-channel QDQ needs >= 13; 17 is read by every ONNX Runtime still in use
# One image per calibration batch: ORT's entropy and percentile calibrators stack per-batch
# outputs and fail on a smaller last batch.
_CALIBRATION_BATCH = 1
# Op types after which the network only reduces and classifies: keeping these in float is the
# cheapest fix when the int8 head flips decisions (it holds few of the weights).
_HEAD_OPS = ("MatMul", "Gemm")


def write_float_onnx(job: ConversionInput, out_path: Path) -> None:
    """Convert the Keras model to float32 ONNX through a tf.function (from_keras fails on Keras 3)."""
    import tf2onnx

    serve, spec = serving_function(job)
    tf2onnx.convert.from_function(
        serve, input_signature=[spec], opset=OPSET, output_path=str(out_path)
    )


def _preprocessed_float(job: ConversionInput, folder: Path) -> Path:
    """Float ONNX after ONNX Runtime's quantization pre-processing (shape inference, fusions)."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    raw = folder / "float.onnx"
    write_float_onnx(job, raw)
    prepared = folder / "prepared.onnx"
    # Symbolic shape inference needs sympy, and ONNX's own shape inference suffices for image CNNs.
    quant_pre_process(str(raw), str(prepared), skip_symbolic_shape=True)
    return prepared


class ONNXFloat32(VariantExporter):
    name = "onnx-fp32"
    suffix = ".onnx"

    def convert(self, job: ConversionInput, out_path: Path) -> dict[str, Any]:
        write_float_onnx(job, out_path)
        return {"weights": "float32", "activations": "float32", "opset": OPSET}


class ONNXInt8Dynamic(VariantExporter):
    name = "onnx-int8-dynamic"
    suffix = ".onnx"

    def convert(self, job: ConversionInput, out_path: Path) -> dict[str, Any]:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        with tempfile.TemporaryDirectory(dir=out_path.parent) as folder:
            prepared = _preprocessed_float(job, Path(folder))
            quantize_dynamic(
                str(prepared), str(out_path), weight_type=QuantType.QInt8, per_channel=True
            )
        return {
            "weights": "int8, per-channel",
            "activations": "uint8, ranges computed per inference (DynamicQuantizeLinear)",
            "pre_processing": "onnxruntime quant_pre_process",
            "opset": OPSET,
        }


class _ImageReader:
    """Feeds calibration images to ONNX Runtime's calibrator, one image per batch."""

    def __init__(self, input_name: str, images: np.ndarray) -> None:
        self._batches = iter(
            [
                {input_name: images[i : i + _CALIBRATION_BATCH]}
                for i in range(0, len(images), _CALIBRATION_BATCH)
            ]
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def _head_nodes(model_path: Path) -> tuple[str, ...]:
    """Names of the nodes from the last MatMul/Gemm on (the classifier head), in graph order."""
    import onnx

    nodes = onnx.load(str(model_path)).graph.node
    last = max((i for i, n in enumerate(nodes) if n.op_type in _HEAD_OPS), default=None)
    return () if last is None else tuple(n.name for n in nodes[last:])


class ONNXInt8Static(VariantExporter):
    """Static int8, QDQ format, per-channel weights, activation ranges from the calibration images.

    When the given settings leave top-1 agreement with Keras below the quality target on the
    calibration images, better settings are tried in order — percentile and entropy calibration,
    then the classifier head kept in float — and the first that reaches the target (else the best)
    is kept. Each attempt is recorded in the card. The held-out parity images are not used here.
    """

    name = "onnx-int8"
    suffix = ".onnx"

    def _quantize(
        self, prepared: Path, job: ConversionInput, config: QuantizationConfig, out_path: Path
    ) -> None:
        from onnxruntime.quantization import (
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quantize_static,
        )

        methods = {
            "minmax": CalibrationMethod.MinMax,
            "entropy": CalibrationMethod.Entropy,
            "percentile": CalibrationMethod.Percentile,
        }
        images = job.calibration[: config.max_calibration_images]
        quantize_static(
            str(prepared),
            str(out_path),
            _ImageReader(_input_name(prepared), images),
            quant_format=QuantFormat.QDQ,
            per_channel=config.per_channel,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=methods[config.calibration_method],
            nodes_to_exclude=[*config.nodes_to_exclude, *_nodes_of_types(prepared, config)],
            op_types_to_quantize=None,
            extra_options={
                "ActivationSymmetric": config.symmetric_activations,
                "WeightSymmetric": True,
                "CalibPercentile": config.percentile,
            },
        )

    def _candidates(self, job: ConversionInput, prepared: Path) -> list[QuantizationConfig]:
        given = job.quantization
        ladder = [given]
        for method in ("percentile", "entropy"):
            if method != given.calibration_method:
                ladder.append(given.replace(calibration_method=method))
        head = _head_nodes(prepared)
        if head:
            ladder.append(given.replace(nodes_to_exclude=given.nodes_to_exclude + head))
        return ladder

    def convert(self, job: ConversionInput, out_path: Path) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(dir=out_path.parent) as folder:
            prepared = _preprocessed_float(job, Path(folder))
            candidates = [
                Candidate(
                    config,
                    config.describe(),
                    functools.partial(self._quantize, prepared, job, config),
                )
                for config in self._candidates(job, prepared)
            ]
            result = climb(candidates, job, Path(folder), self.suffix)
            out_path.write_bytes(result.path.read_bytes())
        config = result.chosen.setting
        return {
            "format": "QDQ",
            "weights": "int8, " + ("per-channel" if config.per_channel else "per-tensor"),
            "activations": "int8, per-tensor"
            + (", symmetric" if config.symmetric_activations else ""),
            "calibration_method": config.calibration_method,
            "calibration_images": len(job.calibration[: config.max_calibration_images]),
            "layers_kept_float": list(config.nodes_to_exclude),
            "op_types_kept_float": list(config.op_types_to_exclude),
            "pre_processing": "onnxruntime quant_pre_process",
            "settings": config.to_dict(),
            **result.notes(),
            "opset": OPSET,
        }


def _input_name(model_path: Path) -> str:
    import onnx

    return onnx.load(str(model_path)).graph.input[0].name


def _nodes_of_types(model_path: Path, config: QuantizationConfig) -> list[str]:
    """Names of the nodes whose op type the config keeps in float."""
    if not config.op_types_to_exclude:
        return []
    import onnx

    wanted = set(config.op_types_to_exclude)
    return [n.name for n in onnx.load(str(model_path)).graph.node if n.op_type in wanted]
