"""What one engine call returns: the prediction and, for models exported with it, the pooled
features of the layer before the classifier head (the model check's input, edgexray.modelcheck).

Exported graphs name their outputs; engines find them by these names, never by position (LiteRT
lists a model's outputs in an order of its own, which is not the signature's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: The prediction output's name in graphs exported by edgexray (probabilities or logits).
PREDICTION_OUTPUT = "output"
#: The pooled-features output's name (the classifier head's rank-2 input).
FEATURES_OUTPUT = "pooled_features"


@dataclass(frozen=True)
class EngineOutputs:
    """prediction: float32 (N, units); features: float32 (N, D), or None for a model without a
    features output. Both come from the same call of the runtime."""

    prediction: np.ndarray
    features: np.ndarray | None = None

    @classmethod
    def concatenate(cls, parts: Sequence[EngineOutputs]) -> EngineOutputs:
        """The outputs of several calls, in order, as one."""
        features = [p.features for p in parts]
        return cls(
            np.concatenate([p.prediction for p in parts]),
            None if any(f is None for f in features) else np.concatenate(features),  # type: ignore[arg-type]
        )


def output_positions(names: Sequence[str]) -> tuple[int, int | None]:
    """(prediction, features) positions among a model's output `names`: by name when the model
    has them; otherwise the prediction is the first output and there are no features."""
    features = names.index(FEATURES_OUTPUT) if FEATURES_OUTPUT in names else None
    if PREDICTION_OUTPUT in names:
        return names.index(PREDICTION_OUTPUT), features
    others = [i for i in range(len(names)) if i != features]
    return (others[0] if others else 0), features
