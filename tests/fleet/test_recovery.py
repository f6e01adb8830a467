"""Recovery at daemon start (`mmctl.fleet.recovery`) against the real paper exchange and a real SQLite store:
what happened on the venue while the daemon was down is recorded exactly once, ambiguous submits are
resolved, orphaned mmctl orders are cancelled and confirmed, foreign orders are reported and untouched."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

from mmctl.bots.ids import make_id
from mmctl.clock import ManualClock, now_ms
from mmctl.config.schema import PaperAccount
from mmctl.errors import TransientError
from mmctl.exchange.base import Exchange
from mmctl.exchange.budget import BudgetLimits, RequestBudget
from mmctl.exchange.budgeted import BudgetedExchange
from mmctl.exchange.faults import FaultyExchange
from mmctl.exchange.forwarding import ForwardingExchange
from mmctl.exchange.paper import PaperExchange
from mmctl.exchange.priority import Priority, classify
from mmctl.fleet.recovery import RecoveryFailed, RecoveryReport, recover_account
from mmctl.model import BookTop, Fill, Order, OrderRequest, OrderStatus, OrderType, Side, Trade
from mmctl.store.base import StoreReads
from mmctl.store.records import (
    NOT_FOUND,
    BotRecord,
    DesiredState,
    NewFill,
    OrderSnapshot,
    OrderSubmitting,
    PutBot,
)
from mmctl.store.sqlite.store import SqliteStore

T = TypeVar("T")

ACCOUNT = "paper"
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
BID = "49990.0"


def run(main: Callable[[World], Coroutine[Any, Any, None]], tmp_path: Path) -> None:
    """Run `main` with a fresh world (paper venue + store) and close both afterwards."""

    async def go() -> None:
        world = await World.open(tmp_path)
        try:
            await main(world)
        finally:
            await world.close()

    asyncio.run(go())


class World:
    """A paper account and the daemon's store, as a crashed daemon left them."""

    def __init__(self, clock: ManualClock, paper: PaperExchange, store: SqliteStore) -> None:
        self.clock = clock
        self.paper = paper
        self.store = store
        self.seq = 0

    @classmethod
    async def open(cls, tmp_path: Path) -> World:
        clock = ManualClock()
        paper = PaperExchange.from_settings(ACCOUNT, PaperAccount(symbols=("BTCUSDT", "ETHUSDT")), clock)
        await paper.load_markets()
        store = SqliteStore.open(tmp_path / "mmctl.sqlite", clock, synchronous="NORMAL")
        world = cls(clock, paper, store)
        world.book(BTC, "49999.9", "50000.1")
        world.book(ETH, "2999.9", "3000.1")
        return world

    async def close(self) -> None:
        await self.paper.close()
        await self.store.close()

    def tick(self, ms: int = 1) -> None:
        """Move wall and venue time forward by `ms` milliseconds."""
        self.clock.advance(ms / 1000)
        self.paper.venue.advance_to(self.paper.venue.now_ms + ms)

    def book(self, symbol: str, bid: str, ask: str) -> None:
        venue = self.paper.venue
        venue.on_book(BookTop(symbol, Decimal(bid), Decimal(2), Decimal(ask), Decimal(2), venue.now_ms))

    def trade(self, side: Side, price: str, qty: str, symbol: str = BTC) -> None:
        venue = self.paper.venue
        venue.on_trade(Trade(symbol, Decimal(price), Decimal(qty), side, venue.now_ms))

    async def bot(self, name: str, symbol: str = BTC, state: DesiredState = DesiredState.RUNNING) -> None:
        record = BotRecord(name, ACCOUNT, symbol, "market_maker", {}, desired_state=state, created_ms=1)
        await self.store.write(PutBot(record))

    def cid(self, bot: str, side: Side = Side.BUY, level: int = 0) -> str:
        self.seq += 1
        return make_id(bot, side, level, self.seq)

    async def place(
        self,
        cid: str,
        price: str = BID,
        qty: str = "0.01",
        *,
        side: Side = Side.BUY,
        symbol: str = BTC,
        recorded: bool = True,
        bot: str | None = None,
    ) -> Order:
        """Place a resting order on the venue; `recorded`: the running daemon recorded it (submitting,
        then the venue's answer), as the bot recorder does."""
        request = OrderRequest(symbol, side, Decimal(qty), Decimal(price), cid, post_only=True)
        if recorded:
            await self.store.write(OrderSubmitting(bot, ACCOUNT, request, now_ms(self.clock)))
        (result,) = await self.paper.place_orders([request])
        assert result.order is not None, result.error
        if recorded:
            await self.store.write(OrderSnapshot(bot, ACCOUNT, result.order))
        return result.order

    async def market(self, cid: str, side: Side, qty: str, symbol: str = BTC) -> None:
        request = OrderRequest(symbol, side, Decimal(qty), None, cid, OrderType.MARKET)
        (result,) = await self.paper.place_orders([request])
        assert result.order is not None, result.error

    async def recover(self, exchange: Exchange | None = None, **options: Any) -> RecoveryReport:
        return await recover_account(ACCOUNT, exchange or self.paper, self.store, self.clock, **options)

    async def read(self, fn: Callable[[StoreReads], T]) -> T:
        return await self.store.read(fn)

    async def venue_trades(self, symbol: str = BTC) -> list[Fill]:
        return await self.paper.my_trades(symbol, since_ms=0, limit=1000)

    async def stored_trade_ids(self, symbol: str = BTC) -> list[str]:
        rows = await self.read(lambda r: r.fills(account=ACCOUNT, symbol=symbol, limit=None))
        return [f.fill.trade_id for f in rows]


