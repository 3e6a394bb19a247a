"""How to quantize: one frozen, self-validating configuration for the static int8 variants.

The TFLite converter exposes few knobs (per-channel weights and the representative data set); ONNX
Runtime exposes many. The config holds the ones worth choosing, refuses unknown options and values
(a typo must not silently fall back to a default), and survives a JSON round trip so the exact
settings used go into the model card.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from edgexray_export.errors import ExportError

CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
TFLITE_FALLBACKS = ("auto", "worst", "blocks", "prefix")


@dataclass(frozen=True)
class QuantizationConfig:
    """Static int8 quantization settings.

    calibration_method: how activation ranges are found (ONNX Runtime): minmax, entropy, percentile.
    percentile: the percentile of |activation| kept when calibration_method is percentile (0..100].
    per_channel: one weight scale per output channel instead of one per tensor.
    symmetric_activations: zero point 0 for activations (some accelerators want it).
    nodes_to_exclude: ONNX node names kept in float (the most sensitive layers).
    op_types_to_exclude: ONNX op types kept in float, e.g. ("Softmax",).
    max_calibration_images: upper bound on images used for calibration (None: all given).
    tflite_max_mean_abs_diff: error budget for the TFLite full-int8 variant, as mean |dp| against
        Keras on the calibration images (probabilities, 0..1). When no int8 setting stays within it,
        the exporter keeps the input and the fewest leading layers in float that do (None: off; the
        ONNX variants ignore it).
    tflite_max_abs_diff: a second budget for tflite-int8, on the largest |dp| over the calibration
        images; the fallback runs when either budget is missed and stops when both are met.
    tflite_fallback: which layers the TFLite ladder keeps in float when the budget is missed:
        "worst" (the layers whose float computation most reduces the final error, ranked with TF's
        quantization debugger), "blocks" (the same for 8 blocks of consecutive layers), "prefix"
        (the input and the leading layers) or "auto" (all three, keeping the file within budget
        with the fewest float layers).
    target: the --target preset applied (edgexray_export.targets); `generic` by default (correct
        on every CPU), None when the settings were given one by one.
    onnx_activation_type: "int8" (S8S8) or "uint8" (U8S8) activations for onnx-int8.
    onnx_reduce_range: 7-bit weights for onnx-int8 (x86 without VNNI can saturate otherwise).
    onnx_max_mean_abs_diff: error budget for onnx-int8, as mean |dp| against Keras on the
        calibration images (0..1). When set, the ONNX ladder stops at the first setting within it
        (instead of at the quality target), keeping the worst nodes of the layer report float
        when no calibration method is within it (None: off).
    onnx_max_abs_diff: a second onnx-int8 budget, on the largest |dp| over the calibration images;
        with both set, a setting must meet both.
    """

    calibration_method: str = "minmax"
    percentile: float = 99.999
    per_channel: bool = True
    symmetric_activations: bool = False
    nodes_to_exclude: tuple[str, ...] = ()
    op_types_to_exclude: tuple[str, ...] = ()
    max_calibration_images: int | None = None
    tflite_max_mean_abs_diff: float | None = None
    tflite_max_abs_diff: float | None = None
    tflite_fallback: str = "auto"
    # The `generic` preset's settings (edgexray_export.targets): an export cannot know the device's
    # CPU, and full-range weights saturate ONNX Runtime's u8 x s8 kernels on x86 without VNNI (the
    # seed CNN's features moved 11-20% on an AVX2-only EPYC; 1.2% with 7-bit weights).
    target: str | None = "generic"
    onnx_activation_type: str = "uint8"
    onnx_reduce_range: bool = True
    onnx_max_mean_abs_diff: float | None = None
    onnx_max_abs_diff: float | None = None

    def __post_init__(self) -> None:
        if self.calibration_method not in CALIBRATION_METHODS:
            raise ExportError(
                f"unknown calibration method {self.calibration_method!r}; "
                f"expected one of {', '.join(CALIBRATION_METHODS)}"
            )
        if not 0.0 < self.percentile <= 100.0:
            raise ExportError(f"percentile must be in (0, 100], got {self.percentile}")
        if self.max_calibration_images is not None and self.max_calibration_images < 1:
            raise ExportError("max_calibration_images must be at least 1")
        budget = self.tflite_max_mean_abs_diff
        if budget is not None and not 0.0 < budget <= 1.0:
            raise ExportError(f"tflite_max_mean_abs_diff must be in (0, 1], got {budget}")
        peak = self.tflite_max_abs_diff
        if peak is not None and not 0.0 < peak <= 1.0:
            raise ExportError(f"tflite_max_abs_diff must be in (0, 1], got {peak}")
        for name in ("onnx_max_mean_abs_diff", "onnx_max_abs_diff"):
            onnx_budget = getattr(self, name)
            if onnx_budget is not None and not 0.0 < onnx_budget <= 1.0:
                raise ExportError(f"{name} must be in (0, 1], got {onnx_budget}")
        if self.tflite_fallback not in TFLITE_FALLBACKS:
            raise ExportError(
                f"unknown tflite_fallback {self.tflite_fallback!r}; "
                f"expected one of {', '.join(TFLITE_FALLBACKS)}"
            )
        if self.onnx_activation_type not in ("int8", "uint8"):
            raise ExportError(
                f"onnx_activation_type must be int8 or uint8, got {self.onnx_activation_type!r}"
            )
        if self.target is not None:
            from edgexray_export.targets import target_preset

            target_preset(self.target)  # ExportError naming the known targets
        object.__setattr__(self, "nodes_to_exclude", tuple(self.nodes_to_exclude))
        object.__setattr__(self, "op_types_to_exclude", tuple(self.op_types_to_exclude))

    def replace(self, **changes: Any) -> QuantizationConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["nodes_to_exclude"] = list(self.nodes_to_exclude)
        data["op_types_to_exclude"] = list(self.op_types_to_exclude)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuantizationConfig:
        """Build from JSON-like data; an unknown option is an ExportError, never ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ExportError(
                f"unknown quantization option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**data)

    def describe(self) -> str:
        """One line for progress output and the card, e.g. 'per-channel, percentile 99.999'."""
        parts = ["per-channel" if self.per_channel else "per-tensor"]
        method = self.calibration_method
        parts.append(f"percentile {self.percentile:g}" if method == "percentile" else method)
        if self.op_types_to_exclude:
            parts.append(f"float ops: {', '.join(self.op_types_to_exclude)}")
        if self.nodes_to_exclude:
            parts.append(f"{len(self.nodes_to_exclude)} node(s) kept float")
        return ", ".join(parts)
