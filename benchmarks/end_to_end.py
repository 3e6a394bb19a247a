"""End to end against inference alone, for typical 1024 x 1024 radiograph files: one process.

    python benchmarks/end_to_end.py [MODEL...] [--side 1024] [--images 8] [--rounds 5] [--threads 2]
        [--markdown benchmarks/END_TO_END.md]

Renders `--images` synthetic radiographs (edgexray_export.data.synthetic, cached in
benchmarks/.cache) and saves each as an 8-bit PNG (Pillow's default compression), a 16-bit PNG and
a JPEG (quality 90), the forms chest X-rays come in. For each format it times, in interleaved
rounds so that a busy spell hits every row alike:

- inference alone: `Classifier.predict_tensor` on one preprocessed image (the denominator);
- one image: `Classifier.predict(path)`, decode + resize + normalize + inference, with the one-step
  resize (exactly as in training) and with `reducing_gap=2`;
- a folder: `Classifier.iter_predictions` over 8 copies of the files, wall time per image, with
  decoding in the calling thread (decode_workers=0), in 1 background thread, or on every core
  (the default), the engine on `--threads` or on 1 thread, with and without `reducing_gap=2`.

Medians of round medians, in ms, and each row's ratio to inference alone.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from edgexray import Classifier, ClassifierOptions
from edgexray.atomic import write_text_atomically
from edgexray.bench.machine import describe_machine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rounds import interleaved, median_ms

HERE = Path(__file__).resolve().parent
DEFAULT_MODEL = HERE.parent / "models/demo/seed_cnn.tflite-int8.tflite"


def _eight_bit(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.rint(pixels * 255).astype(np.uint8), "L")


def _sixteen_bit(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.rint(pixels * 65535).astype(np.uint16))  # mode "I;16"


# Format name -> (file name ending, pixels 0..1 -> image, Pillow save options).
FORMATS: dict[str, tuple[str, Callable[[np.ndarray], Image.Image], dict[str, Any]]] = {
    "PNG 8-bit": (".png", _eight_bit, {}),
    "PNG 16-bit": ("-16.png", _sixteen_bit, {}),
    "JPEG q90": (".jpg", _eight_bit, {"quality": 90}),
}


def radiographs(side: int, count: int) -> dict[str, list[Path]]:
    """`count` images per format at side x side, rendered once and cached."""
    from edgexray_export.data.synthetic import render

    folder = HERE / ".cache" / f"end-to-end-{side}"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        stem = folder / f"{['NORMAL', 'PNEUMONIA'][i % 2]}_{i:03d}"
        if all(Path(f"{stem}{suffix}").exists() for suffix, _, _ in FORMATS.values()):
            continue
        pixels = render(["NORMAL", "PNEUMONIA"][i % 2], np.random.default_rng(i), side, side, 0.3)
        for suffix, image, options in FORMATS.values():
            image(pixels).save(f"{stem}{suffix}", **options)
    return {
        name: sorted(folder.glob(f"*_[0-9][0-9][0-9]{suffix}"))[:count]
        for name, (suffix, _, _) in FORMATS.items()
    }


def folder_ms(classifier: Classifier, files: list[Path], copies: int = 8) -> float:
    """Wall time per image of a folder run (iter_predictions, batches of 8)."""
    start = time.perf_counter()
    done = sum(1 for p in classifier.iter_predictions(files * copies) if p.error is None)
    if done != len(files) * copies:
        raise RuntimeError(f"{len(files) * copies - done} images failed")
    return (time.perf_counter() - start) * 1000 / done


@dataclass(frozen=True)
class FolderRun:
    """One configuration of a folder run: engine threads (None: --threads), decode threads (None:
    one per core, the default), reducing_gap."""

    threads: int | None = None
    decode_workers: int | None = None
    reducing_gap: float | None = None

    def label(self, default_threads: int) -> str:
        threads = self.threads or default_threads
        decode = {None: "decode on every core", 0: "decode inline"}.get(
            self.decode_workers, f"decode in {self.decode_workers} thread(s)"
        )
        gap = f", reducing_gap {self.reducing_gap:g}" if self.reducing_gap else ""
        return f"folder, {threads} engine thread(s), {decode}{gap}"


def format_rows(
    model: Path, files: list[Path], threads: int, folder_runs: list[FolderRun]
) -> dict[str, Callable[[], float]]:
    """Row name -> a function that measures it once (ms per image)."""
    exact = Classifier(model, ClassifierOptions(threads=threads))
    fast = Classifier(model, ClassifierOptions(threads=threads, reducing_gap=2.0))
    tensors = [exact.preprocessor(f)[None] for f in files]
    rows: dict[str, Callable[[], float]] = {
        "inference alone": lambda: median_ms(
            lambda i: exact.predict_tensor(tensors[i % len(tensors)]), 100
        ),
        "one image, one-step resize": lambda: median_ms(
            lambda i: exact.predict(files[i % len(files)]), 4 * len(files)
        ),
        "one image, reducing_gap 2": lambda: median_ms(
            lambda i: fast.predict(files[i % len(files)]), 4 * len(files)
        ),
    }
    for run in folder_runs:
        options = ClassifierOptions(
            threads=run.threads or threads,
            decode_workers=run.decode_workers,
            reducing_gap=run.reducing_gap,
        )
        classifier = Classifier(model, options)
        rows[run.label(threads)] = lambda c=classifier: folder_ms(c, files)  # type: ignore[misc]
    return rows


def report(model: Path, args: argparse.Namespace) -> list[str]:
    """The measured lines for one model."""
    folder_runs = [
        FolderRun(decode_workers=0),
        FolderRun(decode_workers=1),
        FolderRun(),
        FolderRun(threads=1),
        FolderRun(reducing_gap=2.0),
        FolderRun(threads=1, reducing_gap=2.0),
    ]
    lines = [
        f"{model.name}, {args.threads} engine threads unless said, {args.images} images "
        f"{args.side}x{args.side} per format, {args.rounds} rounds"
    ]
    for name, files in radiographs(args.side, args.images).items():
        # The warm-up round also brings every file into the page cache.
        medians = interleaved(format_rows(model, files, args.threads, folder_runs), args.rounds)
        base = medians["inference alone"]
        size_kb = sum(f.stat().st_size for f in files) // len(files) // 1024
        lines += ["", f"{name} ({size_kb} kB/file)"]
        for row, value in medians.items():
            lines.append(f"  {row:<62} {value:7.2f} ms  {value / base:5.2f}x inference")
    print("\n".join(lines), flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, default=[DEFAULT_MODEL])
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--markdown", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    before = os.getloadavg()[0]
    blocks = [report(model, args) for model in args.models]
    if args.markdown:
        machine = describe_machine(args.threads)
        text = [
            "# End to end on 1024 px radiograph files",
            "",
            f"`python benchmarks/end_to_end.py` on {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}"
            f" (the script's docstring says what each row is). {machine.describe()}. 1-minute load "
            f"average {before:.1f} before, {os.getloadavg()[0]:.1f} after.",
        ]
        for lines in blocks:
            text += ["", "```", *lines, "```"]
        write_text_atomically(args.markdown, "\n".join(text) + "\n")


if __name__ == "__main__":
    main()
