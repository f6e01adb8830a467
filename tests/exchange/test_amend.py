"""Amend in place on the paper venue beyond the contract (own-order crossing, reduce-only, the amend limit,
persistence) and through the wrappers above the port (request cost and class, injected faults)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from mmctl.clock import Clock, ManualClock
from mmctl.config.schema import PaperAccount
from mmctl.errors import OrderRejected, ReduceOnlyRejected, TransientError
from mmctl.exchange.budget import Priority, RequestBudget
from mmctl.exchange.budgeted import BudgetedExchange
from mmctl.exchange.faults import FaultyExchange
from mmctl.exchange.paper import PaperExchange
from mmctl.exchange.paper.entry import MAX_AMENDMENTS
from mmctl.exchange.paper.persist import PaperPersistence
from mmctl.exchange.paper.snapshot import Epoch, dumps, loads, restore_venue
from mmctl.exchange.priority import classify
from mmctl.exchange.weights import AMEND_SINGLE, Cost, cost
from mmctl.model import Amend, Order, OrderStatus, Side
from mmctl.store.records import PutPaperState
from mmctl.store.sqlite.store import SqliteStore

from .builders import BTC, MARKETS, book, limit, make_venue, market, trade
from .test_paper_persistence import WALL, RecordingStore


def test_amend_costs_one_order_per_amend_like_binance_modify_order() -> None:
    """Each amend of a call is one single PUT: 1 on each order counter and no weight, n amends n of each."""
    assert cost("amend_orders", 1) == AMEND_SINGLE == Cost(weight=0, orders_10s=1, orders_1m=1)
    assert cost("amend_orders", 3) == Cost(weight=0, orders_10s=3, orders_1m=3)
    assert cost("amend_orders", 5) == Cost(weight=0, orders_10s=5, orders_1m=5)
    assert cost("amend_orders", 0) == Cost()
    with pytest.raises(ValueError, match="n_requests"):
        cost("amend_orders", -1)
    assert classify("amend_orders") is Priority.PLACE
    assert classify("amend_orders", reduce_only=True) is Priority.SAFETY


class RecordingBudget(RequestBudget):
    """A real budget that records the cost and class of each request it admits."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.asked: list[tuple[Cost, Priority]] = []

    async def acquire(
        self, cost: Cost, priority: Priority = Priority.QUERY, deadline_s: float | None = None
    ) -> None:
        self.asked.append((cost, priority))
        await super().acquire(cost, priority, deadline_s)


def paper(clock: Clock) -> PaperExchange:
    ex = PaperExchange.from_settings("a", PaperAccount(symbols=("BTCUSDT",)), clock)
    book(ex.venue, "60000.0", "60000.1")
    return ex


async def test_budgeted_amends_are_charged_as_quotes_unless_they_only_touch_reduce_only_orders() -> None:
    """Amends are PLACE at Binance's cost; a batch amending only reduce-only orders is SAFETY."""
    clock = ManualClock()
    budget = RecordingBudget(clock)
    inner = paper(clock)
    ex = BudgetedExchange(inner, budget)
    inner.venue.place(market(Side.BUY, "0.010", "long"))
    bids = [inner.venue.place(limit(Side.BUY, f"5999{i}.0", "0.002", f"b{i}")) for i in range(2)]
    exit_ = inner.venue.place(limit(Side.SELL, "60010.0", "0.002", "exit", reduce_only=True))
    await ex.amend_orders(BTC, [Amend.of(bids[0], price=Decimal("59980.0"))])
    await ex.amend_orders(BTC, [Amend.of(o, qty=Decimal("0.003")) for o in bids])
    await ex.amend_orders(BTC, [Amend.of(exit_, price=Decimal("60020.0"))])
    assert budget.asked == [
        (AMEND_SINGLE, Priority.PLACE),
        (Cost(weight=0, orders_10s=2, orders_1m=2), Priority.PLACE),
        (AMEND_SINGLE, Priority.SAFETY),
    ]
    assert [o.qty for o in await ex.open_orders(BTC) if o.side is Side.BUY] == [Decimal("0.003")] * 2
    await ex.close()


async def test_faulty_exchange_fails_or_loses_the_answer_of_amends() -> None:
    """An injected fault refuses the amend unsent; an ambiguous amend is applied and then raises."""
    clock = ManualClock()
    inner = paper(clock)
    ex = FaultyExchange(inner, clock)
    order = inner.venue.place(limit(Side.BUY, "59990.0", "0.002", "f1"))
    ex.fail("amend_orders", times=1)
    with pytest.raises(TransientError):
        await ex.amend_orders(BTC, [Amend.of(order, price=Decimal("59980.0"))])
    assert inner.venue.order(BTC, client_order_id="f1").price == Decimal("59990.0")
    ex.ambiguous("amend_orders", times=1)
    with pytest.raises(TransientError):
        await ex.amend_orders(BTC, [Amend.of(order, price=Decimal("59980.0"))])
    assert inner.venue.order(BTC, client_order_id="f1").price == Decimal("59980.0")
    assert ex.calls["amend_orders"] == 2
    await ex.close()


