"""The bot runtime records every order and fill in the store (issue 10 items 2 and 5): submitting before the
request leaves, each answer, stream updates, cancels, flattens, foreign orders; fills restored after a
restart are never booked twice; ambiguous submits are resolved by client id before anything else is sent.

Paper venue on a manual clock, a real SQLite store in tmp_path, `FaultyExchange` for the failures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest

from mmctl.bots.bot import Bot, BotOptions, BotState
from mmctl.bots.definition import BotDefinition
from mmctl.bots.events import EventLog
from mmctl.bots.quoting import Quoter
from mmctl.bots.recorder import NullRecorder, StoreRecorder
from mmctl.bots.submits import NEVER_PLACED
from mmctl.clock import ManualClock, now_ms
from mmctl.config.schema import PaperAccount
from mmctl.errors import RateLimited, StoreError
from mmctl.exchange.base import Exchange
from mmctl.exchange.faults import FaultyExchange
from mmctl.exchange.forwarding import ForwardingExchange
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.model import BookTop, Fill, OrderRequest, PlaceResult, Side, Trade
from mmctl.pnl.position import CTX
from mmctl.store.records import OrderRecord, StatusChange
from mmctl.store.sqlite.store import SqliteStore
from mmctl.strategies.base import Quote
from mmctl.strategies.market_maker import MarketMakerParams
from mmctl.strategies.params import parse_params

SYMBOL = "BTC/USDT:USDT"
OPTIONS = BotOptions(stop_timeout_s=2.0, max_failures=3, backoff_base_s=0.1, backoff_max_s=0.4)
T = TypeVar("T")


class CallLog(ForwardingExchange):
    """Forwards everything and notes the name of each request method called, in order."""

    def __init__(self, inner: Exchange) -> None:
        super().__init__(inner)
        self.log: list[str] = []

    async def _call(self, method: str, call: Callable[[], Awaitable[T]], **_request: object) -> T:
        self.log.append(method)
        return await call()


class StoreProbe(ForwardingExchange):
    """Before forwarding a place request, commits the store's queue and notes each order's stored status:
    what the store holds at the moment the request leaves."""

    def __init__(self, inner: Exchange, store: SqliteStore) -> None:
        super().__init__(inner)
        self.store = store
        self.seen: dict[str, str | None] = {}

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
        await self.store.flush()
        ids = [r.client_order_id for r in requests]
        rows = await self.store.read(lambda reads: [reads.order(cid) for cid in ids])
        for cid, row in zip(ids, rows, strict=True):
            self.seen[cid] = None if row is None else row.status
        return await super().place_orders(requests)


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.clock = ManualClock()
        self.paper = PaperExchange.from_settings("paper", PaperAccount(symbols=("BTCUSDT",)), self.clock)
        self.faulty = FaultyExchange(self.paper, self.clock)
        self.calls = CallLog(self.faulty)
        self.events = EventLog(self.clock)
        self.store = SqliteStore.open(tmp_path / "mmctl.sqlite", self.clock, synchronous="NORMAL")
        self.recorder = StoreRecorder(self.store, self.clock)
        self.mid = Decimal("50000")

    def book(self, mid: Decimal | None = None) -> None:
        self.mid = mid if mid is not None else self.mid
        half = Decimal("0.05")
        self.paper.venue.on_book(
            BookTop(SYMBOL, self.mid - half, Decimal(2), self.mid + half, Decimal(2), now_ms(self.clock))
        )

    def trade(self, side: Side, price: Decimal, qty: Decimal) -> None:
        self.paper.venue.on_trade(Trade(SYMBOL, price, qty, side, now_ms(self.clock)))

    def bot(self, exchange: Exchange | None = None, name: str = "b1") -> Bot:
        p = parse_params(MarketMakerParams, {"levels": "2", "spread_bps": "10", "level_step_bps": "10"})
        definition = BotDefinition(name, "paper", SYMBOL, "market_maker", p)
        return Bot(
            definition, exchange or self.paper, self.clock, self.events, OPTIONS, recorder=self.recorder
        )

    def venue_orders(self, prefix: str = "mm.") -> list[str]:
        orders = self.paper.venue.open_orders(SYMBOL)
        return sorted(o.client_order_id for o in orders if o.client_order_id.startswith(prefix))

    def best_bid(self) -> Decimal:
        bids = [o.price for o in self.paper.venue.open_orders(SYMBOL) if o.side is Side.BUY and o.price]
        return max(bids)

    async def run(self, seconds: float) -> None:
        """Let simulated time pass in small steps, with the event loop running in between."""
        for _ in range(int(seconds / 0.05)):
            self.clock.advance(0.05)
            for _ in range(30):
                await asyncio.sleep(0)

    async def orders(self, bot: str | None = "b1") -> dict[str, OrderRecord]:
        await self.store.flush()
        rows = await self.store.read(lambda r: r.orders(limit=None))
        return {o.client_order_id: o for o in rows if o.bot == bot}

    async def changes(self, cid: str) -> list[StatusChange]:
        await self.store.flush()
        return await self.store.read(lambda r: r.order_changes(cid))

    async def fills(self, bot: str | None = "b1") -> list[Fill]:
        await self.store.flush()
        rows = await self.store.read(lambda r: r.fills(limit=None))
        return [s.fill for s in rows if s.bot == bot]


def scenario(tmp_path: Path, body: Callable[[World], Awaitable[None]]) -> None:
    async def main() -> None:
        world = World(tmp_path)
        await world.paper.load_markets()
        world.book()
        try:
            await body(world)
        finally:
            await world.paper.close()
            await world.store.close()

    asyncio.run(main())


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll `condition` (the event loop and the store's writer thread run meanwhile) until a deadline."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.002)


def position(fills: Sequence[Fill]) -> Decimal:
    total = Decimal(0)
    for f in fills:
        total = CTX.add(total, f.qty if f.side is Side.BUY else -f.qty)
    return total


# --- what a running bot records --------------------------------------------------------------------------


def test_every_order_is_stored_as_submitting_before_its_place_request_leaves(tmp_path: Path) -> None:
    """At the moment each place request reaches the venue the store already holds its orders as submitting."""

    async def body(w: World) -> None:
        probe = StoreProbe(w.paper, w.store)
        bot = w.bot(probe)
        await bot.start()
        await until(lambda: len(probe.seen) == 4)  # the probe waits for real commits
        await until(lambda: len(w.venue_orders()) == 4)  # and the venue has taken them
        w.trade(Side.SELL, w.best_bid(), Decimal(10))  # fills the best bid: its level is placed anew
        w.clock.advance(1.0)
        await until(lambda: len(probe.seen) >= 5)
        await bot.stop()
        assert set(probe.seen.values()) == {"submitting"}

    scenario(tmp_path, body)


def test_a_bots_orders_and_fills_are_recorded_with_their_status_history(tmp_path: Path) -> None:
    """Quote, fill, re-quote and stop: every order is stored with its venue id and history ending final
    (none left open), and every booked fill is stored under the bot, summing to its position."""

    async def body(w: World) -> None:
        bot = w.bot()
        await bot.start()
        await w.run(0.5)
        w.trade(Side.SELL, w.best_bid(), Decimal(10))
        await w.run(0.5)
        held = bot.inventory.qty
        assert held > 0
        await bot.stop()
        orders = await w.orders()
        assert len(orders) >= 5  # 4 quotes, the filled level re-quoted
        assert all(o.venue_order_id for o in orders.values())
        assert not [o for o in orders.values() if o.is_open]
        assert {o.status for o in orders.values()} == {"filled", "canceled"}
        filled = next(cid for cid, o in orders.items() if o.status == "filled")
        assert [c.status for c in await w.changes(filled)] == ["submitting", "new", "filled"]
        fills = await w.fills()
        assert fills
        assert position(fills) == held
        assert await w.recorder.bot_fills("b1") == fills

    scenario(tmp_path, body)


def test_a_rejected_placement_is_stored_rejected_with_the_reason(tmp_path: Path) -> None:
    """A post-only quote that would cross is stored `rejected`, its last status change naming the reason."""

    async def body(w: World) -> None:
        quoter = Quoter("q1", SYMBOL, w.paper, w.clock, w.events, recorder=w.recorder, account="paper")
        crossing = Quote(Side.BUY, 0, w.mid + Decimal(10), Decimal("0.002"))
        await quoter.apply([crossing], tolerance_bps=Decimal(1), max_age_ms=10**9)
        (order,) = (await w.orders("q1")).values()
        assert order.status == "rejected"
        assert order.venue_order_id is None
        last = (await w.changes(order.client_order_id))[-1]
        assert last.status == "rejected"
        assert "post-only" in last.detail.lower() or "would" in last.detail.lower()

    scenario(tmp_path, body)


def test_orders_no_running_bot_owns_are_recorded_without_a_bot(tmp_path: Path) -> None:
    """A manual order on the account, filled while a bot runs, is stored with its fill under no bot."""

    async def body(w: World) -> None:
        bot = w.bot()
        await bot.start()
        await w.run(0.3)
        manual = OrderRequest(SYMBOL, Side.SELL, Decimal("0.003"), w.mid + Decimal(1), "by-hand")
        await w.paper.place_orders([manual])
        w.trade(Side.BUY, w.mid + Decimal(1), Decimal("0.003"))
        await w.run(0.3)
        await bot.stop()
        foreign = await w.orders(None)
        assert foreign["by-hand"].status == "filled"
        (fill,) = await w.fills(None)
        assert fill.client_order_id == "by-hand"
        assert fill.qty == Decimal("0.003")
        assert bot.inventory.qty == 0

    scenario(tmp_path, body)


def test_a_flatten_order_and_its_fill_are_recorded_under_the_bot(tmp_path: Path) -> None:
    """stop --flatten's market order is stored (submitting → filled) and its fill brings Σ fills to 0."""

    async def body(w: World) -> None:
        bot = w.bot()
        await bot.start()
        await w.run(0.5)
        w.trade(Side.SELL, w.best_bid(), Decimal(10))
        await w.run(0.3)
        await bot.stop(flatten=True)
        orders = await w.orders()
        (flat,) = [o for o in orders.values() if o.type == "market"]
        assert flat.status == "filled"
        assert (await w.changes(flat.client_order_id))[0].status == "submitting"
        assert position(await w.fills()) == bot.inventory.qty == 0

    scenario(tmp_path, body)


