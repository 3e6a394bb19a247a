"""What an input check found, and what the run does about it (the mode)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

InputCheckMode = Literal["strict", "warn", "off"]
INPUT_CHECK_MODES: tuple[str, ...] = get_args(InputCheckMode)
DEFAULT_MODE: InputCheckMode = "strict"

Status = Literal["passed", "warned", "rejected", "off"]


def check_mode(mode: str) -> InputCheckMode:
    """`mode` if it is one of INPUT_CHECK_MODES, else ValueError."""
    if mode not in INPUT_CHECK_MODES:
        raise ValueError(f"input_check is {mode!r}; expected one of {', '.join(INPUT_CHECK_MODES)}")
    return mode  # type: ignore[return-value]


@dataclass(frozen=True)
class Finding:
    """One failed check. check: its short name (`uniform`, `colour`, ...); reason: one line for
    people; score: the measured value the threshold was applied to; threshold: that threshold."""

    check: str
    reason: str
    score: float
    threshold: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "reason": self.reason,
            "score": round(self.score, 4),
            "threshold": self.threshold,
        }


@dataclass(frozen=True)
class InputCheck:
    """The input check every prediction carries.

    status: `passed`; `rejected` (strict mode, a check failed: no label); `warned` (warn mode, a
    check failed: the label is kept and flagged); `off` (not checked).
    findings: the checks that failed, in the order they ran.
    model_score / model_threshold: the model check's score of this image's pooled features and
    the threshold it was held to (edgexray.modelcheck); None when the model has no model check or
    the image was not run (rejected by an image check, or checks off).
    appearance_score / appearance_threshold: the same for the appearance check of the model input's
    coarse layout (edgexray.modelcheck.appearance), which runs before inference.
    notes: what a stage records about how it read this input, by stage name (edgexray.stages),
    e.g. which policy read a 16-bit image's range; each is a key of the record's `input_check`.
    """

    status: Status
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    model_score: float | None = None
    model_threshold: float | None = None
    appearance_score: float | None = None
    appearance_threshold: float | None = None
    notes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_findings(cls, findings: tuple[Finding, ...], mode: InputCheckMode) -> InputCheck:
        if mode == "off":
            return cls("off")
        if not findings:
            return cls("passed")
        return cls("rejected" if mode == "strict" else "warned", findings)

    def with_results(
        self, findings: tuple[Finding, ...], mode: InputCheckMode, **fields: Any
    ) -> InputCheck:
        """This check after one more stage: its findings added (the mode decides the status), and
        the fields it sets (scores, notes)."""
        decided = InputCheck.from_findings(self.findings + findings, mode)
        return replace(self, status=decided.status, findings=decided.findings, **fields)

    @property
    def rejected(self) -> bool:
        return self.status == "rejected"

    @property
    def reason(self) -> str | None:
        """The findings' reasons as one line, or None when nothing failed."""
        if not self.findings:
            return None
        return "; ".join(f.reason for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status}
        if self.findings:
            data["findings"] = [f.to_dict() for f in self.findings]
        if self.model_score is not None:
            data["model_score"] = self.model_score
            data["model_threshold"] = self.model_threshold
        if self.appearance_score is not None:
            data["appearance_score"] = self.appearance_score
            data["appearance_threshold"] = self.appearance_threshold
        data.update({name: dict(note) for name, note in self.notes.items()})
        return data


NOT_CHECKED = InputCheck("off")
