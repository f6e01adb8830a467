"""The paper venue's order filters as Binance USDⓈ-M applies them.

- Reduce-only: a new reduce-only order that, with the open reduce-only orders on its side, would close
  more than the position is rejected (-2022 REDUCE_ONLY_REJECT).
- MIN_NOTIONAL: a market order's notional is taken at the mark price.
- PRICE_FILTER minPrice/maxPrice and PERCENT_PRICE (buy <= mark × multiplierUp, sell >= mark ×
  multiplierDown; a market order's counterparty price likewise, -4131).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from mmctl.errors import FilterRejected, ReduceOnlyRejected
from mmctl.model import OrderRequest, OrderStatus, OrderType, Side

from .builders import BTC, book, limit, make_venue, market

D = Decimal
XRP = "XRP/USDT:USDT"


def test_open_reduce_only_orders_cannot_exceed_the_position() -> None:
    """Long 0.01: a reduce-only sell of 0.01 rests; further 0.01 and 0.05 reduce-only sells are rejected."""
    v = make_venue()
    book(v, "60000.0", "60000.1")
    v.place(market(Side.BUY, "0.01"))
    first = v.place(limit(Side.SELL, "60100.0", "0.01", "ro-1", reduce_only=True))
    for cid, qty in (("ro-2", "0.01"), ("ro-3", "0.05")):
        with pytest.raises(ReduceOnlyRejected) as info:
            v.place(limit(Side.SELL, "60100.0", qty, cid, reduce_only=True))
        assert "-2022" in str(info.value)
    with pytest.raises(ReduceOnlyRejected):
        v.place(market(Side.SELL, "0.001", reduce_only=True))
    assert [o.client_order_id for o in v.open_orders(BTC)] == ["ro-1"]
    v.cancel(BTC, first.id)
    lone = v.place(limit(Side.SELL, "60100.0", "0.05", "ro-4", reduce_only=True))
    assert lone.status is OrderStatus.NEW  # a lone order larger than the position is accepted (it is cut)


def test_open_reduce_only_orders_may_add_up_to_exactly_the_position() -> None:
    """Short 0.01: reduce-only buys of 0.004 and 0.006 rest together; one more 0.001 is rejected."""
    v = make_venue()
    book(v, "60000.0", "60000.1")
    v.place(market(Side.SELL, "0.01"))
    v.place(limit(Side.BUY, "59900.0", "0.004", "ro-1", reduce_only=True))
    v.place(limit(Side.BUY, "59900.0", "0.006", "ro-2", reduce_only=True))
    with pytest.raises(ReduceOnlyRejected):
        v.place(limit(Side.BUY, "59900.0", "0.001", "ro-3", reduce_only=True))


def test_market_min_notional_uses_the_mark_price() -> None:
    """XRP book 2.0 / 2.2 (mark 2.1): a buy of 2.3 (4.83 at the mark) is rejected, a sell of 2.4 accepted."""
    v = make_venue()
    book(v, "2.0000", "2.2000", symbol=XRP)
    with pytest.raises(FilterRejected) as info:
        v.place(OrderRequest(XRP, Side.BUY, D("2.3"), None, "b", type=OrderType.MARKET))
    assert info.value.data["field"] == "notional"
    sold = v.place(OrderRequest(XRP, Side.SELL, D("2.4"), None, "s", type=OrderType.MARKET))
    assert (sold.status, sold.filled) == (OrderStatus.FILLED, D("2.4"))


@pytest.mark.parametrize(
    ("side", "price", "code"),
    [
        (Side.SELL, "1000.0", "-4024"),  # the audit's case: far below the mark's floor
        (Side.SELL, "85499.9", "-4024"),  # one tick under mark × 0.95 = 85500
        (Side.BUY, "94500.1", "-4016"),  # one tick over mark × 1.05 = 94500
        (Side.SELL, "500.0", "-4013"),  # below PRICE_FILTER minPrice 556.80
        (Side.BUY, "5000000.0", "-4002"),  # above PRICE_FILTER maxPrice 4529764
    ],
)
def test_limit_prices_outside_the_filters_are_rejected(side: Side, price: str, code: str) -> None:
    """With the mark at 90000, limit prices outside PRICE_FILTER or PERCENT_PRICE are refused unfilled."""
    v = make_venue()
    book(v, "89999.9", "90000.1")
    with pytest.raises(FilterRejected) as info:
        v.place(limit(side, price, "0.2", post_only=False))
    assert code in str(info.value)
    assert info.value.data["field"] == "price"
    assert v.wallet.rows == []
    assert v.open_orders() == []


def test_limit_prices_at_the_percent_price_bounds_are_accepted() -> None:
    """Prices exactly at mark × 1.05 (buy) and mark × 0.95 (sell) pass; far buys and far sells may rest."""
    v = make_venue("100000")
    book(v, "89999.9", "90000.1")
    assert v.place(limit(Side.BUY, "94500.0", "0.002", post_only=False)).status is OrderStatus.FILLED
    assert v.place(limit(Side.SELL, "85500.0", "0.002", post_only=False)).status is OrderStatus.FILLED
    assert v.place(limit(Side.BUY, "1000.0", "0.2")).status is OrderStatus.NEW
    assert v.place(limit(Side.SELL, "4000000.0", "0.001")).status is OrderStatus.NEW


def test_market_order_whose_counterparty_is_beyond_the_band_is_rejected() -> None:
    """A market buy into an ask above mark × 1.05 is refused (-4131), as is a sell into a bid below × 0.95."""
    v = make_venue()
    book(v, "80000.0", "100000.0")
    for side in (Side.BUY, Side.SELL):
        with pytest.raises(FilterRejected) as info:
            v.place(market(side, "0.002"))
        assert "-4131" in str(info.value)
    assert v.wallet.rows == []
