"""DICOM UIDs under an organisation root: `ROOT.<decimal of a random UUID>`, cut to 64 characters.
The default root is `2.25` (PS3.5 B.2: a UUID as a decimal number under 2.25 needs no registered
root)."""

from __future__ import annotations

import re
import uuid

DEFAULT_ROOT = "2.25"
_ROOT = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
_MAX = 64


def check_root(root: str) -> str:
    """`root` when it is a valid UID prefix with room for a unique part; ValueError otherwise."""
    if not _ROOT.match(root):
        raise ValueError(
            f"UID root {root!r}: expected digits and dots, e.g. 1.2.826.0.1.3680043.10.1137"
        )
    if len(root) > _MAX - 20:
        raise ValueError(f"UID root {root!r}: too long, at most {_MAX - 20} characters")
    return root


def new_uid(root: str = DEFAULT_ROOT) -> str:
    """A new UID under `root` (check_root first)."""
    unique = str(uuid.uuid4().int)
    return f"{root}.{unique}"[:_MAX].rstrip(".")
