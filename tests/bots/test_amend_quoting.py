"""The quoter amends in place (mmctl.bots.quoting, mmctl.bots.orders): a level still wanted at another price
or size is amended (one request, the client id kept), a level no longer wanted or on the other side is
cancelled, a new one placed; rejections, venue cancels, the amend limit, partial fills and lost answers.

Each test drives a `Quoter` on the paper exchange with a manual clock, desired quotes given directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal

import pytest
from tests.bots.test_recording import CallLog

from mmctl.bots.events import EventLog
from mmctl.bots.orders import LiveOrder, reconcile
from mmctl.bots.quoting import Quoter
from mmctl.bots.recorder import NullRecorder
from mmctl.clock import ManualClock, now_ms
from mmctl.config.schema import PaperAccount
from mmctl.errors import InsufficientMargin, OrderRejected, TransientError
from mmctl.exchange.faults import FaultyExchange
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.model import Amend, AmendResult, BookTop, Order, OrderStatus, Side, Trade
from mmctl.strategies.base import Quote

D = Decimal
SYMBOL = "BTC/USDT:USDT"
TOL = D(5)
AGE_MS = 300_000
B, S = Side.BUY, Side.SELL


class Recorded(NullRecorder):
    """Keeps every order state the quoter records, with its detail."""

    def __init__(self) -> None:
        self.orders: list[tuple[Order, str]] = []

    def order(self, bot: str | None, account: str, order: Order, detail: str = "") -> None:
        self.orders.append((order, detail))


class ScriptedAmends(PaperExchange):
    """The paper exchange, answering the next amends with the errors in `script` (the order untouched)."""

    script: list[Exception]

    async def amend_orders(self, symbol: str, amends: Sequence[Amend]) -> list[AmendResult]:
        if not self.script:
            return await super().amend_orders(symbol, amends)
        return [AmendResult(a, error=self.script.pop(0)) for a in amends]


class Rig:
    def __init__(self) -> None:
        self.clock = ManualClock()
        base = PaperExchange.from_settings("paper", PaperAccount(symbols=("BTCUSDT",)), self.clock)
        self.paper = ScriptedAmends("paper", base.venue, self.clock)
        self.paper.script = []
        self.faulty = FaultyExchange(self.paper, self.clock)
        self.calls = CallLog(self.faulty)
        self.events = EventLog(self.clock)
        self.recorder = Recorded()
        self.quoter = Quoter("q", SYMBOL, self.calls, self.clock, self.events, recorder=self.recorder)

    def book(self, bid: str, ask: str) -> None:
        self.paper.venue.on_book(BookTop(SYMBOL, D(bid), D(2), D(ask), D(2), now_ms(self.clock)))

    async def apply(self, *quotes: Quote) -> tuple[int, int]:
        self.calls.log.clear()
        return await self.quoter.apply(list(quotes), tolerance_bps=TOL, max_age_ms=AGE_MS)

    def venue(self) -> dict[str, Order]:
        return {o.client_order_id: o for o in self.paper.venue.open_orders(SYMBOL)}

    def requests(self) -> list[str]:
        sent = ("place_orders", "amend_orders", "cancel_orders", "fetch_order", "open_orders")
        return [m for m in self.calls.log if m in sent]

    def live(self, side: Side, level: int) -> LiveOrder:
        (order,) = [o for o in self.quoter.live.values() if (o.side, o.level) == (side, level)]
        return order


def q(side: Side, level: int, price: str, qty: str = "0.010") -> Quote:
    return Quote(side, level, D(price), D(qty))


def run(body: Callable[[Rig], Awaitable[None]]) -> None:
    async def main() -> None:
        rig = Rig()
        await rig.paper.load_markets()
        rig.book("50000.0", "50000.1")
        try:
            await body(rig)
        finally:
            await rig.paper.close()

    asyncio.run(main())


def test_a_price_move_amends_each_order_in_one_request_keeping_its_client_id() -> None:
    """Levels still wanted at a price beyond the tolerance are amended in one request (no cancel, no
    place): same client ids, new prices on the venue and in the quoter's book, age restarted, one
    `order` event per amend, each amended state recorded."""

    async def body(rig: Rig) -> None:
        await rig.apply(q(B, 0, "49900.0"), q(S, 0, "50100.0"))
        ids = {(o.side, o.level): cid for cid, o in rig.quoter.live.items()}
        rig.clock.advance(10.0)
        cancelled, sent = await rig.apply(q(B, 0, "49800.0"), q(S, 0, "50200.0"))
        assert rig.requests() == ["amend_orders"]
        assert (cancelled, sent) == (0, 2)
        venue = rig.venue()
        assert venue[ids[(B, 0)]].price == D("49800.0")
        assert venue[ids[(S, 0)]].price == D("50200.0")
        assert rig.live(B, 0).client_order_id == ids[(B, 0)]
        assert rig.live(B, 0).price == D("49800.0")
        assert rig.live(S, 0).created_ms == now_ms(rig.clock)  # the amend restarted its age
        amended = [e for e in rig.events.since(0, "q") if e.kind == "order" and e.data.get("amended")]
        assert sorted(e.data["client_order_id"] for e in amended) == sorted(ids.values())
        assert {e.data["was_price"] for e in amended} == {"49900.0", "50100.0"}
        recorded = [(o.client_order_id, o.price) for o, detail in rig.recorder.orders if detail == "amended"]
        assert sorted(recorded) == sorted([(ids[(B, 0)], D("49800.0")), (ids[(S, 0)], D("50200.0"))])
        assert rig.quoter.stats.amended == 2
        assert await rig.apply(q(B, 0, "49800.0"), q(S, 0, "50200.0")) == (0, 0)  # settled

    run(body)


def test_a_size_change_amends_the_order_to_the_new_size() -> None:
    """A level whose desired size changed (same price) is amended to the new size, client id kept."""

    async def body(rig: Rig) -> None:
        await rig.apply(q(B, 0, "49900.0", "0.010"))
        cid = rig.live(B, 0).client_order_id
        await rig.apply(q(B, 0, "49900.0", "0.020"))
        assert rig.requests() == ["amend_orders"]
        assert rig.venue()[cid].qty == D("0.020")
        assert rig.live(B, 0).remaining == D("0.020")

    run(body)


def test_a_level_no_longer_wanted_or_on_the_other_side_is_cancelled_and_a_new_level_placed() -> None:
    """Cancels first, then amends, then places: a dropped level is cancelled, a level that changed side
    is cancelled and placed on its new side, a moved level is amended."""

    async def body(rig: Rig) -> None:
        await rig.apply(q(B, 0, "49900.0"), q(B, 1, "49800.0"), q(S, 0, "50100.0"))
        before = set(rig.quoter.live)
        kept_buy = rig.live(B, 0).client_order_id
        cancelled, sent = await rig.apply(q(B, 0, "49850.0"), q(S, 1, "50200.0"))
        assert rig.requests() == ["cancel_orders", "amend_orders", "place_orders"]
        assert (cancelled, sent) == (2, 2)
        venue = rig.venue()
        assert set(venue) & before == {kept_buy}
        assert venue[kept_buy].price == D("49850.0")
        assert sorted((o.side, o.price) for o in venue.values()) == [(B, D("49850.0")), (S, D("50200.0"))]

    run(body)


def test_a_rejected_amend_leaves_the_order_and_the_next_tick_amends_it() -> None:
    """An amend the venue rejects (here margin) leaves the order where it was, counts as a rejection with
    a `reject` event, and the next tick amends it."""

    async def body(rig: Rig) -> None:
        await rig.apply(q(B, 0, "49900.0"))
        cid = rig.live(B, 0).client_order_id
        rig.paper.script = [InsufficientMargin("not enough margin")]
        await rig.apply(q(B, 0, "49800.0"))
        assert rig.venue()[cid].price == D("49900.0")
        assert rig.live(B, 0).price == D("49900.0")
        assert rig.quoter.stats.rejected == 1
        assert any(e.kind == "reject" and "amend" in e.message for e in rig.events.since(0, "q"))
        await rig.apply(q(B, 0, "49800.0"))
        assert rig.requests() == ["amend_orders"]
        assert rig.venue()[cid].price == D("49800.0")

    run(body)


def test_an_order_the_venue_cancels_instead_of_amending_is_placed_again_next_tick() -> None:
    """A post-only amend whose price would cross is cancelled by the venue: the order leaves the book
    (recorded canceled, counted as a post-only rejection) and the next tick places the level anew."""

    async def body(rig: Rig) -> None:
        await rig.apply(q(B, 0, "49900.0"))
        cid = rig.live(B, 0).client_order_id
        await rig.apply(q(B, 0, "50000.1"))  # at the ask: would cross
        assert cid not in rig.venue()
        assert rig.quoter.live == {}
        assert rig.quoter.stats.post_only_rejects == 1
        assert (rig.recorder.orders[-1][0].status, rig.recorder.orders[-1][0].client_order_id) == (
            OrderStatus.CANCELED,
            cid,
        )
        await rig.apply(q(B, 0, "49990.0"))
        assert rig.requests() == ["place_orders"]
        (new,) = rig.venue().values()
        assert new.client_order_id != cid
        assert new.price == D("49990.0")

    run(body)


def test_an_order_at_the_amend_limit_is_cancelled_and_placed_anew_in_the_same_tick() -> None:
    """Binance's -5026 (amended too many times): the order is cancelled and its level placed with a new
    client id in the same step."""

    async def body(rig: Rig) -> None:
        await rig.apply(q(B, 0, "49900.0"))
        cid = rig.live(B, 0).client_order_id
        rig.paper.script = [OrderRejected("too many amends", data={"binance_code": -5026})]
        await rig.apply(q(B, 0, "49800.0"))
        assert rig.requests() == ["amend_orders", "cancel_orders", "place_orders"]
        (new,) = rig.venue().values()
        assert new.client_order_id != cid
        assert new.price == D("49800.0")

    run(body)


def test_a_partly_filled_order_is_amended_to_its_filled_part_plus_the_desired_size() -> None:
    """A partly filled order moved to a new price keeps its fill and rests the desired size again (new
    total = filled + desired); a fill after the amend is booked once, against the cumulative fill."""

    async def body(rig: Rig) -> None:
        await rig.apply(q(B, 0, "49999.0", "0.010"))
        cid = rig.live(B, 0).client_order_id
        updates = rig.paper.order_updates()
        rig.paper.venue.on_trade(Trade(SYMBOL, D("49999.0"), D("0.004"), S, now_ms(rig.clock)))
        first = await anext(updates)
        assert rig.quoter.unbooked(first.order, D("0.004")) == D("0.004")
        rig.quoter.on_update(first)
        assert rig.live(B, 0).remaining == D("0.006")
        await rig.apply(q(B, 0, "49900.0", "0.010"))
        assert rig.requests() == ["amend_orders"]
        order = rig.venue()[cid]
        assert (order.qty, order.filled, order.price) == (D("0.014"), D("0.004"), D("49900.0"))
        assert rig.live(B, 0).remaining == D("0.010")
        rig.paper.venue.on_trade(Trade(SYMBOL, D("49900.0"), D("0.003"), S, now_ms(rig.clock)))
        seen = [await anext(updates), await anext(updates)]  # the amend, then the fill
        assert seen[0].fill is None
        assert rig.quoter.unbooked(seen[1].order, D("0.003")) == D("0.003")
        assert rig.quoter.unbooked(seen[1].order, D("0.003")) == 0  # never twice
        await updates.aclose()

    run(body)


def test_an_ambiguous_amend_is_looked_up_before_its_level_is_touched_again() -> None:
    """An amend whose answer was lost (through the faults wrapper) raises; the next step fetches the
    order before sending anything else, adopts the venue's (amended) state and sends nothing more."""

    async def body(rig: Rig) -> None:
        await rig.apply(q(B, 0, "49900.0"), q(S, 0, "50100.0"))
        cid = rig.live(B, 0).client_order_id
        rig.faulty.ambiguous("amend_orders", times=1)
        with pytest.raises(TransientError):
            await rig.apply(q(B, 0, "49800.0"), q(S, 0, "50100.0"))
        assert set(rig.quoter.submits.unresolved_amends) == {cid}
        assert rig.venue()[cid].price == D("49800.0")  # the venue did amend it
        await rig.apply(q(B, 0, "49800.0"), q(S, 0, "50100.0"))
        assert rig.requests()[0] == "fetch_order"
        assert "amend_orders" not in rig.requests()
        assert "place_orders" not in rig.requests()
        assert rig.live(B, 0).price == D("49800.0")
        assert not rig.quoter.submits.pending
        assert any("ambiguous amend" in e.message for e in rig.events.since(0, "q"))

    run(body)


