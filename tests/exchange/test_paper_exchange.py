"""`PaperExchange`: construction from settings, the feed driver on a manual clock, streams and lifecycle."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from mmctl.clock import ManualClock
from mmctl.config.schema import PaperAccount
from mmctl.errors import ConfigError, FilterRejected
from mmctl.exchange.paper import MarketEvent, PaperExchange, PaperVenue
from mmctl.model import BookTop, Fill, IncomeType, OrderRequest, OrderStatus, OrderType, Side

from .builders import BTC, MAKER_FEE, MARKETS, START_MS, TAKER_FEE

ONE_SYMBOL = PaperAccount(symbols=("BTCUSDT",))


def exchange(settings: PaperAccount = ONE_SYMBOL) -> tuple[PaperExchange, ManualClock]:
    clock = ManualClock(START_MS / 1000)
    return PaperExchange.from_settings("paper", settings, clock), clock


async def test_symbols_setting_limits_the_markets() -> None:
    """Only the configured markets exist; an unknown one in the settings is a config error."""
    ex, _ = exchange(PaperAccount(symbols=("BTCUSDT", "ETH/USDT:USDT")))
    assert sorted(await ex.load_markets()) == ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    assert len(await exchange(PaperAccount())[0].load_markets()) == 6
    with pytest.raises(ConfigError, match="NOPEUSDT"):
        exchange(PaperAccount(symbols=("NOPEUSDT",)))


async def test_nothing_moves_until_start_and_start_is_idempotent() -> None:
    """Before start there is no book; after start the feed follows the clock; a second start is a no-op."""
    ex, clock = exchange()
    await clock.run_for(1.0)
    assert ex.book(BTC) is None
    assert ex.health().detail["feed_state"] == "not started"
    await ex.start()
    await ex.start()
    await clock.run_for(1.0)
    top = ex.book(BTC)
    assert top is not None
    assert top.ts_ms == START_MS + 1000
    assert await ex.server_time_ms() == START_MS + 1000
    assert ex.health().connected
    await ex.close()


async def test_speed_compresses_simulated_time() -> None:
    """At speed 10, one clock second is ten simulated seconds."""
    ex, clock = exchange(PaperAccount(symbols=("BTCUSDT",), speed=10.0))
    await ex.start()
    await clock.run_for(1.0, step=0.05)
    assert await ex.server_time_ms() == START_MS + 10_000
    await ex.close()


async def test_countdown_runs_in_clock_seconds_while_the_feed_runs() -> None:
    """At speed 10, a 5 s countdown armed through the port fires after 5 clock seconds."""
    ex, clock = exchange(PaperAccount(symbols=("BTCUSDT",), speed=10.0, volatility=0.0, trade_intensity=0.0))
    await ex.start()
    await clock.run_for(0.1)
    top = ex.book(BTC)
    assert top is not None
    await ex.place_orders(
        [OrderRequest(BTC, Side.BUY, Decimal("0.01"), top.bid - 100, "dms", post_only=True)]
    )
    await ex.arm_countdown(BTC, 5)
    await clock.run_for(4.5, step=0.1)
    assert len(await ex.open_orders(BTC)) == 1
    await clock.run_for(1.0, step=0.1)
    assert await ex.open_orders(BTC) == []
    await ex.close()


async def test_funding_is_settled_by_the_driver() -> None:
    """With a one-minute funding interval, a held position pays funding as simulated time passes."""
    settings = PaperAccount(symbols=("BTCUSDT",), speed=60.0, funding_interval_s=60, trade_intensity=0.0)
    ex, clock = exchange(settings)
    await ex.start()
    await clock.run_for(0.1)
    await ex.place_orders([OrderRequest(BTC, Side.BUY, Decimal("0.01"), None, "long", type=OrderType.MARKET)])
    await clock.run_for(3.0, step=0.05)
    funding = await ex.income(0, income_type=IncomeType.FUNDING_FEE)
    assert len(funding) == 3
    assert all(row.amount < 0 for row in funding)
    await ex.close()


async def test_close_ends_streams_and_stops_the_feed() -> None:
    """After close, stream iteration ends, health is disconnected and time stops."""
    ex, clock = exchange()
    await ex.start()
    updates, books = ex.order_updates(), ex.watch_book(BTC)

    async def drain() -> tuple[int, int]:
        return len([u async for u in updates]), len([b async for b in books])

    drained = asyncio.ensure_future(drain())
    await clock.run_for(0.5)
    await ex.close()
    assert (await asyncio.wait_for(drained, 5))[0] == 0
    assert not ex.health().connected
    stopped_at = await ex.server_time_ms()
    await clock.run_for(1.0)
    assert await ex.server_time_ms() == stopped_at


async def test_order_updates_subscribe_when_called() -> None:
    """Events between order_updates() and its first await are delivered."""
    ex, _ = exchange()
    ex.venue.on_book(BookTop(BTC, Decimal("60000.0"), Decimal(1), Decimal("60000.1"), Decimal(1), START_MS))
    updates = ex.order_updates()
    await ex.place_orders([OrderRequest(BTC, Side.BUY, Decimal("0.01"), Decimal("59000.0"), "early")])
    first = await asyncio.wait_for(anext(updates), 5)
    assert (first.order.client_order_id, first.order.status) == ("early", OrderStatus.NEW)
    await updates.aclose()
    await ex.close()


async def quote_for(seed: int, seconds: float) -> list[Fill]:
    """Quote one bid and one ask 1 bp outside the book on a running feed; return the fills."""
    ex, clock = exchange(PaperAccount(symbols=("BTCUSDT",), seed=seed, speed=5.0))
    updates = ex.order_updates()
    await ex.start()
    for _ in range(round(seconds / 0.1)):
        await clock.run_for(0.1)
        top = ex.book(BTC)
        if top is not None and not await ex.open_orders(BTC):
            gap = (top.mid / 10_000).quantize(Decimal("0.1"))
            await ex.place_orders(
                [
                    OrderRequest(BTC, Side.BUY, Decimal("0.01"), top.bid - gap, "", post_only=True),
                    OrderRequest(BTC, Side.SELL, Decimal("0.01"), top.ask + gap, "", post_only=True),
                ]
            )
    await ex.close()
    return [u.fill async for u in updates if u.fill is not None]


async def test_same_seed_same_fills_through_the_driver() -> None:
    """Two runs with one seed and the same clock steps produce identical fills."""
    first = await quote_for(seed=5, seconds=20)
    assert first
    assert first == await quote_for(seed=5, seconds=20)
    assert first != await quote_for(seed=6, seconds=20)


async def test_watch_book_follows_the_feed() -> None:
    """A watcher sees the feed's books as the clock advances, and book() agrees with the latest."""
    ex, clock = exchange()
    watch = ex.watch_book("BTCUSDT")
    await ex.start()
    seen = []
    for _ in range(3):
        await clock.run_for(0.25)
        seen.append(await asyncio.wait_for(anext(watch), 5))
    assert [b.ts_ms for b in seen] == [START_MS + 200, START_MS + 500, START_MS + 700]
    assert ex.book(BTC) == seen[-1]
    await ex.close()


