"""The `Exchange` port's amend-in-place contract (`amend_orders`), run against every implementation.

Binance's Modify Order semantics on every venue: the order keeps its ids and loses its queue priority,
a post-only order amended through the book and a partly filled order cut to its filled quantity are
cancelled, and a rejected amend leaves the order as it was. tests/binance/test_contract.py imports these
tests to run them against the Binance adapter on the fake server.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from mmctl.errors import FilterRejected, InsufficientMargin, OrderRejected, UnknownOrder, UnknownSymbol
from mmctl.exchange.base import Exchange
from mmctl.model import Amend, AmendResult, Order, OrderStatus, Side

from .harness import VenueFactory
from .test_contract import BTC, QTY, limit, next_update, place_one, ready


async def placed(ex: Exchange, side: Side, price: str, cid: str, qty: Decimal = QTY, **kw: bool) -> Order:
    order = await place_one(ex, limit(side, price, cid, qty, **kw))
    assert isinstance(order, Order)
    return order


async def amend_one(ex: Exchange, amend: Amend) -> AmendResult:
    (result,) = await ex.amend_orders(BTC, [amend])
    assert result.client_order_id == amend.client_order_id
    return result


def essentials(order: Order) -> tuple[object, ...]:
    return (order.id, order.client_order_id, order.side, order.price, order.qty, order.filled, order.status)


async def test_price_amend_keeps_the_ids_and_goes_behind_the_level(open_venue: VenueFactory) -> None:
    """A bid amended to a price where another bid rests keeps its ids but fills after that bid."""
    async with open_venue() as v:
        ex = await ready(v)
        first = await placed(ex, Side.BUY, "59980.0", "am-first")
        await placed(ex, Side.BUY, "59990.0", "am-second")
        result = await amend_one(ex, Amend.of(first, price=Decimal("59990.0")))
        assert result.ok
        assert not result.cancelled_by_amend
        assert result.order is not None
        assert (result.order.id, result.order.client_order_id) == (first.id, "am-first")
        assert (result.order.price, result.order.qty, result.order.status) == (
            Decimal("59990.0"),
            QTY,
            OrderStatus.NEW,
        )
        await v.driver.trade(BTC, Side.SELL, Decimal("59990.0"), QTY)
        assert (await ex.fetch_order(BTC, client_order_id="am-second")).status is OrderStatus.FILLED
        amended = await ex.fetch_order(BTC, client_order_id="am-first")
        assert (amended.id, amended.status, amended.filled) == (first.id, OrderStatus.NEW, Decimal(0))


async def test_size_amend_at_the_same_price_loses_queue_priority(open_venue: VenueFactory) -> None:
    """Growing the first bid of a level moves it behind the level's second bid."""
    async with open_venue() as v:
        ex = await ready(v)
        first = await placed(ex, Side.BUY, "59990.0", "qp-first")
        await placed(ex, Side.BUY, "59990.0", "qp-second")
        result = await amend_one(ex, Amend.of(first, qty=Decimal("0.003")))
        assert result.order is not None
        assert result.order.qty == Decimal("0.003")
        await v.driver.trade(BTC, Side.SELL, Decimal("59990.0"), QTY)
        assert (await ex.fetch_order(BTC, client_order_id="qp-second")).status is OrderStatus.FILLED
        assert (await ex.fetch_order(BTC, client_order_id="qp-first")).filled == 0


async def test_rejected_amend_keeps_the_order_and_its_priority(open_venue: VenueFactory) -> None:
    """An amend off the tick is refused and the order keeps its price, size and place in the queue."""
    async with open_venue() as v:
        ex = await ready(v)
        first = await placed(ex, Side.BUY, "59990.0", "rj-first")
        await placed(ex, Side.BUY, "59990.0", "rj-second")
        result = await amend_one(ex, Amend.of(first, price=Decimal("59990.05")))
        assert not result.ok
        assert isinstance(result.error, FilterRejected)
        assert essentials(await ex.fetch_order(BTC, client_order_id="rj-first")) == essentials(first)
        await v.driver.trade(BTC, Side.SELL, Decimal("59990.0"), QTY)
        assert (await ex.fetch_order(BTC, client_order_id="rj-first")).status is OrderStatus.FILLED
        assert (await ex.fetch_order(BTC, client_order_id="rj-second")).filled == 0


