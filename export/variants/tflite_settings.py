"""What a tflite-int8 candidate keeps in float, and the two float-fallback candidate lists.

- prefix: the input and the first 1/8, 2/8, ... 7/8 of the quantized layers in float;
- worst: the k layers whose float computation most lowers the final error (ranked by
  `edgexray_export.variants.layer_ranking`), k = 1, 2, 4, 8, ...;
- blocks: the k blocks of consecutive layers (1/8 of the layers each) whose float computation most
  lowers the final error, k = 1, 2, ... 7.

Both keep the output activation (sigmoid/softmax) in float and never keep every layer float: a file
named and carded int8 must hold int8 activations.
"""

from __future__ import annotations

from dataclasses import dataclass

# Ops of the classifier head: few weights, but an int8 error there flips decisions directly.
HEAD_OPS = ("FULLY_CONNECTED", "LOGISTIC", "SOFTMAX")
# The output activation: in int8, its output has 256 levels, so every probability would come in
# steps of 1/256 (0.99609375 for any sure case) even behind a float output. Kept in float, it turns
# the int8 logits into float probabilities; it has no weights and costs one op.
OUTPUT_OPS = ("LOGISTIC", "SOFTMAX")
# Float-prefix candidates keep the first 1/8, 2/8, ... 7/8 of the quantized layers in float.
PREFIX_STEPS = 8
FALLBACK_STRATEGIES = ("worst", "blocks", "prefix")


def short_layer_name(tensor_name: str) -> str:
    """A fused op's output tensor is named after every op folded into it; the first says which."""
    return tensor_name.split(";")[0]


@dataclass(frozen=True)
class Int8Setting:
    """What one full-integer candidate keeps in float.

    float_ops: op types kept float (the head or the output activation); float_layers: output tensor
    names of the quantized layers kept float; strategy: how they were chosen, "prefix" (the leading
    layers, in execution order), "worst" (the worst layers by contribution, worst first) or
    "blocks" (the layers of the worst `groups` blocks by contribution).
    """

    float_ops: tuple[str, ...] = ()
    float_layers: tuple[str, ...] = ()
    strategy: str = "prefix"
    groups: int = 0

    def describe(self, total_layers: int = 0) -> str:
        head = f", {', '.join(self.float_ops)} in float" if self.float_ops else ""
        if self.float_layers and self.strategy == "blocks":
            return (
                f"{len(self.float_layers)} of {total_layers} layers in float: the {self.groups} "
                f"block(s) of consecutive layers contributing most to the final error, int8 "
                f"elsewhere{head}"
            )
        if self.float_layers and self.strategy == "worst":
            names = ", ".join(short_layer_name(n) for n in self.float_layers[:3])
            more = ", ..." if len(self.float_layers) > 3 else ""
            return (
                f"the {len(self.float_layers)} of {total_layers} layers contributing most to "
                f"the final error in float ({names}{more}), int8 elsewhere{head}"
            )
        if self.float_layers:
            last = short_layer_name(self.float_layers[-1])
            return (
                f"float input and first {len(self.float_layers)} of {total_layers} layers "
                f"(through {last}), int8 after{head}"
            )
        if not self.float_ops:
            return "full int8"
        if set(self.float_ops) <= set(OUTPUT_OPS):
            return f"int8 up to the output activation ({', '.join(self.float_ops)} in float)"
        return f"int8, float ops: {', '.join(self.float_ops)}"


def prefix_settings(names: tuple[str, ...]) -> list[Int8Setting]:
    """Candidates keeping the first 1/8 ... 7/8 of the layers `names` in float (at least one)."""
    sizes = sorted({max(1, len(names) * k // PREFIX_STEPS) for k in range(1, PREFIX_STEPS)})
    # The output activation stays float too, as in the plain int8 setting: an int8 sigmoid or
    # softmax would put every probability on a 1/256 step.
    return [
        Int8Setting(float_ops=OUTPUT_OPS, float_layers=names[:n]) for n in sizes if n < len(names)
    ]


def worst_settings(
    groups: tuple[tuple[str, ...], ...],
    total_layers: int,
    strategy: str = "worst",
    every: bool = False,
) -> list[Int8Setting]:
    """Candidates keeping the layers of the first k `groups` (worst first) in float, k = 1, 2, 4,
    8, ... (every k with `every`) up to all groups, while fewer than `total_layers` layers."""
    sizes: list[int] = []
    k = 1
    while k <= len(groups):
        sizes.append(k)
        k = k + 1 if every else k * 2
    if groups and sizes[-1] < len(groups):
        sizes.append(len(groups))
    settings = []
    for n in sizes:
        layers = tuple(name for group in groups[:n] for name in group)
        if len(layers) >= total_layers:
            break
        settings.append(
            Int8Setting(float_ops=OUTPUT_OPS, float_layers=layers, strategy=strategy, groups=n)
        )
    return settings
