"""DICOM UIDs under an organisation root: `ROOT.<decimal of a random UUID>`, cut to 64 characters.
The default root is `2.25` (PS3.5 B.2: a UUID as a decimal number under 2.25 needs no registered
root)."""

from __future__ import annotations

import hashlib
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


def derived_uid(root: str, *parts: str) -> str:
    """The UID under `root` named by `parts`: the same parts always give the same UID (a result
    made again from the same input by the same model is the same instance, which a PACS files
    once), other parts another. The unique part is a name-based UUID (SHA-256 of the parts, cut
    to 128 bits) as a decimal number."""
    digest = hashlib.sha256("\0".join(parts).encode("utf-8")).digest()
    return f"{root}.{int.from_bytes(digest[:16], 'big')}"[:_MAX].rstrip(".")
