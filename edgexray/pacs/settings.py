"""What the DICOM results say and how their UIDs are made: checked when made (ValueError with one
line), so a bad value stops a command before any work."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from edgexray.pacs.codes import Code
from edgexray.pacs.uids import DEFAULT_ROOT, check_root


@dataclass(frozen=True)
class ResultSettings:
    """uid_root: the organisation root of every UID made (default 2.25, UUID-derived). codes: the
    configured label -> finding code mapping (over codes.DEFAULT_FINDINGS). overlay: also make a
    Secondary Capture of the heatmap overlay. manufacturer: the results' Manufacturer."""

    uid_root: str = DEFAULT_ROOT
    codes: Mapping[str, Code] = field(default_factory=dict)
    overlay: bool = False
    manufacturer: str = "edgexray"

    def __post_init__(self) -> None:
        check_root(self.uid_root)
        if not self.manufacturer.strip():
            raise ValueError("the results' manufacturer must not be empty")
        object.__setattr__(self, "codes", dict(self.codes))
