"""Views wait for the store only for the fills they show (`mmctl.fleet.durable_fills`): a status or list
never waits behind the order states and events hundreds of bots keep queueing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from tests.support.rig import BTC, ETH, PaperFleet
from tests.support.rig import scenario as run_scenario
from tests.support.settle import settle

from mmctl.bots.recorder import Recorder
from mmctl.clock import now_ms
from mmctl.config.schema import PaperAccount
from mmctl.errors import StoreError
from mmctl.fleet.durable_fills import DurableFills
from mmctl.model import Fill, Order, OrderRequest, OrderStatus, OrderType, Side, Trade


class SlowStore(Recorder):
    """A recorder on a store whose commits the test holds: while held (from the start, or after `hold()`)
    each `durable()` waits until `commit()` (or raises after `fail()`), as a writer busy with other
    bots' rows does."""

    def __init__(self) -> None:
        self.rows = 0  # everything queued: order states, fills
        self.flushes = 0
        self._commit = asyncio.Event()
        self._error: StoreError | None = None

    def submitting(self, bot: str, account: str, requests: Sequence[OrderRequest]) -> None:
        self.rows += len(requests)

    def order(self, bot: str | None, account: str, order: Order, detail: str = "") -> None:
        self.rows += 1

    def fill(self, bot: str | None, account: str, fill: Fill) -> None:
        self.rows += 1

    async def durable(self) -> None:
        self.flushes += 1
        await self._commit.wait()
        if self._error is not None:
            raise self._error

    async def bot_fills(self, bot: str) -> list[Fill]:
        return []

    def commit(self) -> None:
        """Let every flush waiting (and every later one) through."""
        self._commit.set()

    def hold(self) -> None:
        """Hold every later flush until the next `commit()`."""
        self._commit.clear()

    def fail(self) -> None:
        self._error = StoreError("disk full")
        self._commit.set()


def a_fill(n: int) -> Fill:
    return Fill(
        f"t{n}", f"o{n}", f"mm.a.{n}", BTC, Side.BUY, Decimal(50_000), Decimal("0.001"), Decimal(0), "USDT",
        True, Decimal(0), 0,
    )  # fmt: skip


async def done_soon(aw: asyncio.Future[Any]) -> bool:
    await settle()
    return aw.done()


def test_a_view_waits_only_for_the_fills_of_the_bots_it_shows() -> None:
    """With a fill of bot a queued and the store not committing, a view of bot b returns at once while a
    view of a (or of every bot) waits until the flush covering the fill commits."""

    async def main() -> None:
        store = SlowStore()
        fills = DurableFills(store)
        fills.order("b", "acc", _order())  # queued rows that are not fills are never waited for
        fills.fill("a", "acc", a_fill(1))
        of_b = asyncio.ensure_future(fills.wait("b"))
        of_a = asyncio.ensure_future(fills.wait("a"))
        of_all = asyncio.ensure_future(fills.wait())
        assert await done_soon(of_b)
        assert not await done_soon(of_a)
        assert not of_all.done()
        assert fills.pending("a")
        assert not fills.pending("b")
        store.commit()
        assert await done_soon(of_a)
        assert of_all.done()
        assert not fills.pending()

    asyncio.run(main())


def test_a_fill_starts_one_flush_that_views_join() -> None:
    """A queued fill starts one background flush; views arriving meanwhile join it (no flush of their
    own), and once it commits a view costs no flush at all."""

    async def main() -> None:
        store = SlowStore()
        fills = DurableFills(store)
        fills.fill("a", "acc", a_fill(1))
        await settle()
        assert store.flushes == 1  # started by the fill, before any view asked
        views = [asyncio.ensure_future(fills.wait("a")) for _ in range(50)]
        await settle()
        assert store.flushes == 1
        store.commit()
        await settle()
        assert all(v.done() for v in views)
        flushes = store.flushes
        await fills.wait("a")
        await fills.wait()
        assert store.flushes == flushes

    asyncio.run(main())


def test_a_fill_queued_while_a_flush_runs_is_covered_by_the_next_one() -> None:
    """A fill queued after a flush began is not taken as committed by it: its view waits for the next."""

    async def main() -> None:
        store = SlowStore()
        fills = DurableFills(store)
        fills.fill("a", "acc", a_fill(1))
        await settle()
        fills.fill("a", "acc", a_fill(2))  # the first flush is under way: it does not cover this one
        assert fills.committed == 0
        store.commit()
        await fills.wait("a")
        assert fills.committed == 2
        assert store.flushes == 2

    asyncio.run(main())


def test_after_a_store_failure_views_wait_for_nothing() -> None:
    """Once a flush fails, what was committed is all there is: views return at once, never hang."""

    async def main() -> None:
        store = SlowStore()
        fills = DurableFills(store)
        fills.fill("a", "acc", a_fill(1))
        view = asyncio.ensure_future(fills.wait("a"))
        store.fail()
        assert await done_soon(view)
        assert fills.failed
        fills.fill("a", "acc", a_fill(2))
        assert await done_soon(asyncio.ensure_future(fills.wait()))

    asyncio.run(main())


def test_status_and_list_do_not_wait_behind_the_store_but_do_for_a_fill_they_show() -> None:
    """Through the manager: with the store not committing, `status` and `list` of quoting bots answer at
    once; once a fill of m0 is booked, `status m0` and `list` wait for its commit, `status m1` does not."""
    store = SlowStore()

    async def body(r: PaperFleet) -> None:
        store.commit()  # creating a bot waits for its definition to be stored
        await r.manager.create("m0", "a", "BTCUSDT", "market_maker", {"levels": "1"})
        await r.manager.create("m1", "a", "ETHUSDT", "market_maker", {"levels": "1"})
        await r.manager.start([], all_bots=True)
        store.hold()
        rows_before = store.rows
        await r.run(0.5)  # quoting: order states queued, never committed
        assert store.rows > rows_before
        assert await done_soon(asyncio.ensure_future(r.manager.status("m0")))
        assert await done_soon(asyncio.ensure_future(r.manager.durable_rows()))
        paper = r.papers["a"]
        bid = max(o.price for o in paper.venue.open_orders(BTC) if o.side is Side.BUY and o.price)
        paper.venue.on_trade(Trade(BTC, bid, Decimal(1), Side.SELL, now_ms(r.clock)))  # fills m0's bid
        await settle()
        assert r.manager.bot("m0").inventory.fills == 1
        status_m0 = asyncio.ensure_future(r.manager.status("m0"))
        rows = asyncio.ensure_future(r.manager.durable_rows())
        assert await done_soon(asyncio.ensure_future(r.manager.status("m1")))
        assert not status_m0.done()
        assert not rows.done()
        store.commit()
        assert await done_soon(status_m0)
        assert status_m0.result()["fills"] == 1
        assert rows.done()

    settings = PaperAccount(symbols=("BTCUSDT", "ETHUSDT"), balance=Decimal(10_000_000))
    rig = PaperFleet({"a": settings}, {BTC: 50_000, ETH: 3_000}, books_every=1, recorder=store)
    run_scenario(rig, body)


def _order() -> Order:
    """An order snapshot of bot b (what the stream records many times a second with many bots)."""
    return Order(
        "o1", "mm.b.1", BTC, Side.BUY, OrderType.LIMIT, Decimal(49_000), Decimal("0.001"), Decimal(0), None,
        OrderStatus.NEW, True, False, 0, 0,
    )  # fmt: skip
