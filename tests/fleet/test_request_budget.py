"""The shared request budget: sliding windows, strict priorities, venue feedback, on a manual clock."""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from mmctl.clock import ManualClock
from mmctl.exchange.budget import BudgetLimits, Priority, RequestBudget
from mmctl.exchange.weights import PLACE_BATCH, PLACE_SINGLE, Cost

TIGHT = BudgetLimits(
    weight_per_min=10,
    orders_per_10s=4,
    orders_per_min=100,
    use_fraction=1.0,
    safety_reserve=0.0,
    start_share=1.0,
)
"""Tiny windows with no class shares: these tests pin ordering; the shares have tests of their own."""


def scenario(body: Callable[[ManualClock], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(body(ManualClock(start=0.0)))


async def turns(n: int = 10) -> None:
    """Let every ready task run (a bounded number of loop turns: never real time)."""
    for _ in range(n):
        await asyncio.sleep(0)


class Log:
    """Acquirers started as tasks, and the order in which they were admitted."""

    def __init__(self, budget: RequestBudget) -> None:
        self.budget = budget
        self.admitted: list[str] = []
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, label: str, cost: Cost, priority: Priority) -> None:
        async def go() -> None:
            await self.budget.acquire(cost, priority)
            self.admitted.append(label)

        self.tasks[label] = asyncio.create_task(go())


def window_peak(events: list[tuple[float, int]], span: float) -> int:
    """The largest sum of amounts admitted within any `span` seconds (same expiry rule as the budget)."""
    peak = total = left = 0
    for t, amount in events:
        total += amount
        while events[left][0] + span <= t + 1e-6:
            total -= events[left][1]
            left += 1
        peak = max(peak, total)
    return peak


# --- limits ------------------------------------------------------------------------------------------


def test_default_limits_are_binances_with_a_fifth_kept_in_hand() -> None:
    """The default limits are Binance's (2400 weight, 300 and 1200 orders) and the usable caps keep a fifth of
    each in hand."""
    limits = BudgetLimits()
    assert (limits.weight_per_min, limits.orders_per_10s, limits.orders_per_min) == (2400, 300, 1200)
    assert (limits.weight_cap, limits.orders_10s_cap, limits.orders_1m_cap) == (1920, 240, 960)


@pytest.mark.parametrize(
    "bad",
    [{"weight_per_min": 0}, {"orders_per_10s": -5}, {"use_fraction": 0.0}, {"use_fraction": 1.5}],
)
def test_nonsense_limits_are_refused(bad: dict[str, float]) -> None:
    """Each nonsensical limit is refused with a `ValueError` naming the field."""
    with pytest.raises(ValueError, match=next(iter(bad))):
        BudgetLimits(**bad)  # type: ignore[arg-type]


# --- windows under load ------------------------------------------------------------------------------

KINDS = [
    (PLACE_SINGLE, Priority.PLACE),
    (PLACE_BATCH, Priority.PLACE),
    (PLACE_BATCH, Priority.SAFETY),
    (Cost(1), Priority.SAFETY),
    (Cost(5), Priority.QUERY),
    (Cost(30), Priority.QUERY),
]


def test_fifty_concurrent_clients_never_exceed_any_window_over_simulated_minutes() -> None:
    """Fifty clients acquiring random costs at random priorities for simulated minutes never push any sliding
    window past 95 % of Binance's limits (only the safety class goes past our 80 % cap)."""

    async def body(clock: ManualClock) -> None:
        limits = BudgetLimits()
        budget = RequestBudget(clock, limits)
        admitted: list[tuple[float, Cost]] = []
        peaks = {"weight_1m": 0, "orders_10s": 0, "orders_1m": 0}

        async def client(seed: int) -> None:
            rng = random.Random(seed)
            while True:
                cost, priority = rng.choice(KINDS)
                await budget.acquire(cost, priority)
                admitted.append((clock.monotonic(), cost))
                usage = budget.usage()
                for key in peaks:
                    peaks[key] = max(peaks[key], usage[key])
                await clock.sleep(rng.uniform(0.05, 0.5))

        tasks = [asyncio.create_task(client(i)) for i in range(50)]
        for _ in range(1500):  # 150 simulated seconds
            clock.advance(0.1)
            await turns(6)
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)

        # past our cap only the safety class may go, and never past 95 % of Binance's own limits
        ceiling = limits.safety_ceiling
        weight, orders_10s, orders_1m = (
            math.floor(limit * ceiling)
            for limit in (limits.weight_per_min, limits.orders_per_10s, limits.orders_per_min)
        )
        assert peaks["weight_1m"] <= weight
        assert peaks["orders_10s"] <= orders_10s
        assert peaks["orders_1m"] <= orders_1m
        assert window_peak([(t, c.weight) for t, c in admitted], 60) <= weight
        assert window_peak([(t, c.orders_10s) for t, c in admitted], 10) <= orders_10s
        assert window_peak([(t, c.orders_1m) for t, c in admitted], 60) <= orders_1m
        # the test means something only if the budget was the bottleneck
        assert window_peak([(t, c.orders_10s) for t, c in admitted], 10) >= limits.orders_10s_cap - 5
        # (quotes and reads may fill the cap less the safety reserve; safety traffic the rest)
        share = 1 - limits.safety_reserve
        assert window_peak([(t, c.weight) for t, c in admitted], 60) >= limits.weight_cap * share - 30
        assert budget.usage()["queued"] > 100

    scenario(body)


