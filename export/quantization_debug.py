"""`export --debug-quantization`: which layers of an int8 model hurt, as a table and JSON.

One writer for both int8 variants. For tflite-int8 the rows come from TF's quantization debugger:
per-layer statistics of the full-int8 model on the calibration images, one per quantized layer in
execution order (each layer's int8 output against its dequantized float computation on the same
inputs). For onnx-int8 they come from ONNX Runtime's qdq_loss_debug (edgexray_export.onnx_layer_errors),
which adds each node's SQNR against the float model and, for the worst nodes, its measured
contribution to the final error. rmse/scale is the layer's error in units of its quantization
step: about 0.29 is plain rounding noise; the TF guide suggests keeping layers above ~0.7 in float.
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
    #: The quantized model's value of this output against the float model's, in dB (ONNX only).
    sqnr_db: float | None = None
    #: Reduction of the final output's mean |dp| when only this layer is kept float (probed only).
    contribution: float | None = None

    @property
    def suspect(self) -> bool:
        return self.rmse_over_scale > SUSPECT_RMSE_OVER_SCALE


def layer_errors(rows: Iterable[Mapping[str, str]]) -> list[LayerError]:
    """LayerErrors from the debugger's layer_statistics_dump rows (CSV fields as strings)."""
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
            )
        )
    return errors


def _optional(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def format_layer_table(errors: list[LayerError]) -> str:
    """A plain-text table, worst marked with '*' (rmse/scale over the guide's 0.7). The SQNR and
    contribution columns appear when some row has them (the ONNX report)."""
    sqnr = any(e.sqnr_db is not None for e in errors)
    gain = any(e.contribution is not None for e in errors)
    extra = (("SQNR dB",) if sqnr else ()) + (("final gain",) if gain else ())
    rows = [("#", "layer", "op", "rmse", "rmse/scale", "max |err|", *extra, "")]
    for i, e in enumerate(errors):
        values = ((_optional(e.sqnr_db, ".1f"),) if sqnr else ()) + (
            (_optional(e.contribution, "+.2e"),) if gain else ()
        )
        rows.append(
            (
                str(i),
                e.layer,
                e.op_type,
                f"{e.rmse:.3e}",
                f"{e.rmse_over_scale:.3f}",
                f"{e.max_abs_error:.3e}",
                *values,
                "*" if e.suspect else "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.append(
        f"* rmse/scale > {SUSPECT_RMSE_OVER_SCALE}: more than rounding noise "
        "(about 0.29); a candidate to keep in float"
    )
    if gain:
        lines.append(
            "final gain: how much the final output's mean |dp| against float falls when only "
            "that layer is kept float (measured for the worst layers by rmse/scale)"
        )
    return "\n".join(lines) + "\n"


def write_layer_report(errors: list[LayerError], model_path: Path) -> tuple[Path, Path]:
    """MODEL.quantization-debug.json and .txt next to the model file; returns both paths."""
    stem = Path(model_path).with_suffix("")
    json_path = stem.with_name(stem.name + ".quantization-debug.json")
    text_path = stem.with_name(stem.name + ".quantization-debug.txt")
    data = {
        "model": Path(model_path).name,
        "suspect_rmse_over_scale": SUSPECT_RMSE_OVER_SCALE,
        "layers": [
            {**{k: v for k, v in asdict(e).items() if v is not None}, "suspect": e.suspect}
            for e in errors
        ],
    }
    write_text_atomically(json_path, json.dumps(data, indent=2) + "\n")
    write_text_atomically(text_path, format_layer_table(errors))
    return json_path, text_path
