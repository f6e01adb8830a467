"""The one settle policy of the simulated-time tests: how simulated time passes and how the event loop
catches up with it, never waiting on real time.

A test drives a `ManualClock`. After each clock step the event loop gets `SETTLE_TURNS` turns
(`await asyncio.sleep(0)`): each turn runs every task that was ready, so a chain of that many awaits that
needs no further time runs to its end. 40 turns cover the longest chain the bots have (book → hub → bot
tick → budget → venue → order stream → bot) several times over. Tests that must show something does NOT
finish without time (`safety` tests) pass a larger count explicitly, so that "not done" cannot mean "not
settled yet".
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from mmctl.clock import ManualClock

T = TypeVar("T")

SETTLE_TURNS = 40
"""Event-loop turns given after every step of simulated time (see the module docstring)."""
STEP_S = 0.05
"""One step of simulated time in `advance`: shorter than any timer the bots use."""
DONE_STEP_S = 0.1
"""One step of simulated time in `until_done`."""
DONE_LIMIT_S = 300.0
"""How much simulated time `until_done` lets pass before it gives up."""


async def settle(turns: int = SETTLE_TURNS) -> None:
    """Give the event loop `turns` turns, letting every ready task run (no real time passes)."""
    for _ in range(turns):
        await asyncio.sleep(0)


async def advance(
    clock: ManualClock,
    seconds: float,
    on_step: Callable[[int], None] | None = None,
    step_s: float = STEP_S,
) -> None:
    """Let `seconds` of simulated time pass in steps of `step_s`, settling after each step;
    `on_step(i)` runs after step i's clock advance and before its settle (e.g. to publish books)."""
    for i in range(int(seconds / step_s)):
        clock.advance(step_s)
        if on_step is not None:
            on_step(i)
        await settle()


async def until_done(
    clock: ManualClock, aw: Awaitable[T], step_s: float = DONE_STEP_S, limit_s: float = DONE_LIMIT_S
) -> T:
    """Await `aw` while simulated time moves on in steps (stops, flattens and shutdowns wait on timers);
    fail if it is still not done after `limit_s` of simulated time."""
    task = asyncio.ensure_future(aw)
    for _ in range(int(limit_s / step_s)):
        if task.done():
            return await task
        clock.advance(step_s)
        await settle()
    if not task.done():
        task.cancel()
        raise AssertionError(f"not done after {limit_s:g} s of simulated time")
    return await task
