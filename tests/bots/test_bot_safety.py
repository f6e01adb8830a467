"""Safety under races and failures: concurrent start/stop, countdown disarm, refused requests, stream
gaps, flatten after stop, and stops that cannot confirm."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from tests.bots.test_bot_runtime import OPTIONS, SYMBOL, World, scenario

from mmctl.bots.bot import BotState
from mmctl.clock import now_ms
from mmctl.errors import InsufficientMargin, InvalidState, StopIncomplete
from mmctl.fleet.manager import BotManager
from mmctl.model import OrderRequest, Side
from mmctl.store.base import MemoryDefinitionStore


def test_a_stop_issued_during_a_start_wins_and_leaves_no_orders() -> None:
    """A stop arriving while a start prepares cuts the start short (it reports so) and leaves nothing."""

    async def body(w: World) -> None:
        bot = w.bot()
        starting = asyncio.create_task(bot.start())
        await asyncio.sleep(0)  # start is now preparing
        result = await bot.stop()
        with pytest.raises(InvalidState, match="interrupted by a stop"):
            await starting
        await w.run(0.5)
        assert result["state"] in ("stopped", "created")
        assert bot.state is BotState.STOPPED
        assert w.venue_orders == []

    scenario(body)


def test_stop_all_disarms_the_countdown_of_symbols_nobody_quotes_any_more() -> None:
    async def body(w: World) -> None:
        manager = BotManager({"paper": w.paper}, MemoryDefinitionStore(), w.clock, w.events, options=OPTIONS)
        await manager.create("x1", "paper", "BTCUSDT", "market_maker", {"levels": "1"})
        await manager.create("x2", "paper", "BTCUSDT", "market_maker", {"levels": "1", "spread_bps": "30"})
        await manager.start([], all_bots=True)
        await w.run(0.3)
        assert w.paper.venue.state(SYMBOL).countdown_ms is not None
        await manager.stop([], all_bots=True)
        await manager.settle_background()  # the disarm follows the answer
        assert w.paper.venue.state(SYMBOL).countdown_ms is None

    scenario(body)


def test_a_refused_request_backs_off_instead_of_spinning_and_ends_in_error() -> None:
    async def body(w: World) -> None:
        bot = w.bot(w.faulty)
        await bot.start()
        w.faulty.fail("place_orders", error=InsufficientMargin("no margin for the whole batch"))
        w.book(w.mid + Decimal(100))
        await w.run(1.0)
        assert w.faulty.calls["place_orders"] <= 3  # backoff, not hundreds of calls per second
        await w.run(10.0)
        assert bot.state is BotState.ERROR
        assert "refused requests in a row" in (bot.last_error or "")
        assert w.venue_orders == []

    scenario(body)


def test_fills_missed_during_an_order_stream_gap_are_recovered_from_the_venue() -> None:
    async def body(w: World) -> None:
        bot = w.bot(w.faulty)
        await bot.start()
        await w.run(0.5)
        bid = w.best_bid()
        w.faulty.fail("order_updates", times=1)  # the stream dies after its next event
        manual = OrderRequest(
            SYMBOL, Side.BUY, Decimal("0.003"), Decimal("40000.0"), "by-hand", post_only=True
        )
        await w.paper.place_orders([manual])
        for _ in range(10):
            await asyncio.sleep(0)  # the router sees the failure and waits to resubscribe
        assert not bot.router.healthy
        w.trade(Side.SELL, bid, Decimal(10))  # nobody is subscribed: this fill's events are lost
        await w.run(3.0)
        venue_position = (await w.paper.position(SYMBOL)).qty
        assert venue_position > 0
        assert bot.inventory.qty == venue_position
        assert any("recovered" in e.message for e in w.events.since(0, "b1"))
        assert bot.router.gaps == 1
        assert bot.router.healthy
        await bot.stop()

    scenario(body)


def test_flatten_after_a_plain_stop_books_its_own_fills() -> None:
    async def body(w: World) -> None:
        bot = w.bot()
        await bot.start()
        await w.run(0.5)
        w.trade(Side.SELL, w.best_bid(), Decimal(10))
        await w.run(0.3)
        held = bot.inventory.qty
        assert held > 0
        await bot.stop()
        result = await bot.stop(flatten=True)
        assert result["flatten"]["closed"] == str(held)
        assert bot.inventory.qty == 0
        assert (await w.paper.position(SYMBOL)).qty == 0

    scenario(body)


def test_a_stop_that_cannot_confirm_ends_in_error_and_keeps_booking_fills() -> None:
    async def body(w: World) -> None:
        bot = w.bot(w.faulty)
        await bot.start()
        await w.run(0.5)
        w.faulty.fail("cancel_orders")
        stopping = asyncio.create_task(bot.stop())
        await w.run(OPTIONS.stop_timeout_s + 1)
        outcome = await asyncio.gather(stopping, return_exceptions=True)
        assert isinstance(outcome[0], StopIncomplete)
        assert bot.state is BotState.ERROR
        assert "may still be open" in (bot.last_error or "")
        w.trade(Side.SELL, w.best_bid(), Decimal(10))
        await w.run(0.3)
        assert bot.inventory.qty > 0  # the orders left are still accounted for
        w.faulty.heal()
        await bot.stop()
        assert w.venue_orders == []
        assert bot.state is BotState.STOPPED

    scenario(body)


def test_time_helpers_agree() -> None:
    async def body(w: World) -> None:
        assert now_ms(w.clock) == int(w.clock.time() * 1000)

    scenario(body)
