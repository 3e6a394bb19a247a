"""The optional extras of the edgexray distribution, and the one way a message tells a user to
install one.

edgexray is on no public package index, so `pip install 'edgexray[X]'` cannot work on a device
(or, worse, installs whatever someone else published under that name). A hint names what this
edgexray was installed from (the wheel file or the folder pip recorded in its PEP 610
`direct_url.json`) when that is still there, else the wheel's file name with a pointer to
docs/device-install.md. Every "X is not installed" line goes through install_hint, so a hint can
only name an extra that exists (tests/test_packaging.py checks EXTRAS against setup.cfg)."""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from urllib.parse import unquote, urlparse

#: The extras setup.cfg declares that a message can point to (`all` and `dev` are for people).
EXTRAS: tuple[str, ...] = (
    "tflite",
    "onnx",
    "openvino",
    "dicom",
    "export",
    "plot",
    "ray",
    "serve",
    "pacs",
    "sign",
)


def install_hint(*extras: str) -> str:
    """`pip install '/where/edgexray/came/from[a,b]'`: how to add these extras to this
    installation. ValueError for a name that is not an extra (a mistake in edgexray, caught by its
    tests, never a user's)."""
    unknown = [extra for extra in extras if extra not in EXTRAS]
    if not extras or unknown:
        raise ValueError(f"not an edgexray extra: {', '.join(unknown) or '(none given)'}")
    source, known = installed_from()
    hint = f"pip install '{source}[{','.join(extras)}]'"
    return (
        hint if known else f"{hint} (the wheel edgexray was installed from; docs/device-install.md)"
    )


def installed_from() -> tuple[str, bool]:
    """(what to give pip for this edgexray, whether that is the file or folder it came from):
    the local path pip recorded at install time when it still exists, else the wheel's name."""
    try:
        found = distribution("edgexray")
    except PackageNotFoundError:
        return "edgexray-VERSION-py3-none-any.whl", False
    wheel = f"edgexray-{found.version}-py3-none-any.whl"
    try:
        url = json.loads(found.read_text("direct_url.json") or "{}").get("url", "")
    except ValueError:
        return wheel, False
    parsed = urlparse(url)
    if parsed.scheme == "file" and Path(unquote(parsed.path)).exists():
        return unquote(parsed.path), True
    return wheel, False
