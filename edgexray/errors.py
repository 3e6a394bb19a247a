"""Errors a user can cause, each with a one-line message and the exit code the CLI uses for it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class EdgexrayError(Exception):
    """Base class: the message is one line saying what went wrong and why."""

    exit_code = 1


class ModelError(EdgexrayError):
    """The model file cannot be used: missing, corrupt, unknown format, or card disagrees with it."""


class CardError(ModelError):
    """A model card is missing, malformed or inconsistent."""


class DamagedCardError(CardError):
    """A model file had a card, but it is damaged or was edited after export (not the same as having
    no card: a damaged card is refused, whatever facts the user gives instead)."""


class EngineError(EdgexrayError):
    """The inference engine failed while running a batch (the runtime's own error, in one line)."""


class NoClassEvidenceError(ModelError):
    """Class evidence (edgexray.explain.class_evidence) was asked of a model exported without it."""


class EngineUnavailableError(EdgexrayError):
    """No installed inference engine can run this model file."""


class ImageError(EdgexrayError):
    """One input image cannot be decoded; the others are unaffected.

    source: what is known of the file when it was refused (e.g. a DICOM file's UIDs), for its record.
    sha256: of the bytes read, when they were (a corrupt or refused file), for its record.
    """

    def __init__(
        self, message: str, source: Mapping[str, Any] | None = None, sha256: str | None = None
    ) -> None:
        super().__init__(message)
        self.source = source
        self.sha256 = sha256


class UntrustedModelError(ModelError):
    """Under a trust policy, a model file that is unsigned, signed by a key that is not trusted, or
    changed after it was signed."""


class SigningKeyError(EdgexrayError):
    """A signing or trusted key file is missing, unreadable or not an Ed25519 key."""
