"""`SharedCancels`: a mass stop's cancels on one account and symbol, joined into venue-sized batches that
take joiners until their request leaves for the venue. Paper venue behind a real request budget on a
manual clock; the window is filled so that requests wait for it, and time is moved by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from tests.support.rig import BTC, PaperWorld
from tests.support.rig import scenario as run_scenario
from tests.support.settle import settle

from mmctl.bots.shared_cancels import SharedCancels
from mmctl.config.schema import PaperAccount
from mmctl.errors import TransientError
from mmctl.exchange.budget import BudgetLimits, RequestBudget
from mmctl.exchange.budgeted import BudgetedExchange
from mmctl.exchange.faults import FaultyExchange
from mmctl.exchange.priority import Priority
from mmctl.exchange.weights import Cost
from mmctl.model import CancelResult, OrderRequest, Side

LIMITS = BudgetLimits(weight_per_min=100, orders_per_10s=400, orders_per_min=4000, use_fraction=1.0)
WAIT_TURNS = 200  # loop turns that show a request waits for the window, not for the loop


class Rig(PaperWorld):
    """Paper account `a` on BTC (book 49999.9/50000.1); `venue` counts the requests that reach it (and
    can fail them), `budgeted` draws each from `budget` first."""

    def __init__(self) -> None:
        settings = PaperAccount(symbols=("BTCUSDT",), balance=Decimal(10_000_000))
        super().__init__({"a": settings}, {BTC: 50_000}, half=Decimal("0.1"))
        self.venue = FaultyExchange(self.paper, self.clock)
        self.budget = RequestBudget(self.clock, LIMITS, name="account 'a'")
        self.budgeted = BudgetedExchange(self.venue, self.budget)

    async def resting(self, n: int, tag: str = "o") -> list[str]:
        """Place `n` resting bids; their client ids."""
        ids = [f"{tag}-{i}" for i in range(n)]
        for i, cid in enumerate(ids):
            await self.manual(
                OrderRequest(BTC, Side.BUY, Decimal("0.01"), Decimal(49_000 - i), cid, post_only=True)
            )
        return ids

    async def fill_window(self) -> None:
        """Use the whole minute's weight, the safety reserve included: the next request waits 60 s."""
        await self.budget.acquire(Cost(weight=LIMITS.weight_per_min), Priority.SAFETY)

    def cancelled(self, results: list[CancelResult]) -> list[str]:
        assert all(r.error is None for r in results), results
        return [r.client_order_id for r in results]


def scenario(body: Callable[[Rig], Awaitable[None]]) -> None:
    run_scenario(Rig(), body)


def test_cancels_asked_in_later_loop_turns_join_the_request_still_waiting_for_budget() -> None:
    """Three callers asking a few loop turns apart while the first request waits for the full window
    share that one request, and each gets the results for its own ids in its own order."""

    async def body(r: Rig) -> None:
        a, b, c = [await r.resting(2, tag) for tag in "abc"]
        shared = SharedCancels(r.budgeted, budgeted=True)
        await r.fill_window()
        callers = []
        for ids in (a, list(reversed(b)), c):
            callers.append(asyncio.ensure_future(shared.cancel(BTC, ids)))
            await settle()
        await settle(WAIT_TURNS)
        assert not any(t.done() for t in callers)
        assert r.venue.calls["cancel_orders"] == 0
        r.clock.advance(60)
        await settle()
        assert [r.cancelled(t.result()) for t in callers] == [a, list(reversed(b)), c]
        assert (shared.requests, r.venue.calls["cancel_orders"]) == (1, 1)
        assert r.orders() == []

    scenario(body)


def test_a_caller_after_the_request_left_gets_a_request_of_its_own() -> None:
    """Ids asked once the waiting request has been admitted (sent, not yet answered) go into a new
    request, never into the one already sent, and both callers get their own results."""

    async def body(r: Rig) -> None:
        a, b = await r.resting(3, "a"), await r.resting(3, "b")
        shared = SharedCancels(r.budgeted, budgeted=True)
        r.venue.delay(1.0, "cancel_orders")  # a sent request takes 1 s to answer
        await r.fill_window()
        first = asyncio.ensure_future(shared.cancel(BTC, a))
        await settle()
        r.clock.advance(60)  # the window frees: the first request leaves and waits for its answer
        await settle()
        assert not first.done()
        second = asyncio.ensure_future(shared.cancel(BTC, b))
        await settle()
        assert shared.requests == 2
        r.clock.advance(1)
        await settle()
        assert r.cancelled(first.result()) == a
        assert r.cancelled(second.result()) == b
        assert r.venue.calls["cancel_orders"] == 2
        assert r.orders() == []

    scenario(body)


def test_without_a_budget_callers_of_one_turn_share_venue_sized_batches() -> None:
    """On an exchange with no request budget, 12 ids of three callers in one loop turn go out as two
    requests (10 and 2), and each caller gets its own results, an id asked twice once."""

    async def body(r: Rig) -> None:
        ids = await r.resting(12)
        shared = SharedCancels(r.venue)
        asks = [ids[:5], ids[5:9] + ids[5:6], ids[9:]]
        results = await asyncio.gather(*(shared.cancel(BTC, ask) for ask in asks))
        assert [r.cancelled(res) for res in results] == [ids[:5], ids[5:9], ids[9:]]
        assert (shared.requests, r.venue.calls["cancel_orders"]) == (2, 2)
        assert r.orders() == []

    scenario(body)


def test_a_failed_batch_raises_in_every_caller_with_an_id_in_it_only() -> None:
    """When the first of two batches fails, its two callers raise its error and their orders stay open,
    while the caller whose ids were all in the second batch gets its results."""

    async def body(r: Rig) -> None:
        ids = await r.resting(12)
        shared = SharedCancels(r.venue)
        r.venue.fail("cancel_orders", error=TransientError("venue hiccup"), times=1)
        outcomes = await asyncio.gather(
            shared.cancel(BTC, ids[:5]), shared.cancel(BTC, ids[5:10]), shared.cancel(BTC, ids[10:]),
            return_exceptions=True,
        )  # fmt: skip
        assert [type(o) for o in outcomes[:2]] == [TransientError, TransientError]
        assert isinstance(outcomes[2], list)
        assert r.cancelled(outcomes[2]) == ids[10:]
        assert r.orders() == sorted(ids[:10])

    scenario(body)


def test_a_cancelled_caller_stops_waiting_while_its_ids_are_still_cancelled() -> None:
    """A caller cancelled while the joined request waits for budget raises CancelledError at once; the
    request still goes out with its ids, and the other caller gets its own results."""

    async def body(r: Rig) -> None:
        a, b = await r.resting(2, "a"), await r.resting(2, "b")
        shared = SharedCancels(r.budgeted, budgeted=True)
        await r.fill_window()
        gone = asyncio.ensure_future(shared.cancel(BTC, a))
        kept = asyncio.ensure_future(shared.cancel(BTC, b))
        await settle()
        gone.cancel()
        await settle()
        with pytest.raises(asyncio.CancelledError):
            gone.result()
        assert not kept.done()
        r.clock.advance(60)
        await settle()
        assert r.cancelled(kept.result()) == b
        assert shared.requests == 1
        assert r.orders() == []

    scenario(body)
