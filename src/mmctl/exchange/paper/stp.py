"""Self-trade prevention on the paper venue, as Binance USDⓈ-M applies it.

Binance's documentation (developers.binance.com/docs/derivatives/usds-margined-futures):
- New Order (`POST /fapi/v1/order`, trade/rest-api): `selfTradePreventionMode` is one of NONE,
  EXPIRE_TAKER, EXPIRE_MAKER, EXPIRE_BOTH, "default EXPIRE_MAKER", and "is only effective when
  timeInForce set to IOC or GTC or GTD" — a post-only (GTX) order never self-trades: crossing any resting
  order, ours included, rejects it (-5022).
- STP FAQ (faq/stp-faq): "EXPIRE_TAKER prevents a trade by immediately expiring the taker order's
  remaining quantity", "EXPIRE_MAKER ... the potential maker order's remaining quantity", "EXPIRE_BOTH ...
  both", and "the STP event will occur depending on the STP mode of the taker order" (the mode of a
  resting order is ignored). An expired order's status is EXPIRED_IN_MATCH on Binance; the paper venue
  reports EXPIRED.

What the taker reaches: the paper book's depth is the market's top of book (assumed deep) plus our own
resting orders. A taker meets our resting orders on the other side that its limit allows and that are
priced strictly better than the book's top; at the top itself the market's liquidity is assumed ahead of
ours. With NONE the two orders trade at the resting order's price: the taker's fill first (taker fee),
then the resting order's (maker fee).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

from mmctl.exchange.paper.state import LiveOrder, SymbolState
from mmctl.model import OrderStatus, Side, StpMode


class Execute(Protocol):
    """The venue's fill of `qty` of `order` at `price`; returns the quantity filled."""

    def __call__(
        self, st: SymbolState, order: LiveOrder, qty: Decimal, price: Decimal, *, maker: bool
    ) -> Decimal: ...


Finish = Callable[[SymbolState, LiveOrder, OrderStatus], None]
"""The venue's end of an open order as cancelled or expired."""


def meet_own_orders(
    st: SymbolState, taker: LiveOrder, mode: StpMode, execute: Execute, finish: Finish
) -> None:
    """Apply `mode` to each of our resting orders the incoming `taker` reaches, best price first, until
    the taker is done or reaches none. `execute` and `finish` are the venue's fill and expiry."""
    makers = st.asks if taker.side is Side.BUY else st.bids
    while makers and taker.status.is_open and reaches(st, taker, makers[0]):
        maker = makers[0]
        assert maker.price is not None
        if mode is StpMode.NONE:
            traded = execute(st, taker, min(taker.remaining, maker.remaining), maker.price, maker=False)
            if traded > 0 and maker.status.is_open:
                execute(st, maker, min(traded, maker.remaining), maker.price, maker=True)
            continue
        if mode is not StpMode.EXPIRE_TAKER:
            finish(st, maker, OrderStatus.EXPIRED)
        if mode is not StpMode.EXPIRE_MAKER:
            finish(st, taker, OrderStatus.EXPIRED)


def reaches(st: SymbolState, taker: LiveOrder, maker: LiveOrder) -> bool:
    """True when the incoming `taker` would trade with our resting `maker` before the book's top."""
    price = maker.price
    assert price is not None
    limit = taker.price  # None for a market order
    top = st.top
    if taker.side is Side.BUY:
        return (limit is None or price <= limit) and (top is None or price < top.ask)
    return (limit is None or price >= limit) and (top is None or price > top.bid)
