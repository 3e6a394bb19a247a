"""Coded concepts of a result, as plain values (no highdicom), and each label's finding code.

A label's code says what the SR's finding is (for example SNOMED CT 233604007 "Pneumonia" for the
label PNEUMONIA). The mapping comes from the configuration (`--dicom-code LABEL=SCHEME:VALUE:MEANING`
or `dicom-code` in edgexray.toml) over the built-in defaults below; a label the report needs and no
mapping names is an error when the writer is made, never a silent guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Private coding scheme of this project (DICOM PS3.16 8.2: designators starting with 99 are local)
# for concepts no standard names: the input check and its outcome, the intended-use note.
LOCAL_SCHEME = "99EDGEXRAY"


@dataclass(frozen=True)
class Code:
    """One coded concept: coding scheme designator, code value, code meaning."""

    scheme: str
    value: str
    meaning: str

    def __post_init__(self) -> None:
        for part, name in (
            (self.scheme, "scheme"),
            (self.value, "value"),
            (self.meaning, "meaning"),
        ):
            if not part.strip():
                raise ValueError(f"a code needs a {name}")
        if len(self.value) > 16 or len(self.scheme) > 16 or len(self.meaning) > 64:
            raise ValueError(
                f"code {self}: at most 16 characters for scheme and value, 64 for meaning"
            )

    @classmethod
    def parse(cls, text: str) -> Code:
        """`SCHEME:VALUE:MEANING`, e.g. `SCT:233604007:Pneumonia`."""
        parts = text.split(":", 2)
        if len(parts) != 3:
            raise ValueError(
                f"{text!r}: expected SCHEME:VALUE:MEANING, e.g. SCT:233604007:Pneumonia"
            )
        return cls(*(part.strip() for part in parts))

    def __str__(self) -> str:
        return f"{self.scheme}:{self.value}:{self.meaning}"


#: Codes for common chest X-ray labels (SNOMED CT), used unless the configuration maps the label.
DEFAULT_FINDINGS: Mapping[str, Code] = {
    "PNEUMONIA": Code("SCT", "233604007", "Pneumonia"),
    "NORMAL": Code("SCT", "17621005", "Normal"),
    "TUBERCULOSIS": Code("SCT", "56717001", "Tuberculosis"),
    "COVID-19": Code("SCT", "840539006", "COVID-19"),
    "EFFUSION": Code("SCT", "60046008", "Pleural effusion"),
    "CARDIOMEGALY": Code("SCT", "8186001", "Cardiomegaly"),
}

PROBABILITY = Code("DCM", "122157", "Probability")
PRESENT = Code("SCT", "52101004", "Present")
ABSENT = Code("SCT", "272519000", "Absent")
NO_UNITS = Code("UCUM", "1", "no units")
CHEST_XRAY = Code("SCT", "399208008", "Plain chest X-ray")
INPUT_CHECK = Code(LOCAL_SCHEME, "input-check", "Input check")
INPUT_CHECK_OUTCOMES: Mapping[str, Code] = {
    status: Code(LOCAL_SCHEME, f"check-{status}", f"Input check {status}")
    for status in ("passed", "warned", "rejected", "off")
}
INTENDED_USE = Code(LOCAL_SCHEME, "intended-use", "Intended use")
NOT_FOR_CLINICAL_USE = Code(LOCAL_SCHEME, "not-clinical", "Not for clinical use")

_NOT_CLINICAL = re.compile(r"\bnot\b.*\bclinical\b", re.IGNORECASE | re.DOTALL)


def says_not_for_clinical_use(intended_use: str) -> bool:
    """Whether a card's intended use says the model is not for clinical use (the default card
    text `Not validated for clinical use.` does)."""
    return bool(_NOT_CLINICAL.search(intended_use))


def parse_mapping(items: Iterable[str]) -> dict[str, Code]:
    """`LABEL=SCHEME:VALUE:MEANING` items as a mapping; ValueError naming the bad item."""
    mapping: dict[str, Code] = {}
    for item in items:
        label, sep, code = item.partition("=")
        if not sep or not label.strip():
            raise ValueError(f"{item!r}: expected LABEL=SCHEME:VALUE:MEANING")
        mapping[label.strip()] = Code.parse(code)
    return mapping


def finding_labels(labels: tuple[str, ...], binary: bool) -> tuple[str, ...]:
    """The labels the report states a finding for: a binary model's positive class (labels[1]),
    or every label of a multi-class model."""
    return (labels[1],) if binary else labels


def finding_codes(
    labels: tuple[str, ...], binary: bool, configured: Mapping[str, Code]
) -> dict[str, Code]:
    """Each reported label's code, the configuration's over the defaults; ValueError naming the
    labels without one."""
    wanted = finding_labels(labels, binary)
    known = {**DEFAULT_FINDINGS, **configured}
    missing = [label for label in wanted if label not in known]
    if missing:
        raise ValueError(
            f"no finding code for label(s) {', '.join(missing)}: give "
            f"--dicom-code {missing[0]}=SCHEME:VALUE:MEANING (e.g. SCT:233604007:Pneumonia)"
        )
    return {label: known[label] for label in wanted}
