"""What every model-file format provides: split a file into its model bytes and named text entries,
and join them again.

The card is the entry named `card` (CARD_ENTRY); further entries (e.g. a signature) travel beside it
under their own names, in the same container. A format's `split` tells three cases apart: no
container (plain model, no entries), a readable container, and a container that was there but is
damaged (DamagedContainer), which the store refuses rather than treating the file as card-less.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

CARD_ENTRY = "card"


class DamagedContainer(ValueError):
    """The file had an edgexray container (card and entries), but it cannot be read."""


@dataclass(frozen=True)
class Split:
    """payload: (start, end) byte ranges of the model bytes without the container, in order.
    entries: entry name -> text (JSON by convention); empty for a plain model."""

    payload: tuple[tuple[int, int], ...]
    entries: Mapping[str, str] = field(default_factory=dict)


class CardFormat(Protocol):
    suffix: str

    def split(self, data: bytes) -> Split:
        """ValueError when `data` is not this format, DamagedContainer for a damaged container."""
        ...

    def join(self, payload: bytes, entries: Mapping[str, str]) -> bytes:
        """The model bytes with `entries` as the container (replacing none: `payload` has none)."""
        ...
