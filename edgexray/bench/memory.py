"""Peak resident memory of the current process.

Why a fresh process per variant: `ru_maxrss` is a high-water mark that never goes down, and an
engine library once imported stays in memory, so only a process that loaded nothing but this one
variant reports what this variant costs on a device. The runner starts one child per variant
(edgexray.bench.runner) for that reason, and for cold-start and cache isolation too.
"""

from __future__ import annotations

import resource
import sys

# ru_maxrss is in kilobytes on Linux and in bytes on macOS.
_MAXRSS_UNIT_BYTES = 1 if sys.platform == "darwin" else 1024


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (2**20 bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak * _MAXRSS_UNIT_BYTES / 2**20
