"""Scoring pooled features against the card's summary (numpy only; runs on the device)."""

from __future__ import annotations

import numpy as np

from edgexray.inputcheck.result import Finding
from edgexray.modelcheck.summary import ModelCheckSummary

MODEL_CHECK_REASON = "unlike the images this model was calibrated on"


def whiten(summary: ModelCheckSummary, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(z, r): features (N, D) -> whitened PCA coordinates (N, k), and the residual outside the k
    components as one coordinate (N,): its length over the residual standard deviation, so that
    |z|^2 + r^2 is the squared Mahalanobis distance under the shrunk (probabilistic PCA) model."""
    d = summary.decoded
    centred = np.asarray(features, dtype=np.float64).reshape(len(features), -1) - d.mean
    coordinates = centred @ d.projection
    z = coordinates / d.scales
    if summary.components == summary.feature_dim or summary.residual_scale == 0:
        return z, np.zeros(len(z))
    residual = centred - coordinates @ d.projection.T
    return z, np.linalg.norm(residual, axis=1) / summary.residual_scale


def signed_sqrt(features: np.ndarray) -> np.ndarray:
    """sign(x) * sqrt(|x|) of features (N, D) as float64: pooled activations are heavy-tailed (a
    few channels fire strongly on anything), and the root lets the many moderate ones count."""
    x = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
    return np.sign(x) * np.sqrt(np.abs(x))


def cosine_scores(centre: np.ndarray, features: np.ndarray) -> np.ndarray:
    """1 - the cosine between each row of signed_sqrt(features) (N, D) and `centre` (D,): 0 for
    features in the centre's direction, 1 for orthogonal ones (and for all-zero features)."""
    x = signed_sqrt(features)
    norms = np.linalg.norm(x, axis=1) * float(np.linalg.norm(centre))
    cosine = np.divide(x @ centre, norms, out=np.zeros(len(x)), where=norms > 0)
    return 1.0 - cosine


def score_features(
    summary: ModelCheckSummary, features: np.ndarray, method: str | None = None
) -> np.ndarray:
    """Scores (N,) of features (N, D) by `method` (default the summary's); larger is stranger.

    mahalanobis: sqrt((|z|^2 + r^2) / D), the Mahalanobis distance per dimension, about 1 for a
    typical calibration image. knn: the distance in the same (z, r) space to the k-th nearest
    stored calibration image, divided by sqrt(D). cosine: cosine_scores against the summary's
    centre (needs no PCA; the method for few calibration images).
    """
    method = method or summary.method
    if method == "cosine":
        centre = summary.decoded.centre
        if centre is None:
            raise ValueError("the summary has no centre for the cosine method")
        return cosine_scores(centre, features)
    z, r = whiten(summary, features)
    scale = np.sqrt(summary.feature_dim)
    if method == "mahalanobis":
        return np.sqrt(np.sum(z**2, axis=1) + r**2) / scale
    if method == "knn":
        anchors = summary.decoded.neighbours
        points = np.concatenate([z, r[:, None]], axis=1)
        distances = np.sqrt(((points[:, None, :] - anchors[None, :, :]) ** 2).sum(axis=2))
        nearest = np.sort(distances, axis=1)[:, summary.k_neighbours - 1]
        return nearest / scale
    raise ValueError(f"unknown model check method {method!r}")


def model_check_finding(
    summary: ModelCheckSummary,
    score: float,
    check: str = "model",
    reason: str = MODEL_CHECK_REASON,
) -> Finding | None:
    """The finding (`check`, `reason`) for one image's score against `summary`'s threshold, or
    None when it passes. The model check's by default; the appearance check passes its own."""
    if not np.isfinite(score) or score > summary.threshold:
        return Finding(check, reason, float(score), round(summary.threshold, 4))
    return None
