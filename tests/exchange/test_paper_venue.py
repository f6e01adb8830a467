"""The synchronous paper venue's Binance-like rules, driven directly through its hooks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mmctl.errors import (
    FilterRejected,
    LeverageRejected,
    OrderRejected,
    UnknownOrder,
    UnknownSymbol,
)
from mmctl.exchange.paper.orders import OrderStore
from mmctl.exchange.paper.state import LiveOrder
from mmctl.model import BookTop, IncomeType, OrderRequest, OrderStatus, OrderType, OrderUpdate, Side

from .builders import BTC, ETH, START_MS, book, income_total, limit, make_venue, market, trade

D = Decimal


def test_trade_fills_best_price_first_then_time_priority() -> None:
    """A taker sell fills the highest bid first, then older orders at the same price, up to its size."""
    v = make_venue()
    book(v, "60000.0", "60000.1")
    a = v.place(limit(Side.BUY, "59990.0", "0.002", "a"))
    b = v.place(limit(Side.BUY, "59995.0", "0.002", "b"))
    c = v.place(limit(Side.BUY, "59990.0", "0.002", "c"))
    trade(v, Side.SELL, "59990.0", "0.005")
    assert v.order(BTC, b.id).status is OrderStatus.FILLED
    assert v.order(BTC, a.id).status is OrderStatus.FILLED
    partial = v.order(BTC, c.id)
    assert (partial.status, partial.filled) == (OrderStatus.PARTIALLY_FILLED, D("0.001"))


def test_trade_that_does_not_reach_our_price_fills_nothing() -> None:
    """A taker sell above our bid, or a taker buy, leaves the bid alone."""
    v = make_venue()
    book(v, "60000.0", "60000.1")
    bid = v.place(limit(Side.BUY, "59990.0", "0.002"))
    trade(v, Side.SELL, "59990.1", "1")
    trade(v, Side.BUY, "59980.0", "1")
    assert v.order(BTC, bid.id).filled == 0


def test_book_crossing_our_order_fills_it_in_full_as_maker() -> None:
    """An ask at or below our bid fills the bid at its own price with the maker fee."""
    v = make_venue()
    book(v, "60000.0", "60000.1")
    updates: list[OrderUpdate] = []
    v.add_listener(updates.append)
    bid = v.place(limit(Side.BUY, "59990.0", "0.003"))
    book(v, "59980.0", "59985.0")
    fill = updates[-1].fill
    assert fill is not None
    assert (fill.price, fill.qty, fill.maker) == (D("59990.0"), D("0.003"), True)
    assert fill.fee == D("59990.0") * D("0.003") * D("0.0002")
    assert v.order(BTC, bid.id).status is OrderStatus.FILLED


def test_non_post_only_limit_that_crosses_fills_as_taker_at_the_top() -> None:
    """A marketable limit buy fills at the ask (not its limit) and pays the taker fee."""
    v = make_venue()
    book(v, "60000.0", "60000.1")
    order = v.place(limit(Side.BUY, "60100.0", "0.002", post_only=False))
    assert (order.status, order.avg_price) == (OrderStatus.FILLED, D("60000.1"))
    assert v.wallet.rows[-1].amount == -(D("60000.1") * D("0.002") * D("0.0005"))


def test_reduce_only_fills_at_most_the_position_then_expires() -> None:
    """A reduce-only sell larger than the long fills the long's size and expires the rest."""
    v = make_venue()
    book(v, "60000.0", "60000.1")
    v.place(market(Side.BUY, "0.003"))
    ro = v.place(limit(Side.SELL, "60010.0", "0.005", reduce_only=True))
    trade(v, Side.BUY, "60010.0", "1")
    final = v.order(BTC, ro.id)
    assert (final.status, final.filled) == (OrderStatus.EXPIRED, D("0.003"))
    assert v.position(BTC).qty == 0


