"""`MarketDataHub`: one upstream book stream per symbol, fanned out to every subscriber, on a paper venue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

import pytest

from mmctl.bots.market_data import BookSubscription, MarketDataHub
from mmctl.clock import ManualClock, now_ms
from mmctl.config.schema import PaperAccount
from mmctl.errors import TransientError, UnknownSymbol
from mmctl.exchange.faults import FaultyExchange
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.model import BookTop

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"
PRICES = {BTC: Decimal("60000.0"), ETH: Decimal("3000.00"), SOL: Decimal("140.000")}


class CountedStream:
    """A `watch_book` stream that tells its exchange when it is closed."""

    def __init__(self, inner: AsyncIterator[BookTop], owner: CountingPaper) -> None:
        self.inner = inner
        self.owner = owner
        self.closed = False

    def __aiter__(self) -> CountedStream:
        return self

    async def __anext__(self) -> BookTop:
        return await anext(self.inner)

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            self.owner.open_streams -= 1
            await self.inner.aclose()  # type: ignore[attr-defined]


class CountingPaper(PaperExchange):
    """The paper exchange, counting `watch_book` streams opened and still open."""

    opened = 0
    open_streams = 0

    def watch_book(self, symbol: str) -> CountedStream:  # type: ignore[override]
        self.opened += 1
        self.open_streams += 1
        return CountedStream(super().watch_book(symbol), self)


class World:
    def __init__(self) -> None:
        self.clock = ManualClock()
        settings = PaperAccount(symbols=("BTCUSDT", "ETHUSDT", "SOLUSDT"))
        base = PaperExchange.from_settings("paper", settings, self.clock)
        self.paper = CountingPaper("paper", base.venue, self.clock)
        self.faulty = FaultyExchange(self.paper, self.clock)
        self.hub = MarketDataHub(self.paper, self.clock)
        self.seen: dict[BookSubscription, list[BookTop]] = {}
        self.readers: list[asyncio.Task[None]] = []

    def publish(self, symbol: str, offset: int = 0) -> BookTop:
        bid = PRICES[symbol] + offset
        top = BookTop(symbol, bid, Decimal(1), bid + 1, Decimal(1), now_ms(self.clock))
        self.paper.venue.on_book(top)
        return top

    def read(self, sub: BookSubscription) -> list[BookTop]:
        """Consume `sub` in a task, as fast as the loop allows; returns the list it fills."""
        seen = self.seen.setdefault(sub, [])

        async def reader() -> None:
            async for top in sub:
                seen.append(top)

        self.readers.append(asyncio.create_task(reader()))
        return seen


def scenario(body: Callable[[World], Awaitable[None]]) -> None:
    async def main() -> None:
        world = World()
        try:
            await body(world)
        finally:
            await world.hub.aclose()
            await world.paper.close()
            for task in world.readers:
                task.cancel()

    asyncio.run(main())


async def until(predicate: Callable[[], bool], what: str, turns: int = 200) -> None:
    """Poll `predicate` between loop turns; fail after `turns` turns (never real time)."""
    for _ in range(turns):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never happened: {what}")


async def turns(n: int = 10) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def subscribe_twenty(world: World) -> dict[str, list[BookSubscription]]:
    counts = {BTC: 7, ETH: 7, SOL: 6}
    return {s: [world.hub.subscribe(s) for _ in range(n)] for s, n in counts.items()}


# --- one upstream per symbol -------------------------------------------------------------------------


def test_twenty_subscribers_on_three_symbols_share_three_upstream_streams() -> None:
    async def body(world: World) -> None:
        subscribe_twenty(world)
        await turns()
        assert world.paper.opened == 3
        assert world.hub.upstream_count() == 3
        assert world.hub.subscriptions() == {BTC: 7, ETH: 7, SOL: 6}

    scenario(body)


def test_each_subscriber_receives_the_updates_of_its_symbol_only() -> None:
    async def body(world: World) -> None:
        subs = subscribe_twenty(world)
        seen = {sub: world.read(sub) for group in subs.values() for sub in group}
        await turns()
        published = {s: world.publish(s) for s in (BTC, ETH, SOL)}
        await until(lambda: all(seen.values()), "every subscriber got a book")
        for sub, tops in seen.items():
            assert tops == [published[sub.symbol]]

    scenario(body)


def test_closing_every_subscriber_of_a_symbol_closes_its_upstream_and_only_that_one() -> None:
    async def body(world: World) -> None:
        subs = subscribe_twenty(world)
        btc_seen = world.read(subs[BTC][0])
        await turns()
        for sub in subs[ETH][:-1]:
            await sub.aclose()
        assert world.hub.upstream_count() == 3  # one ETH subscriber is left
        await subs[ETH][-1].aclose()
        assert world.hub.upstream_count() == 2
        assert world.paper.open_streams == 2
        assert world.hub.subscriptions() == {BTC: 7, SOL: 6}
        top = world.publish(BTC)
        await until(lambda: btc_seen == [top], "BTC still flows")
        world.hub.subscribe("ETHUSDT")  # a new first subscriber starts a fresh upstream
        assert world.paper.opened == 4

    scenario(body)


def test_both_symbol_forms_share_one_upstream() -> None:
    async def body(world: World) -> None:
        a = world.hub.subscribe("BTCUSDT")
        b = world.hub.subscribe(BTC)
        assert a.symbol == b.symbol == BTC
        assert world.hub.upstream_count() == 1
        assert world.hub.subscriptions() == {BTC: 2}

    scenario(body)


def test_an_unknown_symbol_is_refused_without_opening_anything() -> None:
    async def body(world: World) -> None:
        with pytest.raises(UnknownSymbol):
            world.hub.subscribe("NOPEUSDT")
        assert world.hub.upstream_count() == 0

    scenario(body)


# --- conflation and late joiners ---------------------------------------------------------------------


def test_a_slow_subscriber_sees_the_latest_book_not_a_backlog() -> None:
    async def body(world: World) -> None:
        slow = world.hub.subscribe(BTC)
        fast_seen = world.read(world.hub.subscribe(BTC))
        await turns()
        tops = []
        for i in range(3):
            tops.append(world.publish(BTC, offset=i))
            await until(lambda n=i + 1: len(fast_seen) == n, "the fast reader keeps up")  # type: ignore[misc]
        assert fast_seen == tops
        assert await anext(slow) == tops[-1]
        pending = asyncio.create_task(anext(slow))
        await turns()
        assert not pending.done()  # nothing older is queued behind the latest
        pending.cancel()

    scenario(body)


def test_a_subscriber_joining_a_running_upstream_starts_from_the_latest_book() -> None:
    async def body(world: World) -> None:
        first = world.read(world.hub.subscribe(SOL))
        await turns()
        top = world.publish(SOL)
        await until(lambda: first == [top], "the first subscriber got the book")
        late = world.hub.subscribe("SOLUSDT")
        assert await anext(late) == top

    scenario(body)


def test_last_update_records_the_book_and_when_it_arrived_on_the_hub_clock() -> None:
    async def body(world: World) -> None:
        world.hub.subscribe(ETH)
        await turns()
        assert world.hub.last_update(ETH) is None
        world.clock.advance(5)
        top = world.publish(ETH)
        await until(lambda: world.hub.last_update("ETHUSDT") is not None, "the update is recorded")
        assert world.hub.last_update("ETHUSDT") == (top, world.clock.monotonic())
        assert world.clock.monotonic() == pytest.approx(5)

    scenario(body)


# --- endings -----------------------------------------------------------------------------------------


def test_an_upstream_failure_reaches_every_subscriber_and_the_next_subscribe_restarts_it() -> None:
    async def body(world: World) -> None:
        hub = MarketDataHub(world.faulty, world.clock)
        subs = [hub.subscribe(BTC) for _ in range(3)]
        await turns()
        world.faulty.fail("watch_book", error=TransientError("websocket dropped"), times=1)
        top = world.publish(BTC)
        await until(lambda: hub.upstream_count() == 0, "the failed upstream is dropped")
        for sub in subs:
            assert await anext(sub) == top  # the pending book first
            with pytest.raises(TransientError, match="websocket dropped"):
                await anext(sub)
            assert sub.closed
        hub.subscribe(BTC)
        assert hub.upstream_count() == 1
        await hub.aclose()

    scenario(body)


def test_closing_the_hub_ends_every_subscription_and_upstream() -> None:
    async def body(world: World) -> None:
        subs = subscribe_twenty(world)
        await turns()
        await world.hub.aclose()
        assert world.hub.upstream_count() == 0
        assert world.paper.open_streams == 0
        for group in subs.values():
            for sub in group:
                with pytest.raises(StopAsyncIteration):
                    await anext(sub)
        assert world.hub.subscribe(BTC).closed

    scenario(body)


def test_a_subscription_used_as_a_context_manager_closes_on_exit() -> None:
    async def body(world: World) -> None:
        async with world.hub.subscribe(BTC) as sub:
            assert world.hub.subscriptions() == {BTC: 1}
        assert sub.closed
        assert world.hub.upstream_count() == 0
        assert world.paper.open_streams == 0

    scenario(body)
