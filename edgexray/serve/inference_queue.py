"""A bounded queue of inferences, run by worker threads off the event loop.

At most `workers` jobs run at once and at most `queue_size` more wait; past that, `submit` refuses
at once (the client gets 503 and retries), so memory never grows with the number of clients.

A request that waits longer than its timeout gets its answer (504) at once. A job that has not
started by then is cancelled: it never runs, and nothing of it is written. A job already running
cannot be stopped in its thread; it finishes, and its Delivery tells it that its answer will reach
nobody, so that what it writes (the audit line) says so. Whichever comes first, the job committing
its answer or the request giving up, settles that once: a job that committed just before the
timeout is awaited and delivered, never answered 504 behind its back. The count of pending jobs is
always the work really queued.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Literal, TypeVar

T = TypeVar("T")


class QueueFull(Exception):
    """Every worker is busy and the queue is full."""


class InferenceTimeout(Exception):
    """The job did not finish within the request's timeout."""


class Delivery:
    """Whether one job's answer reaches its client, settled once, under a lock, by the first of:
    the job committing its answer (commit, from its worker thread), or the request giving up on
    it (abandon, at the timeout or when the client goes away)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: Literal["committed", "abandoned"] | None = None

    def _settle(self, state: Literal["committed", "abandoned"]) -> bool:
        with self._lock:
            if self._state is None:
                self._state = state
            return self._state == state

    def commit(self) -> bool:
        """The job's answer is ready: True when it will be delivered, False when the request has
        already been answered without it (504) or has gone."""
        return self._settle("committed")

    def abandon(self) -> bool:
        """The request stops waiting: True unless the job has already committed its answer."""
        return self._settle("abandoned")


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

    async def run(self, job: Callable[[Delivery], T]) -> T:
        """Run `job(delivery)` in a worker thread and return its result. Raises QueueFull when
        the queue is full, InferenceTimeout past the timeout (the job cancelled if it had not
        started, else told by its Delivery). Call from the event loop only."""
        if self.pending >= self.limit:
            raise QueueFull
        loop = asyncio.get_running_loop()
        delivery = Delivery()
        future: Future[T] = self._pool.submit(job, delivery)
        self._change(+1)
        # Released when the thread is done (or the job was cancelled before it started), in the
        # loop's thread, so `pending` needs no lock.
        future.add_done_callback(lambda _: loop.call_soon_threadsafe(self._change, -1))
        result = asyncio.wrap_future(future)
        try:
            # asyncio.wait, unlike wait_for, leaves `result` alone at the timeout: a job that
            # committed its answer just then is still awaited below.
            await asyncio.wait({result}, timeout=self.timeout)
        except asyncio.CancelledError:  # the client went away, or the server is stopping
            if not future.cancel():
                delivery.abandon()
            raise
        if not result.done() and (future.cancel() or delivery.abandon()):
            raise InferenceTimeout
        return await result

    def close(self) -> None:
        """Wait for running jobs, drop waiting ones."""
        self._pool.shutdown(wait=True, cancel_futures=True)
