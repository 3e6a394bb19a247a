"""Synthetic chest radiographs for the demo models and the tests, deterministic by seed.

No real chest X-ray data can ship with the project, so the demo models are trained on images drawn
here: a PA chest film with thorax outline, two lung fields, heart shadow, ribs, spine, clavicles and
diaphragm, plus exposure, contrast, noise, slight rotation and offset. Classes:

- NORMAL: the anatomy only (with benign look-alikes: vessel markings, a small nodule, breast shadows).
- PNEUMONIA: one-sided consolidation, focal (a blob) or lobar (a lung zone below a fissure line).
- COVID: bilateral, peripheral, lower-zone ground-glass opacities (faint, patchy haze).

Lesion strength is drawn from a range whose low end hides under noise and anatomy, so a good model
lands around 90-98% rather than 100%. Every image has its own generator seeded by (seed, class,
index), so an image does not change when the count changes.

Anatomy is drawn at a working resolution (at most WORK_SIDE pixels on the long side), which is all a
classifier at 256 px or less can see, then resized to the final 500..2000 px size; that keeps one
image at a few tens of milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from edgexray_export.data.film_marks import FilmMarks, apply_marks
from edgexray_export.errors import ExportError
from PIL import Image, ImageFilter

BINARY_CLASSES = ("NORMAL", "PNEUMONIA")
THREE_CLASSES = ("COVID", "NORMAL", "PNEUMONIA")
CLASS_SETS = {"binary": BINARY_CLASSES, "three": THREE_CLASSES}

WORK_SIDE = 384
FILE_FORMATS = ("mixed", "dicom")
_CLASS_IDS = {"NORMAL": 0, "PNEUMONIA": 1, "COVID": 2}
_MARKS = 7  # the film marks' generator: (seed, class, index, _MARKS)


@dataclass(frozen=True)
class SynthConfig:
    """What to generate.

    classes: class names (folder names), from CLASS_SETS. count: images per class.
    min_side/max_side: range of the long image side in pixels; aspect (height/width) in
    [min_aspect, max_aspect]. png16_fraction/jpeg_fraction: share of 16-bit PNG and JPEG files
    (the rest is 8-bit PNG). difficulty: scales down lesion strength (1.0 = the shipped setting).
    file_format: "mixed" (PNG and JPEG, by the fractions) or "dicom" (every image a DICOM CR,
    MONOCHROME1 and MONOCHROME2 mixed; the pixels are the same as in "mixed").
    marks: shares of films with collimation borders, burned-in text and side markers
    (film_marks.FilmMarks; none by default). Marks are drawn from their own generator, so a
    film's anatomy is the same with or without them.
    """

    classes: tuple[str, ...] = BINARY_CLASSES
    count: int = 100
    seed: int = 0
    min_side: int = 500
    max_side: int = 2000
    min_aspect: float = 0.8
    max_aspect: float = 1.25
    png16_fraction: float = 0.15
    jpeg_fraction: float = 0.15
    difficulty: float = 1.0
    file_format: str = "mixed"
    marks: FilmMarks = field(default_factory=FilmMarks)

    def __post_init__(self) -> None:
        unknown = [name for name in self.classes if name not in _CLASS_IDS]
        if unknown or len(self.classes) < 2:
            raise ExportError(
                f"synthetic classes must be at least two of {sorted(_CLASS_IDS)}, got {self.classes}"
            )
        if self.count < 1:
            raise ExportError(f"count must be at least 1 image per class, got {self.count}")
        if not 16 <= self.min_side <= self.max_side:
            raise ExportError(
                f"image side range must satisfy 16 <= min <= max, got {self.min_side}..{self.max_side}"
            )
        if not 0 < self.min_aspect <= self.max_aspect:
            raise ExportError(f"aspect range {self.min_aspect}..{self.max_aspect} is invalid")
        fractions = (self.png16_fraction, self.jpeg_fraction)
        if min(fractions) < 0 or sum(fractions) > 1:
            raise ExportError("png16_fraction + jpeg_fraction must be within 0..1")
        if self.difficulty <= 0:
            raise ExportError(f"difficulty must be positive, got {self.difficulty}")
        if self.file_format not in FILE_FORMATS:
            raise ExportError(
                f"file_format must be one of {', '.join(FILE_FORMATS)}, got {self.file_format!r}"
            )


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Low-frequency noise in about -1..1: a `cells`-wide random grid upsampled bicubically."""
    grid = rng.standard_normal((cells, cells)).astype(np.float32)
    image = Image.fromarray(grid, "F").resize((shape[1], shape[0]), Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.float32)


