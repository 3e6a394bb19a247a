"""A labelled set of images that are not chest radiographs, deterministic by seed: what a chest
X-ray model should refuse to judge (`edgexray synth OUT --not-chest`, benchmarks/input_check.py).

Categories (CATEGORIES): blank frames, noise, gradients (linear in any direction, radial), rendered
text, procedural colour photographs, other anatomy drawn like radiographs (a hand, a knee, a skull;
`anatomy`), and chest radiographs turned upside down or inverted (taken from given chest files,
e.g. a model's held-out images, or drawn by `synthetic`). Sizes 400-1100 px; every fourth file a
JPEG, the others 8-bit PNG. Image i of a category depends only on (seed, category, i).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from edgexray_export.data.anatomy import DRAWERS
from edgexray_export.data.synthetic import THREE_CLASSES, WORK_SIDE, SynthConfig, generate_image
from edgexray_export.errors import ExportError
from PIL import Image, ImageDraw, ImageFont

_WORDS = (
    "patient",
    "report",
    "chest",
    "radiograph",
    "findings",
    "impression",
    "normal",
    "study",
    "date",
    "referral",
)


def _size(rng: np.random.Generator) -> tuple[int, int]:
    """(width, height): 400..1100 px wide, aspect 0.8..1.25 like a chest film."""
    side = int(rng.integers(400, 1100))
    return side, int(side * rng.uniform(0.8, 1.25))


def _grey(pixels: np.ndarray) -> Image.Image:
    """Float grey levels 0..255 -> an 8-bit grey image (clipped, truncated)."""
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")


def _film(pixels: np.ndarray) -> Image.Image:
    """Radiograph pixels 0..1 -> an 8-bit grey image."""
    return Image.fromarray(np.rint(np.clip(pixels, 0, 1) * 255).astype(np.uint8), "L")


def blank(rng: np.random.Generator) -> Image.Image:
    """Black, white or one grey level, with a little sensor noise."""
    w, h = _size(rng)
    level = rng.choice([0, 255, rng.uniform(20, 235)])
    return _grey(level + rng.normal(0, rng.uniform(0, 2.5), (h, w)))


def noise(rng: np.random.Generator) -> Image.Image:
    """Uniform or Gaussian grey noise, or RGB noise."""
    w, h = _size(rng)
    kind = rng.integers(3)
    if kind == 0:
        return _grey(rng.uniform(0, 256, (h, w)))
    if kind == 1:
        return _grey(rng.normal(128, rng.uniform(20, 60), (h, w)))
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")


def gradient(rng: np.random.Generator) -> Image.Image:
    """A smooth ramp: linear in a random direction (half), else radial about a random centre;
    sometimes with a little sensor noise."""
    w, h = _size(rng)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    if rng.random() < 0.5:
        angle = rng.uniform(0, 2 * np.pi)
        t = x * np.cos(angle) + y * np.sin(angle)
    else:
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        t = np.hypot(x - cx, y - cy)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
    lo, hi = rng.uniform(0, 80), rng.uniform(170, 255)
    grain = rng.normal(0, rng.uniform(0, 3), t.shape) if rng.random() < 0.5 else 0.0
    return _grey(lo + t * (hi - lo) + grain)


def text(rng: np.random.Generator) -> Image.Image:
    """Lines of words, dark on light (mostly) or light on dark, at 14..40 px."""
    w, h = _size(rng)
    dark_on_light = rng.random() < 0.7
    paper = int(rng.uniform(225, 255) if dark_on_light else rng.uniform(0, 30))
    image = Image.new("L", (w, h), paper)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=int(rng.integers(14, 40)))
    ink = 0 if dark_on_light else 255
    y = 10
    while y < h - 20:
        line = " ".join(rng.choice(_WORDS, int(rng.integers(3, 9))))
        draw.text((10, y), line, fill=ink, font=font)
        y += int(rng.integers(24, 60))
    return image


def colour_photograph(rng: np.random.Generator) -> Image.Image:
    """A landscape: sky over ground, coloured objects, camera noise."""
    w, h = _size(rng)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    horizon = h * rng.uniform(0.35, 0.65)
    sky = np.array([rng.uniform(60, 140), rng.uniform(120, 190), rng.uniform(200, 255)])
    ground = np.array([rng.uniform(40, 120), rng.uniform(90, 170), rng.uniform(20, 80)])
    above = (y < horizon)[..., None]
    image = np.where(above, sky * (0.7 + 0.3 * (y / horizon))[..., None], ground)
    for _ in range(int(rng.integers(3, 10))):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(20, w / 5)
        inside = ((x - cx) ** 2 + (y - cy) ** 2 < r**2)[..., None]
        image = np.where(inside, rng.uniform(0, 255, 3), image)
    image += rng.normal(0, 6, image.shape)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")


def _anatomy(name: str) -> Callable[[np.random.Generator], Image.Image]:
    def draw(rng: np.random.Generator) -> Image.Image:
        w, h = _size(rng)
        # Drawn at the chest generator's working resolution, then enlarged, like its chests.
        shrink = min(1.0, WORK_SIDE / max(h, w))
        pixels = DRAWERS[name](rng, max(16, round(h * shrink)), max(16, round(w * shrink)))
        full = Image.fromarray(pixels, "F").resize((w, h), Image.Resampling.BICUBIC)
        return _film(np.asarray(full, dtype=np.float32))

    draw.__doc__ = f"A {name} drawn like a radiograph (edgexray_export.data.anatomy)."
    return draw


def read_grey(path: Path) -> np.ndarray:
    """A grey image file (8- or 16-bit) -> float32 0..1."""
    with Image.open(path) as image:
        pixels = np.asarray(image)
    if pixels.ndim == 3:
        pixels = pixels[..., :3].mean(axis=-1)
    top = 65535.0 if pixels.dtype == np.uint16 or pixels.max() > 255 else 255.0
    return (pixels.astype(np.float32) / top).clip(0, 1)


@dataclass(frozen=True)
class _Chests:
    """Where the turned chests come from: `files` in order (cycled), or the synthetic generator
    (the three-class set, at the seed given) when there are none."""

    files: Sequence[Path]
    seed: int

    def pixels(self, index: int) -> np.ndarray:
        if self.files:
            return read_grey(self.files[index % len(self.files)])
        config = SynthConfig(classes=THREE_CLASSES, count=1, seed=self.seed, max_side=1100)
        return generate_image(THREE_CLASSES[index % 3], index, config).pixels


CATEGORIES: tuple[str, ...] = (
    "blank",
    "noise",
    "gradient",
    "text",
    "colour-photograph",
    "hand",
    "knee",
    "skull",
    "chest-upside-down",
    "chest-inverted",
)
_DRAWN: dict[str, Callable[[np.random.Generator], Image.Image]] = {
    "blank": blank,
    "noise": noise,
    "gradient": gradient,
    "text": text,
    "colour-photograph": colour_photograph,
    **{name: _anatomy(name) for name in DRAWERS},
}
_TURNED: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "chest-upside-down": lambda pixels: pixels[::-1],
    "chest-inverted": lambda pixels: 1.0 - pixels,
}


def draw_image(category: str, index: int, seed: int, chests: Sequence[Path] = ()) -> Image.Image:
    """Image `index` of `category`, the same for the same (seed, category, index, chests)."""
    if category not in CATEGORIES:
        raise ExportError(f"unknown category {category!r}; expected one of {', '.join(CATEGORIES)}")
    if category in _TURNED:
        return _film(_TURNED[category](_Chests(chests, seed).pixels(index)))
    return _DRAWN[category](np.random.default_rng([seed, CATEGORIES.index(category), index]))


def write_not_chest(
    out: Path,
    count: int,
    seed: int,
    chests: Sequence[Path] = (),
    categories: Sequence[str] = CATEGORIES,
) -> dict[str, list[Path]]:
    """Write `count` images of each category to out/<category>/NNNNN.png|.jpg (every fourth a
    JPEG); returns the files by category. `chests`: radiographs to turn upside down and invert
    (cycled; none: drawn by the synthetic generator at `seed`)."""
    if count < 1:
        raise ExportError(f"count must be at least 1 image per category, got {count}")
    written: dict[str, list[Path]] = {}
    for category in categories:
        folder = Path(out) / category
        folder.mkdir(parents=True, exist_ok=True)
        files = written.setdefault(category, [])
        for index in range(count):
            path = folder / f"{index:05d}{'.jpg' if index % 4 == 3 else '.png'}"
            image = draw_image(category, index, seed, chests)
            if path.suffix == ".jpg":
                image.save(path, quality=90)
            else:
                image.save(path, compress_level=1)
            files.append(path)
    return written
