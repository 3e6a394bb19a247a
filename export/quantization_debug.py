"""`export --debug-quantization`: which layers of an int8 model hurt, as a table and JSON.

One writer for both int8 variants. For tflite-int8 the rows come from TF's quantization debugger:
per-layer statistics of the full-int8 model on the calibration images, one per quantized layer in
execution order (each layer's int8 output against its dequantized float computation on the same
inputs). For onnx-int8 they come from ONNX Runtime's qdq_loss_debug
(`edgexray_export.onnx_layer_errors`), which adds each node's SQNR against the float model.
rmse/scale is the layer's error in units of its quantization step: about 0.29 is plain rounding
noise; the TF guide suggests keeping layers above ~0.7 in float.

The `contribution` column is each layer's contribution to the final error: how much the mean |dp|
of the probabilities against Keras falls when only that layer is kept in float
(`edgexray_export.variants.layer_ranking`); the float-fallback ladder keeps the largest first.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from edgexray.atomic import write_text_atomically

#: rmse/scale above this marks a layer worth keeping in float (TF's quantization debugger guide).
SUSPECT_RMSE_OVER_SCALE = 0.7


@dataclass(frozen=True)
class LayerError:
    """One quantized layer: its output tensor, op type and the error of its int8 output."""

    layer: str
    op_type: str
    rmse: float
    rmse_over_scale: float
    max_abs_error: float
    scale: float
    contribution: float | None = None
    #: The quantized model's value of this output against the float model's, in dB (ONNX only).
    sqnr_db: float | None = None

    @property
    def suspect(self) -> bool:
        return self.rmse_over_scale > SUSPECT_RMSE_OVER_SCALE


def layer_errors(
    rows: Iterable[Mapping[str, str]], contributions: Mapping[str, float] | None = None
) -> list[LayerError]:
    """LayerErrors from the debugger's layer_statistics_dump rows (CSV fields as strings), with
    each layer's contribution to the final error where `contributions` (by tensor name) has one."""
    contributions = contributions or {}
    errors = []
    for row in rows:
        rmse = math.sqrt(float(row["mean_squared_error"]))
        scale = float(row["scale"])
        errors.append(
            LayerError(
                layer=row["tensor_name"].split(";")[0],
                op_type=row["op_name"],
                rmse=rmse,
                rmse_over_scale=rmse / scale if scale > 0 else float("inf"),
                max_abs_error=float(row["max_abs_error"]),
                scale=scale,
                contribution=contributions.get(row["tensor_name"]),
            )
        )
    return errors


def format_layer_table(errors: list[LayerError]) -> str:
    """A plain-text table, worst marked with '*' (rmse/scale over the guide's 0.7); with a
    contribution column (to the final mean |dp|) when any layer has one."""
    ranked = any(e.contribution is not None for e in errors)
    sqnr = any(e.sqnr_db is not None for e in errors)
    rows: list[tuple[str, ...]] = [
        ("#", "layer", "op", "rmse", "rmse/scale", "max |err|", "SQNR dB", "contribution", "")
    ]
    for i, e in enumerate(errors):
        contribution = "" if e.contribution is None else f"{e.contribution:+.5f}"
        rows.append(
            (
                str(i),
                e.layer,
                e.op_type,
                f"{e.rmse:.3e}",
                f"{e.rmse_over_scale:.3f}",
                f"{e.max_abs_error:.3e}",
                "" if e.sqnr_db is None else f"{e.sqnr_db:.1f}",
                contribution,
                "*" if e.suspect else "",
            )
        )
    # Columns no row has are left out (the TFLite report has no SQNR).
    keep = [i for i in range(len(rows[0])) if (i != 6 or sqnr) and (i != 7 or ranked)]
    rows = [tuple(r[i] for i in keep) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.append(
        f"* rmse/scale > {SUSPECT_RMSE_OVER_SCALE}: more than rounding noise "
        "(about 0.29); a candidate to keep in float"
    )
    if ranked:
        lines.append(
            "contribution: fall of the final mean |dp| (probabilities, vs Keras; ONNX: vs the float "
            "model) when only this layer is kept in float"
        )
    return "\n".join(lines) + "\n"


def write_layer_report(
    errors: list[LayerError], model_path: Path, ranking: Mapping[str, object] | None = None
) -> tuple[Path, Path]:
    """MODEL.quantization-debug.json and .txt next to the model file; returns both paths.

    ranking: extra top-level JSON fields describing how contributions were measured (e.g. the
    baseline mean |dp| and the number of images)."""
    stem = Path(model_path).with_suffix("")
    json_path = stem.with_name(stem.name + ".quantization-debug.json")
    text_path = stem.with_name(stem.name + ".quantization-debug.txt")
    data = {
        "model": Path(model_path).name,
        "suspect_rmse_over_scale": SUSPECT_RMSE_OVER_SCALE,
        **(ranking or {}),
        "layers": [{**asdict(e), "suspect": e.suspect} for e in errors],
    }
    write_text_atomically(json_path, json.dumps(data, indent=2) + "\n")
    write_text_atomically(text_path, format_layer_table(errors))
    return json_path, text_path
