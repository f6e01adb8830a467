"""The Binance streams' shared reconnect loop: backoff grows with failures in a row and starts over after
progress, and cancellation ends it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from mmctl.errors import TransientError
from mmctl.exchange.binance.reconnect import BACKOFF_S, keep_watching


class SleepLog:
    """A clock whose sleeps return at once and are recorded (the loop's waits, in order)."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def time(self) -> float:
        return 0.0

    def monotonic(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        await asyncio.sleep(0)


async def test_backoff_grows_per_failure_in_a_row_and_restarts_only_after_progress() -> None:
    """Each failure in a row waits longer, a watch that made progress resets the wait, a quiet watch
    (no progress, no failure) does not, and every failure reaches `failed` once."""
    script = ["fail", "fail", "fail", "update", "fail", "quiet", "fail"]
    failures: list[str] = []
    clock = SleepLog()

    async def watch(progress: Callable[[], None]) -> None:
        step = script.pop(0)
        if step == "fail":
            raise TransientError(f"drop {len(failures)}")
        if step == "update":
            progress()

    async def failed(e: Exception) -> None:
        failures.append(str(e))

    await keep_watching(watch, failed, clock, lambda: bool(script))

    assert clock.slept == [BACKOFF_S[0], BACKOFF_S[1], BACKOFF_S[2], BACKOFF_S[0], BACKOFF_S[1]]
    assert failures == ["drop 0", "drop 1", "drop 2", "drop 3", "drop 4"]


async def test_cancellation_ends_the_loop_instead_of_counting_as_a_failure() -> None:
    """A cancelled watch ends `keep_watching` with `CancelledError`; `failed` never sees it."""
    failures: list[Exception] = []
    started = asyncio.Event()

    async def watch(progress: Callable[[], None]) -> None:
        started.set()
        await asyncio.Event().wait()

    async def failed(e: Exception) -> None:
        failures.append(e)

    task = asyncio.create_task(keep_watching(watch, failed, SleepLog(), lambda: True))
    await asyncio.wait_for(started.wait(), 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert failures == []
