"""The model check's summary of the calibration features, as the card carries it (schema 2; the
appearance check's summary of the calibration images' coarse layouts has the same form, schema 3).

The features (D values per image, 64 to 1280 for the shipped models) are reduced by PCA to
`components` dimensions for the k-NN and Mahalanobis scores; the cosine score (the export default
since issue 24) reads only `centre`, their mean direction. Arrays travel as base64 of
little-endian float32 or float16, so a 1280-d model's summary is tens of KB instead of a 6.5 MB
covariance.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, get_args

import numpy as np

from edgexray.errors import CardError

Method = Literal["mahalanobis", "knn", "cosine"]
METHODS: tuple[str, ...] = get_args(Method)
_DTYPES = ("float32", "float16")


def encode_array(values: np.ndarray, dtype: str = "float32") -> dict[str, Any]:
    """{dtype, shape, data}: `values` as base64 of little-endian `dtype` (float32 or float16)."""
    array = np.ascontiguousarray(values, dtype=np.dtype(dtype).newbyteorder("<"))
    return {
        "dtype": dtype,
        "shape": list(array.shape),
        "data": base64.b64encode(array.tobytes()).decode("ascii"),
    }


def decode_array(encoded: dict[str, Any]) -> np.ndarray:
    """The float32 array of an `encode_array` dict; CardError when it is malformed."""
    try:
        dtype = encoded["dtype"]
        shape = tuple(int(n) for n in encoded["shape"])
        if dtype not in _DTYPES:
            raise ValueError(f"dtype {dtype!r}")
        raw = base64.b64decode(encoded["data"], validate=True)
        array = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
    except (KeyError, TypeError, ValueError) as exc:
        raise CardError(f"invalid model card: model_check array ({exc})") from None
    return array.astype(np.float32)


@dataclass(frozen=True)
class DecodedArrays:
    """A summary's arrays as float64 numpy arrays, decoded once per summary."""

    mean: np.ndarray
    projection: np.ndarray
    scales: np.ndarray
    neighbours: np.ndarray
    centre: np.ndarray | None


@dataclass(frozen=True)
class ModelCheckSummary:
    """How the variant's pooled features are distributed over the calibration images.

    method: the score the device applies (`mahalanobis`, `knn` or `cosine`); thresholds: the
    threshold of each method, from held-out calibration images (scores above it are rejected);
    quantile: the share of those images kept below it. feature_dim: D; components: k, the PCA dimensions kept.
    mean (D,), projection (D, k): the PCA; scales (k,): standard deviation along each component
    after shrinkage (OAS); residual_scale: the per-dimension standard deviation left outside the
    k components (0 when k = D). neighbours (n, k + 1): whitened calibration features and their
    residual (see score.whiten), for the k-NN score; k_neighbours: which neighbour's distance is
    the score. fit_images / threshold_images: calibration images the summary was fitted on and
    the threshold set on (disjoint halves; for `cosine` the same images, each left out in turn,
    and quantile 1: the largest of their scores).
    shrinkage: the OAS coefficient (0..1). centre (D,): for `cosine`, the mean of the calibration
    features' signed square roots (score.cosine_scores); None for the other methods, and then not
    written, so cards sealed before it existed keep their digest.
    """

    method: Method
    thresholds: dict[str, float]
    quantile: float
    feature_dim: int
    components: int
    mean: dict[str, Any]
    projection: dict[str, Any]
    scales: dict[str, Any]
    residual_scale: float
    neighbours: dict[str, Any]
    k_neighbours: int
    fit_images: int
    threshold_images: int
    shrinkage: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)
    centre: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        def require(ok: bool, message: str) -> None:
            if not ok:
                raise CardError(f"invalid model card: model_check {message}")

        require(self.method in METHODS, f"method is {self.method!r}; expected {METHODS}")
        require(
            isinstance(self.thresholds, dict) and self.method in self.thresholds,
            f"thresholds must include {self.method}",
        )
        require(
            all(isinstance(t, (int, float)) and math.isfinite(t) for t in self.thresholds.values()),
            "thresholds must be finite numbers",
        )
        require(0.0 < self.quantile <= 1.0, "quantile must be in (0, 1]")
        require(0 < self.components <= self.feature_dim, "components must be in 1..feature_dim")
        require(self.k_neighbours >= 1, "k_neighbours must be at least 1")
        require(self.residual_scale >= 0, "residual_scale must not be negative")
        shapes = {
            "mean": (self.feature_dim,),
            "projection": (self.feature_dim, self.components),
            "scales": (self.components,),
        }
        for name, shape in shapes.items():
            require(
                tuple(getattr(self, name).get("shape", ())) == shape,
                f"{name} must have shape {shape}",
            )
        require(
            (self.centre is not None) == (self.method == "cosine"),
            "centre is given for the cosine method, and only for it",
        )
        if self.centre is not None:
            require(
                tuple(self.centre.get("shape", ())) == (self.feature_dim,),
                f"centre must have shape ({self.feature_dim},)",
            )
        neighbours = tuple(self.neighbours.get("shape", ()))
        require(
            len(neighbours) == 2
            and neighbours[1] == self.components + 1
            and neighbours[0] >= self.k_neighbours,
            f"neighbours must be (n >= {self.k_neighbours}, {self.components + 1})",
        )

    @cached_property
    def decoded(self) -> DecodedArrays:
        """The arrays, decoded on first use and kept (a device scores every image against them)."""

        def decoded(array: dict[str, Any]) -> np.ndarray:
            return decode_array(array).astype(np.float64)

        return DecodedArrays(
            mean=decoded(self.mean),
            projection=decoded(self.projection),
            scales=decoded(self.scales),
            neighbours=decoded(self.neighbours),
            centre=None if self.centre is None else decoded(self.centre),
        )

    @property
    def threshold(self) -> float:
        """The threshold of the method the device applies."""
        return float(self.thresholds[self.method])

    def describe(self, what: str = "pooled features") -> str:
        """One line for `info`: method, dimensions (of `what`) and threshold."""
        weak = self.notes.get("weak")
        if self.method == "cosine":
            return (
                f"cosine, {self.feature_dim}-d {what} against their calibration mean, threshold "
                f"{self.threshold:.4g} (the largest of {self.threshold_images} calibration images' "
                f"leave-one-out scores, times the margin)" + (f"; WEAK: {weak}" if weak else "")
            )
        return (
            f"{self.method}, {self.feature_dim}-d {what} reduced to {self.components} "
            f"(PCA), threshold {self.threshold:.4g} (quantile {self.quantile:g} of "
            f"{self.threshold_images} held-out calibration images; fitted on {self.fit_images})"
            + (f"; WEAK: {weak}" if weak else "")
        )