def _soft(inside: np.ndarray, edge: float) -> np.ndarray:
    """Signed "inside" value (positive inside) to a 0..1 mask with a soft edge of width `edge`."""
    return 1.0 / (1.0 + np.exp(-np.clip(inside / edge, -30, 30)))


@dataclass(frozen=True)
class _Frame:
    """Normalised coordinates of every pixel: u across (-1 left..1 right), v down (-1 top..1 bottom)."""

    u: np.ndarray
    v: np.ndarray


def _frame(rng: np.random.Generator, height: int, width: int) -> _Frame:
    aspect = height / width
    ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
    xs = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
    # A wide film shows more around the chest, a tall one more above and below it.
    xs = xs * max(1.0, 1.0 / aspect)
    ys = ys * max(1.0, aspect)
    angle = np.deg2rad(rng.uniform(-6, 6))
    scale = rng.uniform(0.9, 1.12)
    du, dv = rng.uniform(-0.08, 0.08), rng.uniform(-0.08, 0.08)
    cos, sin = np.cos(angle), np.sin(angle)
    u = ((xs - du) * cos + (ys - dv) * sin) * scale
    v = (-(xs - du) * sin + (ys - dv) * cos) * scale
    return _Frame(u=u.astype(np.float32), v=v.astype(np.float32))


@dataclass(frozen=True)
class _Lungs:
    """Per-side lung masks (0..1) and the lateral coordinate inside each lung (0 medial..1 lateral)."""

    left: np.ndarray
    right: np.ndarray
    top: float
    bottom: float


def _lungs(rng: np.random.Generator, f: _Frame) -> _Lungs:
    masks = []
    top = rng.uniform(-0.72, -0.6)
    bottom = rng.uniform(0.45, 0.62)
    for side in (-1.0, 1.0):
        center = side * rng.uniform(0.36, 0.42)
        half_width = rng.uniform(0.24, 0.3) * (0.92 if side > 0 else 1.0)
        # Lung height runs from the apex to a dome-shaped diaphragm, lower laterally.
        vmid, vhalf = (top + bottom) / 2, (bottom - top) / 2
        across = (f.u - center) / half_width
        down = (f.v - vmid) / vhalf
        inside = 1.0 - (np.abs(across) ** 2.2 + np.abs(down) ** 2.6)
        # The costophrenic angle: the lateral lower corner is deeper than the medial one.
        inside += 0.25 * np.clip(down, 0, None) * (side * (f.u - center) / half_width)
        masks.append(_soft(inside, 0.06))
    return _Lungs(left=masks[0], right=masks[1], top=top, bottom=bottom)


def _ribs(rng: np.random.Generator, f: _Frame, lungs: _Lungs) -> np.ndarray:
    out = np.zeros_like(f.u)
    count = 9
    spacing = (lungs.bottom - lungs.top) / count
    width = spacing * rng.uniform(0.28, 0.38)
    au = np.abs(f.u)
    for k in range(count):
        v0 = lungs.top + (k + 0.3) * spacing
        # Posterior ribs arc up from the spine, then fall away laterally.
        centre = v0 - 0.12 * au + 0.35 * au**2
        d = (f.v - centre) / width
        out += np.exp(-(d**2)) * (0.6 + 0.4 * np.exp(-((np.abs(d) - 0.8) ** 2) * 8))
    return out * np.clip(1.2 - au, 0, 1)


def _clavicles(rng: np.random.Generator, f: _Frame, lungs: _Lungs) -> np.ndarray:
    level = lungs.top + rng.uniform(0.0, 0.08)
    au = np.abs(f.u)
    centre = level - 0.1 + 0.25 * (au - 0.1) - 0.25 * (au - 0.1) ** 2
    d = (f.v - centre) / 0.035
    return np.exp(-(d**2)) * ((au > 0.06) & (au < 0.7))


def _spine(rng: np.random.Generator, f: _Frame) -> np.ndarray:
    width = rng.uniform(0.07, 0.09)
    column = _soft(width - np.abs(f.u), 0.02)
    bodies = 0.8 + 0.2 * np.cos(f.v * np.pi * rng.uniform(9, 11)) ** 2
    return column * bodies


def _heart(rng: np.random.Generator, f: _Frame, lungs: _Lungs) -> np.ndarray:
    cu = rng.uniform(0.08, 0.15)
    cv = lungs.bottom - rng.uniform(0.18, 0.26)
    ru, rv = rng.uniform(0.28, 0.36), rng.uniform(0.22, 0.28)
    inside = 1.0 - (((f.u - cu) / ru) ** 2 + ((f.v - cv) / rv) ** 2)
    return _soft(inside, 0.08)


