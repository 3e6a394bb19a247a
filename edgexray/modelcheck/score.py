"""Scoring pooled features against the card's summary (numpy only; runs on the device)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgexray.inputcheck.result import Finding
from edgexray.modelcheck.summary import ModelCheckSummary, decode_array

MODEL_CHECK_REASON = "unlike the images this model was calibrated on"


@dataclass(frozen=True)
class _Decoded:
    mean: np.ndarray
    projection: np.ndarray
    scales: np.ndarray
    neighbours: np.ndarray


def _decoded(summary: ModelCheckSummary) -> _Decoded:
    return _Decoded(
        decode_array(summary.mean),
        decode_array(summary.projection),
        decode_array(summary.scales),
        decode_array(summary.neighbours),
    )


def whiten(summary: ModelCheckSummary, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(z, r): features (N, D) -> whitened PCA coordinates (N, k) and the residual outside the
    k components, in units of its per-dimension standard deviation (N,), root-mean-square."""
    d = _decoded(summary)
    centred = np.asarray(features, dtype=np.float64).reshape(len(features), -1) - d.mean
    coordinates = centred @ d.projection
    z = coordinates / d.scales
    if summary.components == summary.feature_dim or summary.residual_scale == 0:
        return z, np.zeros(len(z))
    residual = centred - coordinates @ d.projection.T
    rms = np.sqrt(np.mean(residual**2, axis=1))
    return z, rms / summary.residual_scale


def score_features(
    summary: ModelCheckSummary, features: np.ndarray, method: str | None = None
) -> np.ndarray:
    """Scores (N,) of features (N, D) by `method` (default the summary's); larger is stranger.

    mahalanobis: root-mean-square whitened coordinate over the k components and the residual,
    sqrt((|z|^2 + r^2) / (k + 1)), about 1 for a typical calibration image. knn: the distance, in
    the same whitened space (z and r), to the k-th nearest stored calibration image, divided by sqrt(k + 1).
    """
    method = method or summary.method
    z, r = whiten(summary, features)
    k = summary.components + 1
    if method == "mahalanobis":
        return np.sqrt((np.sum(z**2, axis=1) + r**2) / k)
    if method == "knn":
        anchors = _decoded(summary).neighbours.astype(np.float64)
        points = np.concatenate([z, r[:, None]], axis=1)
        distances = np.sqrt(((points[:, None, :] - anchors[None, :, :]) ** 2).sum(axis=2))
        nearest = np.sort(distances, axis=1)[:, summary.k_neighbours - 1]
        return nearest / np.sqrt(k)
    raise ValueError(f"unknown model check method {method!r}")


def model_check_finding(summary: ModelCheckSummary, score: float) -> Finding | None:
    """The model check's finding for one image's score, or None when it passes."""
    if not np.isfinite(score) or score > summary.threshold:
        return Finding("model", MODEL_CHECK_REASON, float(score), round(summary.threshold, 4))
    return None