def test_reconcile_amends_only_what_the_venue_can_amend() -> None:
    """The diff amends an order at a wanted level; it cancels and places when the size is unknown, when
    the order is reduce-only, or when an over-age order is already at the desired price and size (an
    amend that changes nothing is refused)."""
    now = 1_000_000

    def live(price: str, *, qty: str | None = "1", reduce_only: bool = False, age: int = 0) -> LiveOrder:
        return LiveOrder(
            "c", B, 0, D(price), D("1"), now - age, None if qty is None else D(qty), True, reduce_only
        )

    def plan(order: LiveOrder, price: str, qty: str = "1") -> tuple[int, int, int]:
        p = reconcile(
            [q(B, 0, price, qty)], [order], tolerance_bps=TOL, max_age_ms=AGE_MS, now_ms=now, amend=True
        )
        return len(p.cancels), len(p.amends), len(p.places)

    assert plan(live("100"), "90") == (0, 1, 0)
    assert plan(live("100", qty=None), "90") == (1, 0, 1)
    assert plan(live("100", reduce_only=True), "90") == (1, 0, 1)
    assert plan(live("100", age=AGE_MS), "100") == (1, 0, 1)
    assert plan(live("100", age=AGE_MS), "100.01") == (0, 1, 0)
    partly = LiveOrder("c", B, 0, D("100"), D("0.4"), now, D("1"))
    p = reconcile(
        [q(B, 0, "90", "1")], [partly], tolerance_bps=TOL, max_age_ms=AGE_MS, now_ms=now, amend=True
    )
    assert p.amends[0].to_amend() == Amend("c", B, D("90"), D("1.6"))
