"""What `edgexray classify --audit` costs against `edgexray classify` on the same images.

    python benchmarks/audit_cost.py [--images 200] [--rounds 5] [--model FILE] [--threads N]

Times, as separate processes, `classify FOLDER --format jsonl -o FILE` with and without `--audit
FILE` on one folder of N images (copies of the bundled samples under distinct names; a fresh output
folder each run, so the audit log starts empty) and on a folder of one image, whose time is the
fixed cost (interpreter, imports, model load). Rows alternate within each round (one warm-up round
first) so a busy spell on the machine hits both alike; each figure is the median of the rounds.
Printed: the whole-run ratio and the per-image ratio,

    per-image cost = (time with N images - time with 1 image) / (N - 1)

of `classify --audit` over `classify` (issue 23 asks for at most 1.05x). Wall time; the load average
before and after is printed, since other work on the machine shows in every figure.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rounds import interleaved
from watch_cost import _folder, _timed

COMMANDS = ("classify", "classify --audit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--model", default=None, help="default: the bundled demo model")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.images < 2:
        parser.error("--images must be at least 2")

    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGEXRAY_")}
    if args.threads is not None:
        env["EDGEXRAY_THREADS"] = str(args.threads)
    load_before = tuple(round(x, 1) for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="audit-cost-") as tmp:
        scratch = Path(tmp)
        folders = {n: _folder(scratch, n) for n in (1, args.images)}
        rows: dict[str, Callable[[], float]] = {
            f"{name} [{n}]": functools.partial(_timed, name, folder, args.model, scratch, env)
            for n, folder in folders.items()
            for name in COMMANDS
        }
        medians = interleaved(rows, args.rounds)
    load_after = tuple(round(x, 1) for x in os.getloadavg())

    n = args.images
    print(f"{n} images, {args.rounds} rounds (+1 warm-up), median wall time per run")
    print(f"load average (1, 5, 15 min) before {load_before}, after {load_after}")
    print()
    print("| command | 1 image (s) | N images (s) | per image (ms) |")
    print("|---|---|---|---|")
    per_image = {}
    for name in COMMANDS:
        one, many = medians[f"{name} [1]"], medians[f"{name} [{n}]"]
        per_image[name] = (many - one) / (n - 1)
        print(f"| {name} | {one:.2f} | {many:.2f} | {per_image[name] * 1000:.2f} |")
    print()
    whole = medians[f"classify --audit [{n}]"] / medians[f"classify [{n}]"]
    print(f"classify --audit / classify, whole run of {n} images: {whole:.3f}x")
    print(
        f"classify --audit / classify, per image: {per_image['classify --audit'] / per_image['classify']:.3f}x"
    )


if __name__ == "__main__":
    main()
