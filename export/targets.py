"""`--target`: quantization presets per CPU family, in one table.

Each preset holds the settings measured or documented as fastest without losing accuracy on that
family; `apply_target` copies them into a QuantizationConfig (which records the target's name, so the
card says what was chosen). The measurements and sources behind every row are in
docs/export.md ("Hardware presets").

- generic: what runs correctly everywhere. ONNX activations uint8 with weights int8 (U8S8), with
  reduce_range (7-bit weights) because x86 CPUs without VNNI multiply u8 x s8 with VPMADDUBSW, whose
  16-bit sums can saturate; per-channel weights. TFLite: int8 per-channel (XNNPACK or the reference
  kernels).
- x86-vnni: AVX512-VNNI / AVX-VNNI CPUs (VPDPBUSD sums into 32 bits: no saturation), so ONNX keeps
  the full 8-bit weight range; uint8 activations (VNNI's native u8 x s8 form).
- arm64: Cortex-A CPUs (Raspberry Pi 4/5, Jetson). ONNX activations int8 (S8S8: the arm64 kernels
  use signed dot products, SDOT, where available); TFLite int8 per-channel with XNNPACK.

The ONNX knobs (onnx_activation_type, onnx_reduce_range) are read by the onnx-int8 exporter; TFLite
takes per_channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from edgexray_export.errors import ExportError
from edgexray_export.quantization import QuantizationConfig

ACTIVATION_TYPES = ("int8", "uint8")


@dataclass(frozen=True)
class TargetPreset:
    """The quantization settings for one CPU family.

    per_channel: one weight scale per output channel (both converters).
    onnx_activation_type: "uint8" (U8S8) or "int8" (S8S8) activations in onnx-int8.
    onnx_reduce_range: 7-bit weights in onnx-int8, against VPMADDUBSW saturation on x86 without VNNI.
    tflite_engine: what runs tflite-int8 there (for the card and the docs).
    reason: one line saying why, for the card.
    """

    name: str
    per_channel: bool
    onnx_activation_type: str
    onnx_reduce_range: bool
    tflite_engine: str
    reason: str

    def __post_init__(self) -> None:
        if self.onnx_activation_type not in ACTIVATION_TYPES:
            raise ExportError(
                f"target {self.name}: activation type {self.onnx_activation_type!r} is not one "
                f"of {', '.join(ACTIVATION_TYPES)}"
            )


PRESETS: Mapping[str, TargetPreset] = MappingProxyType(
    {
        preset.name: preset
        for preset in (
            TargetPreset(
                name="generic",
                per_channel=True,
                onnx_activation_type="uint8",
                onnx_reduce_range=True,
                tflite_engine="LiteRT (XNNPACK where built in)",
                reason="safe on every CPU: U8S8 with 7-bit weights cannot saturate x86 VPMADDUBSW",
            ),
            TargetPreset(
                name="x86-vnni",
                per_channel=True,
                onnx_activation_type="uint8",
                onnx_reduce_range=False,
                tflite_engine="LiteRT with XNNPACK",
                reason="VNNI sums u8 x s8 into 32 bits: full 8-bit weights, U8S8 is its "
                "native form",
            ),
            TargetPreset(
                name="arm64",
                per_channel=True,
                onnx_activation_type="int8",
                onnx_reduce_range=False,
                tflite_engine="LiteRT with XNNPACK",
                reason="arm64 int8 kernels (SDOT) take signed activations: S8S8, full range",
            ),
        )
    }
)
TARGETS = tuple(PRESETS)


def target_preset(name: str) -> TargetPreset:
    """The preset called `name`; ExportError naming the known targets otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ExportError(f"unknown target {name!r}; choose from {', '.join(TARGETS)}") from None


def apply_target(config: QuantizationConfig, name: str) -> QuantizationConfig:
    """`config` with the preset's settings and `target` set to its name."""
    preset = target_preset(name)
    return config.replace(
        target=preset.name,
        per_channel=preset.per_channel,
        onnx_activation_type=preset.onnx_activation_type,
        onnx_reduce_range=preset.onnx_reduce_range,
    )
