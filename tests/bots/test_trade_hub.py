"""The market-data hub's public trades: one upstream `watch_trades` per symbol, every trade to every
subscriber in order, on a paper venue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

import pytest
from tests.support.settle import settle

from mmctl.bots.market_data import MarketDataHub
from mmctl.clock import ManualClock, now_ms
from mmctl.config.schema import PaperAccount
from mmctl.errors import TransientError
from mmctl.exchange.base import Exchange, TradeStream
from mmctl.exchange.faults import FaultyExchange
from mmctl.exchange.forwarding import ForwardingExchange
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.exchange.trade_stream import TRADE_BUFFER
from mmctl.model import Side, Trade

BTC = "BTC/USDT:USDT"


class CountedTrades:
    """A trade stream that tells its exchange when it is closed."""

    def __init__(self, inner: TradeStream, owner: CountingExchange) -> None:
        self.inner = inner
        self.owner = owner
        self.closed = False

    def __aiter__(self) -> AsyncIterator[Trade]:
        return self

    async def __anext__(self) -> Trade:
        return await anext(self.inner)

    @property
    def dropped(self) -> int:
        return self.inner.dropped

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            self.owner.open_streams -= 1
        await self.inner.aclose()


class CountingExchange(ForwardingExchange):
    """Any exchange, counting the `watch_trades` streams opened and still open."""

    def __init__(self, inner: Exchange) -> None:
        super().__init__(inner)
        self.opened = 0
        self.open_streams = 0

    def watch_trades(self, symbol: str) -> CountedTrades:
        self.opened += 1
        self.open_streams += 1
        return CountedTrades(super().watch_trades(symbol), self)


class World:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.paper = PaperExchange.from_settings("paper", PaperAccount(symbols=("BTCUSDT",)), self.clock)
        self.faulty = FaultyExchange(self.paper, self.clock)
        self.counted = CountingExchange(self.faulty)
        self.hub = MarketDataHub(self.counted, self.clock)

    def trade(self, qty: int | str, side: Side = Side.BUY) -> Trade:
        trade = Trade(BTC, Decimal("60000.0"), Decimal(qty), side, now_ms(self.clock))
        self.paper.venue.on_trade(trade)
        return trade


def scenario(body: Callable[[World], Awaitable[None]]) -> None:
    async def main() -> None:
        world = World()
        await world.paper.load_markets()
        try:
            await body(world)
        finally:
            await world.hub.aclose()
            await world.paper.close()

    asyncio.run(main())


def test_one_upstream_fans_out_to_two_subscribers_and_stops_when_both_leave() -> None:
    """Two subscribers of a symbol share one upstream `watch_trades` and each gets every trade in order; it
    stays open while one remains, closes when both have left, and a later subscriber opens a fresh one."""

    async def body(w: World) -> None:
        first: list[Trade] = []
        second: list[Trade] = []
        a = w.hub.subscribe_trades(BTC, first.append)
        b = w.hub.subscribe_trades("BTCUSDT", second.append)
        await settle()
        assert (w.counted.opened, w.hub.trades.upstream_count()) == (1, 1)
        assert w.hub.trades.subscriptions() == {BTC: 2}
        sent = [w.trade(i, Side.BUY if i % 2 else Side.SELL) for i in range(1, 6)]
        await settle()
        assert first == sent
        assert second == sent
        await a.aclose()
        assert w.counted.open_streams == 1
        later = w.trade(9)
        await settle()
        assert (first, second) == (sent, [*sent, later])
        await b.aclose()
        assert (w.counted.open_streams, w.hub.trades.upstream_count()) == (0, 0)
        w.hub.subscribe_trades(BTC, first.append)
        await settle()
        assert (w.counted.opened, w.counted.open_streams) == (2, 1)

    scenario(body)


def test_a_raising_callback_ends_only_its_own_subscription() -> None:
    """A subscriber whose callback raises is ended with that error; the other keeps every trade."""

    async def body(w: World) -> None:
        kept: list[Trade] = []

        def broken(trade: Trade) -> None:
            if trade.qty == 2:
                raise ValueError("signals bug")

        bad = w.hub.subscribe_trades(BTC, broken)
        good = w.hub.subscribe_trades(BTC, kept.append)
        await settle()
        sent = [w.trade(i) for i in range(1, 4)]
        await settle()
        assert kept == sent
        assert bad.closed
        assert not good.closed
        with pytest.raises(ValueError, match="signals bug"):
            await bad.wait_closed()
        assert w.hub.trades.subscriptions() == {BTC: 1}

    scenario(body)


def test_an_upstream_failure_ends_every_subscription_with_the_error() -> None:
    """When the upstream stream fails, each subscription has the trades before the failure and then raises
    the error from `wait_closed`; the stream is closed and the next subscriber opens a new one."""

    async def body(w: World) -> None:
        seen: list[Trade] = []
        sub = w.hub.subscribe_trades(BTC, seen.append)
        await settle()
        w.faulty.fail(error=TransientError("websocket dropped"), times=1)
        before = w.trade(1)
        await settle()
        assert seen == [before]
        with pytest.raises(TransientError, match="websocket dropped"):
            await asyncio.wait_for(sub.wait_closed(), 1)
        assert (w.counted.open_streams, w.hub.trades.upstream_count()) == (0, 0)
        again: list[Trade] = []
        w.hub.subscribe_trades(BTC, again.append)
        await settle()
        after = w.trade(2)
        await settle()
        assert again == [after]

    scenario(body)


def test_trades_lost_behind_a_full_buffer_are_counted_per_symbol() -> None:
    """Trades published faster than the hub reads, beyond the upstream's buffer, are dropped oldest first,
    and the hub reports how many per symbol; the subscriber gets the rest in order."""

    async def body(w: World) -> None:
        seen: list[Trade] = []
        w.hub.subscribe_trades(BTC, seen.append)
        await settle()
        assert w.hub.trades.dropped() == {}
        sent = [w.trade(i) for i in range(1, TRADE_BUFFER + 4)]  # all before the hub's task runs again
        await settle()
        assert seen == sent[3:]
        assert w.hub.trades.dropped() == {BTC: 3}

    scenario(body)
