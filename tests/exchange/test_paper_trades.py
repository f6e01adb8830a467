"""The paper exchange's public trade stream: the feed's trades, every one in order, from a bounded buffer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal

from mmctl.clock import ManualClock
from mmctl.config.schema import PaperAccount
from mmctl.exchange.paper import MarketEvent, PaperExchange
from mmctl.exchange.paper.exchange import new_venue, paper_markets
from mmctl.exchange.trade_stream import TRADE_BUFFER, TradeFanout
from mmctl.model import BookTop, Side, Trade

from .builders import BTC, START_MS

SETTINGS = PaperAccount(symbols=("BTCUSDT",))
FEED_TRADES = 2_500  # more than the driver releases between two yields to the loop (YIELD_EVERY)


class ListMarketFeed:
    """A recorded market: a fixed list of events from `start_ms`, in the venue's own symbol form."""

    name = "list"

    def __init__(self, events: list[MarketEvent]) -> None:
        self._events = events
        self.start_ms = events[0].ts_ms

    def events(self) -> Iterator[MarketEvent]:
        return iter(self._events)


def recorded_market() -> list[MarketEvent]:
    """A book, then `FEED_TRADES` trades over two seconds alternating side, price and size, venue-named."""
    events: list[MarketEvent] = [
        BookTop("BTCUSDT", Decimal("60000.0"), Decimal(1), Decimal("60000.1"), Decimal(1), START_MS)
    ]
    for i in range(FEED_TRADES):
        side = Side.BUY if i % 3 else Side.SELL
        price = Decimal("60000.0") + Decimal(i % 7) / 10
        events.append(
            Trade("BTCUSDT", price, Decimal(i + 1) / 1000, side, START_MS + 1 + i * 2_000 // FEED_TRADES)
        )
    return events


async def test_watch_trades_yields_every_trade_of_the_feed_in_order() -> None:
    """Every trade the feed driver releases reaches a subscriber made before start, in the feed's order,
    with the unified symbol, none dropped and none conflated."""
    clock = ManualClock(START_MS / 1000)
    market = recorded_market()
    ex = PaperExchange(
        "paper", new_venue(SETTINGS, paper_markets(SETTINGS), START_MS), clock, ListMarketFeed(market)
    )
    stream = ex.watch_trades("BTCUSDT")
    await ex.start()
    await clock.run_for(3.0, step=0.5)
    expected = [Trade(BTC, e.price, e.qty, e.side, e.ts_ms) for e in market if isinstance(e, Trade)]
    seen = [await asyncio.wait_for(anext(stream), 5) for _ in expected]
    assert seen == expected
    assert stream.dropped == 0
    assert stream.pending == 0
    await ex.close()


async def test_an_unread_stream_keeps_the_newest_trades_and_counts_the_dropped() -> None:
    """A subscriber that does not read keeps the newest `TRADE_BUFFER` trades: the oldest are dropped and
    counted, and reading resumes in order from the oldest kept."""
    ex = PaperExchange.from_settings("paper", SETTINGS, ManualClock(START_MS / 1000))
    stream = ex.watch_trades(BTC)
    extra = 5
    for i in range(TRADE_BUFFER + extra):
        ex.venue.on_trade(Trade(BTC, Decimal("60000.0"), Decimal(i + 1), Side.BUY, START_MS))
    assert (stream.dropped, stream.pending) == (extra, TRADE_BUFFER)
    first, second = await anext(stream), await anext(stream)
    assert (first.qty, second.qty) == (Decimal(extra + 1), Decimal(extra + 2))
    await ex.close()


def test_a_full_buffer_drops_its_oldest_trade_per_trade_published() -> None:
    """With a buffer of three, a fifth trade published leaves the last three buffered and two dropped."""
    fanout = TradeFanout(maxlen=3)
    watch = fanout.watch(BTC)
    trades = [Trade(BTC, Decimal("1"), Decimal(i), Side.SELL, i) for i in range(1, 6)]
    for t in trades:
        fanout.publish(t)
    assert (watch.dropped, watch.pending) == (2, 3)

    async def drain() -> list[Trade]:
        fanout.close()
        return [t async for t in watch]

    assert asyncio.run(drain()) == trades[2:]


async def test_trade_watchers_survive_a_paper_reset_and_end_on_close() -> None:
    """After the venue is replaced (a paper reset) a subscriber receives the new venue's trades; closing
    the exchange ends its stream."""
    clock = ManualClock(START_MS / 1000)
    ex = PaperExchange.from_settings("paper", SETTINGS, clock)
    stream = ex.watch_trades(BTC)
    await ex.replace_venue(new_venue(SETTINGS, paper_markets(SETTINGS), START_MS), None)
    after = Trade(BTC, Decimal("60000.0"), Decimal("0.5"), Side.SELL, START_MS)
    ex.venue.on_trade(after)
    assert await asyncio.wait_for(anext(stream), 5) == after
    await ex.close()
    assert [t async for t in stream] == []