def test_reduce_only_orders_expire_when_the_position_closes_elsewhere() -> None:
    """Closing the position with another order expires the resting reduce-only orders."""
    v = make_venue()
    book(v, "60000.0", "60000.1")
    v.place(market(Side.BUY, "0.002"))
    ro = v.place(limit(Side.SELL, "60050.0", "0.002", reduce_only=True))
    v.place(market(Side.SELL, "0.002"))
    assert v.order(BTC, ro.id).status is OrderStatus.EXPIRED
    assert v.open_orders(BTC) == []


def test_market_reduce_only_is_exempt_from_min_notional() -> None:
    """Closing a tiny position with a reduce-only market order is allowed below the notional minimum."""
    v = make_venue()
    book(v, "60000.0", "60000.1")
    v.place(market(Side.BUY, "0.003"))
    v.place(market(Side.SELL, "0.002"))
    assert v.place(market(Side.SELL, "0.001", reduce_only=True)).status is OrderStatus.FILLED
    assert v.position(BTC).qty == 0


def test_position_flip_realizes_pnl_and_reopens_at_the_fill_price() -> None:
    """Selling through a long realizes the long's PnL and opens a short at the fill price."""
    v = make_venue()
    book(v, "60000.0", "60000.1")
    v.place(limit(Side.BUY, "60100.0", "0.010", post_only=False))  # long 0.010 @ 60000.1
    book(v, "60500.0", "60500.1")
    v.place(market(Side.SELL, "0.025"))  # sells at 60500.0
    pos = v.position(BTC)
    assert (pos.qty, pos.entry_price) == (D("-0.015"), D("60500.0"))
    realized = [r.amount for r in v.wallet.rows if r.type is IncomeType.REALIZED_PNL]
    assert realized == [(D("60500.0") - D("60000.1")) * D("0.010")]