def test_usage_drains_as_the_windows_slide_past() -> None:
    """Usage falls back as each window slides past an admitted request: the 10 s counter after 10 s, the
    minute counters after 60 s."""

    async def body(clock: ManualClock) -> None:
        budget = RequestBudget(clock, BudgetLimits())
        await budget.acquire(PLACE_BATCH, Priority.PLACE)
        clock.advance(10)
        usage = budget.usage()
        assert (usage["weight_1m"], usage["orders_10s"], usage["orders_1m"]) == (5, 0, 1)
        clock.advance(50)
        usage = budget.usage()
        assert (usage["weight_1m"], usage["orders_10s"], usage["orders_1m"]) == (0, 0, 0)

    scenario(body)


# --- priorities --------------------------------------------------------------------------------------


def test_when_tight_a_cancel_queued_after_places_is_admitted_before_them() -> None:
    """When the budget is full, safety requests queued after placements are admitted before them once room
    frees."""

    async def body(clock: ManualClock) -> None:
        budget = RequestBudget(clock, TIGHT)
        await budget.acquire(Cost(10), Priority.QUERY)  # the minute's weight is used up
        log = Log(budget)
        log.start("place-1", Cost(5), Priority.PLACE)
        log.start("place-2", Cost(5), Priority.PLACE)
        log.start("reduce", Cost(4), Priority.SAFETY)
        log.start("cancel", Cost(1), Priority.SAFETY)
        await turns()
        assert log.admitted == []
        assert budget.usage()["waiting"] == {"safety": 2, "heartbeat": 0, "place": 2, "query": 0, "start": 0}
        clock.advance(60)
        await turns()
        assert log.admitted == ["reduce", "cancel", "place-1"]  # safety first, in arrival order
        clock.advance(60)
        await turns()
        assert log.admitted == ["reduce", "cancel", "place-1", "place-2"]

    scenario(body)


def test_a_cancel_is_not_held_behind_places_waiting_for_the_order_counter() -> None:
    """A cancel needing only weight is admitted at once while a placement waits for the full order counter."""

    async def body(clock: ManualClock) -> None:
        budget = RequestBudget(clock, TIGHT)
        for _ in range(4):
            await budget.acquire(PLACE_SINGLE, Priority.PLACE)  # the 10 s order counter is full
        log = Log(budget)
        log.start("place", PLACE_SINGLE, Priority.PLACE)
        await turns()
        log.start("cancel", Cost(1), Priority.SAFETY)
        await turns()
        assert log.admitted == ["cancel"]
        clock.advance(10)
        await turns()
        assert log.admitted == ["cancel", "place"]

    scenario(body)


