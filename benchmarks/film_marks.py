"""Do the image checks refuse chest films that carry what real films carry? False refusals of
synthetic chest films with collimation borders, burned-in text and side markers
(edgexray_export.data.film_marks), against the same films without them.

    python benchmarks/film_marks.py                 # -> benchmarks/FILM_MARKS.md
    python benchmarks/film_marks.py --count 50      # images per class (default 250)

The films: the binary and three-class synthetic sets at seed FILM_SEED (the full 500..2000 px
range, PNG and JPEG mixed as written to disk), each drawn twice: plain, and with every mark at
once (collimation, text and a marker on every film: harsher than any department). Each goes
through the image checks (edgexray.inputcheck.check_image, default thresholds) at both shipped
models' inputs: the seed CNN's 256 x 256 grey and the fine-tuned model's 160 x 160 RGB. The
image checks need no model: no TensorFlow, no engine. Goal (issue 24): at most 1% refused.
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from edgexray_export.data.film_marks import FilmMarks
from edgexray_export.data.synthetic import CLASS_SETS, SynthConfig, generate_image
from PIL import Image

from edgexray.atomic import write_text_atomically
from edgexray.inputcheck import ImageCheckThresholds, check_image
from edgexray.preprocessing import Preprocessor

HERE = Path(__file__).resolve().parent
FILM_SEED = 2424
INPUTS = {
    "seed CNN (256 x 256 grey)": Preprocessor(256, 256, color_mode="grayscale", normalize="unit"),
    "fine-tuned (160 x 160 RGB)": Preprocessor(160, 160, color_mode="rgb", normalize="symmetric"),
}
EVERY_MARK = FilmMarks(collimation=1.0, text=1.0, marker=1.0)


def _as_file(pixels: np.ndarray, jpeg: bool) -> bytes:
    """The film as the bytes of an 8-bit PNG or a JPEG (quality 90), as written to disk."""
    buffer = io.BytesIO()
    image = Image.fromarray(np.rint(np.clip(pixels, 0, 1) * 255).astype(np.uint8), "L")
    image.save(buffer, format="JPEG" if jpeg else "PNG", **({"quality": 90} if jpeg else {}))
    return buffer.getvalue()


def refusals(count: int, marks: FilmMarks) -> dict[str, Counter[str]]:
    """Per input: how many films were refused by each first failing check, and the total."""
    found: dict[str, Counter[str]] = {name: Counter() for name in INPUTS}
    limits = ImageCheckThresholds()
    for set_name, classes in CLASS_SETS.items():
        config = SynthConfig(classes=classes, count=count, seed=FILM_SEED, marks=marks)
        for class_name in classes:
            for index in range(count):
                film = generate_image(class_name, index, config)
                data = _as_file(film.pixels, jpeg=index % 4 == 3)
                for name, pre in INPUTS.items():
                    findings = check_image(pre.inspect(data), limits)
                    found[name]["films"] += 1
                    if findings:
                        found[name]["refused"] += 1
                        found[name][findings[0].check] += 1
        print(f"{set_name}: done", file=sys.stderr, flush=True)
    return found


def report(count: int) -> str:
    rows = [
        "| input | films | plain: refused | every mark: refused | every mark: refused by |",
        "|---|---:|---:|---:|---|",
    ]
    plain, marked = refusals(count, FilmMarks()), refusals(count, EVERY_MARK)
    for name in INPUTS:
        films = marked[name]["films"]
        by = {k: v for k, v in marked[name].items() if k not in ("films", "refused")}
        rows.append(
            f"| {name} | {films} | {plain[name]['refused']} ({plain[name]['refused'] / films:.1%})"
            f" | {marked[name]['refused']} ({marked[name]['refused'] / films:.1%}) | "
            + (", ".join(f"{k} {v}" for k, v in sorted(by.items())) or "none")
            + " |"
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return "\n".join(
        [
            "# Image checks on chest films with collimation, text and markers",
            "",
            f"`python benchmarks/film_marks.py --count {count}` "
            f"({datetime.date.today().isoformat()}, load {load}). Synthetic films of seed "
            f"{FILM_SEED}, {count} per class of the binary and three-class sets, each plain and "
            "with every mark (collimated edges, burned-in text, a side marker), through the "
            "image checks at default thresholds. Goal (issue 24): at most 1% refused.",
            "",
            *rows,
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=250, help="films per class")
    parser.add_argument("--out", type=Path, default=HERE / "FILM_MARKS.md")
    args = parser.parse_args()
    text = report(args.count)
    write_text_atomically(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