class ListFeed:
    """A live feed that yields a fixed list of events."""

    def __init__(self, events: list[MarketEvent]) -> None:
        self.events = events
        self.name = "list"

    async def stream(self) -> AsyncIterator[MarketEvent]:
        for event in self.events:
            await asyncio.sleep(0)
            yield event


async def test_a_live_feed_is_pushed_as_it_arrives() -> None:
    """A LiveFeed's events reach the venue in order, without pacing."""
    venue = PaperVenue({BTC: MARKETS[BTC]}, balance=Decimal(1000), start_ms=START_MS)
    tops = [
        BookTop(BTC, Decimal(60_000 + i), Decimal(1), Decimal(60_001 + i), Decimal(1), START_MS + i)
        for i in range(5)
    ]
    ex = PaperExchange("live", venue, ManualClock(), ListFeed(tops))  # type: ignore[arg-type]
    await ex.start()
    for _ in range(20):
        await asyncio.sleep(0)
    assert ex.book(BTC) == tops[-1]
    assert ex.health().detail["feed_state"] == "finished"
    await ex.close()


async def test_fees_come_from_the_account_settings() -> None:
    """Maker and taker fees on the markets are the account's (0.02% / 0.05% by default)."""
    ex, _ = exchange(PaperAccount(maker_fee=Decimal("-0.0001"), taker_fee=Decimal("0.0004")))
    rules = ex.market(BTC)
    assert (rules.maker_fee, rules.taker_fee) == (Decimal("-0.0001"), Decimal("0.0004"))
    default = exchange()[0].market(BTC)
    assert (
        (default.maker_fee, default.taker_fee)
        == (MAKER_FEE, TAKER_FEE)
        == (Decimal("0.0002"), Decimal("0.0005"))
    )


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "10", True])
async def test_bad_countdown_timeouts_are_refused(bad: object) -> None:
    """Negative, non-finite and non-numeric countdown timeouts raise FilterRejected; 0 disarms."""
    ex, _ = exchange()
    with pytest.raises(FilterRejected, match="countdown"):
        await ex.arm_countdown(BTC, bad)  # type: ignore[arg-type]
    await ex.arm_countdown(BTC, 0)
    assert ex.venue.state(BTC).countdown_ms is None
