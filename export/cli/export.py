"""`edgexray export`: a trained Keras model -> quantized TFLite and ONNX variants, parity-checked.

A thin wrapper around edgexray_export.pipeline.export_model. TensorFlow and the converters are
imported only when the command runs, and only where the [export] extra is installed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
from edgexray_export.cli.toolchain import (
    EXPORT_MODULES,
    require_export_extra,
    trust_model_option,
)
from edgexray_export.metric_gate import DROP_MODES
from edgexray_export.model_check_fit import METHOD_CHOICES
from edgexray_export.quantization import CALIBRATION_METHODS, TFLITE_FALLBACKS
from edgexray_export.targets import TARGETS
from edgexray_export.variants import DEFAULT_VARIANTS, VARIANTS

from edgexray.cli.options import card_override_options, run_settings
from edgexray.metrics import TASK_METRICS

# The variant registry and quantization options are plain Python (no TensorFlow at import).
_VARIANT_NAMES = tuple(VARIANTS)


def _variants(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...] | None:
    if value.strip() == "all":
        return None
    chosen = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [v for v in chosen if v not in _VARIANT_NAMES]
    if unknown or not chosen:
        raise click.BadParameter(
            f"unknown variant(s) {', '.join(unknown) or '(none)'}; "
            f"choose from all, {', '.join(_VARIANT_NAMES)}"
        )
    return chosen


def _progress(line: str) -> None:
    click.echo(f"export: {line}", err=True)


@click.command("export")
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the variants, their cards, the Keras reference and the parity report.",
)
@click.option(
    "--calibration",
    "calibration_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Representative images (recursive; class sub-folders give labels and accuracy).",
)
@click.option(
    "--calibration-size",
    type=click.IntRange(min=4),
    default=300,
    show_default=True,
    help="Images sampled in total; about half are held out for the parity check.",
)
@click.option(
    "--variants",
    default="all",
    show_default=True,
    callback=_variants,
    help=f"Comma-separated: {', '.join(_VARIANT_NAMES)}; all: every one but tflite-int8-io.",
)
@card_override_options
@click.option(
    "--calibration-method",
    type=click.Choice(CALIBRATION_METHODS),
    default="minmax",
    show_default=True,
    help="Activation ranges for onnx-int8 (others are tried if agreement falls short).",
)
@click.option(
    "--min-agreement",
    type=click.FloatRange(0, 1),
    default=0.99,
    show_default=True,
    help="Top-1 agreement with the Keras model each variant must reach.",
)
@click.option(
    "--allow-degraded",
    is_flag=True,
    help="Keep a variant below --min-agreement, flagged 'degraded' in its card.",
)
@click.option(
    "--max-drop",
    type=click.FloatRange(0, 1),
    default=None,
    help="Metric gate (labelled images): keep a variant only if --metric on the parity images is "
    "at most this much below the Keras model's; int8 settings are tried until one meets it.",
)
@click.option(
    "--metric",
    type=click.Choice(TASK_METRICS),
    default="accuracy",
    show_default=True,
    help="The metric --max-drop applies to (binary: of the positive class; else macro).",
)
@click.option(
    "--drop-mode",
    type=click.Choice(DROP_MODES),
    default="absolute",
    show_default=True,
    help="--max-drop in metric points (absolute) or as a share of the Keras value (relative).",
)
@click.option(
    "--retune-threshold",
    is_flag=True,
    help="Binary models, labelled images: give each variant its own threshold, matching the "
    "Keras model's sensitivity on the calibration images.",
)
@click.option(
    "--debug-quantization",
    is_flag=True,
    help="tflite-int8: also write a per-layer error report (table and JSON) from TF's "
    "quantization debugger, to see which layers hurt.",
)
@click.option(
    "--int8-io",
    is_flag=True,
    help="Also export tflite-int8-io: int8 input and output, every layer int8, for integer-only "
    "accelerators (tflite-int8 has float32 input and output).",
)
@click.option(
    "--int8-max-mean-dp",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    help="tflite-int8 and onnx-int8 error budget: mean |probability difference| to Keras on the "
    "calibration images; layers are kept in float until it is met (see --int8-fallback).",
)
@click.option(
    "--int8-max-dp",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    help="tflite-int8 and onnx-int8 error budget on the largest |probability difference| "
    "(calibration images).",
)
@click.option(
    "--int8-fallback",
    type=click.Choice(TFLITE_FALLBACKS),
    default="auto",
    show_default=True,
    help="Which layers stay float to meet the budget: worst layers, worst blocks, the leading "
    "layers (prefix), or all tried, fewest float layers kept (auto). docs/export.md.",
)
@click.option(
    "--target",
    type=click.Choice(TARGETS),
    default="generic",
    show_default=True,
    help="CPU family the int8 variants are for: its preset picks activation types, weight range "
    "and per-channel weights; generic runs correctly on every CPU (see docs/export.md).",
)
@click.option(
    "--model-check-layer",
    default=None,
    metavar="LAYER",
    help="The layer (or head-input) the model check reads. Default: the one that best separates "
    "generated non-chest images from held-out films (docs/input-checks.md).",
)
@click.option(
    "--keep-appearance-check",
    is_flag=True,
    help="Keep the appearance check even when it refuses no generated non-chest image that the "
    "other checks pass (docs/input-checks.md).",
)
@click.option(
    "--model-check-method",
    type=click.Choice(METHOD_CHOICES),
    default="cosine",
    show_default=True,
    help="How the model check scores an input: cosine holds with few calibration images; knn "
    "and mahalanobis need 50 or more (docs/input-checks.md).",
)
@click.option(
    "--model-check-margin",
    type=click.FloatRange(1.0, 3.0),
    default=None,
    help="The model check's threshold: the largest left-out (knn: 99th-percentile held-out) "
    "calibration score times this. Default: cosine 1.25, others 1.1 (docs/input-checks.md).",
)
@click.option("--training-data", default="", help="A note on the training data, for the cards.")
@trust_model_option
def export(
    model: Path,
    output_dir: Path,
    calibration_dir: Path,
    variants: tuple[str, ...] | None,
    calibration_method: str,
    int8_io: bool,
    max_drop: float | None,
    metric: str,
    drop_mode: str,
    target: str,
    int8_max_mean_dp: float | None,
    int8_max_dp: float | None,
    int8_fallback: str,
    keep_appearance_check: bool,
    model_check_method: str,
    model_check_margin: float | None,
    **options: Any,
) -> None:
    """Convert a Keras MODEL (.keras, .h5 or SavedModel folder) into deployable variants.

    Each variant is checked against the Keras model on held-out calibration images; a variant below
    --min-agreement (or, with --max-drop, below the metric gate) makes the command fail (exit
    code 4) unless --allow-degraded is given. `edgexray -v export` also shows the converters'
    own messages (ONNX Runtime's calibration progress).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ logs drown the progress
    require_export_extra(EXPORT_MODULES)
    from edgexray_export.metric_gate import MetricGate
    from edgexray_export.model_check_fit import ModelCheckConfig
    from edgexray_export.pipeline import ParityGateError, export_model
    from edgexray_export.quantization import QuantizationConfig
    from edgexray_export.report import format_table
    from edgexray_export.targets import apply_target

    quantization = QuantizationConfig(
        calibration_method=calibration_method,
        tflite_max_mean_abs_diff=int8_max_mean_dp,
        tflite_max_abs_diff=int8_max_dp,
        onnx_max_mean_abs_diff=int8_max_mean_dp,
        onnx_max_abs_diff=int8_max_dp,
        tflite_fallback=int8_fallback,
    )
    quantization = apply_target(quantization, target)
    gate = None if max_drop is None else MetricGate(metric, max_drop, drop_mode)
    if int8_io:
        variants = (*(variants or DEFAULT_VARIANTS), "tflite-int8-io")
    try:
        report = export_model(
            model,
            output_dir,
            calibration_dir=calibration_dir,
            variants=variants,
            labels=options.pop("labels"),
            normalize=options.pop("normalize"),
            interpolation=options.pop("interpolation") or "bilinear",
            threshold=options.pop("threshold"),
            outputs=options.pop("output_kind"),
            quantization=quantization,
            metric_gate=gate,
            model_check=ModelCheckConfig(method=model_check_method, margin=model_check_margin),
            keep_appearance_check=keep_appearance_check,
            progress=_progress,
            verbose=run_settings().verbose,
            **options,
        )
    except ParityGateError as exc:
        click.echo(format_table(exc.report))
        raise
    click.echo(format_table(report))
    click.echo(
        f"wrote {len(report.results)} variant(s), their cards and the parity report to {output_dir}"
    )
