"""The paper venue's matching: our orders against the market and each other, their fills, ends and events.

A taker SELL trade at p fills our bids priced ≥ p (best price, then time priority) up to the trade's
size, as maker at our price; symmetric for BUY trades and asks. A book whose ask ≤ our bid (or bid ≥ our
ask) fills every crossed order in full as maker. Market orders, and limit orders that cross the book
without post-only, fill in full as taker at the opposite top (the venue assumes the top has depth). Our
own resting orders are part of the book, as on Binance: a taker order first meets those of ours priced
strictly better than the book's top (the book's own liquidity is ahead of ours at the top) and applies
self-trade prevention in its `stp_mode` (`mmctl.exchange.paper.stp`). Reduce-only orders fill at most the
position and expire when there is nothing left to reduce.

`Matcher` does this for its `PaperVenue`: the venue decides when (a market event crossing our best
price, an order placed or amended) and the matcher fills (position, wallet, ledger, order state), ends
orders (cancelled, expired) and announces each change to the venue's order listeners, in order.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from mmctl.exchange.paper import stp
from mmctl.exchange.paper.state import LiveOrder, SymbolState
from mmctl.model import (
    ZERO,
    BookTop,
    Fill,
    IncomeType,
    Order,
    OrderStatus,
    OrderType,
    OrderUpdate,
    StpMode,
    Trade,
)
from mmctl.pnl.position import CTX, apply_fill, fee_for, reducible_qty

if TYPE_CHECKING:
    from mmctl.exchange.paper.venue import PaperVenue

OrderListener = Callable[[OrderUpdate], None]


class Matcher:
    """Fills, ends and announces the orders of one `PaperVenue` (module docstring)."""

    __slots__ = ("listeners", "venue")

    def __init__(self, venue: PaperVenue) -> None:
        self.venue = venue
        self.listeners: list[OrderListener] = []  # the venue's `add_listener`s, called in order

    # --- market events against our resting orders -------------------------------------------------

    def match_trade(self, st: SymbolState, trade: Trade, orders: list[LiveOrder]) -> None:
        """A public trade through our resting `orders` (the side it hits): fill them as maker, best
        first, up to the trade's size."""
        left = trade.qty
        price = trade.price
        bids = orders is st.bids
        while left > 0 and orders:
            order = orders[0]
            assert order.price is not None
            if (order.price < price) if bids else (order.price > price):
                break
            left = CTX.subtract(
                left, self.execute(st, order, min(left, order.remaining), order.price, maker=True)
            )

    def match_book(self, st: SymbolState, top: BookTop) -> None:
        """A top of book crossing our resting orders: fill every crossed one in full as maker."""
        while st.bids and top.ask <= st.best_bid:
            order = st.bids[0]
            self.execute(st, order, order.remaining, st.best_bid, maker=True)
        while st.asks and top.bid >= st.best_ask:
            order = st.asks[0]
            self.execute(st, order, order.remaining, st.best_ask, maker=True)

    # --- an incoming order (placed, or amended in place) ------------------------------------------------

    def take(self, st: SymbolState, order: LiveOrder, fill_at: Decimal | None, stp_mode: StpMode) -> None:
        """An accepted `order` entering the book: unless post-only it first meets our own better-priced
        resting orders in `stp_mode`, then takes at `fill_at` (the book's opposite top, None when it does
        not cross); what is left of a limit order that did not cross rests, anything else expires."""
        if not order.post_only:
            stp.meet_own_orders(st, order, stp_mode, self.execute, self.finish)
        if order.status.is_open and fill_at is not None:
            self.execute(st, order, order.remaining, fill_at, maker=False)
        if order.status.is_open:
            if fill_at is None and order.type is OrderType.LIMIT:
                st.rest(order)
            else:
                self.finish(st, order, OrderStatus.EXPIRED)

    # --- fills, ends, events ----------------------------------------------------------------------

    def execute(
        self, st: SymbolState, order: LiveOrder, qty: Decimal, price: Decimal, *, maker: bool
    ) -> Decimal:
        """Fill `qty` of `order` at `price`: position, wallet, ledger, order state, event. Returns the qty."""
        if order.reduce_only:
            qty = min(qty, reducible_qty(st.position_qty, order.side))
            if qty <= 0:
                self.finish(st, order, OrderStatus.EXPIRED)
                return ZERO
        change = apply_fill(st.position_qty, st.entry_price, order.side, qty, price)
        st.position_qty, st.entry_price = change.qty, change.entry_price
        fee = fee_for(price, qty, st.rules.maker_fee if maker else st.rules.taker_fee)
        venue = self.venue
        venue.last_trade_id += 1
        trade_id = str(venue.last_trade_id)
        ts = venue.now_ms
        wallet = venue.wallet
        wallet.credit(ts, st.symbol, IncomeType.REALIZED_PNL, change.realized_pnl, trade_id)
        wallet.credit(ts, st.symbol, IncomeType.COMMISSION, -fee, trade_id)
        st.on_partial_fill(order, qty)
        order.filled = CTX.add(order.filled, qty)
        order.cost = CTX.add(order.cost, CTX.multiply(qty, price))
        order.updated_ms = ts
        order.status = OrderStatus.FILLED if order.filled == order.qty else OrderStatus.PARTIALLY_FILLED
        fill = Fill(
            trade_id=trade_id,
            order_id=order.id,
            client_order_id=order.client_order_id,
            symbol=st.symbol,
            side=order.side,
            price=price,
            qty=qty,
            fee=fee,
            fee_asset=wallet.asset,
            maker=maker,
            realized_pnl=change.realized_pnl,
            ts_ms=ts,
        )
        venue.trades.append(fill)
        if order.status is OrderStatus.FILLED:
            self.retire(st, order)
        self.emit(OrderUpdate(order.snapshot(), fill))
        self._expire_stale_reduce_only(st)
        return qty

    def _expire_stale_reduce_only(self, st: SymbolState) -> None:
        if not st.reduce_only_resting:
            return
        for order in st.orders():
            if order.reduce_only and reducible_qty(st.position_qty, order.side) == 0:
                self.finish(st, order, OrderStatus.EXPIRED)

    def finish(self, st: SymbolState, order: LiveOrder, status: OrderStatus) -> None:
        """End an open order as cancelled or expired, and tell the listeners."""
        order.status = status
        order.updated_ms = self.venue.now_ms
        self.retire(st, order)
        self.emit(OrderUpdate(order.snapshot()))

    def retire(self, st: SymbolState, order: LiveOrder) -> None:
        """Take a closed order off the book and out of the open orders."""
        if order.resting:
            st.unrest(order)
        self.venue.orders.close(order)

    def cancel_all(self, st: SymbolState) -> list[Order]:
        """Cancel every open order of the symbol; returns their final states."""
        cancelled = []
        for order in st.orders():
            self.finish(st, order, OrderStatus.CANCELED)
            cancelled.append(order.snapshot())
        return cancelled

    def emit(self, update: OrderUpdate) -> None:
        """Count an account change and hand `update` to every listener, in order."""
        self.venue.revision += 1
        for listener in self.listeners:
            listener(update)