@pytest.mark.parametrize(
    ("price", "qty"),
    [
        ("59990.05", "0.002"),  # off the tick
        ("59990.0", "0.0015"),  # off the step
        ("59990.0", "0.001"),  # below the notional minimum
    ],
)
async def test_amend_breaking_a_filter_is_rejected_without_change(
    open_venue: VenueFactory, price: str, qty: str
) -> None:
    """An amend whose new price or size breaks a market filter raises FilterRejected and changes nothing."""
    async with open_venue() as v:
        ex = await ready(v)
        order = await placed(ex, Side.BUY, "59990.0", "flt-1")
        result = await amend_one(ex, Amend("flt-1", Side.BUY, Decimal(price), Decimal(qty)))
        assert isinstance(result.error, FilterRejected)
        assert [essentials(o) for o in await ex.open_orders(BTC)] == [essentials(order)]


async def test_amend_beyond_the_margin_is_rejected_without_change(open_venue: VenueFactory) -> None:
    """Growing an order past the available margin raises InsufficientMargin and leaves it as it was."""
    async with open_venue(balance=Decimal("100")) as v:
        ex = await ready(v)
        order = await placed(ex, Side.BUY, "59990.0", "mg-1")
        result = await amend_one(ex, Amend.of(order, qty=Decimal("0.1")))
        assert isinstance(result.error, InsufficientMargin)
        assert [essentials(o) for o in await ex.open_orders(BTC)] == [essentials(order)]


async def test_amend_that_changes_nothing_is_rejected(open_venue: VenueFactory) -> None:
    """Amending an order to its own price and size is an OrderRejected (Binance -5027); it stays open."""
    async with open_venue() as v:
        ex = await ready(v)
        order = await placed(ex, Side.SELL, "60010.0", "same-1")
        result = await amend_one(ex, Amend.of(order))
        assert isinstance(result.error, OrderRejected)
        assert [essentials(o) for o in await ex.open_orders(BTC)] == [essentials(order)]


async def test_post_only_amend_that_would_cross_cancels_the_order(open_venue: VenueFactory) -> None:
    """A post-only bid amended to the ask is cancelled by the amend, not left resting or filled."""
    async with open_venue() as v:
        ex = await ready(v)
        order = await placed(ex, Side.BUY, "59990.0", "gtx-1")
        result = await amend_one(ex, Amend.of(order, price=Decimal("60000.1")))
        assert result.ok
        assert result.cancelled_by_amend
        assert result.order is not None
        assert (result.order.id, result.order.filled) == (order.id, Decimal(0))
        assert await ex.open_orders(BTC) == []
        assert (await ex.position(BTC)).qty == 0


async def test_amend_to_at_most_the_filled_quantity_cancels_the_order(open_venue: VenueFactory) -> None:
    """A partly filled bid amended to its filled quantity is cancelled, keeping its fill."""
    async with open_venue() as v:
        ex = await ready(v)
        order = await placed(ex, Side.BUY, "59990.0", "cut-1", Decimal("0.004"))
        await v.driver.trade(BTC, Side.SELL, Decimal("59990.0"), Decimal("0.002"))
        result = await amend_one(ex, Amend.of(order, qty=Decimal("0.002")))
        assert result.cancelled_by_amend
        assert result.order is not None
        assert result.order.filled == Decimal("0.002")
        assert await ex.open_orders(BTC) == []
        assert (await ex.position(BTC)).qty == Decimal("0.002")


async def test_amend_of_a_partly_filled_order_keeps_its_fill(open_venue: VenueFactory) -> None:
    """A partly filled bid amended above its filled quantity stays open with its fill and new size."""
    async with open_venue() as v:
        ex = await ready(v)
        order = await placed(ex, Side.BUY, "59990.0", "part-1", Decimal("0.004"))
        await v.driver.trade(BTC, Side.SELL, Decimal("59990.0"), Decimal("0.002"))
        result = await amend_one(ex, Amend.of(order, price=Decimal("59980.0"), qty=Decimal("0.005")))
        assert result.order is not None
        assert (result.order.status, result.order.filled, result.order.remaining) == (
            OrderStatus.PARTIALLY_FILLED,
            Decimal("0.002"),
            Decimal("0.003"),
        )