class NoClientIdsInTrades(ForwardingExchange):
    """A venue whose trade records carry no client order id (Binance's userTrades)."""

    async def my_trades(self, symbol: str, *, since_ms: int | None = None, limit: int = 500) -> list[Fill]:
        trades = await self.inner.my_trades(symbol, since_ms=since_ms, limit=limit)
        return [replace(t, client_order_id="") for t in trades]


class ClassRecorder(ForwardingExchange):
    """Records the request class every venue call is made in."""

    def __init__(self, inner: Exchange) -> None:
        super().__init__(inner)
        self.classes: list[tuple[str, Priority]] = []

    async def _call(self, method: str, call: Callable[[], Awaitable[T]], **request: Any) -> T:
        self.classes.append((method, classify(method, reduce_only=bool(request.get("reduce_only")))))
        return await call()


# --- fills recorded while down ---------------------------------------------------------------------------


def test_fills_while_down_are_recorded_once_even_when_recovery_runs_twice(tmp_path: Path) -> None:
    """Fills made while the daemon was down (its bot's and a manual order's) are recorded once each with
    the right bot, and a second recovery records nothing more."""

    async def main(w: World) -> None:
        await w.bot("a")
        cid = w.cid("a")
        await w.place(cid, qty="0.02", bot="a")
        w.tick()
        w.trade(Side.SELL, BID, "0.005")
        (before,) = await w.venue_trades()
        await w.store.write(NewFill(ACCOUNT, "a", before))  # recorded while the daemon ran
        w.tick()  # --- the daemon is down from here on
        w.trade(Side.SELL, BID, "0.015")
        w.tick()
        await w.market("manual-1", Side.BUY, "0.003")

        first = await w.recover()
        second = await w.recover()

        assert first.fills_recovered == 2
        assert second.fills_recovered == 0
        venue = await w.venue_trades()
        assert await w.stored_trade_ids() == [t.trade_id for t in venue]
        stored = await w.read(lambda r: r.fills(account=ACCOUNT, limit=None))
        assert [(s.bot, s.fill.client_order_id) for s in stored] == [
            ("a", cid),
            ("a", cid),
            (None, "manual-1"),
        ]
        order = await w.read(lambda r: r.order(cid))
        assert order is not None
        assert order.status == OrderStatus.FILLED.value
        assert order.filled == Decimal("0.020")

    run(main, tmp_path)


def test_trades_sharing_one_millisecond_across_a_page_boundary_are_all_recorded(tmp_path: Path) -> None:
    """Five fills in one millisecond, read two trades a page after an already-recorded fill, are all
    recorded."""

    async def main(w: World) -> None:
        await w.bot("a")
        first = w.cid("a")
        await w.place(first, price="49980.0", bot="a")
        w.tick()
        w.trade(Side.SELL, "49980.0", "0.01")
        (recorded,) = await w.venue_trades()
        await w.store.write(NewFill(ACCOUNT, "a", recorded))
        ids = [w.cid("a", level=i) for i in range(5)]
        for cid in ids:
            await w.place(cid, bot="a")
        w.tick()
        w.trade(Side.SELL, BID, "0.05")  # fills all five in one millisecond
        venue = await w.venue_trades()
        assert len({t.ts_ms for t in venue}) == 2
        assert len({t.ts_ms for t in venue[1:]}) == 1

        report = await w.recover(page_size=2)

        assert report.fills_recovered == 5
        assert await w.stored_trade_ids() == [t.trade_id for t in venue]
        assert (await w.recover(page_size=2)).fills_recovered == 0

    run(main, tmp_path)