def test_a_failed_store_refuses_new_orders_but_never_an_outcome(tmp_path: Path) -> None:
    """After the store closes, `submitting` raises StoreError (nothing leaves unrecorded) while order and
    fill outcomes are counted as dropped instead of raising into a cancel or the order stream."""

    async def body(w: World) -> None:
        bot = w.bot()
        await w.store.close()
        request = OrderRequest(
            SYMBOL, Side.BUY, Decimal("0.003"), Decimal(49000), bot.quoter.new_id(Side.BUY, 0)
        )
        with pytest.raises(StoreError):
            await bot.quoter.submits.place([request])
        assert w.paper.venue.open_orders(SYMBOL) == []
        (result,) = await w.paper.place_orders([request])
        assert result.order is not None
        w.recorder.order("b1", "paper", result.order)
        w.recorder.fill(None, "paper", _fill(result.order.client_order_id, "t1", Decimal("0.001")))
        assert w.recorder.dropped == 2

    scenario(tmp_path, body)


# --- restart: fills restored, never booked twice -----------------------------------------------------------


def test_restored_fills_rebuild_the_position_and_an_adopted_order_books_only_new_fills(
    tmp_path: Path,
) -> None:
    """After a restart the bot's position is Σ of its recorded fills (restoring twice changes nothing), and
    a partially filled order it adopts books only what fills later, from the stream or after a gap."""

    async def body(w: World) -> None:
        before = w.bot()
        cid = before.quoter.new_id(Side.BUY, 0)
        price = w.mid - Decimal(5)
        await before.quoter.submits.place(
            [OrderRequest(SYMBOL, Side.BUY, Decimal("0.010"), price, cid, post_only=True)]
        )
        await before.router.register("b1", before.fills.on_update, before.fills.on_gap)
        w.trade(Side.SELL, price, Decimal("0.003"))
        await w.run(0.1)
        assert before.inventory.qty == Decimal("0.003")
        await before.router.unregister("b1")  # the daemon dies

        after = w.bot()  # a new daemon: new account state, new router
        recorded = await w.recorder.bot_fills("b1")
        after.restore_fills(recorded)
        after.restore_fills(recorded)
        assert after.inventory.qty == position(recorded) == Decimal("0.003")
        assert after.inventory.entry_price == before.inventory.entry_price
        assert after.inventory.lifetime_fees == before.inventory.lifetime_fees
        await after.quoter.resync()  # what a start does first: the order is adopted
        assert cid in after.quoter.live

        w.trade(Side.SELL, price, Decimal("0.004"))  # filled while no stream is subscribed
        after.fills.on_gap("restarted")
        await after.fills.recover(Decimal("0.0002"))  # the venue says 0.007 filled: 0.004 is new
        assert after.inventory.qty == Decimal("0.007")
        await after.router.register("b1", after.fills.on_update, after.fills.on_gap)
        w.trade(Side.SELL, price, Decimal("0.002"))  # the stream says 0.009 filled: 0.002 is new
        await w.run(0.1)
        venue = (await w.paper.position(SYMBOL)).qty
        assert after.inventory.qty == venue == Decimal("0.009")
        assert position(await w.fills()) == venue  # and each fill recorded once

    scenario(tmp_path, body)


