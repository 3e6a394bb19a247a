"""Peak resident memory of the current process.

Why a fresh process per variant: the peak is a high-water mark that never goes down, and an engine
library once imported stays in memory, so only a process that loaded nothing but this one variant
reports what this variant costs on a device. The runner starts one child per variant
(edgexray.bench.runner) for that reason, and for cold-start and cache isolation too.

Why VmHWM and not `getrusage().ru_maxrss` on Linux: a child created by fork + exec inherits the
parent's maxrss (the kernel folds the forked copy's high-water mark into it at exec), so a child of
a parent holding 200 MB of images would report at least 200 MB whatever it loads. VmHWM in
/proc/self/status belongs to the current address space, which exec replaced.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

# ru_maxrss is in kilobytes on Linux and in bytes on macOS.
_MAXRSS_UNIT_BYTES = 1 if sys.platform == "darwin" else 1024
_STATUS = Path("/proc/self/status")


def _vm_hwm_kib(status: Path) -> int | None:
    try:
        text = status.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])  # "VmHWM:   10876 kB"
    return None


def peak_rss_mb(status: Path = _STATUS) -> float:
    """Peak resident set size of this process so far, in MiB (2**20 bytes)."""
    hwm = _vm_hwm_kib(status)
    if hwm is not None:
        return hwm / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak * _MAXRSS_UNIT_BYTES / 2**20
