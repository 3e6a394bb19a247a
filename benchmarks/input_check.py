"""How well the input checks refuse what is not a chest radiograph, and what they cost.

    python benchmarks/input_check.py                        # the shipped models' variants
    python benchmarks/input_check.py --models DIR1 DIR2     # variants exported elsewhere
    python benchmarks/input_check.py --cost                 # image-check cost vs end to end

Builds a labelled set of inputs that are not chest radiographs (blank and noise frames, gradients,
rendered text, procedural colour photographs, a hand, a knee and a skull drawn like radiographs,
chest radiographs turned upside down or inverted) and held-out chest radiographs from the synthetic
generator (a seed neither training nor the bundled samples used), runs every variant on them with
`--input-check strict`, and prints per category the share rejected, as a Markdown table.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from edgexray_export.data.synthetic import (
    BINARY_CLASSES,
    THREE_CLASSES,
    SynthConfig,
    generate_image,
)
from PIL import Image, ImageDraw, ImageFont

from edgexray import Classifier, ClassifierOptions
from edgexray.inputcheck import check_image
from edgexray.preprocessing import Preprocessor

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = (ROOT / "models" / "demo", ROOT / "models" / "finetune")
PER_CATEGORY = 40
HELD_OUT_SEED = 9090  # training used 2026, the bundled samples 2027
HELD_OUT_PER_CLASS = 100
BINARY_DIFFICULTY = 0.3  # as export/rebuild.py trains the seed CNN

Maker = Callable[[np.random.Generator], Image.Image]


def _size(rng: np.random.Generator) -> tuple[int, int]:
    side = int(rng.integers(400, 1100))
    return side, int(side * rng.uniform(0.8, 1.25))


def _grey(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")


def blank(rng: np.random.Generator) -> Image.Image:
    w, h = _size(rng)
    level = rng.choice([0, 255, rng.uniform(20, 235)])
    return _grey(level + rng.normal(0, rng.uniform(0, 2.5), (h, w)))


def noise(rng: np.random.Generator) -> Image.Image:
    w, h = _size(rng)
    kind = rng.integers(3)
    if kind == 0:
        return _grey(rng.uniform(0, 256, (h, w)))
    if kind == 1:
        return _grey(rng.normal(128, rng.uniform(20, 60), (h, w)))
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")


def gradient(rng: np.random.Generator) -> Image.Image:
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
    return _grey(lo + t * (hi - lo))


def text(rng: np.random.Generator) -> Image.Image:
    w, h = _size(rng)
    dark_on_light = rng.random() < 0.7
    image = Image.new(
        "L", (w, h), int(rng.uniform(225, 255) if dark_on_light else rng.uniform(0, 30))
    )
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=int(rng.integers(14, 40)))
    ink = 0 if dark_on_light else 255
    words = [
        "patient",
        "report",
        "chest",
        "radiograph",
        "findings",
        "impression",
        "normal",
        "study",
        "date",
    ]
    y = 10
    while y < h - 20:
        line = " ".join(rng.choice(words, int(rng.integers(3, 9))))
        draw.text((10, y), line, fill=ink, font=font)
        y += int(rng.integers(24, 60))
    return image


def colour_photo(rng: np.random.Generator) -> Image.Image:
    w, h = _size(rng)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    horizon = h * rng.uniform(0.35, 0.65)
    sky = np.array([rng.uniform(60, 140), rng.uniform(120, 190), rng.uniform(200, 255)])
    ground = np.array([rng.uniform(40, 120), rng.uniform(90, 170), rng.uniform(20, 80)])
    above = (y < horizon)[..., None]
    image = np.where(above, sky * (0.7 + 0.3 * (y / horizon))[..., None], ground)
    for _ in range(int(rng.integers(3, 10))):  # objects: coloured blobs
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(20, w / 5)
        inside = ((x - cx) ** 2 + (y - cy) ** 2 < r**2)[..., None]
        image = np.where(inside, rng.uniform(0, 255, 3), image)
    image += rng.normal(0, 6, image.shape)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")


def _radiograph(shapes: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Bone/tissue density 0..1 -> a radiograph-like 8-bit image: dark background, bright bone."""
    smooth = Image.fromarray((shapes * 255).astype(np.uint8)).filter(
        __import__("PIL.ImageFilter", fromlist=["GaussianBlur"]).GaussianBlur(3)
    )
    density = np.asarray(smooth, dtype=np.float32) / 255
    pixels = 25 + 200 * density + rng.normal(0, 4, density.shape)
    return _grey(pixels)


def _ellipse(x, y, cx, cy, rx, ry, angle=0.0):  # type: ignore[no-untyped-def]
    c, s = np.cos(angle), np.sin(angle)
    u, v = (x - cx) * c + (y - cy) * s, -(x - cx) * s + (y - cy) * c
    return (u / rx) ** 2 + (v / ry) ** 2 < 1


