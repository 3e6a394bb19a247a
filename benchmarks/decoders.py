"""Is there a faster decoder than Pillow for radiograph files? One process, interleaved rounds.

    python benchmarks/decoders.py [--side 1024] [--rounds 5]

Decodes the 1024 px PNG 8-bit, PNG 16-bit and JPEG files of `benchmarks/end_to_end.py` (made there
if missing) from bytes in memory with Pillow and, when they are installed, OpenCV
(`opencv-python-headless`) and libspng (`pyspng`, PNG only). Neither is an edgexray dependency:
install them into the benchmark environment to compare. Medians of round medians, in ms.
"""

from __future__ import annotations

import argparse
import importlib
import io
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from end_to_end import radiographs
from rounds import interleaved, median_ms


def decoders(png: bool) -> dict[str, Callable[[bytes], object]]:
    """Name -> decode(bytes) for every decoder installed that reads this format."""
    found: dict[str, Callable[[bytes], object]] = {
        "Pillow": lambda data: Image.open(io.BytesIO(data)).load()
    }
    try:
        cv2 = importlib.import_module("cv2")
        cv2.setNumThreads(1)
        found["OpenCV"] = lambda data: cv2.imdecode(
            np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED
        )
    except ImportError:
        pass
    if png:
        try:
            pyspng = importlib.import_module("pyspng")
            found["libspng"] = pyspng.load
        except ImportError:
            pass
    return found


def rows(files: list[Path], png: bool) -> dict[str, Callable[[], float]]:
    """Decoder name -> one measurement (median ms per file) over the files' bytes."""
    blobs = [f.read_bytes() for f in files]
    return {
        decoder: lambda decode=decode: median_ms(lambda i: decode(blobs[i % len(blobs)]), 40)  # type: ignore[misc]
        for decoder, decode in decoders(png).items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    for name, files in radiographs(args.side, args.images).items():
        medians = interleaved(rows(files, png=name.startswith("PNG")), args.rounds)
        base = medians["Pillow"]
        print(
            f"{name}: " + ", ".join(f"{k} {v:.2f} ms ({v / base:.2f}x)" for k, v in medians.items())
        )


if __name__ == "__main__":
    main()
