"""Throughput of `edgexray dicom-node`: images per second received (C-STORE from dcmtk's storescu,
one association) and classified, and the per-image overhead over `edgexray classify` on the same
files. Needs Orthanc (the PACS the SRs go to), dcmtk and the [pacs] extra, as the node's tests.

    nice -n 10 flock /tmp/edgexray-heavy.lock python benchmarks/dicom_node.py [--count 200]

The images are `--count` distinct copies (new SOP Instance UIDs) of the four synthetic CR samples
(models/samples/dicom, about 200x200, RLE), classified by the bundled demo model. Three timings:

- received and decided: from storescu's start until the node's journal holds every object
  (spooled with fsync, read once, input checks, inference, SR made and queued, journal fsync);
- sent: until the PACS filed every SR (the outbox's sent log);
- classify: `edgexray classify DIR --dicom-sr OUT` and plain `classify DIR` on the same files,
  its own "ms per image" (model load excluded).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "pacs")]
from pacs_helpers import Node, Orthanc, copies, free_port, storescu  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from provenance import measured_on  # noqa: E402

from edgexray.atomic import write_text_atomically  # noqa: E402


def _classify_ms(folder: Path, *extra: str) -> float:
    done = subprocess.run(
        [sys.executable, "-m", "edgexray.cli.main", "classify", str(folder), "--format", "jsonl",
         "-o", os.devnull, *extra],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    match = re.search(r"\(([\d.]+) ms per image\)", done.stderr)
    if match is None:
        raise SystemExit(f"no timing in classify's output:\n{done.stderr}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("EDGEXRAY_INPUT_CHECK", "strict")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = copies(work / "images", args.count)
        pacs = Orthanc(work / "orthanc", node_port=free_port()).start()
        node = Node(work / "state", pacs.destination).start()
        try:
            started = time.perf_counter()
            sent = storescu(node.port, files)
            received = time.perf_counter() - started
            if sent.returncode != 0:
                raise SystemExit(sent.stderr)
            while len(node.decisions()) < len(files):
                time.sleep(0.05)
            decided = time.perf_counter() - started
            while len(node.sent()) < len(files):
                time.sleep(0.05)
            filed = time.perf_counter() - started
        finally:
            node.stop()
            pacs.stop()
        plain = _classify_ms(work / "images")
        with_sr = _classify_ms(work / "images", "--dicom-sr", str(work / "sr"))
    n = len(files)
    node_ms = decided * 1000 / n
    per = f"{n / decided:.1f} images/s, {node_ms:.1f} ms per image"
    lines = [
        "# DICOM node throughput",
        "",
        f"`python benchmarks/dicom_node.py --count {n}`. {measured_on()} Load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after.",
        "",
        f"| {n} CR images (~200x200, RLE), demo model, {os.cpu_count()} cores | value |",
        "|---|---|",
        f"| storescu done (all acknowledged) | {received:.2f} s ({n / received:.1f} images/s) |",
        f"| received and decided (journal) | {decided:.2f} s ({per}) |",
        f"| every SR filed by Orthanc | {filed:.2f} s ({n / filed:.1f} images/s) |",
        f"| `classify` on the same files | {plain:.1f} ms per image |",
        f"| `classify --dicom-sr` on the same files | {with_sr:.1f} ms per image |",
        f"| node overhead over `classify` | {node_ms - plain:+.1f} ms per image (over "
        f"`classify --dicom-sr`: {node_ms - with_sr:+.1f}) |",
    ]
    text = "\n".join(lines) + "\n"
    write_text_atomically(HERE / "DICOM_NODE.md", text)
    print(text, end="")


if __name__ == "__main__":
    main()