def test_post_only_amend_crossing_our_own_order_is_cancelled() -> None:
    """A post-only bid amended up to our own resting ask is cancelled, and the ask stays."""
    venue = make_venue()
    book(venue, "60000.0", "60010.0")
    bid = venue.place(limit(Side.BUY, "59990.0", "0.002", "bid"))
    venue.place(limit(Side.SELL, "60005.0", "0.002", "ask"))
    after = venue.amend(BTC, Amend.of(bid, price=Decimal("60005.0")))
    assert after.status is OrderStatus.CANCELED
    assert [o.client_order_id for o in venue.open_orders(BTC)] == ["ask"]


def test_reduce_only_amend_that_would_close_more_than_the_position_is_rejected() -> None:
    """Growing a reduce-only order past what the position and the other reduce-only orders leave is -2022."""
    venue = make_venue()
    book(venue, "60000.0", "60000.1")
    venue.place(market(Side.BUY, "0.004", "long"))
    first = venue.place(limit(Side.SELL, "60010.0", "0.002", "ro1", reduce_only=True))
    venue.place(limit(Side.SELL, "60020.0", "0.002", "ro2", reduce_only=True))
    with pytest.raises(ReduceOnlyRejected):
        venue.amend(BTC, Amend.of(first, qty=Decimal("0.003")))
    assert venue.order(BTC, client_order_id="ro1").qty == Decimal("0.002")
    assert venue.amend(BTC, Amend.of(first, price=Decimal("60015.0"))).price == Decimal("60015.0")


def test_an_order_takes_fewer_than_ten_thousand_amends() -> None:
    """The 10000th amend of one order is refused (Binance -5026) and the order stays as it was."""
    venue = make_venue()
    book(venue, "60000.0", "60000.1")
    order = venue.place(limit(Side.BUY, "59990.0", "0.002", "busy"))
    for i in range(MAX_AMENDMENTS):
        order = venue.amend(
            BTC, Amend.of(order, price=Decimal("59980.0") if i % 2 == 0 else Decimal("59990.0"))
        )
    with pytest.raises(OrderRejected) as refused:
        venue.amend(BTC, Amend.of(order, qty=Decimal("0.003")))
    assert refused.value.data["binance_code"] == -5026
    assert venue.order(BTC, client_order_id="busy") == order


def test_amended_orders_keep_their_place_in_the_queue_across_a_restore() -> None:
    """A saved and restored venue has the amended order's price, size, amend count and queue position."""
    venue = make_venue()
    book(venue, "60000.0", "60000.1")
    first = venue.place(limit(Side.BUY, "59990.0", "0.002", "q1"))
    venue.place(limit(Side.BUY, "59990.0", "0.002", "q2"))
    venue.amend(BTC, Amend.of(first, qty=Decimal("0.004")))
    saved = loads(dumps("paper", "synthetic", venue, Epoch(1, Decimal(10000)), {"kind": "none"}, 42))
    copy = restore_venue(saved, MARKETS, funding_rate=venue.funding_rate, funding_interval_s=28_800)
    assert [o.client_order_id for o in copy.state(BTC).bids] == ["q2", "q1"]
    assert copy.open_orders(BTC) == venue.open_orders(BTC)
    assert copy.orders.open_client_ids["q1"].amendments == 1
    trade(copy, Side.SELL, "59990.0", "0.002")
    assert copy.order(BTC, client_order_id="q2").status is OrderStatus.FILLED
    placed = copy.place(limit(Side.BUY, "59990.0", "0.002", "q3"))  # ids continue after the amend's seq
    assert int(placed.id) > max(int(o.id) for o in venue.open_orders(BTC))


async def test_an_amend_is_saved_before_the_caller_sees_it(tmp_path: Path) -> None:
    """The state with the amended order is queued to the store before amend_orders returns, even within the
    same venue millisecond as the placement."""
    clock = ManualClock(WALL)
    store = RecordingStore(SqliteStore.open(tmp_path / "db.sqlite", clock, synchronous="NORMAL"))
    settings = PaperAccount(symbols=("BTCUSDT",))
    exchange = PaperExchange.from_settings("paper", settings, clock)
    PaperPersistence(exchange, store, "paper", clock, Epoch(1, settings.balance), "synthetic").attach()
    book(exchange.venue, "90000.0", "90000.1")
    [placed] = await exchange.place_orders([limit(Side.BUY, "89990.0", "0.002", "p1")])
    assert isinstance(placed.order, Order)
    [amended] = await exchange.amend_orders(BTC, [Amend.of(placed.order, price=Decimal("89980.5"))])
    assert amended.ok
    last = store.queued[-1]
    assert isinstance(last, PutPaperState)
    (saved,) = loads(last.state).open_orders
    assert (saved["price"], saved["amendments"]) == ("89980.5", 1)
    await exchange.close()
    await asyncio.sleep(0)
    await store.inner.close()


def test_gtc_amend_through_our_own_order_trades_with_it() -> None:
    """A GTC bid amended up through our own resting ask (inside the book) trades with it: Binance sets an
    amended order's self-trade prevention to NONE."""
    venue = make_venue()
    book(venue, "60000.0", "60010.0")
    bid = venue.place(limit(Side.BUY, "59990.0", "0.002", "gtc", post_only=False))
    venue.place(limit(Side.SELL, "60005.0", "0.002", "ask"))
    after = venue.amend(BTC, Amend.of(bid, price=Decimal("60005.0")))
    assert (after.status, after.avg_price) == (OrderStatus.FILLED, Decimal("60005.0"))
    assert venue.order(BTC, client_order_id="ask").status is OrderStatus.FILLED
    assert venue.open_orders(BTC) == []
    assert venue.position(BTC).qty == 0
