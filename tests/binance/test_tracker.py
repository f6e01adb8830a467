"""The order tracker turns the venue's REST truth into exactly the updates the stream missed."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from mmctl.exchange.binance.tracker import OrderTracker
from mmctl.model import Fill, Order, OrderStatus, OrderType, Side

BTC = "BTC/USDT:USDT"
QTY = Decimal("0.004")


def order(filled: str = "0", status: OrderStatus = OrderStatus.NEW, ts: int = 1, cid: str = "c1") -> Order:
    return Order("7", cid, BTC, Side.BUY, OrderType.LIMIT, Decimal("100"), QTY, Decimal(filled), None, status,
                 True, False, 1, ts)  # fmt: skip


def fill(trade_id: str, qty: str, ts: int) -> Fill:
    return Fill(trade_id, "7", "", BTC, Side.BUY, Decimal("100"), Decimal(qty), Decimal("0.01"), "USDT", True,
                Decimal(0), ts)  # fmt: skip


def test_missed_fills_are_recovered_each_with_the_order_state_at_that_fill() -> None:
    """Two fills missed by the stream come back in order, cumulative 0.003 then 0.004 (FILLED)."""
    tracker = OrderTracker()
    tracker.on_event(order(), None)
    venue = order("0.004", OrderStatus.FILLED, ts=30)
    updates = tracker.reconcile([venue], [fill("12", "0.001", 20), fill("11", "0.003", 10)])
    assert [(u.fill.trade_id if u.fill else None, u.order.filled, u.order.status) for u in updates] == [
        ("11", Decimal("0.003"), OrderStatus.PARTIALLY_FILLED),
        ("12", Decimal("0.004"), OrderStatus.FILLED),
    ]
    assert all(u.fill is not None and u.fill.client_order_id == "c1" for u in updates)
    assert tracker.pending() == []
    assert tracker.recovered_fills == 2


def test_a_fill_the_stream_delivers_late_is_not_delivered_twice() -> None:
    """After a reconciliation recovered trade 11, the stream's own event for it is dropped."""
    tracker = OrderTracker()
    tracker.on_event(order(), None)
    tracker.reconcile([order("0.003", OrderStatus.PARTIALLY_FILLED, ts=10)], [fill("11", "0.003", 10)])
    late = tracker.on_event(order("0.003", OrderStatus.PARTIALLY_FILLED, ts=10), fill("11", "0.003", 10))
    assert late is None
    again = tracker.reconcile(
        [order("0.003", OrderStatus.PARTIALLY_FILLED, ts=10)], [fill("11", "0.003", 10)]
    )
    assert again == []


def test_a_stale_snapshot_never_takes_an_order_back() -> None:
    """A REST snapshot older than what the stream delivered (NEW after FILLED) produces nothing."""
    tracker = OrderTracker()
    tracker.on_event(order("0.004", OrderStatus.FILLED, ts=30), fill("11", "0.004", 30))
    assert tracker.reconcile([order(ts=5)], []) == []


def test_a_cancel_the_stream_missed_is_announced() -> None:
    """An order the venue shows cancelled while the stream last said NEW gets its CANCELED update."""
    tracker = OrderTracker()
    tracker.on_event(order(), None)
    (update,) = tracker.reconcile([order(status=OrderStatus.CANCELED, ts=9)], [])
    assert (update.order.status, update.fill) == (OrderStatus.CANCELED, None)


def test_an_order_nobody_announced_is_announced() -> None:
    """An open order found on the venue that the stream never mentioned (an ambiguous submit) is new."""
    tracker = OrderTracker()
    (update,) = tracker.reconcile([order(cid="lost")], [])
    assert update.order.client_order_id == "lost"
    assert [o.client_order_id for o in tracker.pending()] == ["lost"]


def test_orders_known_only_from_rest_stay_pending_until_the_stream_settles_them() -> None:
    """A placed order is pending; once the stream delivers its final state and fills, it is not."""
    tracker = OrderTracker()
    tracker.on_rest(order())
    assert tracker.pending_symbols() == {BTC}
    tracker.on_event(order("0.004", OrderStatus.FILLED, ts=3), fill("1", "0.004", 3))
    assert tracker.pending() == []
    assert not tracker.needs_trades([order("0.004", OrderStatus.FILLED)])


def test_memory_is_bounded() -> None:
    """Settled orders and trade ids beyond the limits are forgotten, oldest first."""
    tracker = OrderTracker(max_settled=3, max_trade_ids=5)
    for i in range(10):
        cid = f"c{i}"
        tracker.on_event(replace(order(cid=cid), id=str(i)), None)
        tracker.on_event(replace(order("0.004", OrderStatus.FILLED, ts=2, cid=cid), id=str(i)),
                         replace(fill(str(i), "0.004", 2), order_id=str(i)))  # fmt: skip
    assert tracker.known("c0") is None
    assert tracker.known("c9") is not None
    recent = replace(fill("9", "0.004", 2), order_id="9")
    oldest = replace(fill("0", "0.004", 2), order_id="0")
    assert tracker.on_event(replace(order("0.004", OrderStatus.FILLED, 2, "c9"), id="9"), recent) is None
    assert tracker.on_event(replace(order("0.004", OrderStatus.FILLED, 2, "c0"), id="0"), oldest) is not None


def test_a_late_stream_state_older_than_a_recovered_one_is_dropped() -> None:
    """After a reconciliation delivered FILLED, the stream's late NEW for the order is not delivered."""
    tracker = OrderTracker()
    tracker.reconcile([order("0.004", OrderStatus.FILLED, ts=30)], [fill("11", "0.004", 30)])
    assert tracker.on_event(order(ts=1), None) is None
    assert tracker.on_event(order("0.004", OrderStatus.FILLED, ts=31), None) is not None