def test_waiters_of_one_priority_are_served_first_come_first_served() -> None:
    """Waiters of one priority are admitted in arrival order as room frees."""

    async def body(clock: ManualClock) -> None:
        budget = RequestBudget(clock, TIGHT)
        await budget.acquire(Cost(10), Priority.QUERY)
        log = Log(budget)
        for i in range(8):
            log.start(f"p{i}", Cost(2), Priority.PLACE)
            await turns(1)
        clock.advance(60)
        await turns()
        assert log.admitted == ["p0", "p1", "p2", "p3", "p4"]
        clock.advance(60)
        await turns()
        assert log.admitted == [f"p{i}" for i in range(8)]

    scenario(body)


def test_a_large_request_is_not_starved_by_later_small_ones_of_its_priority() -> None:
    """Small requests arriving after a large waiting one of the same priority do not overtake it, even when
    each would fit at once."""

    async def body(clock: ManualClock) -> None:
        budget = RequestBudget(clock, TIGHT)
        await budget.acquire(Cost(4), Priority.QUERY)
        log = Log(budget)
        log.start("big", Cost(8), Priority.QUERY)  # does not fit until the 4 expire
        await turns()
        for i in range(3):
            log.start(f"small{i}", Cost(1), Priority.QUERY)  # each would fit at once
        await turns()
        assert log.admitted == []
        clock.advance(60)
        await turns()
        assert log.admitted == ["big", "small0", "small1"]

    scenario(body)


# --- oversize, feedback, penalties -----------------------------------------------------------------


def test_a_request_larger_than_the_whole_window_is_admitted_alone_when_it_is_empty() -> None:
    """A request costing more than the whole window waits until the window is empty and is then admitted
    alone, holding back the next request until it slides out."""

    async def body(clock: ManualClock) -> None:
        budget = RequestBudget(clock, TIGHT)
        await budget.acquire(Cost(3), Priority.QUERY)
        log = Log(budget)
        log.start("huge", Cost(40), Priority.QUERY)
        await turns()
        assert log.admitted == []
        clock.advance(60)  # the window empties: the huge request goes, alone
        await turns()
        assert log.admitted == ["huge"]
        log.start("next", Cost(1), Priority.SAFETY)
        clock.advance(59.9)
        await turns()
        assert log.admitted == ["huge"]
        clock.advance(0.2)
        await turns()
        assert log.admitted == ["huge", "next"]

    scenario(body)


def test_observe_raises_our_estimate_to_the_venues_figure_only() -> None:
    """Usage figures reported by the venue raise the budget's own count when higher and never lower it, and
    admissions follow the raised figure."""

    async def body(clock: ManualClock) -> None:
        budget = RequestBudget(clock, TIGHT)
        await budget.acquire(Cost(2), Priority.QUERY)
        budget.observe(used_weight_1m=1, order_count_10s=None, order_count_1m=7)
        assert (budget.usage()["weight_1m"], budget.usage()["orders_1m"]) == (2, 7)
        budget.observe(used_weight_1m=9)
        assert budget.usage()["weight_1m"] == 9
        log = Log(budget)
        log.start("query", Cost(2), Priority.QUERY)
        await turns()
        assert log.admitted == []  # 9 + 2 > 10: the venue's figure counts
        clock.advance(60)
        await turns()
        assert log.admitted == ["query"]

    scenario(body)