def hand(rng: np.random.Generator) -> Image.Image:
    w, h = _size(rng)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    tissue = _ellipse(x, y, w * 0.5, h * 0.72, w * 0.22, h * 0.2).astype(np.float32) * 0.35
    bone = np.zeros_like(tissue)
    for i, angle in enumerate(np.linspace(-0.5, 0.5, 4)):
        cx = w * (0.36 + 0.09 * i)
        for j in range(3):  # phalanges
            cy = h * (0.5 - 0.12 * j)
            tissue = np.maximum(tissue, 0.35 * _ellipse(x, y, cx, cy, w * 0.035, h * 0.07, angle))
            bone = np.maximum(bone, _ellipse(x, y, cx, cy, w * 0.018, h * 0.05, angle))
        bone = np.maximum(bone, _ellipse(x, y, cx, h * 0.68, w * 0.02, h * 0.1, angle))
    bone = np.maximum(bone, _ellipse(x, y, w * 0.7, h * 0.6, w * 0.02, h * 0.12, 0.7))  # thumb
    return _radiograph(np.maximum(tissue, 0.9 * bone), rng)


def knee(rng: np.random.Generator) -> Image.Image:
    w, h = _size(rng)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    tissue = (np.abs(x - w / 2) < w * rng.uniform(0.25, 0.33)).astype(np.float32) * 0.35
    femur = (np.abs(x - w / 2) < w * 0.12) & (y < h * 0.45)
    condyles = _ellipse(x, y, w * 0.42, h * 0.45, w * 0.09, h * 0.06) | _ellipse(
        x, y, w * 0.58, h * 0.45, w * 0.09, h * 0.06
    )
    tibia = ((np.abs(x - w / 2) < w * 0.13) & (y > h * 0.52)) | _ellipse(
        x, y, w * 0.5, h * 0.53, w * 0.18, h * 0.03
    )
    patella = _ellipse(x, y, w * 0.5, h * 0.38, w * 0.06, h * 0.05)
    return _radiograph(np.maximum(tissue, 0.9 * (femur | condyles | tibia | patella)), rng)


def skull(rng: np.random.Generator) -> Image.Image:
    w, h = _size(rng)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    outer = _ellipse(x, y, w * 0.5, h * 0.45, w * 0.36, h * 0.38)
    inner = _ellipse(x, y, w * 0.5, h * 0.45, w * 0.32, h * 0.34)
    orbits = _ellipse(x, y, w * 0.38, h * 0.55, w * 0.07, h * 0.05) | _ellipse(
        x, y, w * 0.62, h * 0.55, w * 0.07, h * 0.05
    )
    jaw = _ellipse(x, y, w * 0.5, h * 0.8, w * 0.2, h * 0.08) & ~_ellipse(
        x, y, w * 0.5, h * 0.76, w * 0.17, h * 0.07
    )
    density = 0.9 * (outer & ~inner) + 0.4 * inner - 0.25 * orbits + 0.9 * jaw
    return _radiograph(np.clip(density, 0, 1), rng)


def _chest(rng: np.random.Generator, classes: tuple[str, ...], difficulty: float) -> np.ndarray:
    config = SynthConfig(
        classes=classes, count=1, seed=int(rng.integers(1 << 30)), difficulty=difficulty
    )
    return generate_image(classes[int(rng.integers(len(classes)))], 0, config).pixels


def upside_down(rng: np.random.Generator) -> Image.Image:
    return _grey(np.rint(_chest(rng, THREE_CLASSES, 1.0)[::-1] * 255))


def inverted(rng: np.random.Generator) -> Image.Image:
    return _grey(np.rint((1 - _chest(rng, THREE_CLASSES, 1.0)) * 255))


CATEGORIES: dict[str, Maker] = {
    "blank frame": blank,
    "noise": noise,
    "gradient": gradient,
    "rendered text": text,
    "colour photograph": colour_photo,
    "hand (drawn)": hand,
    "knee (drawn)": knee,
    "skull (drawn)": skull,
    "chest upside down": upside_down,
    "chest inverted": inverted,
}


def build_set(folder: Path) -> dict[str, list[Path]]:
    """Write PER_CATEGORY images per category (PNG, every fourth a JPEG) under `folder`."""
    found: dict[str, list[Path]] = {}
    for index, (name, make) in enumerate(CATEGORIES.items()):
        rng = np.random.default_rng([HELD_OUT_SEED, index])
        target = folder / name.replace(" ", "_").replace("(", "").replace(")", "")
        target.mkdir(parents=True, exist_ok=True)
        paths = [target / f"{i:03d}{'.jpg' if i % 4 == 3 else '.png'}" for i in range(PER_CATEGORY)]
        found[name] = paths
        if all(path.is_file() for path in paths):  # kept from an earlier run with --work
            continue
        for path in paths:
            image = make(rng)
            image.save(path, quality=90) if path.suffix == ".jpg" else image.save(path)
    return found


