"""ONNX variants: float32 (tf2onnx), int8 dynamic, and int8 static QDQ calibrated with ONNX Runtime."""

from __future__ import annotations

import contextlib
import functools
import io
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from edgexray_export.quantization import QuantizationConfig
from edgexray_export.quantization_debug import LayerError, write_layer_report
from edgexray_export.variants.base import ConversionInput, VariantExporter, serving_function
from edgexray_export.variants.control import check_control, control_notes
from edgexray_export.variants.ladder import (
    FALLBACK_PATIENCE,
    Attempt,
    Candidate,
    LadderResult,
    climb,
    closeness,
)
from edgexray_export.variants.onnx_control import first_differing_tensor, write_control
from edgexray_export.variants.onnx_tail import float_tail, folded_activations

OPSET = 17  # per-channel QDQ needs >= 13; 17 is read by every ONNX Runtime still in use
# One image per calibration batch: ORT's entropy and percentile calibrators stack per-batch
# outputs and fail on a smaller last batch.
_CALIBRATION_BATCH = 1
# Activations ORT's percentile/entropy calibrators may hold at once (they keep every image's).
HISTOGRAM_MEMORY_BYTES = 2 * 1024**3
# How many of the worst nodes (by the layer report) the ladder keeps float, in turn.
WORST_COUNTS = (1, 2, 4, 8, 16, 32)
# Then the first 1/8, 1/4, 3/8, 1/2 of the nodes (from the input), when the worst nodes were not enough.
PREFIX_FRACTIONS = (1 / 8, 1 / 4, 3 / 8, 1 / 2)


def write_float_onnx(job: ConversionInput, out_path: Path) -> None:
    """Convert the Keras model to float32 ONNX through a tf.function (from_keras fails on Keras 3)."""
    import tf2onnx

    serve, spec = serving_function(job)
    tf2onnx.convert.from_function(
        serve, input_signature=[spec], opset=OPSET, output_path=str(out_path)
    )


def preprocessed_float(job: ConversionInput, folder: Path) -> Path:
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
            prepared = preprocessed_float(job, Path(folder))
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