def test_penalize_admits_nothing_not_even_cancels_until_retry_after() -> None:
    """After `penalize(30)` nothing is admitted, not even a cancel, until the 30 s have passed."""

    async def body(clock: ManualClock) -> None:
        budget = RequestBudget(clock, TIGHT)
        budget.penalize(30)
        assert budget.usage()["blocked_for_s"] == 30
        log = Log(budget)
        log.start("cancel", Cost(1), Priority.SAFETY)
        clock.advance(29.9)
        await turns()
        assert log.admitted == []
        clock.advance(0.2)
        await turns()
        assert log.admitted == ["cancel"]
        assert budget.usage()["blocked_for_s"] == 0

    scenario(body)


def test_a_longer_penalty_extends_a_shorter_one_never_the_reverse() -> None:
    """A longer penalty extends the current block while a shorter one leaves it unchanged."""

    async def body(clock: ManualClock) -> None:
        budget = RequestBudget(clock, TIGHT)
        budget.penalize(20)
        budget.penalize(5)
        assert budget.usage()["blocked_for_s"] == 20
        log = Log(budget)
        log.start("q", Cost(1), Priority.QUERY)
        await turns()
        budget.penalize(40)
        clock.advance(25)
        await turns()
        assert log.admitted == []
        clock.advance(15)
        await turns()
        assert log.admitted == ["q"]

    scenario(body)


# --- waiting is sleeping -----------------------------------------------------------------------------


def test_waiters_sleep_on_the_clock_until_the_earliest_expiry_instead_of_polling() -> None:
    """Queued waiters share one clock timer set to the earliest expiry, and the first is admitted just after
    it passes, never by polling."""

    async def body(clock: ManualClock) -> None:
        budget = RequestBudget(clock, TIGHT)
        await budget.acquire(Cost(6), Priority.QUERY)
        clock.advance(20)
        await budget.acquire(Cost(4), Priority.QUERY)
        log = Log(budget)
        for i in range(5):
            log.start(f"w{i}", Cost(5), Priority.QUERY)
        await turns(50)
        assert clock.sleepers == 1  # one timer for the whole queue, not one poller per waiter
        clock.advance(39.99)  # the 6 expire at t=60
        await turns(50)
        assert log.admitted == []
        assert clock.sleepers == 1
        clock.advance(0.02)
        await turns()
        assert log.admitted == ["w0"]

    scenario(body)


def test_a_waiter_cancelled_in_the_queue_is_not_charged_and_unblocks_those_behind() -> None:
    """A waiter cancelled while queued is not charged and the waiter behind it is admitted at once."""

    async def body(clock: ManualClock) -> None:
        budget = RequestBudget(clock, TIGHT)
        await budget.acquire(Cost(5), Priority.QUERY)
        log = Log(budget)
        log.start("big", Cost(8), Priority.PLACE)
        log.start("small", Cost(3), Priority.PLACE)
        await turns()
        assert log.admitted == []
        log.tasks["big"].cancel()
        await turns()
        assert log.admitted == ["small"]
        assert budget.usage()["weight_1m"] == 8
        assert clock.sleepers == 0

    scenario(body)


def test_usage_is_a_json_safe_snapshot() -> None:
    """`usage()` round-trips through JSON with the counters, limits and waiters per priority."""

    async def body(clock: ManualClock) -> None:
        budget = RequestBudget(clock, TIGHT)
        await budget.acquire(PLACE_BATCH, Priority.PLACE)
        usage = json.loads(json.dumps(budget.usage()))
        assert usage["weight_1m"] == 5
        assert usage["orders_10s"] == 5
        assert usage["orders_1m"] == 1
        assert usage["limits"]["weight_per_min"] == 10
        assert usage["waiting"] == {"safety": 0, "heartbeat": 0, "place": 0, "query": 0, "start": 0}

    scenario(body)


def test_a_free_request_never_waits() -> None:
    """A request costing nothing is admitted at once, even while the budget is penalized, and is not
    counted."""

    async def body(clock: ManualClock) -> None:
        budget = RequestBudget(clock, TIGHT)
        budget.penalize(100)
        await asyncio.wait_for(budget.acquire(Cost(), Priority.QUERY), timeout=1)
        assert budget.usage()["admitted"] == 0

    scenario(body)
