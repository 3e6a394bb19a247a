"""The card a model actually runs with: embedded or sidecar card, user overrides, or flags alone.

A model without a card still runs when the user supplies the facts that cannot be read from its
tensors (labels and normalization); the rest comes from the tensors or documented defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from edgexray.card import (
    INTERPOLATIONS,
    NORMALIZATIONS,
    OUTPUT_KINDS,
    ModelCard,
    choice_problem,
    labels_problem,
    threshold_problem,
)
from edgexray.engines.base import Engine
from edgexray.errors import CardError, ModelError


@dataclass(frozen=True)
class CardOverrides:
    """Facts given on the command line or in code; None means "not given"."""

    labels: tuple[str, ...] | None = None
    normalize: str | None = None
    interpolation: str | None = None
    output_kind: str | None = None
    threshold: float | None = None

    def __post_init__(self) -> None:
        # Checked here, not only when applied, so a bad value fails before a bench starts its
        # children rather than once per child; with the card's own rules for each field.
        if self.labels is not None:
            object.__setattr__(self, "labels", tuple(self.labels))
        checks: dict[str, Callable[[Any], str | None]] = {
            "labels": labels_problem,
            "normalize": lambda v: choice_problem("normalize", v, NORMALIZATIONS),
            "interpolation": lambda v: choice_problem("interpolation", v, INTERPOLATIONS),
            "output_kind": lambda v: choice_problem("output_kind", v, OUTPUT_KINDS),
            "threshold": threshold_problem,
        }
        for name, value in self.given().items():
            problem = checks[name](value)
            if problem is not None:
                raise CardError(f"invalid card override: {problem}")

    def given(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }

    def to_dict(self) -> dict[str, Any]:
        """The given overrides as JSON-ready values (labels as a list); {} when none."""
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in self.given().items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CardOverrides:
        """Inverse of to_dict; CardError for unknown fields or invalid values."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CardError(f"unknown card override(s): {', '.join(unknown)}")
        labels = data.get("labels")
        return cls(**{**data, "labels": tuple(labels) if labels is not None else None})


# The command-line flag of each CardOverrides field, for messages that name what the user gave.
FLAGS = {
    "labels": "--labels",
    "normalize": "--normalize",
    "interpolation": "--interpolation",
    "output_kind": "--outputs",
    "threshold": "--threshold",
}


def _check_label_count(path: Path, labels: tuple[str, ...] | None, engine: Engine) -> None:
    """CardError naming --labels when it gives a count of classes the model's output cannot have."""
    units = engine.output.shape[-1] if engine.output.shape else None
    if labels is None or units is None:
        return
    expected = 2 if units == 1 else units
    if len(labels) != expected:
        kind = "one sigmoid output: a binary model" if units == 1 else f"{units} outputs"
        raise CardError(
            f"{path}: --labels gives {len(labels)} class names, but the model has {kind}; "
            f"give {expected}"
        )


def _from_tensors(path: Path, engine: Engine, overrides: CardOverrides) -> ModelCard:
    missing = [
        flag
        for flag, value in (("--labels", overrides.labels), ("--normalize", overrides.normalize))
        if value is None
    ]
    if missing:
        # No example values: a wrong guess at the normalization gives confident wrong answers.
        hints = {
            "--labels": "the class names in output order",
            "--normalize": f"the pixel scaling it was trained with: {', '.join(NORMALIZATIONS)}",
        }
        raise CardError(
            f"{path}: the model has no card; give {' and '.join(missing)} "
            f"({'; '.join(hints[m] for m in missing)})"
        )
    shape = engine.input.shape
    if len(shape) != 4 or None in shape[1:]:
        raise ModelError(f"{path}: cannot read a fixed NHWC input size from input shape {shape}")
    _, height, width, channels = shape
    units = engine.output.shape[-1] if engine.output.shape else None
    task = "binary" if units == 1 else "multiclass"
    given = overrides.given()
    return ModelCard(
        task=task,  # type: ignore[arg-type]
        input_height=int(height),  # type: ignore[arg-type]
        input_width=int(width),  # type: ignore[arg-type]
        input_channels=int(channels),  # type: ignore[arg-type]
        name=path.stem,
        variant="uncarded",
        **given,
    )


def check_against_engine(path: Path, card: ModelCard, engine: Engine) -> None:
    """Raise ModelError when the card describes tensors the model does not have."""
    shape = engine.input.shape
    expected = (card.input_height, card.input_width, card.input_channels)
    if len(shape) != 4 or any(
        a is not None and a != b for a, b in zip(shape[1:], expected, strict=True)
    ):
        raise ModelError(
            f"{path}: card says input {expected[0]}x{expected[1]}x{expected[2]} "
            f"but the model takes {shape}"
        )
    units = engine.output.shape[-1] if engine.output.shape else None
    if units is not None and units != card.output_units:
        raise ModelError(
            f"{path}: card expects {card.output_units} output(s) for {len(card.labels)} labels "
            f"({card.task}) but the model has {units}"
        )


def resolve_card(
    path: Path, card: ModelCard | None, engine: Engine, overrides: CardOverrides | None = None
) -> ModelCard:
    overrides = overrides or CardOverrides()
    _check_label_count(path, overrides.labels, engine)
    if card is None:
        card = _from_tensors(path, engine, overrides)
    elif overrides.given():
        try:
            card = card.replace(**overrides.given())
        except CardError as exc:
            flags = " ".join(FLAGS[name] for name in overrides.given())
            reason = str(exc).removeprefix("invalid model card: ")
            raise CardError(
                f"{path}: {flags} cannot apply to this model's card: {reason}"
            ) from None
    check_against_engine(path, card, engine)
    return card
