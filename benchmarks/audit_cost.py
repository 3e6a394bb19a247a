"""What `edgexray classify --audit` costs against `edgexray classify` on the same images.

    python benchmarks/audit_cost.py [--images 200] [--rounds 5] [--model FILE] [--threads N]

Times, as separate processes, `classify FOLDER --format jsonl -o FILE` with and without `--audit
FILE` on one folder of N images (copies of the bundled samples under distinct names; a fresh output
folder each run, so the audit log starts empty) and on a folder of one image, whose time is the
fixed cost (interpreter, imports, model load). Rows alternate within each round (one warm-up round
first) so a busy spell on the machine hits both alike; each figure is the median of the rounds.
Printed: the per-image ratio,

    per-image cost = (time with N images - time with 1 image) / (N - 1)

of `classify --audit` over `classify` (issue 23 asks for at most 1.05x). Wall time; the load average
before and after is printed, since other work on the machine shows in every figure.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from watch_cost import measure

COMMANDS = ("classify", "classify --audit")


def main() -> None:
    per_image = measure(COMMANDS, __doc__.splitlines()[0], "audit-cost-")
    ratio = per_image["classify --audit"] / per_image["classify"]
    print(f"classify --audit / classify, per image: {ratio:.3f}x")


if __name__ == "__main__":
    main()
