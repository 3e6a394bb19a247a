"""Class evidence maps: an explanation in one inference, for models whose head allows it.

A model whose head is global average pooling into one Dense layer (most transfer models: the
fine-tuned Lite0 shipped in models/finetune) is exported with one more output (export's
class_evidence.py): for each cell (i, j) of the last feature map, its share c[i, j] of each logit,
exactly; the shares sum to the logits less the head's bias. Class activation mapping (Zhou et al.
2016), computed inside the exported graph, so every engine and every variant (int8 included) gives
it from the call that gives the prediction.

The map of a label is each cell's share of that label's log-odds against the others, e[i, j], in
log-odds units: positive where the region speaks for the label, negative where it speaks against.

- Binary model (one sigmoid unit, P(labels[1])): e = c for labels[1], -c for labels[0].
- Softmax over K labels: the log-odds of label k, z_k - log sum_{m != k} exp(z_m), changes by
  e = c_k - sum_{m != k} q_m c_m for a small change c of the logits, with q the other labels'
  probabilities renormalized among themselves (its gradient, taken at the decision's own
  probabilities: a cell's share is a small part of the logits). When the decision is so sure that
  the others' probabilities are all 0, they weigh equally.

The map is bilinearly resized from the cells to the model input (cell centres to pixel centres), as
Grad-CAM's is. Its units are log-odds, not a change of probability, so any positive peak is
localized evidence (floor 0, as for Grad-CAM): a cell that raises the label's log-odds at all is
evidence for it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

#: The method's name in records.
METHOD = "class-evidence"


def label_shares(evidence: np.ndarray, probabilities: np.ndarray, binary: bool) -> np.ndarray:
    """(h, w, units) logit shares of one image and its (labels,) probabilities -> (h, w, labels):
    each cell's share of each label's log-odds (see the module's docstring)."""
    evidence = np.asarray(evidence, dtype=np.float64)
    if binary:
        return np.concatenate([-evidence[..., :1], evidence[..., :1]], axis=-1)
    p = np.asarray(probabilities, dtype=np.float64)
    labels = p.shape[0]
    if evidence.shape[-1] != labels:
        raise ValueError(f"class evidence has {evidence.shape[-1]} units for {labels} labels")
    shares = np.empty_like(evidence)
    for k in range(labels):
        others = np.delete(np.arange(labels), k)
        weights = p[others]
        total = weights.sum()
        weights = weights / total if total > 0 else np.full(len(others), 1.0 / len(others))
        shares[..., k] = evidence[..., k] - evidence[..., others] @ weights
    return shares


def upsample(cells: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h, w) -> float32 (height, width), bilinear from cell centres."""
    image = Image.fromarray(np.ascontiguousarray(cells, dtype=np.float32))
    return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)


def heatmaps(
    evidence: np.ndarray, probabilities: np.ndarray, binary: bool, height: int, width: int
) -> np.ndarray:
    """One image's class evidence (h, w, units) and its probabilities (labels,) -> float32
    (height, width, labels): each label's map at the model input's size."""
    shares = label_shares(evidence, probabilities, binary)
    return np.stack(
        [upsample(shares[..., k], height, width) for k in range(shares.shape[-1])], axis=-1
    )
