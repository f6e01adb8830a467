"""`FaultyExchange`: injected errors, latency on the clock and ambiguous submits around a paper venue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest

from mmctl.clock import ManualClock
from mmctl.config.schema import PaperAccount
from mmctl.errors import RateLimited, TransientError
from mmctl.exchange.faults import FaultyExchange
from mmctl.exchange.paper import PaperExchange
from mmctl.model import BookTop, OrderRequest, Side

from .builders import BTC, START_MS

BID = OrderRequest(BTC, Side.BUY, Decimal("0.01"), Decimal("59000.0"), "faulty-bid", post_only=True)


@asynccontextmanager
async def faulty() -> AsyncIterator[tuple[FaultyExchange, PaperExchange, ManualClock]]:
    clock = ManualClock(START_MS / 1000)
    inner = PaperExchange.from_settings("paper", PaperAccount(symbols=("BTCUSDT",)), clock)
    inner.venue.on_book(
        BookTop(BTC, Decimal("60000.0"), Decimal(1), Decimal("60000.1"), Decimal(1), START_MS)
    )
    wrapper = FaultyExchange(inner, clock)
    try:
        yield wrapper, inner, clock
    finally:
        await wrapper.close()


async def test_failing_every_call_until_healed() -> None:
    """fail() with no method makes every call raise TransientError; heal() restores them."""
    async with faulty() as (ex, _, _):
        ex.fail()
        for call in (
            ex.load_markets(),
            ex.balance(),
            ex.open_orders(),
            ex.place_orders([BID]),
            ex.cancel_all(BTC),
        ):
            with pytest.raises(TransientError, match="injected"):
                await call
        with pytest.raises(TransientError):
            ex.market(BTC)
        assert not ex.health().connected
        ex.heal()
        assert (await ex.place_orders([BID]))[0].ok
        assert ex.health().connected
        assert ex.calls["place_orders"] == 2


async def test_a_counted_fault_on_one_method() -> None:
    """fail(method, times=2) fails the next two calls of that method only, with the given error."""
    async with faulty() as (ex, _, _):
        ex.fail("balance", error=RateLimited("slow down", retry_after_s=2.0), times=2)
        for _ in range(2):
            with pytest.raises(RateLimited) as caught:
                await ex.balance()
            assert caught.value.retry_after_s == 2.0
        await ex.open_orders()
        assert (await ex.balance()).wallet == Decimal(10_000)


async def test_ambiguous_submit_places_the_order_but_reports_failure() -> None:
    """An ambiguous place_orders reaches the venue and still raises TransientError, once."""
    async with faulty() as (ex, inner, _):
        ex.ambiguous(times=1)
        with pytest.raises(TransientError, match="ambiguous"):
            await ex.place_orders([BID])
        found = await ex.fetch_order(BTC, client_order_id="faulty-bid")
        assert found.client_order_id == "faulty-bid"
        assert len(await inner.open_orders(BTC)) == 1
        second = OrderRequest(BTC, Side.BUY, Decimal("0.01"), Decimal("58000.0"), "after", post_only=True)
        assert (await ex.place_orders([second]))[0].ok


async def test_latency_waits_on_the_clock() -> None:
    """A delayed call completes only once the clock has moved past the delay."""
    async with faulty() as (ex, _, clock):
        ex.delay(2.0, "open_orders")
        call = asyncio.ensure_future(ex.open_orders())
        await clock.run_for(1.9, step=0.1)
        assert not call.done()
        await clock.run_for(0.2, step=0.1)
        assert await asyncio.wait_for(call, 5) == []
        ex.delay(0, "open_orders")
        assert await ex.open_orders() == []


async def test_streams_fail_on_their_next_item() -> None:
    """A failing order stream raises on the next item instead of at subscription."""
    async with faulty() as (ex, _, _):
        updates = ex.order_updates()
        await ex.place_orders([BID])
        assert (await asyncio.wait_for(anext(updates), 5)).order.client_order_id == "faulty-bid"
        ex.fail("order_updates")
        with pytest.raises(TransientError):
            await anext(updates)


def test_unknown_method_names_are_refused() -> None:
    """Configuring a method the port does not have is a test bug, reported at once."""
    ex = FaultyExchange(PaperExchange.from_settings("p", PaperAccount(), ManualClock()))
    with pytest.raises(ValueError, match="not an Exchange method"):
        ex.fail("place_order")
