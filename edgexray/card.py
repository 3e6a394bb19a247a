"""The model card: everything needed to use an exported model correctly, carried inside the model file.

A card is a frozen, versioned dataclass. It validates itself on construction, so a card that exists is
a card that can be trusted to describe a usable model; `from_dict` refuses unknown keys and unknown
schema versions instead of guessing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

from edgexray.errors import CardError, DamagedCardError
from edgexray.modelcheck.appearance import GRID
from edgexray.modelcheck.orientation import OrientationSummary
from edgexray.modelcheck.summary import ModelCheckSummary

# 2: the optional `model_check` (pooled-feature summary and threshold). Version-1 cards still load,
# without a model check (SUPPORTED_SCHEMA_VERSIONS); their digest is unchanged.
# 3: the optional `appearance_check` (summary of the calibration images' coarse layout). Version-2
# cards still load, without it, and keep their digest.
# 4: the optional `orientation_check` (is the input inverted or upside down, relative to the
# calibration images' layout). Version-3 cards still load, without it, and keep their digest.
SCHEMA_VERSION = 4
SUPPORTED_SCHEMA_VERSIONS = (1, 2, 3, 4)

Task = Literal["binary", "multiclass"]
ColorMode = Literal["grayscale", "rgb"]
Normalize = Literal["unit", "symmetric", "imagenet", "caffe", "raw"]
Interpolation = Literal["nearest", "bilinear", "bicubic", "area"]
OutputKind = Literal["probabilities", "logits"]

TASKS: tuple[str, ...] = get_args(Task)
COLOR_MODES: tuple[str, ...] = get_args(ColorMode)
NORMALIZATIONS: tuple[str, ...] = get_args(Normalize)
INTERPOLATIONS: tuple[str, ...] = get_args(Interpolation)
OUTPUT_KINDS: tuple[str, ...] = get_args(OutputKind)

_SUPPORTED = " and ".join(map(str, SUPPORTED_SCHEMA_VERSIONS))

CHANNELS_BY_COLOR_MODE = {"grayscale": 1, "rgb": 3}
DEFAULT_DISCLAIMER = "Not validated for clinical use."


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise CardError(f"invalid model card: {message}")


def choice_problem(name: str, value: object, allowed: tuple[str, ...]) -> str | None:
    """What is wrong with `value` for the field `name`, or None when it is one of `allowed`."""
    if value in allowed:
        return None
    return f"{name} is {value!r}; expected one of {', '.join(allowed)}"


def labels_problem(labels: tuple[str, ...]) -> str | None:
    """What is wrong with a label list, or None: two or more distinct, non-empty names."""
    if len(labels) < 2:
        return "at least two labels are needed"
    if not all(isinstance(x, str) and x for x in labels):
        return "labels must be non-empty text"
    if len(set(labels)) != len(labels):
        return f"labels repeat: {list(labels)}"
    return None


def threshold_problem(threshold: object) -> str | None:
    """What is wrong with a decision threshold, or None: a finite number strictly in (0, 1)."""
    if isinstance(threshold, (int, float)) and math.isfinite(threshold) and 0.0 < threshold < 1.0:
        return None
    return f"threshold must be between 0 and 1 (exclusive), got {threshold}"


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    problem = choice_problem(name, value, allowed)
    _require(problem is None, problem or "")


PARITY_FIELDS_OMITTED_WHEN_NONE = (
    "explanation_rank_correlation",
    "explanation_top_overlap",
    "explanation_images",
    "metric",
    "metric_max_drop",
    "metric_drop_mode",
    "metric_reference",
    "metric_variant",
    "metric_passed",
    "decisions_changed",
    "reference_threshold",
    "feature_cosine_mean",
    "feature_cosine_min",
    "feature_relative_error",
)


@dataclass(frozen=True)
class Parity:
    """How closely a variant matches the full Keras model, measured at export on held-out images.

    agreement: fraction of images with the same top-1 label (0..1).
    max_abs_diff / mean_abs_diff: absolute difference of per-class probabilities.
    accuracy / reference_accuracy: the variant's and the Keras model's accuracy when labels were known.
    degraded: True when the variant failed the gate and was kept with --allow-degraded.
    explanation_rank_correlation / explanation_top_overlap: explanation parity, the variant's
    occlusion maps against the Keras model's on `explanation_images` held-out images (Spearman
    -1..1, share of the top 10% pixels in common 0..1); None when not measured.
    metric / metric_max_drop / metric_drop_mode: the user's metric gate (`export --max-drop`):
    accuracy, sensitivity, specificity, f1 or auroc, the drop allowed, absolute or relative;
    metric_reference / metric_variant: that metric for the Keras model and the variant on the
    labelled parity images; metric_passed: the verdict. None when no gate was asked for.
    decisions_changed: binary models, parity images decided differently from the Keras model at
    the Keras model's threshold. reference_threshold: set when the variant's threshold was retuned
    (`export --retune-threshold`): the Keras model's threshold, the card's `threshold` being the
    variant's own.
    feature_cosine_mean / feature_cosine_min: cosine similarity of the variant's pooled features
    (the model check's input) with the Keras model's on the parity images; feature_relative_error:
    mean |f_variant - f_keras| / |f_keras|. None for a model without pooled features.
    """

    agreement: float
    max_abs_diff: float
    mean_abs_diff: float
    images: int
    accuracy: float | None = None
    reference_accuracy: float | None = None
    min_agreement: float | None = None
    degraded: bool = False
    explanation_rank_correlation: float | None = None
    explanation_top_overlap: float | None = None
    explanation_images: int | None = None
    metric: str | None = None
    metric_max_drop: float | None = None
    metric_drop_mode: str | None = None
    metric_reference: float | None = None
    metric_variant: float | None = None
    metric_passed: bool | None = None
    decisions_changed: int | None = None
    reference_threshold: float | None = None
    feature_cosine_mean: float | None = None
    feature_cosine_min: float | None = None
    feature_relative_error: float | None = None

    def __post_init__(self) -> None:
        correlation = self.explanation_rank_correlation
        _require(
            correlation is None or -1.0 <= correlation <= 1.0,
            f"parity explanation_rank_correlation must be in [-1, 1], got {correlation}",
        )
        for name in (
            "agreement",
            "accuracy",
            "reference_accuracy",
            "min_agreement",
            "explanation_top_overlap",
            "metric_reference",
            "metric_variant",
        ):
            value = getattr(self, name)
            _require(
                value is None or 0.0 <= value <= 1.0,
                f"parity {name} must be in [0, 1], got {value}",
            )
        _require(self.images >= 0, "parity images must not be negative")
        _require(
            self.max_abs_diff >= 0 and self.mean_abs_diff >= 0, "parity differences must be >= 0"
        )


#: The card's fields that are objects of their own, and their types.
_SECTIONS: dict[str, Callable[..., object]] = {
    "parity": Parity,
    "model_check": ModelCheckSummary,
    "appearance_check": ModelCheckSummary,
    "orientation_check": OrientationSummary,
}


def _section(kind: Callable[..., object], data: Any, name: str) -> object:
    """The card field `name` as a `kind`; CardError, naming the field, when it is not that."""
    if not isinstance(data, dict):
        raise CardError(f"invalid model card: {name} must be an object")
    try:
        return kind(**data)
    except TypeError as exc:
        raise CardError(f"invalid model card: {name} ({exc})") from None


@dataclass(frozen=True)
class ModelCard:
    """What an exported model needs to be used correctly.

    labels: class names in output order. For a binary model (one sigmoid output) labels[1] is the
    positive class, the one the output's probability refers to.
    input_height/width/channels: the model's input size in pixels; channels 1 (grayscale) or 3 (RGB).
    normalize: pixel scaling the model was trained with; `unit` x/255, `symmetric` x/127.5-1,
    `imagenet` (x/255-mean)/std, `caffe` BGR minus the ImageNet mean (keras ResNet50/VGG),
    `raw` 0..255 as float (models with their own Rescaling layer, e.g. keras EfficientNet).
    interpolation: the resize filter used in training (see docs/export.md, "Matching the training pipeline").
    threshold: decision threshold on the positive-class probability of a binary model.
    payload_sha256/payload_size: hash and size of the model bytes without the card, set when the card
    is embedded, so a corrupted or swapped model file is detected on load.
    views: the DICOM View Positions the model was trained on (e.g. PA, AP); a DICOM file showing
    another view is refused by the header gate. None: not stated, no view is refused.
    card_sha256: SHA-256 of the card itself (`digest()`: every other field, canonical JSON), set when
    the card is written (`sealed()`), so damage, or an edit that does not recompute the digest, is
    detected (the digest is no secret: a deliberate edit that recomputes it is refused only by a
    signature under a trust policy). A card with a digest that does not match is refused
    (DamagedCardError). Cards written by edgexray 0.1 have none and load only when the user
    accepts that ("legacy": their edits cannot be detected).
    model_check: schema 2; how the variant's pooled features lie over the calibration images and
    the threshold beyond which an input is refused (edgexray.modelcheck); None: no model check
    (a schema-1 card, or a model without pooled features before its head).
    appearance_check: schema 3; how the calibration images' coarse layouts (edgexray.modelcheck.
    appearance) lie, and the threshold beyond which an input is refused before inference; None:
    no appearance check (a card older than schema 3, or too few calibration images to fit one).
    orientation_check: schema 4; the calibration images' mean layout and the direction that tells
    it from its upside-down copy (edgexray.modelcheck.orientation), against which an inverted or
    upside-down input is refused before inference; None: no orientation check (a card older than
    schema 4, or calibration images whose layouts disagree).
    normalize_source: where export took `normalize` from (the `--normalize` flag, the model's
    Rescaling layer, or the keras.applications preprocessing detected at the start of its
    graph); None: not recorded (cards exported before it).
    """

    labels: tuple[str, ...]
    task: Task
    input_height: int
    input_width: int
    input_channels: int
    normalize: Normalize
    interpolation: Interpolation = "bilinear"
    output_kind: OutputKind = "probabilities"
    threshold: float | None = None
    name: str = "model"
    variant: str = "unknown"
    source_sha256: str | None = None
    parity: Parity | None = None
    quantization: dict[str, Any] = field(default_factory=dict)
    training_data: str = ""
    intended_use: str = DEFAULT_DISCLAIMER
    tool_versions: dict[str, str] = field(default_factory=dict)
    created: str | None = None
    payload_sha256: str | None = None
    payload_size: int | None = None
    views: tuple[str, ...] | None = None
    schema_version: int = SCHEMA_VERSION
    card_sha256: str | None = None
    model_check: ModelCheckSummary | None = None
    appearance_check: ModelCheckSummary | None = None
    normalize_source: str | None = None
    orientation_check: OrientationSummary | None = None

    def __post_init__(self) -> None:
        _require(
            self.schema_version in SUPPORTED_SCHEMA_VERSIONS,
            f"schema_version {self.schema_version} is not supported (this edgexray reads {_SUPPORTED})",
        )
        _require(
            self.model_check is None or self.schema_version >= 2,
            "a model_check needs schema_version 2",
        )
        _require(
            self.appearance_check is None or self.schema_version >= 3,
            "an appearance_check needs schema_version 3",
        )
        _require(
            self.orientation_check is None or self.schema_version >= 4,
            "an orientation_check needs schema_version 4",
        )
        object.__setattr__(self, "labels", tuple(self.labels))
        problem = labels_problem(self.labels)
        _require(problem is None, problem or "")
        _choice("task", self.task, TASKS)
        _require(
            self.task != "binary" or len(self.labels) == 2,
            f"a binary model has exactly two labels, got {len(self.labels)}",
        )
        for name in ("input_height", "input_width"):
            value = getattr(self, name)
            _require(
                isinstance(value, int) and value > 0,
                f"{name} must be a positive integer, got {value}",
            )
        _require(
            self.appearance_check is None or self.appearance_check.feature_dim == GRID * GRID,
            f"an appearance_check reads {GRID}x{GRID} layouts",
        )
        _require(
            self.input_channels in (1, 3),
            f"input_channels must be 1 or 3, got {self.input_channels}",
        )
        _choice("normalize", self.normalize, NORMALIZATIONS)
        _require(
            self.normalize_source is None
            or (isinstance(self.normalize_source, str) and bool(self.normalize_source.strip())),
            "normalize_source must be non-empty text",
        )
        _choice("interpolation", self.interpolation, INTERPOLATIONS)
        _choice("output_kind", self.output_kind, OUTPUT_KINDS)
        if self.threshold is not None:
            _require(self.task == "binary", "a threshold applies only to binary models")
            problem = threshold_problem(self.threshold)
            _require(problem is None, problem or "")
        if self.payload_sha256 is not None:
            _require(
                len(self.payload_sha256) == 64
                and all(c in "0123456789abcdef" for c in self.payload_sha256),
                "payload_sha256 must be 64 lowercase hex digits",
            )
        _require(
            self.payload_size is None or self.payload_size > 0, "payload_size must be positive"
        )
        if self.views is not None:
            views = tuple(self.views) if isinstance(self.views, (list, tuple)) else ()
            _require(
                bool(views) and all(isinstance(v, str) and v.strip() for v in views),
                "views must list at least one view position (e.g. PA, AP)",
            )
            object.__setattr__(self, "views", tuple(v.strip().upper() for v in views))
        if self.card_sha256 is not None and self.card_sha256 != self.digest():
            raise DamagedCardError(
                "the model card does not match its digest: it was edited or damaged after export"
            )

    # Derived facts -------------------------------------------------------------------------------

    @property
    def color_mode(self) -> ColorMode:
        return "grayscale" if self.input_channels == 1 else "rgb"

    @property
    def output_units(self) -> int:
        """Width of the model's output tensor: 1 for a binary (sigmoid) model, else one per label."""
        return 1 if self.task == "binary" else len(self.labels)

    @property
    def decision_threshold(self) -> float:
        return 0.5 if self.threshold is None else float(self.threshold)

    def replace(self, **changes: Any) -> ModelCard:
        """A copy with some fields changed, validated like any other card. A changed card is no longer
        the one that was sealed: its digest is dropped unless `card_sha256` is among the changes."""
        changes.setdefault("card_sha256", None)
        return dataclasses.replace(self, **changes)

    def digest(self) -> str:
        """SHA-256 (hex) of every field but `card_sha256`, as canonical JSON (sorted keys, no spaces),
        so the same card gives the same digest in a model file, a sidecar or memory."""
        data = self.to_dict()
        data.pop("card_sha256")
        data.pop("color_mode")
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def sealed(self) -> ModelCard:
        """This card with `card_sha256` set to its digest (what write_card embeds)."""
        return dataclasses.replace(self, card_sha256=self.digest())

    @property
    def legacy(self) -> bool:
        """True for a card without a digest (written by edgexray 0.1, or never sealed)."""
        return self.card_sha256 is None

    # Serialization -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if data["parity"] is not None:
            # Added after cards were first sealed: left out while unset, so those keep their digest.
            for name in PARITY_FIELDS_OMITTED_WHEN_NONE:
                if data["parity"][name] is None:
                    del data["parity"][name]
        data["labels"] = list(self.labels)
        # An optional field left at None is not written, so cards sealed before it existed keep
        # their digest.
        if self.views is None:
            del data["views"]
        else:
            data["views"] = list(self.views)
        for name in ("model_check", "appearance_check", "normalize_source", "orientation_check"):
            if getattr(self, name) is None:
                del data[name]
        for name in ("model_check", "appearance_check"):
            if name in data and data[name]["centre"] is None:
                del data[name]["centre"]
        data["color_mode"] = self.color_mode  # derived; written for human readers of the sidecar
        return data

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        """A card from its JSON form. CardError for an unknown schema version, unknown fields or
        invalid values; DamagedCardError when the card carries a digest and does not match it or
        does not validate (it was sealed valid, so it was changed since)."""
        if not isinstance(data, dict):
            raise CardError("invalid model card: expected a JSON object")
        data = dict(data)
        version = data.get("schema_version")
        if version not in SUPPORTED_SCHEMA_VERSIONS:
            raise CardError(
                f"model card schema_version {version!r} is not supported (this edgexray reads {_SUPPORTED})"
            )
        try:
            return cls._build(data)
        except DamagedCardError:
            raise
        except CardError as exc:
            if data.get("card_sha256") is None:
                raise
            raise DamagedCardError(
                f"the model card was edited or damaged after export ({exc})"
            ) from None

    @classmethod
    def _build(cls, data: dict[str, Any]) -> ModelCard:
        color_mode = data.pop("color_mode", None)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CardError(f"invalid model card: unknown field(s) {', '.join(unknown)}")
        for name, section in _SECTIONS.items():
            if data.get(name) is not None:
                data[name] = _section(section, data[name], name)
        try:
            card = cls(**data)
        except TypeError as exc:
            raise CardError(f"invalid model card: {exc}") from None
        if color_mode is not None and color_mode != card.color_mode:
            raise CardError(
                f"invalid model card: color_mode {color_mode!r} disagrees with {card.input_channels} input channel(s)"
            )
        return card

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelCard:
        try:
            data = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CardError(f"model card is not valid JSON: {exc}") from None
        return cls.from_dict(cast(dict[str, Any], data))
