"""How DICOM files are turned into model input: which window, and which files the gate lets in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

WindowName = Literal["first", "full-range"]
Window = WindowName | int
WINDOW_NAMES: tuple[str, ...] = ("first", "full-range")
DEFAULT_MODALITIES: tuple[str, ...] = ("CR", "DX")
DEFAULT_BODY_PARTS: tuple[str, ...] = ("CHEST",)


def parse_window(text: str) -> Window:
    """'first', 'full-range' or a window number (0 = the first) from a command line."""
    if text in WINDOW_NAMES:
        return text  # type: ignore[return-value]
    try:
        number = int(text)
    except ValueError:
        raise ValueError(
            f"window must be 'first', 'full-range' or a window number (0, 1, ...), got {text!r}"
        ) from None
    if number < 0:
        raise ValueError(f"window number must not be negative, got {number}")
    return number


@dataclass(frozen=True)
class DicomOptions:
    """window: the VOI (window or VOI LUT) to apply. "first" (the default) takes the file's first
    one, a number N its N-th (0-based; a file with fewer is an error), "full-range" ignores them
    and maps the image's own minimum..maximum to 0..255. A file with no VOI is mapped full range.

    gate: refuse files that are not what a chest radiograph model reads: Modality not in
    `modalities`, Body Part Examined present and not in `body_parts`, or (when `views` is set,
    usually from the model card) View Position present and not in `views`.
    """

    window: Window = "first"
    gate: bool = True
    modalities: tuple[str, ...] = DEFAULT_MODALITIES
    body_parts: tuple[str, ...] = DEFAULT_BODY_PARTS
    views: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.window, bool) or not (
            self.window in WINDOW_NAMES or (isinstance(self.window, int) and self.window >= 0)
        ):
            raise ValueError(
                f"window must be 'first', 'full-range' or a window number >= 0, got {self.window!r}"
            )
        for name in ("modalities", "body_parts", "views"):
            value = getattr(self, name)
            if value is None:
                continue
            value = tuple(str(x).strip().upper() for x in value)
            if not value or not all(value):
                raise ValueError(f"{name} must list at least one non-empty code")
            object.__setattr__(self, name, value)