def test_funding_is_paid_by_longs_and_received_by_shorts_at_interval_boundaries() -> None:
    """At each 8-hour boundary a long pays qty × mark × rate and a short receives it."""
    v = make_venue(funding_rate="0.0001")
    book(v, "60000.0", "60000.2")
    book(v, "3000.00", "3000.02", symbol=ETH)
    v.place(market(Side.BUY, "0.010"))
    v.place(market(Side.SELL, "1.000", symbol=ETH))
    boundary = (START_MS // 28_800_000 + 1) * 28_800_000
    v.advance_to(boundary - 1)
    assert not [r for r in v.wallet.rows if r.type is IncomeType.FUNDING_FEE]
    v.advance_to(boundary + 2 * 28_800_000)
    funding = [r for r in v.wallet.rows if r.type is IncomeType.FUNDING_FEE]
    assert [(r.symbol, r.amount, r.ts_ms) for r in funding[:2]] == [
        (BTC, -D("0.010") * D("60000.1") * D("0.0001"), boundary),
        (ETH, D("1.000") * D("3000.01") * D("0.0001"), boundary),
    ]
    assert len(funding) == 6


def test_time_never_moves_backwards() -> None:
    """advance_to an earlier time and an old event leave the venue clock where it was."""
    v = make_venue()
    v.advance_to(START_MS + 5_000)
    v.advance_to(START_MS + 1_000)
    v.on_book(BookTop(BTC, D("60000.0"), D(1), D("60000.1"), D(1), START_MS))
    assert v.now_ms == START_MS + 5_000


def test_events_accept_the_venue_symbol_and_store_the_unified_one() -> None:
    """A book for BTCUSDT is stored and reported as BTC/USDT:USDT."""
    v = make_venue()
    v.on_book(BookTop("BTCUSDT", D("60000.0"), D(1), D("60000.1"), D(1), START_MS))
    top = v.state(BTC).top
    assert top is not None
    assert top.symbol == BTC
    with pytest.raises(UnknownSymbol):
        v.on_book(BookTop("NOPEUSDT", D(1), D(1), D(2), D(1), START_MS))


def test_max_open_orders_per_symbol() -> None:
    """The 201st open order on a symbol is refused; other symbols are unaffected."""
    v = make_venue("1000000")
    book(v, "60000.0", "60000.1")
    for i in range(200):
        v.place(limit(Side.BUY, f"{50000 + i}.0", "0.002"))
    with pytest.raises(FilterRejected, match="maximum of 200"):
        v.place(limit(Side.BUY, "59000.0", "0.002"))
    book(v, "3000.00", "3000.01", symbol=ETH)
    v.place(limit(Side.BUY, "2990.00", "0.010", symbol=ETH))


def test_order_beyond_the_bracket_cap_at_current_leverage_is_refused() -> None:
    """At the symbol's max leverage, an order taking exposure past tier 1's cap raises LeverageRejected."""
    v = make_venue("100000")
    book(v, "60000.0", "60000.1")
    v.set_leverage(BTC, 125)
    with pytest.raises(LeverageRejected):
        v.place(limit(Side.BUY, "59990.0", "1.000"))
    assert v.open_orders() == []


def test_lowering_leverage_needs_the_margin_for_it() -> None:
    """Lowering leverage is refused when the larger initial margin is not available."""
    v = make_venue("200")
    book(v, "60000.0", "60000.1")
    v.place(market(Side.BUY, "0.050"))  # 3,000 notional: 150 margin at 20x
    with pytest.raises(LeverageRejected, match="margin"):
        v.set_leverage(BTC, 5)
    assert v.leverage(BTC) == 20


def test_balance_reports_margin_and_unrealized_pnl() -> None:
    """available = wallet + unrealized PnL − initial margin of positions and orders."""
    v = make_venue("10000")
    book(v, "60000.0", "60000.2")
    v.place(market(Side.BUY, "0.100"))  # long 0.1 @ 60000.2, mark 60000.1
    v.place(limit(Side.BUY, "59000.0", "0.100"))
    bal = v.balance()
    assert bal.unrealized_pnl == D("0.100") * (D("60000.1") - D("60000.2"))
    assert bal.margin_used == (D("0.100") * D("60000.1") + D("5900.0")) / 20
    assert bal.available == bal.wallet + bal.unrealized_pnl - bal.margin_used


def test_opposite_orders_need_margin_for_the_larger_side_only() -> None:
    """Quotes on both sides need the initial margin of the larger side, not of both."""
    v = make_venue()
    book(v, "60000.0", "60000.1")
    v.place(limit(Side.BUY, "59990.0", "0.010"))
    v.place(limit(Side.SELL, "60010.0", "0.010"))
    assert v.balance().margin_used == D("0.010") * D("60010.0") / 20


@pytest.mark.parametrize(
    ("request_", "error", "fragment"),
    [
        (market(Side.BUY, "0.002"), OrderRejected, "no market price"),
        (
            OrderRequest(BTC, Side.BUY, D("0.002"), D("1.0"), "", type=OrderType.MARKET),
            FilterRejected,
            "no price",
        ),
        (
            OrderRequest(BTC, Side.BUY, D("0.002"), None, "", type=OrderType.MARKET, post_only=True),
            FilterRejected,
            "post-only",
        ),
        (OrderRequest(BTC, Side.BUY, 0.002, D("59990.0"), ""), FilterRejected, "Decimal"),  # type: ignore[arg-type]
        (OrderRequest(BTC, "buy", D("0.002"), D("59990.0"), ""), FilterRejected, "side"),  # type: ignore[arg-type]
        (OrderRequest(BTC, Side.BUY, D("NaN"), D("59990.0"), ""), FilterRejected, "finite"),
        (OrderRequest(BTC, Side.BUY, D("0.002"), D("59990.0"), "bad id!"), FilterRejected, "client order id"),
        (OrderRequest(BTC, Side.BUY, D("0.002"), D("59990.0"), "x" * 37), FilterRejected, "client order id"),
        (OrderRequest(BTC, Side.BUY, D("-0.002"), D("59990.0"), ""), FilterRejected, "positive"),
        (OrderRequest(BTC, Side.BUY, D("2000"), D("59990.0"), ""), FilterRejected, "maximum"),
    ],
)
def test_malformed_requests_are_rejected_cleanly(
    request_: OrderRequest, error: type[Exception], fragment: str
) -> None:
    """Wrong types, non-finite numbers, bad client ids and bad combinations are classified rejections."""
    v = make_venue()
    with pytest.raises(error, match=fragment):
        v.place(request_)
    assert v.open_orders() == []
    assert v.wallet.rows == []


def test_empty_client_order_id_gets_a_generated_one() -> None:
    """An order placed without a client id gets a unique venue-generated one."""
    v = make_venue()
    book(v, "60000.0", "60000.1")
    first = v.place(limit(Side.BUY, "59990.0", "0.002"))
    second = v.place(limit(Side.BUY, "59980.0", "0.002"))
    assert first.client_order_id != second.client_order_id
    assert v.order(BTC, client_order_id=first.client_order_id) == first


def test_cancel_needs_an_id_and_the_right_symbol() -> None:
    """Cancelling with no id, or on another symbol, raises UnknownOrder."""
    v = make_venue()
    book(v, "60000.0", "60000.1")
    order = v.place(limit(Side.BUY, "59990.0", "0.002", "mine"))
    with pytest.raises(UnknownOrder):
        v.cancel(BTC)
    with pytest.raises(UnknownOrder):
        v.cancel(ETH, order.id)
    assert v.cancel("BTCUSDT", client_order_id="mine").status is OrderStatus.CANCELED


def test_a_client_id_can_be_reused_once_its_order_is_closed() -> None:
    """After a cancel the client id is free again, and fetch by client id finds the newest order."""
    v = make_venue()
    book(v, "60000.0", "60000.1")
    v.place(limit(Side.BUY, "59990.0", "0.002", "reuse"))
    v.cancel(BTC, client_order_id="reuse")
    again = v.place(limit(Side.BUY, "59980.0", "0.002", "reuse"))
    assert v.order(BTC, client_order_id="reuse") == again


def test_closed_orders_are_forgotten_oldest_first() -> None:
    """The order store keeps only the most recent closed orders."""
    store = OrderStore(max_closed=2)
    orders = [
        LiveOrder(
            str(i),
            f"c{i}",
            BTC,
            Side.BUY,
            OrderType.LIMIT,
            D(1),
            D(1),
            post_only=False,
            reduce_only=False,
            seq=i,
            ts_ms=0,
        )
        for i in range(3)
    ]
    for order in orders:
        store.add(order)
        store.close(order)
    assert store.find("0", None) is None
    assert store.find(None, "c1") is orders[1]
    assert store.find("2", None) is orders[2]


def test_income_is_filtered_and_paged() -> None:
    """income() honours since/until, type, symbol and limit, oldest first."""
    v = make_venue()
    book(v, "60000.0", "60000.1")
    book(v, "3000.00", "3000.01", symbol=ETH)
    v.place(market(Side.BUY, "0.002"))
    v.advance_to(START_MS + 1000)
    v.place(market(Side.BUY, "0.010", symbol=ETH))
    v.advance_to(START_MS + 2000)
    v.place(market(Side.SELL, "0.002"))
    rows = v.income(0)
    assert [r.ts_ms for r in rows] == sorted(r.ts_ms for r in rows)
    assert [r.symbol for r in v.income(0, symbol="ETHUSDT")] == [ETH]
    assert all(r.type is IncomeType.REALIZED_PNL for r in v.income(0, income_type=IncomeType.REALIZED_PNL))
    assert len(v.income(0, limit=2)) == 2
    assert len(v.income(0, limit=0)) == 1
    assert v.income(START_MS + 500, until_ms=START_MS + 1500) == v.income(0, symbol=ETH)
    assert income_total(v) == v.wallet.balance - 10000
