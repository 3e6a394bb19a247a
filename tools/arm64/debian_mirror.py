"""The Debian mirror this machine's apt already uses, for tools/arm64-check's debootstrap.

No registry or mirror host is written into the repository: the mirror is read from the machine's own apt
configuration, `/etc/apt/sources.list.d/*.sources` (deb822) first, then `/etc/apt/sources.list` and
`/etc/apt/sources.list.d/*.list` (one-line format). The first enabled `deb` entry for the host's own
release suite (not -security, -updates or -backports) with the `main` component wins.

    python3 tools/arm64/debian_mirror.py [--root /]     # prints the mirror's URI, exit 0
                                                        # exit 1 with one line on stderr when none is found

`EDGEXRAY_DEBIAN_MIRROR` overrides it (tools/arm64-check reads the variable before calling this).
Standard library only: it runs with the system python3 before any virtual environment exists.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Source:
    """One apt source entry: a `deb` or `deb-src` line, or one deb822 stanza expanded per URI."""

    types: tuple[str, ...]
    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]
    enabled: bool = True


def os_release(root: Path) -> dict[str, str]:
    """/etc/os-release (or /usr/lib/os-release) as a dict, quotes removed; {} when neither exists."""
    for path in (root / "etc/os-release", root / "usr/lib/os-release"):
        if path.is_file():
            values = {}
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                key, sep, value = line.partition("=")
                if sep and key.strip() and not key.startswith("#"):
                    values[key.strip()] = value.strip().strip("'\"")
            return values
    return {}


def deb822_sources(text: str) -> Iterator[Source]:
    """The entries of a deb822 `.sources` file (stanzas separated by blank lines; '#' comments)."""
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t" and key:  # a continuation line
                fields[key] += " " + line.strip()
                continue
            key, sep, value = line.partition(":")
            if not sep:
                key = ""
                continue
            key = key.strip().lower()
            fields[key] = value.strip()
        if "uris" not in fields:
            continue
        enabled = fields.get("enabled", "yes").lower() not in {"no", "false", "0"}
        for uri in fields["uris"].split():
            yield Source(
                types=tuple(fields.get("types", "deb").split()),
                uri=uri,
                suites=tuple(fields.get("suites", "").split()),
                components=tuple(fields.get("components", "").split()),
                enabled=enabled,
            )


def one_line_sources(text: str) -> Iterator[Source]:
    """The entries of a one-line `sources.list` (`deb [options] URI SUITE COMPONENT...`)."""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        line = re.sub(r"\[[^\]]*\]", " ", line)  # [arch=amd64 signed-by=...]
        words = line.split()
        if len(words) < 3 or words[0] not in {"deb", "deb-src"}:
            continue
        yield Source(
            types=(words[0],), uri=words[1], suites=(words[2],), components=tuple(words[3:])
        )


def configured_sources(root: Path) -> list[Source]:
    """Every source entry of the apt configuration under `root`, deb822 files first."""
    folder = root / "etc/apt/sources.list.d"
    entries: list[Source] = []
    for path in sorted(folder.glob("*.sources")):
        entries.extend(deb822_sources(path.read_text(encoding="utf-8", errors="replace")))
    for path in [root / "etc/apt/sources.list", *sorted(folder.glob("*.list"))]:
        if path.is_file():
            entries.extend(one_line_sources(path.read_text(encoding="utf-8", errors="replace")))
    return entries


def debian_mirror(root: Path = Path("/")) -> str:
    """The URI of the Debian archive this machine's apt uses. ValueError, with the reason, when the
    host is not Debian or no enabled `deb ... <codename> main` entry exists."""
    release = os_release(root)
    if release.get("ID") != "debian":
        raise ValueError(
            f"this host is {release.get('ID', 'of an unknown distribution')}, not Debian: "
            "set EDGEXRAY_DEBIAN_MIRROR to a Debian mirror"
        )
    codename = release.get("VERSION_CODENAME", "")
    for source in configured_sources(root):
        if not source.enabled or "deb" not in source.types or "main" not in source.components:
            continue
        base_suites = [
            s for s in source.suites if not re.search(r"-(security|updates|backports)$", s)
        ]
        if base_suites and (not codename or codename in base_suites):
            return source.uri.rstrip("/")
    raise ValueError(
        f"no enabled 'deb' entry for {codename or 'the release'} with component main in "
        f"{root / 'etc/apt'}: set EDGEXRAY_DEBIAN_MIRROR to a Debian mirror"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("/"), help="the file system root to read")
    args = parser.parse_args(argv)
    try:
        print(debian_mirror(args.root))
    except ValueError as error:
        print(f"debian_mirror: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
