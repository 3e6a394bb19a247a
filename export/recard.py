"""Reseal the cards of exported model files with their digest, keeping the model bytes.

    python -m edgexray_export.recard models/demo/*.tflite models/demo/*.onnx

For files whose card was written by edgexray 0.1 (no `card_sha256`): each file is checked against
its card first (the model bytes' SHA-256), then the same card is written back sealed, embedded and
in the JSON sidecar. Nothing is re-exported; the model bytes do not change.
"""

from __future__ import annotations

import sys
from pathlib import Path

from edgexray.errors import EdgexrayError
from edgexray.modelfile import reseal_card


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for name in argv:
        try:
            card = reseal_card(Path(name))
        except EdgexrayError as exc:
            print(f"recard: {exc}", file=sys.stderr)
            return 1
        print(f"{name}: card sealed, digest {card.card_sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
