"""What an input check found, and what the run does about it (the mode)."""

from __future__ import annotations

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
    """

    status: Status
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    model_score: float | None = None
    model_threshold: float | None = None
    appearance_score: float | None = None
    appearance_threshold: float | None = None

    @classmethod
    def from_findings(cls, findings: tuple[Finding, ...], mode: InputCheckMode) -> InputCheck:
        if mode == "off":
            return cls("off")
        if not findings:
            return cls("passed")
        return cls("rejected" if mode == "strict" else "warned", findings)

    def with_model_check(
        self, score: float, threshold: float, finding: Finding | None, mode: InputCheckMode
    ) -> InputCheck:
        """This check after the model check: its score recorded, its finding (if it failed) added."""
        decided = self._with(finding, mode)
        return replace(decided, model_score=round(score, 4), model_threshold=threshold)

    def with_appearance_check(
        self, score: float, threshold: float, finding: Finding | None, mode: InputCheckMode
    ) -> InputCheck:
        """This check after the appearance check: its score recorded, its finding added."""
        decided = self._with(finding, mode)
        return replace(decided, appearance_score=round(score, 4), appearance_threshold=threshold)

    def _with(self, finding: Finding | None, mode: InputCheckMode) -> InputCheck:
        findings = self.findings + ((finding,) if finding is not None else ())
        decided = InputCheck.from_findings(findings, mode)
        return replace(self, status=decided.status, findings=decided.findings)

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
        return data


NOT_CHECKED = InputCheck("off")