async def test_non_post_only_amend_through_the_book_trades_at_once(open_venue: VenueFactory) -> None:
    """A GTC bid amended to the ask fills there as a taker, as a new order at that price would."""
    async with open_venue() as v:
        ex = await ready(v)
        order = await placed(ex, Side.BUY, "59990.0", "gtc-1", post_only=False)
        result = await amend_one(ex, Amend.of(order, price=Decimal("60000.1")))
        assert result.order is not None
        assert result.order.status is OrderStatus.FILLED
        assert result.order.avg_price == Decimal("60000.1")
        assert (await ex.position(BTC)).qty == QTY


async def test_amend_is_reported_on_the_order_stream(open_venue: VenueFactory) -> None:
    """Subscribers see the amended state (same id, new price and size, still open)."""
    async with open_venue() as v:
        ex = await ready(v)
        stream = ex.order_updates()
        order = await placed(ex, Side.SELL, "60010.0", "ev-1")
        await amend_one(ex, Amend.of(order, price=Decimal("60020.0"), qty=Decimal("0.003")))
        update = await next_update(stream, lambda u: u.order.price == Decimal("60020.0"))
        assert update.fill is None
        assert (update.order.id, update.order.client_order_id, update.order.qty, update.order.status) == (
            order.id,
            "ev-1",
            Decimal("0.003"),
            OrderStatus.NEW,
        )


async def test_batch_amend_answers_each_amend_in_order(open_venue: VenueFactory) -> None:
    """A batch with an unknown order amends the others and gives UnknownOrder for it, in request order."""
    async with open_venue() as v:
        ex = await ready(v)
        bid = await placed(ex, Side.BUY, "59990.0", "bt-bid")
        ask = await placed(ex, Side.SELL, "60010.0", "bt-ask")
        amends = [
            Amend("bt-none", Side.BUY, Decimal("59980.0"), QTY),
            Amend.of(bid, price=Decimal("59985.0")),
            Amend.of(ask, price=Decimal("60015.0")),
        ]
        results = await ex.amend_orders(BTC, amends)
        assert [r.client_order_id for r in results] == ["bt-none", "bt-bid", "bt-ask"]
        assert isinstance(results[0].error, UnknownOrder)
        prices = {o.client_order_id: o.price for o in await ex.open_orders(BTC)}
        assert prices == {"bt-bid": Decimal("59985.0"), "bt-ask": Decimal("60015.0")}


async def test_amend_of_a_closed_order_is_unknown(open_venue: VenueFactory) -> None:
    """An order that was cancelled can no longer be amended: UnknownOrder."""
    async with open_venue() as v:
        ex = await ready(v)
        order = await placed(ex, Side.BUY, "59990.0", "gone-1")
        await ex.cancel_order(BTC, client_order_id="gone-1")
        result = await amend_one(ex, Amend.of(order, price=Decimal("59980.0")))
        assert isinstance(result.error, UnknownOrder)


async def test_amend_batch_larger_than_max_batch_amends_nothing(open_venue: VenueFactory) -> None:
    """More than max_batch amends raise FilterRejected before any order changes."""
    async with open_venue() as v:
        ex = await ready(v)
        order = await placed(ex, Side.BUY, "59990.0", "big-1")
        amends = [Amend.of(order, price=Decimal("59980.0"))] * (ex.max_batch + 1)
        with pytest.raises(FilterRejected):
            await ex.amend_orders(BTC, amends)
        assert [essentials(o) for o in await ex.open_orders(BTC)] == [essentials(order)]
        assert await ex.amend_orders(BTC, []) == []


async def test_amend_on_an_unknown_symbol_fails_the_request(open_venue: VenueFactory) -> None:
    """An unknown symbol raises UnknownSymbol for the whole amend request."""
    async with open_venue() as v:
        ex = await ready(v)
        with pytest.raises(UnknownSymbol):
            await ex.amend_orders("FOO/USDT:USDT", [Amend("x-1", Side.BUY, Decimal("1"), QTY)])
