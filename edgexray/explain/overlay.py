"""The heatmap drawn over the radiograph, with Pillow and numpy only (no matplotlib on a device).

Colour shows evidence for the class (transparent where there is none, so the film stays readable);
a white line outlines the strongest region (at least half the peak). A map without localized
evidence (edgexray.explain.heatmap.summarize decides) is not drawn: the film stays bare, with a
caption saying so where the image is wide enough to hold it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from edgexray.explain.heatmap import NO_EVIDENCE

# A perceptually ordered dark-blue -> cyan -> green -> yellow -> red scale (turbo-like anchors).
_ANCHORS = np.array(
    [
        [48, 18, 59],
        [40, 150, 230],
        [60, 220, 120],
        [250, 200, 40],
        [200, 30, 10],
    ],
    dtype=np.float32,
)
CONTOUR_LEVEL = 0.5


def colorize(values: np.ndarray) -> np.ndarray:
    """0..1 values (H, W) -> uint8 RGB colours (H, W, 3) on the scale above."""
    positions = np.linspace(0.0, 1.0, len(_ANCHORS))
    v = np.clip(values, 0.0, 1.0)
    channels = [np.interp(v, positions, _ANCHORS[:, c]) for c in range(3)]
    return np.rint(np.stack(channels, axis=-1)).astype(np.uint8)


def _outline(mask: np.ndarray) -> np.ndarray:
    """The border pixels of a bool mask, two pixels wide."""
    image = Image.fromarray(mask.astype(np.uint8) * 255, "L")
    inner = np.asarray(image.filter(ImageFilter.MinFilter(3))) > 0
    edge = Image.fromarray((mask & ~inner).astype(np.uint8) * 255, "L")
    return np.asarray(edge.filter(ImageFilter.MaxFilter(3))) > 0


def _caption(image: Image.Image, text: str) -> Image.Image:
    """`image` with `text` in white on a dark grey band along its bottom edge; unchanged when the
    image is too small for the text."""
    font = ImageFont.load_default()
    left, top, right, bottom = ImageDraw.Draw(image).textbbox((0, 0), text, font=font)
    margin = 4
    band = bottom - top + 2 * margin
    if right - left + 2 * margin > image.width or 3 * band > image.height:
        return image
    captioned = image.copy()
    draw = ImageDraw.Draw(captioned)
    draw.rectangle((0, image.height - band, image.width, image.height), fill=(32, 32, 32))
    draw.text(
        (margin - left, image.height - band + margin - top), text, fill=(255, 255, 255), font=font
    )
    return captioned


def render_overlay(
    image: Image.Image, heatmap: np.ndarray, localized: bool, alpha: float = 0.55
) -> Image.Image:
    """`image` (any mode) in RGB with `heatmap` (any size; stretched over the whole image, as the
    model saw it) blended in. Only positive evidence is drawn, scaled by the map's own peak.
    localized: whether the map shows evidence at all (HeatmapSummary.localized); when it does not,
    the image is returned bare, captioned "no localized evidence", as scaling noise to the full
    colour range would show evidence that is not there."""
    if not localized:
        return _caption(image.convert("RGB"), NO_EVIDENCE)
    base = np.asarray(image.convert("RGB"), dtype=np.float32)
    height, width = base.shape[:2]
    evidence = np.clip(np.asarray(heatmap, dtype=np.float32), 0, None)
    top = float(evidence.max())
    scaled = evidence / top if top > 0 else evidence
    stretched = Image.fromarray(scaled, "F").resize((width, height), Image.Resampling.BILINEAR)
    values = np.clip(np.asarray(stretched, dtype=np.float32), 0, 1)
    weight = (alpha * values)[..., None]
    out = base * (1 - weight) + colorize(values).astype(np.float32) * weight
    if top > 0:
        out[_outline(values >= CONTOUR_LEVEL)] = 255.0
    return Image.fromarray(np.rint(out).astype(np.uint8), "RGB")