def test_restore_keeps_funding_and_a_bot_without_a_store_records_nothing(tmp_path: Path) -> None:
    """Restoring replaces the fill-derived figures but not funding; the null recorder has no fills."""

    async def body(w: World) -> None:
        bot = w.bot()
        bot.inventory.add_funding(Decimal("-0.5"))
        fills = [
            _fill("o1", "t1", Decimal("0.002"), Side.BUY),
            _fill("o2", "t2", Decimal("0.001"), Side.SELL),
        ]
        bot.restore_fills(fills)
        assert bot.inventory.qty == Decimal("0.001")
        assert bot.inventory.fills == 2
        assert bot.inventory.lifetime_funding == Decimal("-0.5")
        bot.restore_fills(fills[:1])
        assert bot.inventory.qty == Decimal("0.002")
        assert bot.inventory.fills == 1
        assert await NullRecorder().bot_fills("b1") == []

    scenario(tmp_path, body)


# --- ambiguous submits -------------------------------------------------------------------------------------


def test_an_ambiguous_submit_that_reached_the_venue_is_found_and_adopted(tmp_path: Path) -> None:
    """A place whose answer was lost is looked up by client id: the orders are live again, stored with
    their real status, and no level is quoted twice."""

    async def body(w: World) -> None:
        bot = w.bot(w.calls)
        w.faulty.ambiguous(times=1)  # the first placement (a re-quote amends in place)
        await bot.start()
        await w.run(1.5)
        assert bot.state is BotState.RUNNING
        venue = w.venue_orders()
        assert len(venue) == 4  # one order per level: the found ones, no duplicates
        assert sorted(bot.quoter.live) == venue
        orders = await w.orders()
        assert all(orders[cid].status == "new" for cid in venue)
        assert w.calls.log.count("place_orders") == 1  # the found orders were not placed again
        assert w.faulty.calls["fetch_order"] == 4
        resolved = [e for e in w.events.since(0, "b1") if "resolved: found new" in e.message]
        assert sorted(e.data["client_order_id"] for e in resolved) == venue
        await bot.stop()

    scenario(tmp_path, body)


