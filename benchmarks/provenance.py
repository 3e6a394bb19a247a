"""The line a results file carries beside its tables: when it was measured, and on which machine
(docs/index.md: a figure in the docs is copied from such a file, with its command, machine and date)."""

from __future__ import annotations

import time

from edgexray.bench.machine import describe_machine


def measured_on() -> str:
    """`Measured 2026-12-07 02:10 UTC on AMD EPYC (avx2, ...), 2 logical cores, Linux x86_64, ...`"""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"Measured {when} on {describe_machine(None).describe_host()}."
