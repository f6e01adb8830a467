"""`MarketDataHub`: one upstream book stream per symbol, fanned out to every subscriber, on a paper venue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

import pytest
from tests.support.settle import settle

from mmctl.bots.market_data import BookSubscription, MarketDataHub
from mmctl.clock import ManualClock, now_ms
from mmctl.config.schema import PaperAccount
from mmctl.errors import TransientError, UnknownSymbol
from mmctl.exchange.faults import FaultyExchange
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.model import BookTop
from mmctl.strategies.base import BookBand
from mmctl.strategies.ticks import Grid

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


def subscribe_twenty(world: World) -> dict[str, list[BookSubscription]]:
    counts = {BTC: 7, ETH: 7, SOL: 6}
    return {s: [world.hub.subscribe(s) for _ in range(n)] for s, n in counts.items()}


# --- one upstream per symbol -------------------------------------------------------------------------


def test_twenty_subscribers_on_three_symbols_share_three_upstream_streams() -> None:
    """One upstream `watch_book` per symbol serves every subscriber of that symbol."""

    async def body(world: World) -> None:
        subscribe_twenty(world)
        await settle()
        assert world.paper.opened == 3
        assert world.hub.upstream_count() == 3
        assert world.hub.subscriptions() == {BTC: 7, ETH: 7, SOL: 6}

    scenario(body)


def test_each_subscriber_receives_the_updates_of_its_symbol_only() -> None:
    """A book reaches the subscribers of its own symbol and no other."""

    async def body(world: World) -> None:
        subs = subscribe_twenty(world)
        seen = {sub: world.read(sub) for group in subs.values() for sub in group}
        await settle()
        published = {s: world.publish(s) for s in (BTC, ETH, SOL)}
        await until(lambda: all(seen.values()), "every subscriber got a book")
        for sub, tops in seen.items():
            assert tops == [published[sub.symbol]]

    scenario(body)


def test_closing_every_subscriber_of_a_symbol_closes_its_upstream_and_only_that_one() -> None:
    """The last subscription of a symbol to close stops that symbol's upstream; the others run on."""

    async def body(world: World) -> None:
        subs = subscribe_twenty(world)
        btc_seen = world.read(subs[BTC][0])
        await settle()
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
    """`BTCUSDT` and `BTC/USDT:USDT` are one subscription key."""

    async def body(world: World) -> None:
        a = world.hub.subscribe("BTCUSDT")
        b = world.hub.subscribe(BTC)
        assert a.symbol == b.symbol == BTC
        assert world.hub.upstream_count() == 1
        assert world.hub.subscriptions() == {BTC: 2}

    scenario(body)


def test_an_unknown_symbol_is_refused_without_opening_anything() -> None:
    """Subscribing to a symbol the exchange lacks raises `UnknownSymbol` and opens no stream."""

    async def body(world: World) -> None:
        with pytest.raises(UnknownSymbol):
            world.hub.subscribe("NOPEUSDT")
        assert world.hub.upstream_count() == 0

    scenario(body)


# --- conflation and late joiners ---------------------------------------------------------------------


def test_a_slow_subscriber_sees_the_latest_book_not_a_backlog() -> None:
    """A subscriber that reads late gets the newest book only, never a queue of old ones."""

    async def body(world: World) -> None:
        slow = world.hub.subscribe(BTC)
        fast_seen = world.read(world.hub.subscribe(BTC))
        await settle()
        tops = []
        for i in range(3):
            tops.append(world.publish(BTC, offset=i))
            await until(lambda n=i + 1: len(fast_seen) == n, "the fast reader keeps up")  # type: ignore[misc]
        assert fast_seen == tops
        assert await anext(slow) == tops[-1]
        pending = asyncio.create_task(anext(slow))
        await settle()
        assert not pending.done()  # nothing older is queued behind the latest
        pending.cancel()

    scenario(body)


def test_a_subscriber_joining_a_running_upstream_starts_from_the_latest_book() -> None:
    """A late subscriber's first book is the latest one the upstream delivered."""

    async def body(world: World) -> None:
        first = world.read(world.hub.subscribe(SOL))
        await settle()
        top = world.publish(SOL)
        await until(lambda: first == [top], "the first subscriber got the book")
        late = world.hub.subscribe("SOLUSDT")
        assert await anext(late) == top

    scenario(body)