def test_trades_without_client_ids_are_attributed_by_venue_order_id(tmp_path: Path) -> None:
    """A venue whose trade records lack client ids still gets each fill recorded with its client id and
    bot, matched through the venue order id (a closed order looked up on the venue)."""

    async def main(w: World) -> None:
        await w.bot("a")
        cid = w.cid("a")
        await w.place(cid, bot="a", recorded=False)  # the store never heard of it
        w.tick()
        w.trade(Side.SELL, BID, "0.01")

        report = await w.recover(NoClientIdsInTrades(w.paper))

        assert report.fills_recovered == 1
        (stored,) = await w.read(lambda r: r.fills(account=ACCOUNT, limit=None))
        assert (stored.bot, stored.fill.client_order_id) == ("a", cid)
        order = await w.read(lambda r: r.order(cid))
        assert order is not None
        assert order.status == OrderStatus.FILLED.value
        assert order.bot == "a"

    run(main, tmp_path)


def test_income_while_down_is_recorded_once_and_sums_to_the_wallet_change(tmp_path: Path) -> None:
    """The venue's income rows are recorded once, and the recorded rows add up to the wallet's change."""

    async def main(w: World) -> None:
        start = (await w.paper.balance()).wallet
        await w.market("manual-1", Side.BUY, "0.01")
        w.tick()
        await w.market("manual-2", Side.SELL, "0.01")

        first = await w.recover()
        second = await w.recover()

        rows = await w.read(lambda r: r.income(account=ACCOUNT))
        assert first.income_recovered == len(rows) > 0
        assert second.income_recovered == 0
        assert start + sum((s.row.amount for s in rows), Decimal(0)) == (await w.paper.balance()).wallet

    run(main, tmp_path)


# --- submitting orders --------------------------------------------------------------------------------------


def test_a_submitting_order_found_on_the_venue_takes_its_real_state(tmp_path: Path) -> None:
    """An order recorded as submitting whose request did reach the venue is recorded with the venue's
    state (filled here), its venue id and its fill."""

    async def main(w: World) -> None:
        await w.bot("a")
        cid = w.cid("a")
        request = OrderRequest(BTC, Side.BUY, Decimal("0.01"), Decimal(BID), cid, post_only=True)
        await w.store.write(OrderSubmitting("a", ACCOUNT, request, now_ms(w.clock)))
        (placed,) = await w.paper.place_orders([request])  # the answer never got recorded
        assert placed.order is not None
        w.tick()
        w.trade(Side.SELL, BID, "0.01")

        report = await w.recover()

        assert report.submitting_resolved == {cid: OrderStatus.FILLED.value}
        order = await w.read(lambda r: r.order(cid))
        assert order is not None
        assert (order.status, order.venue_order_id) == (OrderStatus.FILLED.value, placed.order.id)
        assert report.fills_recovered == 1

    run(main, tmp_path)


def test_a_submitting_order_open_on_the_venue_is_adopted_for_its_running_bot(tmp_path: Path) -> None:
    """A submitting order that rests on the venue is recorded open and adopted, not cancelled, when its
    bot will run."""

    async def main(w: World) -> None:
        await w.bot("a")
        cid = w.cid("a")
        request = OrderRequest(BTC, Side.BUY, Decimal("0.01"), Decimal(BID), cid, post_only=True)
        await w.store.write(OrderSubmitting("a", ACCOUNT, request, now_ms(w.clock)))
        await w.paper.place_orders([request])

        report = await w.recover()

        assert report.submitting_resolved == {cid: OrderStatus.NEW.value}
        assert report.adopted == (cid,)
        order = await w.read(lambda r: r.order(cid))
        assert order is not None
        assert order.status == OrderStatus.NEW.value
        assert [o.client_order_id for o in await w.paper.open_orders()] == [cid]

    run(main, tmp_path)


