"""What `edgexray watch` costs per image against `edgexray classify` on the same images.

    python benchmarks/watch_cost.py [--images 200] [--rounds 5] [--model FILE] [--threads N]

Makes one folder of N images (copies of the bundled samples under distinct names) and times, as
separate processes, `classify FOLDER --format jsonl -o FILE` and `watch FOLDER --once --settle 0
--results FILE` (a fresh journal each time, so every image is decided), each with and without
`--audit` (the deployed configuration writes one). Each command also runs on a folder of one
image: its fixed cost (interpreter, imports, model load, watchdog start) is taken away, so

    per-image cost = (time with N images - time with 1 image) / (N - 1)

and the ratio is watch's per-image cost over classify's. Rows alternate within each round (one
warm-up round first) so a busy spell on the machine hits all alike; each figure is the median of
the rounds. Wall time; the load average before and after is printed, since other work on the
machine shows in every figure.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rounds import interleaved

from edgexray import demo


def _folder(root: Path, count: int) -> Path:
    """`root/images-COUNT`: COUNT copies of the bundled samples, cycling, under distinct names."""
    folder = root / f"images-{count}"
    folder.mkdir()
    samples = demo.sample_images()
    for i in range(count):
        sample = samples[i % len(samples)]
        shutil.copyfile(sample, folder / f"{i:04d}-{sample.name}")
    return folder


COMMANDS = ("classify", "watch", "classify --audit", "watch --audit")


def _command(name: str, folder: Path, out: Path, model: str | None) -> list[str]:
    """The command line of `name` (one of COMMANDS) on `folder`, writing into `out`."""
    kind, *flags = name.split()
    line = [sys.executable, "-m", "edgexray.cli.main", kind, str(folder)]
    if kind == "classify":
        line += ["--format", "jsonl", "-o", str(out / "results.jsonl")]
    else:
        line += ["--once", "--settle", "0", "--results", str(out / "results.jsonl")]
    if "--audit" in flags:
        line += ["--audit", str(out / "audit.jsonl")]
    return line + (["-m", model] if model else [])


def _timed(name: str, folder: Path, model: str | None, scratch: Path, env: dict[str, str]) -> float:
    """Seconds one run of `name` on `folder` takes, in a fresh output folder (removed after)."""
    out = Path(tempfile.mkdtemp(dir=scratch))
    command = _command(name, folder, out, model)
    try:
        started = time.perf_counter()
        done = subprocess.run(
            command, env=env, cwd=scratch, capture_output=True, text=True, timeout=1800
        )
        elapsed = time.perf_counter() - started
    finally:
        shutil.rmtree(out)
    if done.returncode not in (0, 3):  # 3: images the input checks refuse, alike in both
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    return elapsed


def measure(commands: tuple[str, ...], description: str, prefix: str) -> dict[str, float]:
    """Parse the command line (--images, --rounds, --model, --threads), time each of `commands`
    (names _command knows) on a folder of one image and one of N, interleaved, print the table
    and return each command's per-image cost in seconds."""
    parser = argparse.ArgumentParser(description=description)
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
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        scratch = Path(tmp)
        folders = {n: _folder(scratch, n) for n in (1, args.images)}
        rows: dict[str, Callable[[], float]] = {
            f"{name} [{n}]": functools.partial(_timed, name, folder, args.model, scratch, env)
            for name in commands
            for n, folder in folders.items()
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
    for name in commands:
        one, many = medians[f"{name} [1]"], medians[f"{name} [{n}]"]
        per_image[name] = (many - one) / (n - 1)
        print(f"| {name} | {one:.2f} | {many:.2f} | {per_image[name] * 1000:.2f} |")
    print()
    return per_image


def main() -> None:
    per_image = measure(COMMANDS, __doc__.splitlines()[0], "watch-cost-")
    for audit in ("", " --audit"):
        ratio = per_image["watch" + audit] / per_image["classify" + audit]
        print(f"watch{audit} / classify{audit}, per image: {ratio:.2f}x")


if __name__ == "__main__":
    main()