def test_last_update_records_the_book_and_when_it_arrived_on_the_hub_clock() -> None:
    """`last_update` holds the latest book and its arrival time on the hub's clock."""

    async def body(world: World) -> None:
        world.hub.subscribe(ETH)
        await settle()
        assert world.hub.last_update(ETH) is None
        world.clock.advance(5)
        top = world.publish(ETH)
        await until(lambda: world.hub.last_update("ETHUSDT") is not None, "the update is recorded")
        assert world.hub.last_update("ETHUSDT") == (top, world.clock.monotonic())
        assert world.clock.monotonic() == pytest.approx(5)

    scenario(body)


# --- endings -----------------------------------------------------------------------------------------


def test_an_upstream_failure_reaches_every_subscriber_and_the_next_subscribe_restarts_it() -> None:
    """An upstream error is raised once by every subscription after its pending book; a new subscribe
    restarts the upstream."""

    async def body(world: World) -> None:
        hub = MarketDataHub(world.faulty, world.clock)
        subs = [hub.subscribe(BTC) for _ in range(3)]
        await settle()
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
    """`aclose` ends every subscription and stream, and later subscriptions end at once."""

    async def body(world: World) -> None:
        subs = subscribe_twenty(world)
        await settle()
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
    """Leaving `async with` closes the subscription and its upstream."""

    async def body(world: World) -> None:
        async with world.hub.subscribe(BTC) as sub:
            assert world.hub.subscriptions() == {BTC: 1}
        assert sub.closed
        assert world.hub.upstream_count() == 0
        assert world.paper.open_streams == 0

    scenario(body)


# --- bands: wake only whom a book concerns -------------------------------------------------------------


class Listener:
    """A callback subscriber that records what the hub called, in order, into a shared log."""

    def __init__(self, name: str, log: list[tuple[str, str, BookTop]]) -> None:
        self.name = name
        self.log = log

    def on_book(self, top: BookTop, mid: Decimal, arrived: float) -> None:
        assert mid == top.mid
        self.log.append((self.name, "book", top))

    def on_quiet(self, top: BookTop, mid: Decimal, arrived: float) -> None:
        assert mid == top.mid
        self.log.append((self.name, "quiet", top))


def listen(
    world: World, name: str, log: list[tuple[str, str, BookTop]], symbol: str = BTC
) -> BookSubscription:
    listener = Listener(name, log)
    return world.hub.subscribe(symbol, on_book=listener.on_book, on_quiet=listener.on_quiet)


def btc_mid2(offset: int) -> int:
    """bid + ask in ticks of the book `World.publish(BTC, offset)` sends."""
    grid = Grid(Decimal("0.10"))
    bid, ask = grid.index(PRICES[BTC] + offset), grid.index(PRICES[BTC] + offset + 1)
    assert bid is not None
    assert ask is not None
    return bid + ask


def test_a_book_inside_a_band_goes_to_on_quiet_after_the_woken_subscribers() -> None:
    """A book inside a subscriber's band calls its `on_quiet`, after the `on_book` of every subscriber
    the book concerns, and never its `on_book`."""

    async def body(world: World) -> None:
        log: list[tuple[str, str, BookTop]] = []
        inside, outside = listen(world, "inside", log), listen(world, "outside", log)
        await settle()
        inside.set_band(BookBand(mid2_lo=btc_mid2(0), mid2_hi=btc_mid2(1)))
        outside.set_band(BookBand(mid2_lo=btc_mid2(5), mid2_hi=btc_mid2(9)))
        top = world.publish(BTC, offset=1)
        await until(lambda: len(log) == 2, "both were told")
        assert log == [("outside", "book", top), ("inside", "quiet", top)]

    scenario(body)


def test_leaving_the_band_uses_it_up_until_the_subscriber_sets_a_new_one() -> None:
    """After a book outside its band, a subscriber gets every book through `on_book` (even one inside
    the old band) until it registers a band again."""

    async def body(world: World) -> None:
        log: list[tuple[str, str, BookTop]] = []
        sub = listen(world, "s", log)
        await settle()
        sub.set_band(BookBand(mid2_lo=btc_mid2(0), mid2_hi=btc_mid2(0)))
        first = world.publish(BTC, offset=3)
        await until(lambda: len(log) == 1, "the move was delivered")
        assert sub.band is None
        back = world.publish(BTC, offset=0)
        await until(lambda: len(log) == 2, "the next book was delivered")
        assert log == [("s", "book", first), ("s", "book", back)]

    scenario(body)