def test_a_submitting_order_unknown_to_the_venue_is_recorded_as_never_placed(tmp_path: Path) -> None:
    """An order recorded as submitting that the venue has no record of becomes `not_found`, with a
    detail saying it was never placed."""

    async def main(w: World) -> None:
        await w.bot("a")
        cid = w.cid("a")
        request = OrderRequest(BTC, Side.BUY, Decimal("0.01"), Decimal(BID), cid, post_only=True)
        await w.store.write(OrderSubmitting("a", ACCOUNT, request, now_ms(w.clock)))

        report = await w.recover()

        assert report.submitting_resolved == {cid: NOT_FOUND}
        order = await w.read(lambda r: r.order(cid))
        assert order is not None
        assert order.status == NOT_FOUND
        changes = await w.read(lambda r: r.order_changes(cid))
        assert changes[-1].status == NOT_FOUND
        assert "never placed" in changes[-1].detail
        assert (await w.recover()).submitting_resolved == {}

    run(main, tmp_path)


# --- orphans, adopted and foreign orders ------------------------------------------------------------------


def test_orphans_are_cancelled_and_confirmed_while_foreign_and_adopted_orders_stay(
    tmp_path: Path,
) -> None:
    """mmctl orders of a removed bot, a paused bot, a stopped bot and a bot's order on another symbol are
    cancelled and recorded cancelled; the running bot's order is adopted; a manual order is untouched and
    reported."""

    async def main(w: World) -> None:
        await w.bot("a")
        await w.bot("paused", state=DesiredState.PAUSED)
        await w.bot("stopped", state=DesiredState.STOPPED)
        await w.bot("eth", symbol=ETH)
        keep = w.cid("a")
        await w.place(keep, bot="a")
        orphans = [w.cid("removed"), w.cid("paused"), w.cid("stopped"), w.cid("eth")]
        for cid in orphans:
            await w.place(cid, bot=cid.split(".")[1])
        manual = await w.place("manual-1", recorded=False)
        anonymous = await w.place("", price="49980.0", recorded=False)  # the venue names it

        report = await w.recover()

        assert report.adopted == (keep,)
        assert sorted(report.cancelled) == sorted(orphans)
        foreign = {"manual-1", anonymous.client_order_id}
        assert {o.client_order_id for o in report.foreign_orders} == foreign
        assert {o.client_order_id for o in await w.paper.open_orders()} == {keep, *foreign}
        statuses = await w.read(lambda r: [r.order(cid) for cid in orphans])
        assert [o.status if o else None for o in statuses] == [OrderStatus.CANCELED.value] * 4
        assert await w.read(lambda r: r.order("manual-1")) is None  # foreign orders are not ours to record
        event = report.to_event()
        assert event.kind == "recovery"
        assert "manual-1" in event.message
        assert anonymous.client_order_id in event.message
        assert {f["order_id"] for f in event.data["foreign"]} == {manual.id, anonymous.id}
        assert report.to_log()["cancelled"] == 4
        assert report.to_log()["foreign_orders"] == 2

    run(main, tmp_path)


@pytest.mark.parametrize("option", ["autostart_off", "will_run_refuses"])
def test_a_running_bots_orders_are_cancelled_when_it_will_not_start(tmp_path: Path, option: str) -> None:
    """With autostart off, or when the caller says the bot will not run, its orders are cancelled, not
    adopted."""

    async def main(w: World) -> None:
        await w.bot("a")
        cid = w.cid("a")
        await w.place(cid, bot="a")
        options: dict[str, Any] = (
            {"autostart": False} if option == "autostart_off" else {"will_run": lambda name: name != "a"}
        )

        report = await w.recover(**options)

        assert (report.adopted, report.cancelled) == ((), (cid,))
        assert await w.paper.open_orders() == []

    run(main, tmp_path)


def test_an_order_the_store_had_open_that_filled_while_down_is_brought_up_to_date(tmp_path: Path) -> None:
    """An order the store had open that filled while down is recorded filled, counted as updated, and the
    position it made is reported."""

    async def main(w: World) -> None:
        await w.bot("a")
        cid = w.cid("a")
        await w.place(cid, bot="a")
        w.tick()
        w.trade(Side.SELL, BID, "0.01")

        report = await w.recover()

        assert report.orders_updated == 1
        order = await w.read(lambda r: r.order(cid))
        assert order is not None
        assert order.status == OrderStatus.FILLED.value
        (position,) = report.positions
        assert (position.symbol, position.qty) == (BTC, Decimal("0.01"))
        assert report.to_event().data["position_list"][0]["qty"] == "0.01"

    run(main, tmp_path)


# --- request classes and failures ------------------------------------------------------------------------