class ONNXInt8Static(VariantExporter):
    """Static int8, QDQ format, per-channel weights, activation ranges from the calibration images.

    The tail after the last weighted op (the head's output, Softmax/Sigmoid) runs in float, with no
    Q/DQ on the graph outputs (onnx_tail.float_tail), so probabilities are continuous. When the
    given settings leave top-1 agreement with Keras below the quality target on the calibration
    images, better calibration methods are tried (percentile, entropy); when that is not enough
    either (or the |dp| budget, onnx_max_mean_abs_diff / onnx_max_abs_diff, is missed), the 1 ... 32 worst
    nodes of the layer report (edgexray_export.onnx_layer_errors) are kept float, and then, if still
    short, the first 1/8 ... 1/2 of the nodes from the input. The first setting
    that reaches the target (else the closest) is kept. Each attempt is recorded in the card. The
    held-out parity images are not used here.
    """

    name = "onnx-int8"
    suffix = ".onnx"

    def quantize(
        self,
        prepared: Path,
        job: ConversionInput,
        config: QuantizationConfig,
        out_path: Path,
        float_output: bool = True,
    ) -> None:
        """Write `prepared` (the float model after preprocessed_float) quantized with `config` to
        `out_path`, calibrated on job.calibration; float_output=False keeps ORT's Q/DQ on the tail
        and outputs (the plain int8 model, for comparisons)."""
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
        activation_types = {"int8": QuantType.QInt8, "uint8": QuantType.QUInt8}
        images = job.calibration[: _calibration_images(prepared, job, config)]
        quiet = (
            contextlib.nullcontext()
            if job.verbose
            # ORT's calibrators print their progress ("Collecting tensor data and making
            # histogram ...") to stdout, dozens of times per export: shown only with -v.
            else contextlib.redirect_stdout(io.StringIO())
        )
        with quiet:
            quantize_static(
                str(prepared),
                str(out_path),
                _ImageReader(_input_name(prepared), images),
                quant_format=QuantFormat.QDQ,
                per_channel=config.per_channel,
                reduce_range=config.onnx_reduce_range,
                activation_type=activation_types[config.onnx_activation_type],
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
        if float_output:
            _keep_tail_float(prepared, out_path)

    def _calibration_rungs(self, job: ConversionInput) -> list[QuantizationConfig]:
        given = job.quantization
        ladder = [given]
        for method in ("percentile", "entropy"):
            if method != given.calibration_method:
                ladder.append(given.replace(calibration_method=method))
        return ladder

    @staticmethod
    def _candidates(
        write: _Written, configs: list[QuantizationConfig]
    ) -> list[Candidate[QuantizationConfig]]:
        return [
            Candidate(config, config.describe(), functools.partial(write, config))
            for config in configs
        ]

    def _report(
        self, prepared: Path, job: ConversionInput, config: QuantizationConfig, folder: Path
    ) -> tuple[list[LayerError], list[str]]:
        """The layer report of `config`'s model (every node quantized but the ones `config` keeps
        float, Q/DQ on every activation, the tail's included) and the nodes ranked worst first."""
        from edgexray_export.onnx_layer_errors import (
            DEBUG_IMAGES,
            PROBE_IMAGES,
            activation_errors,
            sqnr_drops,
            with_contributions,
            worst_nodes,
        )

        folder.mkdir(exist_ok=True)
        plain = folder / "plain.onnx"
        # With ORT's Q/DQ on every activation, the tail's weighted nodes too: the float tail
        # leaves their weights int8 but no rounded output to report, and a Dense before a
        # BatchNorm in the head is where the rounding can hurt most (issue 22's head shapes).
        self.quantize(prepared, job, config, plain, float_output=False)
        errors = activation_errors(prepared, plain, job.calibration[:DEBUG_IMAGES], folder)
        drops = sqnr_drops(errors, plain)
        order = sorted(drops, key=lambda node: -drops[node])
        # Probes calibrate on fewer images: they rank nodes, the ladder then calibrates on all.
        probe = config.replace(
            max_calibration_images=min(
                len(job.calibration), config.max_calibration_images or PROBE_IMAGES, PROBE_IMAGES
            )
        )
        errors = with_contributions(
            errors,
            lambda nodes, path: self.quantize(
                prepared,
                job,
                probe.replace(nodes_to_exclude=probe.nodes_to_exclude + nodes),
                path,
            ),
            prepared,
            order,
            job.calibration[:PROBE_IMAGES],
            folder,
        )
        return errors, worst_nodes(errors, drops)

    def convert(self, job: ConversionInput, out_path: Path) -> dict[str, Any]:
        budget = _Budget.of(job.quantization)
        with tempfile.TemporaryDirectory(dir=out_path.parent) as folder:
            work = Path(folder)
            prepared = preprocessed_float(job, work)
            write = _Written(functools.partial(self.quantize, prepared, job))
            rungs = self._calibration_rungs(job)
            control = self._control(write, prepared, job, rungs[0], work / "control")
            (work / "calibration").mkdir()
            result = climb(
                self._candidates(write, rungs),
                job,
                work / "calibration",
                self.suffix,
                reached=lambda attempt: _close_enough(attempt, job, budget),
            )
            report: tuple[list[LayerError], list[str]] | None = None
            base = result.chosen.setting
            if not _good_enough(result.chosen_attempt, job, budget):
                report = self._report(prepared, job, base, work / "report")
                worst = _worst_rungs(base, report[1])
                result = self._climb_on(write, job, work / "worst", result, worst, budget)
            if not _good_enough(result.chosen_attempt, job, budget):
                prefix = _prefix_rungs(base, prepared)
                result = self._climb_on(write, job, work / "prefix", result, prefix, budget)
            if job.debug_quantization:
                if report is None:
                    report = self._report(prepared, job, job.quantization, work / "report")
                write_layer_report(report[0], out_path, _report_facts(job))
            out_path.write_bytes(result.path.read_bytes())
            config = result.chosen.setting
            # Counted while `prepared` exists: the temporary folder goes with this block.
            calibration_images = _calibration_images(prepared, job, config)
        return {
            **({} if config.target is None else {"target": config.target}),
            "format": "QDQ",
            "weights": "int8, "
            + ("per-channel" if config.per_channel else "per-tensor")
            + (", 7-bit (reduce_range)" if config.onnx_reduce_range else ""),
            "activations": f"{config.onnx_activation_type}, per-tensor"
            + (", symmetric" if config.symmetric_activations else ""),
            "input_output": "float32; the nodes after the last weighted op run in float "
            "(no quantization on the outputs)",
            "calibration_method": config.calibration_method,
            "calibration_images": calibration_images,
            "layers_kept_float": list(config.nodes_to_exclude),
            "op_types_kept_float": list(config.op_types_to_exclude),
            "pre_processing": "onnxruntime quant_pre_process",
            "settings": config.to_dict(),
            **budget.notes(),
            **({} if report is None else {"worst_nodes": report[1][: max(WORST_COUNTS)]}),
            **control,
            **result.notes(),
            "opset": OPSET,
        }

    @staticmethod
    def _control(
        write: _Written,
        prepared: Path,
        job: ConversionInput,
        config: QuantizationConfig,
        folder: Path,
    ) -> dict[str, Any]:
        """The control run (edgexray_export.variants.control): `config`'s model as the ladder
        writes it, with its rounding taken out (onnx_control); the card's notes when it gives the
        Keras model's outputs, else ExportError naming where it does not."""
        from edgexray_export.onnx_layer_errors import DEBUG_IMAGES

        folder.mkdir()
        quantized = folder / "quantized.onnx"
        write(config, quantized)
        control = folder / "control.onnx"
        write_control(quantized, prepared, control)
        images = job.calibration[:DEBUG_IMAGES]
        differences = check_control(
            control, job, lambda: first_differing_tensor(control, prepared, images, folder)
        )
        return control_notes(differences)

    def _climb_on(
        self,
        write: _Written,
        job: ConversionInput,
        folder: Path,
        before: LadderResult[QuantizationConfig],
        configs: list[QuantizationConfig],
        budget: _Budget,
    ) -> LadderResult[QuantizationConfig]:
        """Climb `configs` (in `folder`) until one is good enough, or FALLBACK_PATIENCE steps in
        a row come no closer than the closest so far; the result before stays if nothing does
        better. Every attempt, before's first, is kept for the card, and a stop is said (card and
        progress)."""
        if not configs:
            return before
        folder.mkdir()
        after = climb(
            self._candidates(write, configs),
            job,
            folder,
            self.suffix,
            reached=lambda attempt: _close_enough(attempt, job, budget),
            patience=FALLBACK_PATIENCE,
            baseline=before.chosen_attempt,
        )
        stops = tuple(f"{folder.name} ladder: {stop}" for stop in after.stops)
        for stop in stops:
            job.progress(f"{self.name}: {stop}")
        better = _good_enough(after.chosen_attempt, job, budget) or closeness(
            after.chosen_attempt
        ) > closeness(before.chosen_attempt)
        kept = after if better else before
        return LadderResult(
            kept.chosen,
            kept.path,
            kept.chosen_attempt,
            before.attempts + after.attempts,
            before.failures + after.failures,
            before.stops + stops,
        )


class _Written:
    """ONNXInt8Static.quantize of one prepared model and job, remembering what it wrote: a setting
    asked for again is copied, not calibrated again (the control run and the first candidate
    share one calibration)."""

    def __init__(self, quantize: Callable[[QuantizationConfig, Path], None]) -> None:
        self._quantize = quantize
        self._files: dict[QuantizationConfig, Path] = {}

    def __call__(self, config: QuantizationConfig, path: Path) -> None:
        if config in self._files:
            shutil.copyfile(self._files[config], path)
            return
        self._quantize(config, path)
        self._files[config] = path


def _worst_rungs(base: QuantizationConfig, ranking: list[str]) -> list[QuantizationConfig]:
    """`base` with its WORST_COUNTS worst nodes (of `ranking`) kept float, fewest first."""
    return [
        base.replace(nodes_to_exclude=base.nodes_to_exclude + tuple(ranking[:k]))
        for k in WORST_COUNTS
        if k <= len(ranking)
    ]


def _prefix_rungs(base: QuantizationConfig, prepared: Path) -> list[QuantizationConfig]:
    """`base` with the first PREFIX_FRACTIONS of the nodes (graph order, from the input) float.

    Why a prefix after the worst nodes: a node kept float alone still has its output quantized for
    the next int8 node, and in a model whose error piles up from the input (its input rounded to
    8 bits alone moves its probabilities) only a float run from the input removes it."""
    import onnx

    names = [n.name for n in onnx.load(str(prepared)).graph.node]
    counts = sorted({int(len(names) * f) for f in PREFIX_FRACTIONS} - {0})
    return [base.replace(nodes_to_exclude=base.nodes_to_exclude + tuple(names[:n])) for n in counts]


def _calibration_images(prepared: Path, job: ConversionInput, config: QuantizationConfig) -> int:
    """How many calibration images `config` uses: all given (up to max_calibration_images), but
    for percentile and entropy no more than HISTOGRAM_MEMORY_BYTES of activations hold. ONNX
    Runtime's histogram calibrators keep every activation of every image until the end (MinMax
    reduces as it goes): 240 images of a 160 px MobileNetV2 (alpha 1.0) took 8.5 GB and were killed."""
    wanted = len(job.calibration[: config.max_calibration_images])
    if config.calibration_method == "minmax":
        return wanted
    import onnx

    graph = onnx.load(str(prepared)).graph
    floats = 0
    for info in [*graph.value_info, *graph.output]:
        shape = info.type.tensor_type.shape.dim
        if info.type.tensor_type.elem_type == onnx.TensorProto.FLOAT and shape:
            floats += int(np.prod([d.dim_value if d.dim_value > 0 else 1 for d in shape]))
    return max(1, min(wanted, HISTOGRAM_MEMORY_BYTES // max(1, 4 * floats)))


def _report_facts(job: ConversionInput) -> dict[str, object]:
    """The ONNX report's top-level JSON fields: images behind each measure."""
    from edgexray_export.onnx_layer_errors import DEBUG_IMAGES, PROBE_IMAGES, PROBED_NODES

    return {
        "source": "onnxruntime.quantization.qdq_loss_debug",
        "activation_images": min(len(job.calibration), DEBUG_IMAGES),
        "contribution_images": min(len(job.calibration), PROBE_IMAGES),
        "contribution_nodes": PROBED_NODES,
    }


@dataclass(frozen=True)
class _Budget:
    """onnx-int8's error budget on the calibration images (mean and largest |dp|; None: unset)."""

    mean: float | None = None
    peak: float | None = None

    @classmethod
    def of(cls, config: QuantizationConfig) -> _Budget:
        return cls(config.onnx_max_mean_abs_diff, config.onnx_max_abs_diff)

    @property
    def set(self) -> bool:
        return self.mean is not None or self.peak is not None

    def met(self, attempt: Attempt) -> bool:
        mean_ok = self.mean is None or attempt.mean_abs_diff <= self.mean
        peak = attempt.max_abs_diff
        peak_ok = self.peak is None or (peak is not None and peak <= self.peak)
        return mean_ok and peak_ok

    def notes(self) -> dict[str, float]:
        notes = {}
        if self.mean is not None:
            notes["calibration_mean_abs_diff_budget"] = self.mean
        if self.peak is not None:
            notes["calibration_max_abs_diff_budget"] = self.peak
        return notes


def _close_enough(attempt: Attempt, job: ConversionInput, budget: _Budget) -> bool:
    """Within the |dp| budget when there is one, else top-1 agreement at the quality target."""
    if budget.set:
        return budget.met(attempt)
    return attempt.agreement >= job.quality_target


def _good_enough(attempt: Attempt, job: ConversionInput, budget: _Budget) -> bool:
    """What climb() stops at, plus the budget: close enough and the metric gate not missed."""
    return _close_enough(attempt, job, budget) and attempt.metric_passed is not False


def _keep_tail_float(float_path: Path, model_path: Path) -> None:
    import onnx

    model = onnx.load(str(model_path))
    float_tail(model, folded_activations(onnx.load(str(float_path)), model))
    onnx.save(model, str(model_path))


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
