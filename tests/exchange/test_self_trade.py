"""Our own resting orders are part of the paper book, as they are of Binance's.

A post-only order that would cross one of our resting orders is rejected as crossing; a taker or limit
order that meets our own resting orders is handled by self-trade prevention in the order's `stp_mode`
(Binance USDⓈ-M `selfTradePreventionMode`). The scenario is the audit's: book 90000.0 / 90010.0, our ask
resting at 90003.0 inside the spread.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from mmctl.errors import PostOnlyWouldCross
from mmctl.exchange.paper import PaperVenue
from mmctl.model import Order, OrderRequest, OrderStatus, OrderType, OrderUpdate, Side, StpMode

from .builders import BTC, MAKER_FEE, TAKER_FEE, book, income_total, limit, make_venue

D = Decimal
QTY = D("0.002")


def venue_with_our_ask() -> tuple[PaperVenue, Order]:
    v = make_venue()
    book(v, "90000.0", "90010.0")
    ask = v.place(limit(Side.SELL, "90003.0", "0.002", "our-ask"))
    return v, ask


def bid(price: str, mode: StpMode, qty: Decimal = QTY) -> OrderRequest:
    return OrderRequest(BTC, Side.BUY, qty, D(price), "bid", stp_mode=mode)


def market_buy(mode: StpMode, qty: Decimal = QTY) -> OrderRequest:
    return OrderRequest(BTC, Side.BUY, qty, None, "mkt", type=OrderType.MARKET, stp_mode=mode)


def test_post_only_crossing_our_own_order_is_rejected() -> None:
    """A post-only bid at 90005.0 crosses our ask at 90003.0 and is rejected; the ask stays."""
    v, ask = venue_with_our_ask()
    with pytest.raises(PostOnlyWouldCross):
        v.place(limit(Side.BUY, "90005.0", "0.002"))
    with pytest.raises(PostOnlyWouldCross):
        v.place(limit(Side.BUY, "90003.0", "0.002"))
    assert [o.id for o in v.open_orders(BTC)] == [ask.id]


def test_default_mode_is_expire_maker() -> None:
    """mmctl's orders carry EXPIRE_MAKER unless told otherwise."""
    assert OrderRequest(BTC, Side.BUY, QTY, D("1.0"), "x").stp_mode is StpMode.EXPIRE_MAKER


def test_expire_maker_expires_our_ask_and_the_bid_rests() -> None:
    """EXPIRE_MAKER: the limit bid at 90006.0 expires our ask and rests; nothing trades."""
    v, ask = venue_with_our_ask()
    placed = v.place(bid("90006.0", StpMode.EXPIRE_MAKER))
    assert placed.status is OrderStatus.NEW
    assert v.order(BTC, ask.id).status is OrderStatus.EXPIRED
    assert [o.id for o in v.open_orders(BTC)] == [placed.id]
    assert v.wallet.rows == []


def test_expire_taker_expires_the_incoming_bid_and_keeps_our_ask() -> None:
    """EXPIRE_TAKER: the limit bid at 90006.0 expires unfilled; our ask keeps resting."""
    v, ask = venue_with_our_ask()
    placed = v.place(bid("90006.0", StpMode.EXPIRE_TAKER))
    assert (placed.status, placed.filled) == (OrderStatus.EXPIRED, 0)
    assert [o.id for o in v.open_orders(BTC)] == [ask.id]
    assert v.wallet.rows == []


def test_expire_both_expires_both_orders() -> None:
    """EXPIRE_BOTH: the bid and our ask both expire; nothing trades."""
    v, ask = venue_with_our_ask()
    placed = v.place(bid("90006.0", StpMode.EXPIRE_BOTH))
    assert placed.status is OrderStatus.EXPIRED
    assert v.order(BTC, ask.id).status is OrderStatus.EXPIRED
    assert v.open_orders(BTC) == []
    assert v.wallet.rows == []


def test_none_trades_with_ourselves_at_the_resting_price() -> None:
    """NONE: the bid fills against our ask at 90003.0 (taker fee) and the ask fills as maker."""
    v, ask = venue_with_our_ask()
    fills: list[OrderUpdate] = []
    v.add_listener(lambda u: fills.append(u) if u.fill is not None else None)
    placed = v.place(bid("90006.0", StpMode.NONE))
    assert (placed.status, placed.avg_price) == (OrderStatus.FILLED, D("90003.0"))
    assert v.order(BTC, ask.id).status is OrderStatus.FILLED
    seen = [(u.fill.maker, u.fill.price) for u in fills if u.fill]
    assert seen == [(False, D("90003.0")), (True, D("90003.0"))]
    assert v.position(BTC).qty == 0
    notional = D("90003.0") * QTY
    assert income_total(v) == -(notional * TAKER_FEE + notional * MAKER_FEE)


def test_market_order_expire_maker_clears_our_ask_then_fills_at_the_book() -> None:
    """A market buy in EXPIRE_MAKER expires our inside ask and fills at the book's ask."""
    v, ask = venue_with_our_ask()
    placed = v.place(market_buy(StpMode.EXPIRE_MAKER))
    assert (placed.status, placed.avg_price) == (OrderStatus.FILLED, D("90010.0"))
    assert v.order(BTC, ask.id).status is OrderStatus.EXPIRED


def test_market_order_expire_taker_expires_unfilled() -> None:
    """A market buy in EXPIRE_TAKER meets our inside ask first and expires with nothing filled."""
    v, ask = venue_with_our_ask()
    placed = v.place(market_buy(StpMode.EXPIRE_TAKER))
    assert (placed.status, placed.filled) == (OrderStatus.EXPIRED, 0)
    assert v.order(BTC, ask.id).status is OrderStatus.NEW
    assert v.position(BTC).qty == 0


def test_our_orders_at_or_behind_the_book_are_not_reached() -> None:
    """Our ask at the book's ask is behind the book's own liquidity: a market buy fills at the book."""
    v = make_venue()
    book(v, "90000.0", "90010.0")
    ask = v.place(limit(Side.SELL, "90010.0", "0.002"))
    placed = v.place(market_buy(StpMode.EXPIRE_TAKER))
    assert (placed.status, placed.avg_price) == (OrderStatus.FILLED, D("90010.0"))
    assert v.order(BTC, ask.id).status is OrderStatus.NEW


def test_self_trade_walks_our_orders_best_price_first_then_rests() -> None:
    """NONE: a bid for 0.005 trades with our asks at 90002.0 then 90003.0 and rests the last 0.001."""
    v = make_venue()
    book(v, "90000.0", "90010.0")
    v.place(limit(Side.SELL, "90003.0", "0.002", "far"))
    v.place(limit(Side.SELL, "90002.0", "0.002", "near"))
    placed = v.place(bid("90006.0", StpMode.NONE, D("0.005")))
    assert (placed.status, placed.filled) == (OrderStatus.PARTIALLY_FILLED, D("0.004"))
    assert placed.avg_price == D("90002.5")
    assert [(o.client_order_id, o.remaining) for o in v.open_orders(BTC)] == [("bid", D("0.001"))]