def test_cancels_and_their_confirmation_are_safety_requests_and_reads_are_start(tmp_path: Path) -> None:
    """Reading open orders, cancelling orphans and confirming run in the SAFETY class; the trade, order
    and position reads in the START class."""

    async def main(w: World) -> None:
        await w.bot("a")
        await w.place(w.cid("gone"), bot="gone")
        submitting = OrderRequest(BTC, Side.BUY, Decimal("0.01"), Decimal(BID), w.cid("a"), post_only=True)
        await w.store.write(OrderSubmitting("a", ACCOUNT, submitting, now_ms(w.clock)))
        recorder = ClassRecorder(w.paper)

        await w.recover(recorder)

        classes = {method: {p for m, p in recorder.classes if m == method} for method, _ in recorder.classes}
        assert classes["open_orders"] == {Priority.SAFETY}
        assert classes["cancel_orders"] == {Priority.SAFETY}
        for method in ("my_trades", "fetch_order", "positions", "income"):
            assert classes[method] == {Priority.START}, method

    run(main, tmp_path)


def test_recovery_runs_through_a_request_budget(tmp_path: Path) -> None:
    """Behind the daemon's budgeted exchange, recovery cancels an orphan and records a fill."""

    async def main(w: World) -> None:
        await w.bot("a")
        orphan = w.cid("gone")
        await w.place(orphan, price="49970.0", bot="gone")
        await w.place(w.cid("a"), price="49980.0", bot="a")
        w.tick()
        w.trade(Side.SELL, "49980.0", "0.01")
        limits = BudgetLimits(weight_per_min=300, orders_per_10s=40, orders_per_min=400, use_fraction=1.0)
        budgeted = BudgetedExchange(w.paper, RequestBudget(w.clock, limits, name="account 'paper'"))

        report = await w.recover(budgeted)

        assert (report.cancelled, report.fills_recovered) == ((orphan,), 1)

    run(main, tmp_path)


def test_a_venue_failure_raises_an_error_naming_the_account_and_the_step(tmp_path: Path) -> None:
    """A venue call that fails during recovery raises `RecoveryFailed` naming the account and what failed,
    chained to the venue's error, with the cancels made before it on record."""

    async def main(w: World) -> None:
        orphan = w.cid("gone")
        await w.place(orphan, bot="gone")
        faulty = FaultyExchange(w.paper, w.clock)
        faulty.fail("positions", error=TransientError("connection reset"))

        with pytest.raises(RecoveryFailed) as caught:
            await w.recover(faulty)

        assert "'paper'" in caught.value.message
        assert "reading positions" in caught.value.message
        assert caught.value.data == {"account": ACCOUNT, "step": "reading positions"}
        assert isinstance(caught.value.__cause__, TransientError)
        order = await w.read(lambda r: r.order(orphan))  # what was done before the failure is on record
        assert order is not None
        assert order.status == OrderStatus.CANCELED.value

    run(main, tmp_path)


def test_a_cancel_that_fails_leaves_no_silent_half_recovery(tmp_path: Path) -> None:
    """When orphan cancels fail, recovery raises naming the account, and the orphan is still reported
    open on the venue (nothing pretends it was cancelled)."""

    async def main(w: World) -> None:
        cid = w.cid("gone")
        await w.place(cid, bot="gone")
        faulty = FaultyExchange(w.paper, w.clock)
        faulty.fail("cancel_orders", error=TransientError("timeout"))

        with pytest.raises(RecoveryFailed, match=r"'paper'.*cancelling 1 orphan"):
            await w.recover(faulty)

        order = await w.read(lambda r: r.order(cid))
        assert order is not None
        assert order.status == OrderStatus.NEW.value
        faulty.heal()
        assert (await w.recover(faulty)).cancelled == (cid,)

    run(main, tmp_path)


def test_recorded_fills_on_a_symbol_the_venue_no_longer_lists_do_not_block_recovery(tmp_path: Path) -> None:
    """A symbol with recorded fills that the venue does not list is skipped, not a recovery failure."""

    async def main(w: World) -> None:
        await w.bot("a")
        fill = await _one_fill(w)
        await w.store.write(NewFill(ACCOUNT, "old", replace(fill, symbol="DOGE/USDT:USDT", trade_id="x1")))

        report = await w.recover()

        assert report.fills_recovered == 1  # the BTC fill; DOGE was not asked for

    run(main, tmp_path)


async def _one_fill(w: World) -> Fill:
    await w.market("manual-1", Side.BUY, "0.01")
    (fill,) = await w.venue_trades()
    return fill
