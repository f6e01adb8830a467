"""Amend in place through the Binance adapter: the requests it sends (one PUT order per amend, by client
id, their cost), what it refuses unsent, the amend error codes, and recovery of an amend the stream missed."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

from tests.exchange.test_contract import next_update

from mmctl.errors import FilterRejected, OrderRejected
from mmctl.exchange.binance.errors import classify
from mmctl.exchange.binance.tracker import OrderTracker
from mmctl.model import Amend, Order, OrderRequest, OrderStatus, OrderType, Side

from .harness import Venue, VenueFactory

BTC = "BTC/USDT:USDT"
QTY = Decimal("0.002")


async def quotes(v: Venue, *cids: str) -> list[Order]:
    """Post-only bids `cids`, 1 USDT apart below the book."""
    ex = v.exchange
    await v.driver.set_book(BTC, Decimal("60000.0"), Decimal("60000.1"))
    reqs = [
        OrderRequest(BTC, Side.BUY, QTY, Decimal(59990 - i), c, post_only=True) for i, c in enumerate(cids)
    ]
    results = await ex.place_orders(reqs)
    return [r.order for r in results if r.order is not None]


async def test_one_amend_is_a_put_order_by_client_id_costing_one_order(open_venue: VenueFactory) -> None:
    """A single amend is one PUT /fapi/v1/order naming the order by client id, with the exact decimal text,
    charged 0 weight and 1 order; the answer keeps the order's creation time."""
    async with open_venue() as v:
        updates = v.exchange.order_updates()
        (order,) = await quotes(v, "one-1")
        await next_update(updates, lambda u: u.order.client_order_id == "one-1")
        known = v.exchange.tracker.known("one-1")
        assert known is not None
        v.fake.clock_offset_ms += 1000  # the amend happens a second after the placement
        (result,) = await v.exchange.amend_orders(BTC, [Amend.of(order, price=Decimal("59985.5"))])
        assert result.order is not None
        assert result.order.created_ms == known.created_ms
        assert result.order.updated_ms >= known.created_ms + 1000
        (put,) = v.fake.requests("/fapi/v1/order", "PUT")
        assert "orderId" not in put.params
        assert (put.params["origClientOrderId"], put.params["price"], put.params["quantity"]) == (
            "one-1",
            "59985.5",
            "0.002",
        )
        assert (put.weight, put.orders) == (0, 1)
        assert v.exchange.tracker.known("one-1") == result.order


async def test_three_amends_go_out_as_three_single_puts_costing_no_weight(open_venue: VenueFactory) -> None:
    """Three amends are three PUT /fapi/v1/order (weight 0, 1 order each), never PUT batchOrders, and each
    result is its own amend's, in request order."""
    async with open_venue() as v:
        orders = await quotes(v, "bt-1", "bt-2", "bt-3")
        amends = [Amend.of(o, qty=Decimal("0.003") + i * Decimal("0.001")) for i, o in enumerate(orders)]
        results = await v.exchange.amend_orders(BTC, amends)
        assert [(r.client_order_id, r.order.qty if r.order else None) for r in results] == [
            ("bt-1", Decimal("0.003")),
            ("bt-2", Decimal("0.004")),
            ("bt-3", Decimal("0.005")),
        ]
        assert [r.order.client_order_id for r in results if r.order] == ["bt-1", "bt-2", "bt-3"]
        puts = v.fake.requests("/fapi/v1/order", "PUT")
        assert sorted((p.params["origClientOrderId"], p.params["quantity"]) for p in puts) == [
            ("bt-1", "0.003"),
            ("bt-2", "0.004"),
            ("bt-3", "0.005"),
        ]
        assert [(p.weight, p.orders) for p in puts] == [(0, 1)] * 3
        assert v.fake.requests("/fapi/v1/batchOrders", "PUT") == []


async def test_one_rejected_amend_of_three_leaves_the_other_two_applied(open_venue: VenueFactory) -> None:
    """When Binance refuses the middle amend (-5027, nothing to change), it is that amend's error, the
    order stays as it was, and the first and third amends are applied and returned in their places."""
    async with open_venue() as v:
        first, middle, last = await quotes(v, "rj-1", "rj-2", "rj-3")
        amends = [
            Amend.of(first, price=Decimal("59980.0")),
            Amend.of(middle, price=middle.price),  # changes nothing: Binance answers -5027
            Amend.of(last, price=Decimal("59970.0")),
        ]
        results = await v.exchange.amend_orders(BTC, amends)
        assert [r.client_order_id for r in results] == ["rj-1", "rj-2", "rj-3"]
        assert [r.order.price if r.order else None for r in results] == [
            Decimal("59980.0"),
            None,
            Decimal("59970.0"),
        ]
        assert isinstance(results[1].error, OrderRejected)
        assert results[1].error.data["code"] == -5027
        venue_prices = {o.client_order_id: o.price for o in v.fake.open_orders()}
        assert venue_prices == {
            "rj-1": Decimal("59980.0"),
            "rj-2": middle.price,
            "rj-3": Decimal("59970.0"),
        }
        assert len(v.fake.requests("/fapi/v1/order", "PUT")) == 3


async def test_an_amend_breaking_a_filter_is_refused_unsent(open_venue: VenueFactory) -> None:
    """An amend off the tick is answered FilterRejected without a request; the batch's others are sent."""
    async with open_venue() as v:
        good, bad = await quotes(v, "ok-1", "bad-1")
        results = await v.exchange.amend_orders(
            BTC, [Amend.of(good, price=Decimal("59980.0")), Amend.of(bad, price=Decimal("59980.05"))]
        )
        assert results[0].ok
        assert isinstance(results[1].error, FilterRejected)
        (put,) = v.fake.requests("/fapi/v1/order", "PUT")  # only the valid amend is sent
        assert put.params["origClientOrderId"] == "ok-1"
        assert v.fake.requests("/fapi/v1/batchOrders", "PUT") == []


def test_amend_error_codes_are_rejections_of_that_amend() -> None:
    """-5027 (nothing to change) and -5026 (too many amends) give up on the amend, not on the bot."""
    for code in (-5026, -5027):
        error = classify(400, json.dumps({"code": code, "msg": "x"}), {}, 0)
        assert type(error) is OrderRejected


def test_an_amend_the_stream_missed_is_recovered_by_reconciliation() -> None:
    """When the venue shows a new price and size the stream never delivered, reconciliation delivers it."""
    tracker = OrderTracker()
    placed = Order("7", "c1", BTC, Side.BUY, OrderType.LIMIT, Decimal("100"), QTY, Decimal(0), None,
                   OrderStatus.NEW, True, False, 1, 1)  # fmt: skip
    tracker.on_event(placed, None)
    amended = replace(placed, price=Decimal("99.5"), qty=Decimal("0.003"), updated_ms=5)
    (update,) = tracker.reconcile([amended], [])
    assert update.order == amended
    assert update.fill is None
    assert tracker.reconcile([amended], []) == []
