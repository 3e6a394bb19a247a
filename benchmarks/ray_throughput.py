"""Ray actors against single-process classify, on the same synthetic radiograph-sized files.

    python benchmarks/ray_throughput.py [--images 2000] [--side 1024] [--model M] [--repeat 1]

Writes `--images` synthetic grayscale files of `--side` px (half PNG, half JPEG) to a cache folder,
then classifies them (the list repeated `--repeat` times) with:
  - single process, 1 core: Classifier(threads=1, decode_workers=0), what one actor runs;
  - single process, 2 cores: Classifier's defaults on this machine (what `classify` runs);
  - Ray with 1 actor and with 2 actors (classify_dataset on a local Ray with 2 CPUs; the actor
    pool's start is included, Ray's own start is not).
Prints images/s for each, the ratios, the load average, and the peak RSS (VmHWM) of the driver
and of each actor process (read from /proc while they run). The CPU is shared: quote the load.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

from edgexray import Classifier, ClassifierOptions
from edgexray.demo import default_model

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "edgexray-ray-bench"


def synthetic_files(count: int, side: int) -> list[str]:
    """Radiograph-like files (smooth body, ribs, noise) so PNG/JPEG sizes are realistic."""
    folder = CACHE / f"{side}px"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:side, 0:side] / side
    body = 120 + 80 * np.exp(-((x - 0.5) ** 2 + (y - 0.55) ** 2) / 0.08)
    ribs = 25 * np.sin(y * 40) * (np.abs(x - 0.5) > 0.08)
    files = []
    for i in range(count):
        path = folder / f"{i:05d}.{'png' if i % 2 else 'jpg'}"
        if not path.exists():
            noise = rng.normal(0, 12, (side, side))
            pixels = np.clip(body + ribs * (0.6 + 0.4 * rng.random()) + noise, 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(path, quality=90)
        files.append(str(path))
    return files


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def single_process(files: list[str], model: Path, options: ClassifierOptions) -> float:
    with Classifier(model, options) as classifier:
        started = time.perf_counter()
        count = sum(1 for _ in classifier.iter_predictions(files))
        return count / (time.perf_counter() - started)


def on_ray(files: list[str], model: Path, actors: int) -> tuple[float, list[float]]:
    """images/s and the peak RSS (MB) of each actor process."""
    import psutil
    import ray

    from edgexray.scale import classify_dataset

    ds = ray.data.from_items([{"path": f} for f in files])
    records = classify_dataset(ds, model, actors=actors, batch_size=16)
    peaks: dict[int, float] = {}
    started = time.perf_counter()
    count = 0
    for batch in records.iter_batches(batch_size=None, batch_format="pyarrow"):
        count += batch.num_rows  # type: ignore[union-attr]
        for p in psutil.Process().children(recursive=True):
            try:
                if "ClassifyBatch" in " ".join(p.cmdline()):
                    peaks[p.pid] = max(peaks.get(p.pid, 0.0), vm_hwm_mb(p.pid))
            except (psutil.Error, OSError):
                pass
    return count / (time.perf_counter() - started), sorted(peaks.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=1, help="classify the list this many times")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--only-ray", action="store_true", help="skip the single-process runs")
    args = parser.parse_args()
    model = args.model or default_model()
    files = synthetic_files(args.images, args.side) * args.repeat
    size_kb = sum(os.path.getsize(f) for f in set(files)) / len(set(files)) / 1024
    print(f"{len(files)} rows, {args.side} px, {size_kb:.0f} KB per file, model {model.name}")
    print(f"load average before: {os.getloadavg()}")
    rates: dict[str, float] = {}
    if not args.only_ray:
        rates["single process, 1 core"] = single_process(
            files, model, ClassifierOptions(threads=1, decode_workers=0)
        )
        rates["single process, 2 cores (classify)"] = single_process(
            files, model, ClassifierOptions()
        )
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    try:
        for actors in (1, 2):
            rate, peaks = on_ray(files, model, actors)
            rates[f"ray, {actors} actor(s)"] = rate
            print(f"ray, {actors} actor(s): actor peak RSS MB {[round(p) for p in peaks]}")
    finally:
        ray.shutdown()
    for name, rate in rates.items():
        print(f"{name:40s} {rate:8.1f} images/s")
    if "ray, 1 actor(s)" in rates:
        print(f"2 actors / 1 actor: {rates['ray, 2 actor(s)'] / rates['ray, 1 actor(s)']:.2f}x")
    if "single process, 1 core" in rates:
        overhead = rates["single process, 1 core"] / rates["ray, 1 actor(s)"] - 1
        print(f"Ray per-image overhead, 1 actor vs 1-core process: {overhead:+.1%}")
    print(f"driver peak RSS (VmHWM): {vm_hwm_mb(os.getpid()):.0f} MB")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