def _body(rng: np.random.Generator, f: _Frame) -> np.ndarray:
    ru = rng.uniform(0.82, 0.92)
    trunk = 1.0 - ((np.abs(f.u) / ru) ** 4 + np.clip((f.v - 0.1) / 1.15, 0, None) ** 4)
    # Shoulders and neck above the thorax.
    neck = 0.2 - np.abs(f.u) - 0.0 * f.v
    shoulders = np.where(f.v < -0.65, np.maximum(trunk - (-0.65 - f.v) * 1.5, neck), trunk)
    return _soft(shoulders, 0.03)


def _patchy(
    rng: np.random.Generator, shape: tuple[int, int], cells: int, cover: float
) -> np.ndarray:
    """0..1 blotches covering about `cover` of the area."""
    noise = _smooth_noise(rng, shape, cells)
    return _soft(noise - np.quantile(noise, 1.0 - cover), 0.25)


def _alveolar(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Fluffy acinar texture, 0..1: small confluent nodules a few pixels wide.

    Consolidation and ground glass differ from normal lung most in their fine texture, and fine
    texture is what a small-receptive-field CNN sees best.
    """
    cells = max(8, round(max(shape) / 5))
    return _patchy(rng, shape, cells, rng.uniform(0.4, 0.6))


def _pneumonia(rng: np.random.Generator, f: _Frame, lungs: _Lungs, strength: float) -> np.ndarray:
    side = rng.integers(2)
    lung = (lungs.left, lungs.right)[side]
    sign = (-1.0, 1.0)[side]
    shape = f.u.shape
    if rng.random() < 0.5:
        # Focal: an irregular blob somewhere in the lung.
        cu = sign * rng.uniform(0.25, 0.5)
        cv = rng.uniform(lungs.top + 0.3, lungs.bottom - 0.15)
        radius = rng.uniform(0.12, 0.25)
        r = np.sqrt((f.u - cu) ** 2 + ((f.v - cv) * 1.1) ** 2) / radius
        zone = np.exp(-(r**2) * 1.5) * (0.5 + 0.5 * _patchy(rng, shape, 28, 0.6))
    else:
        # Lobar: the lung below (or above) a slanted fissure line, with a soft border.
        level = rng.uniform(lungs.top + 0.45, lungs.bottom - 0.3)
        tilt = rng.uniform(-0.25, 0.25)
        below = f.v - (level + tilt * sign * f.u)
        zone = _soft(below if rng.random() < 0.75 else -below, 0.06)
        zone = zone * (0.45 + 0.55 * _patchy(rng, shape, 28, 0.6))
    lesion = zone * (0.35 + 0.65 * _alveolar(rng, shape))
    return strength * np.clip(lesion, 0, None) * lung


def _covid(rng: np.random.Generator, f: _Frame, lungs: _Lungs, strength: float) -> np.ndarray:
    shape = f.u.shape
    total = np.zeros_like(f.u)
    mid = (lungs.top + lungs.bottom) / 2
    for sign, lung in ((-1.0, lungs.left), (1.0, lungs.right)):
        lateral = np.clip((sign * f.u - 0.25) / 0.35, 0, 1)  # 0 medial .. 1 at the chest wall
        lower = _soft(f.v - (mid + rng.uniform(-0.1, 0.15)), 0.12)
        haze = _patchy(rng, shape, int(rng.integers(16, 26)), rng.uniform(0.4, 0.65))
        side_strength = strength * rng.uniform(0.75, 1.15)
        texture = 0.5 + 0.5 * _alveolar(rng, shape)
        total += side_strength * lateral**0.7 * lower * haze * texture * lung
    return total


@dataclass(frozen=True)
class _Strength:
    """Lesion amplitude ranges (fraction of the lung-to-bone contrast), before `difficulty`."""

    pneumonia: tuple[float, float] = (0.3, 1.0)
    covid: tuple[float, float] = (0.25, 0.8)


_STRENGTH = _Strength()


def _lesion(name: str) -> Callable[..., np.ndarray] | None:
    return {"PNEUMONIA": _pneumonia, "COVID": _covid}.get(name)


def render(
    class_name: str, rng: np.random.Generator, height: int, width: int, difficulty: float = 1.0
) -> np.ndarray:
    """One radiograph of `class_name` at height x width pixels: float32 in 0..1 (1 = dense/white)."""
    return render_with_lesion(class_name, rng, height, width, difficulty)[0]


# A pixel belongs to the lesion where the lesion, smoothed over its alveolar texture, reaches this
# share of its own peak: the region a reader would outline, not every speck of the texture.
LESION_MASK_LEVEL = 0.25


def lesion_mask(lesion: np.ndarray) -> np.ndarray | None:
    """Where a drawn lesion (the amplitude added to the image) is: bool mask, None when empty."""
    peak = float(lesion.max())
    if peak <= 0:
        return None
    radius = max(1.0, max(lesion.shape) / 100)
    # Pillow blurs 8-bit images only; 256 levels are ample for a 25% cut.
    scaled = np.rint(np.clip(lesion / peak, 0, 1) * 255).astype(np.uint8)
    smooth = Image.fromarray(scaled, "L").filter(ImageFilter.GaussianBlur(radius))
    smoothed = np.asarray(smooth, dtype=np.float32)
    return smoothed >= LESION_MASK_LEVEL * float(smoothed.max())


def render_with_lesion(
    class_name: str, rng: np.random.Generator, height: int, width: int, difficulty: float = 1.0
) -> tuple[np.ndarray, np.ndarray | None]:
    """Like `render`, and where the lesion was drawn: a bool mask (None for NORMAL). The pixels
    are the same as `render`'s for the same generator state: the mask draws no random numbers."""
    f = _frame(rng, height, width)
    shape = f.u.shape
    lungs = _lungs(rng, f)
    lung = np.maximum(lungs.left, lungs.right)
    body = _body(rng, f)
    heart = _heart(rng, f, lungs)
    image = 0.06 + 0.5 * body
    # Aerated lung is dark; vessel markings fan out from the hila.
    vessels = _smooth_noise(rng, shape, 24) * 0.025 + _smooth_noise(rng, shape, 48) * 0.015
    image -= lung * (rng.uniform(0.3, 0.38) - vessels)
    image += 0.3 * heart * (0.5 + 0.5 * lung)
    image += rng.uniform(0.12, 0.2) * _ribs(rng, f, lungs) * body
    image += 0.22 * _clavicles(rng, f, lungs) * body
    image += 0.28 * _spine(rng, f) * body
    # Benign look-alikes in every class, so "any brightness in the lung" is not the answer.
    if rng.random() < 0.5:  # breast shadows: bilateral, lower, lateral, like COVID's zone
        level = lungs.bottom - rng.uniform(0.1, 0.25)
        breast = _soft(0.25 - np.sqrt((np.abs(f.u) - 0.45) ** 2 + (f.v - level) ** 2), 0.1)
        image += rng.uniform(0.02, 0.08) * breast * body
    if rng.random() < 0.3:  # a small calcified nodule
        cu, cv = rng.uniform(-0.6, 0.6), rng.uniform(lungs.top + 0.2, lungs.bottom - 0.2)
        r = np.sqrt((f.u - cu) ** 2 + (f.v - cv) ** 2) / rng.uniform(0.02, 0.04)
        image += 0.2 * np.exp(-(r**2)) * lung
    draw = _lesion(class_name)
    mask = None
    if draw is not None:
        low, high = getattr(_STRENGTH, class_name.lower())
        strength = rng.uniform(low, high) / difficulty
        lesion = draw(rng, f, lungs, strength)
        image += lesion
        mask = lesion_mask(lesion)
    return expose(image, rng), mask


def expose(density: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Attenuation (any scale, dense = high) -> a radiograph's pixels, float32 0..1: mottled
    quantum noise, a little grain, film contrast (gamma) and a window. Shared by every drawer so
    that a drawn knee has the same exposure and noise as a drawn chest."""
    shape = density.shape
    image = density + _smooth_noise(rng, shape, 64) * rng.uniform(0.006, 0.012)
    image += rng.standard_normal(shape).astype(np.float32) * rng.uniform(0.006, 0.014)
    image = np.clip(image, 0, None) ** rng.uniform(0.85, 1.2)
    low, high = rng.uniform(0.0, 0.06), rng.uniform(0.9, 1.05)
    image = (image - image.min()) / max(float(image.max() - image.min()), 1e-6)
    return np.clip(low + image * (high - low), 0, 1).astype(np.float32)


def _write_png8(image: np.ndarray, path: Path) -> Path:
    Image.fromarray(np.rint(image * 255).astype(np.uint8), "L").save(
        path.with_suffix(".png"), compress_level=1
    )
    return path.with_suffix(".png")


def _write_png16(image: np.ndarray, path: Path) -> Path:
    pixels = np.rint(image * 65535).astype(np.uint16)
    Image.fromarray(pixels).save(
        path.with_suffix(".png"), compress_level=1
    )  # uint16 -> mode "I;16"
    return path.with_suffix(".png")


def _write_jpeg(image: np.ndarray, path: Path) -> Path:
    pixels = Image.fromarray(np.rint(image * 255).astype(np.uint8), "L")
    pixels.save(path.with_suffix(".jpg"), quality=90)
    return path.with_suffix(".jpg")


_WRITERS: dict[str, Callable[[np.ndarray, Path], Path]] = {
    "png8": _write_png8,
    "png16": _write_png16,
    "jpeg": _write_jpeg,
}


@dataclass(frozen=True)
class SynthImage:
    """One generated radiograph: pixels float32 0..1 of shape (height, width), and its file format.
    lesion: where the lesion was drawn, a bool mask of the pixels' shape (None for NORMAL); it is
    not written with the image, the benchmarks of explanations read it from here."""

    class_name: str
    index: int
    pixels: np.ndarray
    file_format: str
    lesion: np.ndarray | None = None
    seed: int = 0


def generate_image(class_name: str, index: int, config: SynthConfig) -> SynthImage:
    """Image `index` of `class_name`, the same for the same (config.seed, class, index)."""
    rng = np.random.default_rng([config.seed, _CLASS_IDS[class_name], index])
    long_side = int(rng.integers(config.min_side, config.max_side + 1))
    aspect = rng.uniform(config.min_aspect, config.max_aspect)  # height / width
    if aspect >= 1:
        height, width = long_side, max(16, round(long_side / aspect))
    else:
        height, width = max(16, round(long_side * aspect)), long_side
    draw = rng.random()
    fmt = (
        "png16"
        if draw < config.png16_fraction
        else "jpeg"
        if draw < config.png16_fraction + config.jpeg_fraction
        else "png8"
    )
    if config.file_format == "dicom":  # after the draw, so the pixels are those of "mixed"
        fmt = "dicom-mono1" if rng.random() < 0.5 else "dicom-mono2"
    shrink = min(1.0, WORK_SIDE / max(height, width))
    work_h, work_w = max(16, round(height * shrink)), max(16, round(width * shrink))
    pixels, lesion = render_with_lesion(class_name, rng, work_h, work_w, config.difficulty)
    if (work_h, work_w) != (height, width):
        full = Image.fromarray(pixels, "F").resize((width, height), Image.Resampling.BICUBIC)
        pixels = np.clip(np.asarray(full, dtype=np.float32), 0, 1)
        if lesion is not None:
            big = Image.fromarray(lesion).resize((width, height), Image.Resampling.NEAREST)
            lesion = np.asarray(big, dtype=bool)
    if config.marks.any:
        marks_rng = np.random.default_rng([config.seed, _CLASS_IDS[class_name], index, _MARKS])
        pixels = apply_marks(pixels, config.marks, marks_rng)
    return SynthImage(class_name, index, pixels, fmt, lesion, config.seed)


def write_image(image: SynthImage, folder: Path) -> Path:
    """Write `image` into `folder` as <CLASS>_<index>.png/.jpg/.dcm; returns the file written."""
    stem = folder / f"{image.class_name}_{image.index:05d}"
    if image.file_format.startswith("dicom"):
        from edgexray_export.data.dicom_writer import write_dicom

        photometric = "MONOCHROME1" if image.file_format == "dicom-mono1" else "MONOCHROME2"
        key = (image.seed, image.class_name, image.index)
        return write_dicom(image.pixels, stem, key, photometric)
    return _WRITERS[image.file_format](image.pixels, stem)


def _generate_and_write(job: tuple[str, int, SynthConfig, Path]) -> Path:
    class_name, index, config, folder = job
    return write_image(generate_image(class_name, index, config), folder)


def write_dataset(
    out: Path,
    config: SynthConfig,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> list[Path]:
    """Write `config.count` images per class to out/<CLASS>/; returns the files, class by class.

    `progress(done, total)` is called after each image. `workers` > 1 uses that many processes
    (the images do not depend on it).
    """
    jobs: list[tuple[str, int, SynthConfig, Path]] = []
    for class_name in config.classes:
        folder = Path(out) / class_name
        folder.mkdir(parents=True, exist_ok=True)
        jobs.extend((class_name, index, config, folder) for index in range(config.count))
    written: list[Path] = []
    with ExitStack() as stack:
        if workers > 1:
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=workers))
            results: Iterable[Path] = pool.map(_generate_and_write, jobs, chunksize=8)
        else:
            results = map(_generate_and_write, jobs)
        for path in results:
            written.append(path)
            if progress is not None:
                progress(len(written), len(jobs))
    return written
