"""What real chest films carry besides the chest: collimation borders, burned-in text and markers.

The synthetic films (`synthetic`) show anatomy edge to edge; a film from a department has

- **collimation borders**: the X-ray field is narrowed by lead shutters, so one to four edges of
  the detector were barely exposed. They show as bands of almost uniform level with a sharp,
  slightly blurred edge: bright (unexposed, as most CR and DR show them) or, where the
  modality masks them electronically, black. 2-12% of the side each.
- **burned-in text**: patient and study lines written into the pixels in a corner, light on the
  film, 1.5-3% of the film's height per line.
- **markers**: a lead side marker (L or R, sometimes with a position word), bright in a small
  frame near a top corner.

`apply_marks` adds them to a film's pixels (float32 0..1, full size) with its own generator, so a
film keeps its anatomy whether or not it is marked. What each mark looks like is drawn from the
ranges above; which films get which marks is `FilmMarks`' fractions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

_TEXT_LINES = (
    "ID 0042-{n:05d}",
    "DOB 19{n2:02d}-03-14",
    "PA ERECT",
    "2026-11-{day:02d} 08:{minute:02d}",
    "CR  kVp 120  mAs 2.0",
    "ST. ELSEWHERE HOSPITAL",
)


@dataclass(frozen=True)
class FilmMarks:
    """Shares (0..1) of films that get each mark; all 0 (the default) leaves every film as drawn."""

    collimation: float = 0.0
    text: float = 0.0
    marker: float = 0.0

    def __post_init__(self) -> None:
        for name in ("collimation", "text", "marker"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"film marks: {name} must be a share in 0..1")

    @property
    def any(self) -> bool:
        return self.collimation > 0 or self.text > 0 or self.marker > 0


def _collimate(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One to four collimated edges: bands of an almost uniform level with a softened edge."""
    height, width = pixels.shape
    inside = np.full((height, width), 255, dtype=np.uint8)
    sides = rng.choice(4, size=int(rng.integers(1, 5)), replace=False)
    for side in sides:
        share = rng.uniform(0.02, 0.12)
        if side in (0, 1):  # top, bottom
            band = max(1, round(height * share))
            rows = slice(0, band) if side == 0 else slice(height - band, height)
            inside[rows, :] = 0
        else:  # left, right
            band = max(1, round(width * share))
            columns = slice(0, band) if side == 2 else slice(width - band, width)
            inside[:, columns] = 0
    radius = max(1.0, 0.003 * max(height, width))
    edge = Image.fromarray(inside, "L").filter(ImageFilter.GaussianBlur(radius))
    weight = np.asarray(edge, dtype=np.float32) / 255.0
    level = rng.uniform(0.82, 0.97) if rng.random() < 0.8 else rng.uniform(0.0, 0.04)
    shutter = level + rng.normal(0, 0.006, pixels.shape).astype(np.float32)
    return weight * pixels + (1 - weight) * shutter


def _canvas(
    pixels: np.ndarray, share: float
) -> tuple[Image.Image, ImageDraw.ImageDraw, int, ImageFont.ImageFont | ImageFont.FreeTypeFont]:
    """A black float canvas of the film's size to draw a mark on, and Pillow's font at `share`
    of the film's height (at least 8 px)."""
    height, width = pixels.shape
    canvas = Image.new("F", (width, height), 0.0)
    size = round(height * share)
    return canvas, ImageDraw.Draw(canvas), size, ImageFont.load_default(size=max(8, size))


def _write_text(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two to five lines of study text in one corner, light, in the film's pixels."""
    height, width = pixels.shape
    canvas, draw, size, font = _canvas(pixels, rng.uniform(0.015, 0.03))
    fields = {
        "n": int(rng.integers(0, 99999)),
        "n2": int(rng.integers(30, 99)),
        "day": int(rng.integers(1, 29)),
        "minute": int(rng.integers(0, 60)),
    }
    lines = [
        _TEXT_LINES[i].format(**fields)
        for i in rng.choice(len(_TEXT_LINES), int(rng.integers(2, 6)), replace=False)
    ]
    right, bottom = rng.random() < 0.5, rng.random() < 0.5
    margin = round(0.02 * width)
    y = height - margin - len(lines) * (size + 2) if bottom else margin
    for line in lines:
        length = draw.textlength(line, font=font)
        x = width - margin - length if right else margin
        draw.text((x, y), line, fill=1.0, font=font)
        y += size + 2
    mask = np.asarray(canvas, dtype=np.float32)
    level = rng.uniform(0.85, 1.0)
    return np.maximum(pixels, mask * level)


def _mark_side(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A lead side marker: L or R (sometimes with a position word) in a small bright frame."""
    height, width = pixels.shape
    canvas, draw, size, font = _canvas(pixels, rng.uniform(0.03, 0.06))
    label = str(rng.choice(["L", "R"])) + (" PA" if rng.random() < 0.3 else "")
    length = draw.textlength(label, font=font)
    pad = max(2, size // 5)
    x = round(width * rng.uniform(0.04, 0.12))
    if rng.random() < 0.5:
        x = round(width - x - length - 2 * pad)
    y = round(height * rng.uniform(0.04, 0.12))
    box = (x, y, x + length + 2 * pad, y + size + 2 * pad)
    draw.rectangle(box, outline=1.0, width=max(1, pad // 2))
    draw.text((x + pad, y + pad // 2), label, fill=1.0, font=font)
    mask = np.asarray(canvas, dtype=np.float32)
    return np.maximum(pixels, mask * rng.uniform(0.9, 1.0))


def apply_marks(pixels: np.ndarray, marks: FilmMarks, rng: np.random.Generator) -> np.ndarray:
    """`pixels` (float32 0..1, H x W) with the marks `marks` gives this film, drawn from `rng`:
    each mark is added when a draw falls under its share (collimation first, then text, then
    the marker, which lie on top of the shutters)."""
    draws = rng.random(3)
    out = pixels
    if draws[0] < marks.collimation:
        out = _collimate(out, rng)
    if draws[1] < marks.text:
        out = _write_text(out, rng)
    if draws[2] < marks.marker:
        out = _mark_side(out, rng)
    return np.clip(out, 0, 1).astype(np.float32)