def test_an_ambiguous_submit_the_venue_never_saw_is_recorded_as_never_placed(tmp_path: Path) -> None:
    """A place that failed before reaching the venue is looked up, stored `rejected` (never placed), and
    its levels are quoted again with new ids; nothing is placed until every lookup has answered."""

    async def body(w: World) -> None:
        bot = w.bot(w.calls)
        w.faulty.fail("place_orders", times=1)  # the first placement (a re-quote amends in place)
        w.faulty.fail("fetch_order", times=1)
        await bot.start()
        await w.run(2.0)
        assert bot.state is BotState.RUNNING
        orders = await w.orders()
        lost = [cid for cid, o in orders.items() if o.status == "rejected"]
        assert len(lost) == 4
        for cid in lost:
            assert (await w.changes(cid))[-1].detail == NEVER_PLACED
        venue = w.venue_orders()
        assert len(venue) == 4
        assert not set(venue) & set(lost)
        # after the failed place: 1 failed lookup, then 4 answered, and only then the next place
        log = w.calls.log
        failed_place = log.index("place_orders")
        next_place = log.index("place_orders", failed_place + 1)
        assert log[failed_place + 1 : next_place].count("fetch_order") == 5
        await bot.stop()

    scenario(tmp_path, body)


def test_a_refused_place_request_is_recorded_rejected_without_a_lookup(tmp_path: Path) -> None:
    """A rate-limited place request placed nothing: its orders are stored rejected at once, no lookup."""

    async def body(w: World) -> None:
        bot = w.bot(w.calls)
        w.faulty.fail("place_orders", error=RateLimited("too many requests"), times=1)  # the first one
        await bot.start()
        await w.run(2.0)
        orders = await w.orders()
        refused = [cid for cid, o in orders.items() if o.status == "rejected"]
        assert len(refused) == 4
        assert "too many requests" in (await w.changes(refused[0]))[-1].detail
        assert w.faulty.calls["fetch_order"] == 0
        assert len(w.venue_orders()) == 4
        await bot.stop()

    scenario(tmp_path, body)


def test_a_stop_resolves_an_ambiguous_submit_left_by_the_last_tick(tmp_path: Path) -> None:
    """When a bot stops right after an ambiguous submit, the stop looks the orders up (and cancels them):
    none stays `submitting` in the store and none stays on the venue."""

    async def body(w: World) -> None:
        bot = w.bot(w.calls)
        await bot.start()
        await w.run(0.5)
        w.faulty.ambiguous(times=1)
        w.book(w.mid + Decimal(100))
        for _ in range(30):  # the tick places (answer lost) and starts backing off
            await asyncio.sleep(0)
        assert bot.quoter.submits.unresolved
        await bot.stop()
        assert not bot.quoter.submits.unresolved
        assert w.venue_orders() == []
        orders = await w.orders()
        assert not [o for o in orders.values() if o.is_open]

    scenario(tmp_path, body)


def _fill(cid: str, trade_id: str, qty: Decimal, side: Side = Side.BUY) -> Fill:
    return Fill(
        trade_id,
        "v-" + cid,
        cid,
        SYMBOL,
        side,
        Decimal(50000),
        qty,
        Decimal("0.01"),
        "USDT",
        True,
        Decimal(0),
        1,
    )
