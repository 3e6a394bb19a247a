"""Reports committed under models/ carry no path of the machine that built them."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import pytest

MODELS = Path(__file__).resolve().parent.parent / "models"


@pytest.mark.parametrize("report", sorted(MODELS.glob("*/*.eval-*.json")), ids=lambda p: p.name)
def test_evaluation_reports_record_relative_paths(report: Path) -> None:
    recorded = json.loads(report.read_text())
    for field in ("data", "model"):
        assert not PurePosixPath(recorded[field]).is_absolute(), f"{report.name}: {field}"
