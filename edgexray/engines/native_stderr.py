"""Silence what native code writes to the process's standard error while a model loads.

LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." from C++ straight to file
descriptor 2, where Python's sys.stderr cannot catch it. While the interpreter is created, fd 2 is
pointed at the null device and then restored. File descriptors belong to the whole process, so one
lock serializes the redirections of all threads (two engines loading at once must not restore each
other's saved descriptor); this lock is the one piece of process state here, and it guards a
process-wide resource. Anything another thread writes to stderr during those milliseconds is lost
too, which is why the redirection is kept to the load and can be turned off (`-v`).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

_FD2_LOCK = threading.Lock()


@contextmanager
def native_stderr_silenced(enabled: bool = True) -> Iterator[None]:
    """Within the block, writes to fd 2 go to the null device (when `enabled`)."""
    if not enabled:
        yield
        return
    with _FD2_LOCK:
        with suppress(AttributeError, OSError, ValueError):
            sys.stderr.flush()  # what Python already buffered still goes to the real stderr
        try:
            saved = os.dup(2)
        except OSError:  # no fd 2 (a detached service): nothing to silence
            saved = -1
        if saved < 0:
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
