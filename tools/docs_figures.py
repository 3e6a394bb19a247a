#!/usr/bin/env python3
"""Figures in the docs come from results files that benchmarks write; this keeps them in step.

A figure block in README.md or docs/*.md names its source, a Markdown results file a benchmark
wrote (with its command, machine and date), and optionally a section of it:

    <!-- figures: benchmarks/RESULTS.md#seed-cnn -->
    ...copied from that section...
    <!-- /figures -->

`tools/docs_figures.py` rewrites every block from its source; `--check` only reports the stale ones
(exit 1). tests/test_docs.py runs the check, and also fails on a table of measured figures (ms, %,
MB, images/s, x) outside any block: re-measuring means re-running a benchmark, never editing prose.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(
    r"(?P<open><!-- figures: (?P<source>[^#\s]+)(?:#(?P<anchor>[\w-]+))? -->\n)"
    r"(?P<body>.*?)(?P<close><!-- /figures -->)",
    re.S,
)
# A table cell holding a measured figure: a number with a unit of time, size or rate (a bare "s"
# only after a space: "413s" is a plural of a status code), or a share or ratio (%, x). A share or
# ratio stated as a bound ("over **5%**", "<= 1.10x") is a threshold or a goal, not a measurement.
TIMED = re.compile(
    r"\|[^|\n]*\b\d+(?:\.\d+)?(?:\s?(?:ms|MB|MiB|kB|GB|images/s|img/s)| s)(?=[\s|/*])"
)
# A table whose header names a measurement holds measured figures in bare numeric cells too.
MEASURED = re.compile(
    r"\bms\b|MiB|\bMB\b|\bkB\b|images/s|img/s|requests/s|p50|p90|p99|median|latency|"
    r"throughput|hit rate|agreement|\|dp\||peak|RSS",
    re.I,
)
NUMBER_CELL = re.compile(r"\|\s*(?:\*\*)?\d[\d,]*(?:\.\d+)?(?:\*\*)?\s*(?=\|)")
BOUND = r"(?:over|under|above|below|at most|at least|up to|<=|>=|<|>|≤|≥)\s*(?:\*\*)?"
FIGURE = re.compile(r"(?<![\w.])(?P<number>\d+(?:\.\d+)?)\s?(?:%|x)(?=[\s|/*),;:]|$)")


def _measured_share(line: str) -> bool:
    """Whether a table row holds a share or ratio that is not stated as a bound."""
    for match in FIGURE.finditer(line):
        before = line[: match.start()]
        if not re.search(BOUND + r"$", before):
            return True
    return False


@dataclass(frozen=True)
class Stale:
    document: Path
    source: str
    reason: str


def documents(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def _slug(heading: str) -> str:
    return re.sub(r"[^\w-]", "", heading.strip().lower().replace(" ", "-"))


def section(text: str, anchor: str | None) -> str | None:
    """The source's content below its title (anchor None), or the body of the section whose
    heading slugs to `anchor`, up to the next heading of the same or a higher level."""
    lines = text.splitlines()
    if anchor is None:
        start = 1 if lines and lines[0].startswith("# ") else 0
        return "\n".join(lines[start:]).strip() + "\n"
    for number, line in enumerate(lines):
        match = re.match(r"(#+) (.+)", line)
        if match and _slug(match.group(2)) == anchor:
            level, body = len(match.group(1)), []
            for following in lines[number + 1 :]:
                heading = re.match(r"(#+) ", following)
                if heading and len(heading.group(1)) <= level:
                    break
                body.append(following)
            return "\n".join(body).strip() + "\n"
    return None


def _rebased(body: str, source: Path, document: Path) -> str:
    """`body` with its relative links (images, other files) pointing where they pointed from
    `source`, now seen from `document`."""

    def rebase(match: re.Match[str]) -> str:
        target = match["target"]
        if re.match(r"[a-z]+:|#|/", target):
            return match.group(0)
        moved = os.path.relpath(source.parent / target, document.parent)
        return f"]({Path(moved).as_posix()})"

    return re.sub(r"\]\((?P<target>[^)\s]+)\)", rebase, body)


def render(document: Path, root: Path = ROOT) -> tuple[str, list[Stale]]:
    """The document with every block copied from its source, and the blocks that differed."""
    text = document.read_text(encoding="utf-8")
    stale: list[Stale] = []

    def replace(match: re.Match[str]) -> str:
        source = root / match["source"]
        name = match["source"] + (f"#{match['anchor']}" if match["anchor"] else "")
        body = (
            section(source.read_text(encoding="utf-8"), match["anchor"])
            if source.is_file()
            else None
        )
        if body is None:
            stale.append(Stale(document, name, "source or section missing"))
            return match.group(0)
        body = _rebased(body, source, document)
        if body != match["body"]:
            stale.append(Stale(document, name, "differs from its source"))
        return f"{match['open']}{body}{match['close']}"

    return BLOCK.sub(replace, text), stale


def loose_figures(document: Path, root: Path = ROOT) -> list[str]:
    """`file:line` of each table row holding a measured figure (a number with a unit, a share or
    ratio not stated as a bound, or a bare number under a header that names a measurement)
    outside any figure block."""
    text = document.read_text(encoding="utf-8")
    inside = [range(m.start(), m.end()) for m in BLOCK.finditer(text)]
    found, offset, header = [], 0, None
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        if not line.startswith("|"):
            header = None
        elif header is None:
            header = line
        elif (
            TIMED.search(line)
            or _measured_share(line)
            or (MEASURED.search(header) and NUMBER_CELL.search(line))
        ) and not any(offset in r for r in inside):
            found.append(f"{document.relative_to(root)}:{number}")
        offset += len(line)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale blocks, write nothing")
    check = parser.parse_args().check
    problems = 0
    for document in documents():
        text, stale = render(document)
        for item in stale:
            print(f"{document.relative_to(ROOT)}: {item.source}: {item.reason}", file=sys.stderr)
        problems += len(stale)
        if stale and not check:
            document.write_text(text, encoding="utf-8")
    return 1 if check and problems else 0


if __name__ == "__main__":
    sys.exit(main())