def test_a_band_past_its_deadline_admits_nothing() -> None:
    """A band registered until a time on the hub clock stops holding books from that time on."""

    async def body(world: World) -> None:
        log: list[tuple[str, str, BookTop]] = []
        sub = listen(world, "s", log)
        await settle()
        wide = BookBand(mid2_lo=btc_mid2(-100), mid2_hi=btc_mid2(100))
        sub.set_band(wide, until=world.clock.monotonic() + 2)
        quiet = world.publish(BTC, offset=1)
        await until(lambda: len(log) == 1, "the first book was told")
        world.clock.advance(2)
        late = world.publish(BTC, offset=2)
        await until(lambda: len(log) == 2, "the late book was told")
        assert log == [("s", "quiet", quiet), ("s", "book", late)]

    scenario(body)


def test_an_off_grid_or_crossed_book_is_never_inside_a_band() -> None:
    """A book off the tick grid or with its bid at or above its ask wakes a subscriber whatever its band."""

    async def body(world: World) -> None:
        log: list[tuple[str, str, BookTop]] = []
        sub = listen(world, "s", log)
        await settle()
        everything = BookBand()
        for bid, ask in ((Decimal("60000.05"), Decimal("60001.0")), (Decimal("60001.0"), Decimal("60000.0"))):
            sub.set_band(everything)
            top = BookTop(BTC, bid, Decimal(1), ask, Decimal(1), now_ms(world.clock))
            world.paper.venue.on_book(top)
            await until(lambda t=top: log[-1:] == [("s", "book", t)], "the book was delivered")  # type: ignore[misc]

    scenario(body)


def test_a_microprice_band_checks_the_books_microprice() -> None:
    """A band on the microprice holds a book whose size-weighted mid is inside and not one whose mid
    is inside but whose microprice is not."""

    async def body(world: World) -> None:
        log: list[tuple[str, str, BookTop]] = []
        sub = listen(world, "s", log)
        await settle()
        bid, ask = PRICES[BTC], PRICES[BTC] + Decimal("1.0")  # 10 ticks apart
        grid = Grid(Decimal("0.10"))
        low_bid = grid.index(bid)
        assert low_bid is not None
        near_bid = BookBand(micro2_lo=2 * low_bid, micro2_hi=2 * low_bid + 4)  # within 2 ticks of the bid
        for bid_qty, ask_qty, kind in ((Decimal(9), Decimal(1), "book"), (Decimal(1), Decimal(9), "quiet")):
            sub.set_band(near_bid)
            top = BookTop(BTC, bid, bid_qty, ask, ask_qty, now_ms(world.clock))
            world.paper.venue.on_book(top)
            await until(lambda t=top, k=kind: log[-1:] == [("s", k, t)], "the book was told")  # type: ignore[misc]

    scenario(body)


def test_a_callback_subscriber_joining_a_running_upstream_gets_the_latest_book() -> None:
    """A callback subscriber that joins after books have flowed is handed the latest one through
    `on_book`."""

    async def body(world: World) -> None:
        first = world.read(world.hub.subscribe(BTC))
        await settle()
        top = world.publish(BTC, offset=2)
        await until(lambda: first == [top], "the first subscriber got the book")
        log: list[tuple[str, str, BookTop]] = []
        listen(world, "late", log)
        await until(lambda: log == [("late", "book", top)], "the late subscriber got the latest book")

    scenario(body)


def test_wait_closed_returns_when_the_upstream_ends_and_raises_its_failure() -> None:
    """A callback subscription's `wait_closed` returns when the hub closes and raises an upstream error."""

    async def body(world: World) -> None:
        hub = MarketDataHub(world.faulty, world.clock)
        log: list[tuple[str, str, BookTop]] = []
        listener = Listener("s", log)
        sub = hub.subscribe(BTC, on_book=listener.on_book, on_quiet=listener.on_quiet)
        await settle()
        world.faulty.fail("watch_book", error=TransientError("websocket dropped"), times=1)
        world.publish(BTC)
        with pytest.raises(TransientError, match="websocket dropped"):
            await sub.wait_closed()
        again = hub.subscribe(BTC, on_book=listener.on_book)
        await hub.aclose()
        await again.wait_closed()

    scenario(body)


def test_a_queue_subscription_cannot_take_a_band() -> None:
    """Only a subscription with callbacks can hold a band (a queued book is always delivered)."""

    async def body(world: World) -> None:
        with pytest.raises(ValueError, match="callbacks"):
            world.hub.subscribe(BTC).set_band(BookBand())

    scenario(body)
