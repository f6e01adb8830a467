"""Amend in place on the paper venue, as Binance's Modify Order (PUT /fapi/v1/order,
developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Modify-Order):

- "modified orders will be reordered in the match queue": the order keeps its ids and takes a new time
  priority, behind every order already at its price;
- "when the new quantity or price doesn't satisfy PRICE_FILTER / PERCENT_FILTER / LOT_SIZE, amendment
  will be rejected and the order will stay as it is": every rejection (those, -5027 nothing to change,
  -5026 too many amends, reduce-only -2022, margin -2019) changes nothing;
- "the order will be cancelled by the amendment ... when the order is in partially filled status and
  the new quantity <= executedQty" and "when the order is GTX and the new price will cause it to be
  executed immediately" (the book, or one of our own resting orders): status CANCELED;
- "modify order will set selfTradePreventionMode to NONE": a non-post-only order amended through the
  book trades at once, as a new order would, meeting our own better-priced orders as NONE.

The amended state is announced to the listeners (Binance's ORDER_TRADE_UPDATE with execution type
AMENDMENT) before any trade it makes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmctl.errors import MmctlError
from mmctl.exchange.paper import entry
from mmctl.exchange.paper.state import SymbolState
from mmctl.model import Amend, Order, OrderStatus, OrderUpdate, StpMode
from mmctl.pnl.position import CTX

if TYPE_CHECKING:
    from mmctl.exchange.paper.venue import PaperVenue


def amend_order(venue: PaperVenue, st: SymbolState, amend: Amend) -> Order:
    """Apply `amend` to its open order on `st`'s symbol (module docstring); returns the order's state
    after it. Raises the rejection, with the order as it was."""
    entry.check_amend_shape(amend)
    order = venue.find_open(st, None, amend.client_order_id)
    entry.check_amend(amend, order, st)
    fill_at = None if st.top is None else entry.limit_taker_price(order.side, amend.price, st.top)
    crosses = fill_at is not None or entry.crosses_own(order.side, amend.price, st)
    matcher = venue.matcher
    if amend.qty <= order.filled or (order.post_only and crosses):
        matcher.finish(st, order, OrderStatus.CANCELED)
        return order.snapshot()
    remaining = CTX.subtract(amend.qty, order.filled)
    st.unrest(order)
    try:
        if order.reduce_only:  # adds no exposure: no margin check
            entry.check_amend_reduce_only(order, remaining, st)
        else:
            price = fill_at if fill_at is not None else amend.price
            if entry.raises_exposure(st, order.side, CTX.multiply(remaining, price)):
                entry.check_margin(entry.amend_probe(amend, order, remaining), st, price, venue.available)
    except MmctlError:
        st.rest(order)  # its priority is unchanged: it goes back where it was
        raise
    order.amend(amend.price, amend.qty, venue.orders.next_seq(), venue.now_ms)
    matcher.emit(OrderUpdate(order.snapshot()))
    # From here on as a new order would (`PaperVenue.place`), but with STP NONE; an order left open
    # after taking is a reduce-only one that had less to reduce than its size, and expires.
    matcher.take(st, order, fill_at, StpMode.NONE)
    return order.snapshot()
