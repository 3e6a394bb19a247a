"""Errors of the export toolchain; the CLI shows them as one line with their exit code."""

from __future__ import annotations

from edgexray.errors import EdgexrayError


class ExportError(EdgexrayError):
    """The export toolchain refused a model or data (Lambda layers, empty calibration folder, ...)."""


class ParityError(ExportError):
    """An exported variant disagrees with the full model more than the gate allows."""
