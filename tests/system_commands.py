"""Tests that start a real program from a Debian package (Orthanc, dcmtk, dicom3tools): a skip
naming the apt command on a newcomer's machine, a failure in CI (`CI=true`, where .ci/run installs
the packages), so CI can never pass without them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

import pytest


def in_ci(environ: Mapping[str, str]) -> bool:
    return environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_command(command: str, package: str, environ: Mapping[str, str] = os.environ) -> str:
    """The path of `command`; without it, a skip (a fail in CI) naming the package to install."""
    found = shutil.which(command)
    if found is not None:
        return found
    message = f"{command} is not installed (apt-get install {package})"
    if in_ci(environ):
        pytest.fail(message + "; CI requires it")
    pytest.skip(message)
