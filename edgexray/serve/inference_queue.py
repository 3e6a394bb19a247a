"""A bounded queue of inferences, run by worker threads off the event loop.

At most `workers` jobs run at once and at most `queue_size` more wait; past that, `submit` refuses
at once (the client gets 503 and retries), so memory never grows with the number of clients. A
request that waits longer than its timeout gets an answer, but its job keeps its place until the
thread finishes it: the count of pending jobs is always the work really queued.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class QueueFull(Exception):
    """Every worker is busy and the queue is full."""


class InferenceTimeout(Exception):
    """The job did not finish within the request's timeout."""


class InferenceQueue:
    """A dedicated thread pool (rather than Starlette's shared run_in_threadpool pool) so the number
    of inferences in the service, the queue depth reported in /metrics, is exactly known."""

    def __init__(self, workers: int, queue_size: int, timeout: float) -> None:
        self.limit = workers + queue_size
        self.timeout = timeout
        self.pending = 0
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="edgexray-infer")
        self.on_change: Callable[[int], None] = lambda depth: None

    def _change(self, delta: int) -> None:
        self.pending += delta
        self.on_change(self.pending)

    async def run(self, job: Callable[[], T]) -> T:
        """Run `job` in a worker thread and return its result. Raises QueueFull when the queue is
        full, InferenceTimeout past the timeout. Call from the event loop only."""
        if self.pending >= self.limit:
            raise QueueFull
        loop = asyncio.get_running_loop()
        future: Future[T] = self._pool.submit(job)
        self._change(+1)
        # Released when the thread is done (or the job was cancelled before it started), in the
        # loop's thread, so `pending` needs no lock.
        future.add_done_callback(lambda _: loop.call_soon_threadsafe(self._change, -1))
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except asyncio.TimeoutError:
            raise InferenceTimeout from None

    def close(self) -> None:
        """Wait for running jobs, drop waiting ones."""
        self._pool.shutdown(wait=True, cancel_futures=True)
