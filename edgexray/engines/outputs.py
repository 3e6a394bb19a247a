"""What one engine call returns: the prediction and, for models exported with them, the pooled
features of the layer before the classifier head (the model check's input, edgexray.modelcheck)
and the class evidence map (each feature-map cell's share of each logit: edgexray.explain).

Exported graphs name their outputs; engines find them by these names, never by position (LiteRT
lists a model's outputs in an order of its own, which is not the signature's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

#: The prediction output's name in graphs exported by edgexray (probabilities or logits).
PREDICTION_OUTPUT = "output"
#: The pooled-features output's name (the classifier head's rank-2 input).
FEATURES_OUTPUT = "pooled_features"
#: The class evidence output's name: (N, h, w, units), each cell's share of each logit.
EVIDENCE_OUTPUT = "class_evidence"


@dataclass(frozen=True)
class EngineOutputs:
    """prediction: float32 (N, units); features: float32 (N, D), or None for a model without a
    features output; evidence: float32 (N, h, w, units), or None for a model without a class
    evidence output. All come from the same call of the runtime."""

    prediction: np.ndarray
    features: np.ndarray | None = None
    evidence: np.ndarray | None = None

    @classmethod
    def concatenate(cls, parts: Sequence[EngineOutputs]) -> EngineOutputs:
        """The outputs of several calls, in order, as one."""

        def joined(arrays: list[np.ndarray | None]) -> np.ndarray | None:
            present = [a for a in arrays if a is not None]
            return np.concatenate(present) if present and len(present) == len(arrays) else None

        return cls(
            np.concatenate([p.prediction for p in parts]),
            joined([p.features for p in parts]),
            joined([p.evidence for p in parts]),
        )


class OutputPositions(NamedTuple):
    """Where each output is among a model's outputs: the prediction always; the features and the
    class evidence when the model has them (None otherwise)."""

    prediction: int
    features: int | None
    evidence: int | None


def output_positions(names: Sequence[str]) -> OutputPositions:
    """The outputs' positions among a model's output `names`: by name when the model has them;
    otherwise the prediction is the first output and there is nothing else."""
    features = names.index(FEATURES_OUTPUT) if FEATURES_OUTPUT in names else None
    evidence = names.index(EVIDENCE_OUTPUT) if EVIDENCE_OUTPUT in names else None
    if PREDICTION_OUTPUT in names:
        return OutputPositions(names.index(PREDICTION_OUTPUT), features, evidence)
    others = [i for i in range(len(names)) if i not in (features, evidence)]
    return OutputPositions(others[0] if others else 0, features, evidence)