def held_out_chests(folder: Path, three_class: bool) -> list[Path]:
    classes = THREE_CLASSES if three_class else BINARY_CLASSES
    config = SynthConfig(
        classes=classes,
        count=HELD_OUT_PER_CLASS,
        seed=HELD_OUT_SEED,
        difficulty=1.0 if three_class else BINARY_DIFFICULTY,
    )
    from edgexray_export.data.synthetic import write_dataset

    kept = sorted(p for p in folder.rglob("*.*") if p.is_file())
    if len(kept) == config.count * len(classes):  # kept from an earlier run with --work
        return kept
    return write_dataset(folder, config)


def rejected_share(classifier: Classifier, paths: list[Path]) -> float:
    results = classifier.predict_batch(paths)
    return sum(r.rejected is not None for r in results) / len(results)


def model_files(folders: list[Path]) -> list[Path]:
    return sorted(
        p for folder in folders for p in folder.glob("*.*") if p.suffix in (".tflite", ".onnx")
    )


def measure(folders: list[Path], work: Path) -> str:
    categories = build_set(work / "not-chest")
    chests = {
        False: held_out_chests(work / "chest-binary", three_class=False),
        True: held_out_chests(work / "chest-three", three_class=True),
    }
    samples = sorted(p for p in (ROOT / "models" / "samples").rglob("*.*"))
    columns = [*CATEGORIES, "all non-chest", "held-out chest", "bundled samples"]
    lines = [
        "| variant | " + " | ".join(columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for model in model_files(folders):
        options = ClassifierOptions(input_check="strict", threads=1)
        with Classifier(model, options) as classifier:
            shares = [rejected_share(classifier, paths) for paths in categories.values()]
            overall = sum(shares) / len(shares)  # every category has PER_CATEGORY images
            chest = rejected_share(classifier, chests[len(classifier.labels) == 3])
            bundled = classifier.predict_batch(samples)
            refused = sum(r.rejected is not None for r in bundled)
        cells = [f"{s:.0%}" for s in (*shares, overall, chest)] + [f"{refused} of {len(samples)}"]
        lines.append(f"| {model.name} | " + " | ".join(cells) + " |")
        print(lines[-1], file=sys.stderr)
    return "\n".join(lines)


def cost(runs: int = 200) -> str:
    """Median time of the image checks (colour sample + checks) and of one image end to end on the
    seed CNN's tflite-int8, interleaved in one process."""
    model = ROOT / "models" / "demo" / "seed_cnn.tflite-int8.tflite"
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        chest = generate_image(
            "NORMAL",
            0,
            SynthConfig(
                count=1,
                seed=HELD_OUT_SEED,
                min_side=1024,
                max_side=1024,
                min_aspect=1,
                max_aspect=1,
            ),
        ).pixels
        for suffix in (".png", ".jpg"):
            path = Path(folder) / f"chest{suffix}"
            _grey(np.rint(chest * 255)).save(path, quality=90)
            with (
                Classifier(model, ClassifierOptions(threads=1, input_check="off")) as off,
                Classifier(model, ClassifierOptions(threads=1, input_check="strict")) as strict,
            ):
                pre = Preprocessor.from_card(strict.card)
                facts = pre.inspect(path)
                times: dict[str, list[float]] = {
                    "off": [],
                    "strict": [],
                    "checks": [],
                    "with sample": [],
                    "without sample": [],
                }
                for _ in range(runs):
                    for name, call in (
                        ("off", lambda p=path: off.predict(p)),
                        ("strict", lambda p=path: strict.predict(p)),
                        ("checks", lambda f=facts: check_image(f)),
                        ("with sample", functools.partial(pre.inspect, path, sample_colour=True)),
                        (
                            "without sample",
                            functools.partial(pre.inspect, path, sample_colour=False),
                        ),
                    ):
                        start = time.perf_counter()
                        call()
                        times[name].append(time.perf_counter() - start)
            med = {k: statistics.median(v) * 1000 for k, v in times.items()}
            # The checks' own cost: the checks, plus taking the colour sample while decoding.
            added = med["checks"] + max(0.0, med["with sample"] - med["without sample"])
            rows.append(
                f"| 1024x1024 {suffix[1:].upper()} | {med['off']:.2f} ms | {med['strict']:.2f} ms | "
                f"{med['checks']:.3f} ms | {added:.3f} ms ({added / med['off']:.1%}) |"
            )
    head = (
        "| input | end to end, checks off | end to end, strict | the checks | checks + colour "
        "sample (share of end to end) |\n|---|---:|---:|---:|---:|"
    )
    return head + "\n" + "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="*", type=Path, default=list(SHIPPED))
    parser.add_argument("--work", type=Path, default=None, help="keep the generated images here")
    parser.add_argument("--cost", action="store_true", help="measure the checks' cost instead")
    args = parser.parse_args()
    if args.cost:
        print(cost())
        return
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        print(measure(args.models, args.work))
        return
    with tempfile.TemporaryDirectory() as work:
        print(measure(args.models, Path(work)))


if __name__ == "__main__":
    main()
