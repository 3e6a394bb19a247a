"""The inference queue at its timeout: a job that has committed its answer is delivered, a running
one that has not is told its answer reaches nobody, a waiting one never runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from edgexray.serve.inference_queue import Delivery, InferenceQueue, InferenceTimeout


def _run(jobs: list[Callable[[Delivery], str]], timeout: float) -> list[str | BaseException]:
    """Run `jobs` at once on one worker; their results or exceptions. Waits for every job."""

    async def main() -> list[str | BaseException]:
        queue = InferenceQueue(workers=1, queue_size=len(jobs), timeout=timeout)
        try:
            return await asyncio.gather(*(queue.run(job) for job in jobs), return_exceptions=True)
        finally:
            queue.close()

    return asyncio.run(main())


def test_a_job_that_committed_before_the_timeout_is_delivered() -> None:
    def commits_then_finishes_late(delivery: Delivery) -> str:
        assert delivery.commit()
        time.sleep(0.3)  # the audit line's fsync, say
        return "answer"

    assert _run([commits_then_finishes_late], timeout=0.05) == ["answer"]


def test_past_the_timeout_a_running_job_is_abandoned_and_a_waiting_one_never_runs() -> None:
    committed: list[bool] = []
    started: list[str] = []

    def slow(name: str) -> Callable[[Delivery], str]:
        def job(delivery: Delivery) -> str:
            started.append(name)
            time.sleep(0.3)
            committed.append(delivery.commit())
            return name

        return job

    results = _run([slow("running"), slow("waiting")], timeout=0.1)
    assert all(isinstance(result, InferenceTimeout) for result in results)
    assert started == ["running"]
    assert committed == [False]


@pytest.mark.parametrize("first", ["commit", "abandon"])
def test_a_delivery_is_settled_once_by_whichever_comes_first(first: str) -> None:
    delivery = Delivery()
    assert getattr(delivery, first)() is True
    assert delivery.commit() is (first == "commit")
    assert delivery.abandon() is (first == "abandon")
