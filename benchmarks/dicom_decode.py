"""What does reading a radiograph as DICOM cost, next to the same picture as a 16-bit PNG?

    python benchmarks/dicom_decode.py [--side 2000] [--rounds 5] [--write benchmarks/DICOM.md]

One synthetic CR at side x side, 15 bits stored, written as uncompressed DICOM (explicit VR little
endian), JPEG 2000 lossless, JPEG lossless (process 14, SV1; written with imagecodecs) and as a
16-bit PNG (the same values times 2). Each row is decode + preprocess to the seed CNN's input
(`Preprocessor.pixels`, what `classify` does per file), median ms, interleaved rounds in one process;
the seed CNN's int8 inference on one image is given for scale. Peak memory: VmHWM growth of a fresh
child process over one decode + preprocess, against the decoded frame's size (side^2 x 2 bytes).
Needs the [dicom] extra and imagecodecs (dev extra).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from provenance import measured_on
from rounds import interleaved, median_ms

from edgexray.atomic import write_text_atomically

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MODEL = ROOT / "models" / "demo" / "seed_cnn.tflite-int8.tflite"
BITS = 15


def _dataset(values: np.ndarray):  # type: ignore[no-untyped-def]
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = UID("1.2.840.10008.5.1.4.1.1.1")
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.10.1137.99"
    ds.Modality, ds.BodyPartExamined, ds.ViewPosition = "CR", "CHEST", "PA"
    ds.set_pixel_data(values, "MONOCHROME2", BITS)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.WindowCenter, ds.WindowWidth = 2 ** (BITS - 1), 2**BITS
    return ds


def files(side: int) -> dict[str, Path]:
    """Format name -> file, rendered once and cached in benchmarks/.cache."""
    import imagecodecs
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEG2000Lossless, JPEGLosslessSV1

    folder = HERE / ".cache" / f"dicom-{side}"
    paths = {
        "DICOM uncompressed": folder / "cr.dcm",
        "DICOM JPEG 2000 lossless": folder / "cr-j2k.dcm",
        "DICOM JPEG lossless": folder / "cr-jpegll.dcm",
        "PNG 16-bit": folder / "cr.png",
    }
    if all(p.exists() for p in paths.values()):
        return paths
    from edgexray_export.data.synthetic import render

    folder.mkdir(parents=True, exist_ok=True)
    pixels = render("PNEUMONIA", np.random.default_rng(0), side, side, 0.3)
    values = np.rint(pixels * (2**BITS - 1)).astype(np.uint16)
    Image.fromarray(values * 2).save(paths["PNG 16-bit"])
    _dataset(values).save_as(paths["DICOM uncompressed"], enforce_file_format=True)
    ds = _dataset(values)
    ds.compress(JPEG2000Lossless, generate_instance_uid=False)
    ds.save_as(paths["DICOM JPEG 2000 lossless"], enforce_file_format=True)
    ds = _dataset(values)
    ds.PixelData = encapsulate(
        [bytes(imagecodecs.jpeg8_encode(values, lossless=True, bitspersample=BITS, predictor=1))]
    )
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGLosslessSV1
    ds.save_as(paths["DICOM JPEG lossless"], enforce_file_format=True)
    return paths


def _vmhwm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def child(path: str, warm: str) -> None:
    """Print the VmHWM growth (kB) of one decode + preprocess of `path`, after warming the same
    code path on a small file (`warm`) so that imports and plugin loading are not counted."""
    from edgexray import Classifier

    classifier = Classifier(MODEL)
    classifier.preprocessor.pixels(warm)
    before = _vmhwm_kb()
    classifier.preprocessor.pixels(path)
    print(json.dumps({"peak_growth_kb": _vmhwm_kb() - before}))


def peak_growth_mb(path: Path, warm: Path) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(path), str(warm)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return json.loads(out.splitlines()[-1])["peak_growth_kb"] / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--side", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=5, help="calls per round and row")
    parser.add_argument("--write", type=Path, default=None, help="write the table to this file")
    parser.add_argument("--child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from edgexray import Classifier

    paths = files(args.side)
    small = files(256)
    classifier = Classifier(MODEL)
    x = classifier.preprocessor(paths["PNG 16-bit"])[None]
    rows: dict[str, Callable[[], float]] = {
        name: lambda path=path: median_ms(
            lambda _: classifier.preprocessor.pixels(path), args.calls
        )  # type: ignore[misc]
        for name, path in paths.items()
    }
    rows["seed CNN int8 inference (1 image)"] = lambda: median_ms(
        lambda _: classifier.predict_tensor(x), args.calls * 4
    )
    times = interleaved(rows, args.rounds)
    load = os.getloadavg()
    decoded_mb = args.side * args.side * 2 / 2**20
    png_ms = times["PNG 16-bit"]
    lines = [
        f"| input ({args.side}x{args.side}, {BITS}-bit CR) | file size | decode + preprocess, ms "
        "(median) | vs 16-bit PNG | peak memory growth (x decoded frame) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, path in paths.items():
        peak = peak_growth_mb(path, small[name])
        lines.append(
            f"| {name} | {path.stat().st_size / 2**20:.1f} MB | {times[name]:.1f} | "
            f"{times[name] / png_ms:.2f}x | {peak:.1f} MB ({peak / decoded_mb:.1f}x) |"
        )
    inference = times["seed CNN int8 inference (1 image)"]
    lines.append(f"| seed CNN int8 inference, for scale | | {inference:.1f} | | |")
    footer = (
        f"\nDecoded frame: {decoded_mb:.1f} MB (uint16). Medians of {args.rounds} interleaved rounds "
        f"of {args.calls} calls, one process, engine threads by default (one per usable core); load "
        f"average at the end of the run {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min) "
        f"on {os.cpu_count()} cores, shared with other work: compare rows, not absolute figures."
    )
    table = "\n".join(lines) + "\n" + footer + "\n"
    print(table)
    if args.write:
        write_text_atomically(
            args.write,
            "# DICOM decoding cost\n\n"
            f"Made by `python benchmarks/dicom_decode.py --write benchmarks/DICOM.md`. {measured_on()} "
            "See its docstring for what each row does. Decode + preprocess is what `classify` "
            "does per file before inference: read, decode the first frame, DICOM pixel pipeline "
            "(docs/dicom.md) or 16-bit PNG to 8 bits, resize to the model input. Peak memory is "
            "the VmHWM growth of a fresh process over one such call, after warming the same path "
            "on a small file; for the compressed files it is the decoder's (pydicom + "
            "pylibjpeg), edgexray's strips add nothing measurable.\n\n" + table,
        )


if __name__ == "__main__":
    main()
