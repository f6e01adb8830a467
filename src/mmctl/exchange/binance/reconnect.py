"""The reconnect loop the Binance streams share: watch, and when the watch fails, back off and try again.

`keep_watching(watch, failed, clock, running)` awaits `watch(progress)` again and again while `running()`.
A watch waits for the stream's next update and calls `progress()` once it has one, so that the next
failure waits the shortest backoff again; a watch that returns without calling it (a quiet spell it
handled itself) leaves the backoff where it was. A watch that raises meets the loop's one error boundary:
`failed(error)` does the stream's own bookkeeping (state, counters, the log, a REST fallback), then the
loop sleeps `backoff(attempt)` on the injected `Clock` (longer for each failure in a row) and the next
`watch` resubscribes. Cancellation ends the loop. `stop_tasks` cancels the loops' tasks on close and
waits for them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable

from mmctl.clock import Clock

BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def backoff(attempt: int) -> float:
    """Seconds to wait before retry number `attempt` (0 first), capped at the longest wait."""
    return BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]


async def keep_watching(
    watch: Callable[[Callable[[], None]], Awaitable[None]],
    failed: Callable[[Exception], Awaitable[None]],
    clock: Clock,
    running: Callable[[], bool],
) -> None:
    """Run `watch(progress)` while `running()`; back off after each failure (see the module docstring)."""
    attempt = 0

    def progress() -> None:
        nonlocal attempt
        attempt = 0

    while running():
        try:
            await watch(progress)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the loop's one error boundary: the stream failed; resubscribe after a wait
            await failed(e)
            await clock.sleep(backoff(attempt))
            attempt += 1


async def stop_tasks(tasks: Iterable[asyncio.Task[None]]) -> None:
    """Cancel `tasks` and wait for each to end (whatever it ended with)."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
