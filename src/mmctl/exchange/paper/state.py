"""Per-symbol state of the paper venue: our live orders in priority order, the position, the book.

`LiveOrder` is the venue's mutable record of an order (callers only ever see `Order` snapshots).
`SymbolState` keeps each side's resting orders sorted best price first, then by time, and caches the
best resting bid and ask (as ±infinity when a side is empty) so that a market event that cannot touch
our orders is dismissed with two comparisons. It also tracks the open orders' notional per side
(reduce-only orders excluded: they cannot add exposure) for the margin check, and the symbol's open
conditional orders (`mmctl.exchange.paper.conditionals`).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from mmctl.model import ZERO, BookTop, MarketRules, Order, OrderStatus, OrderType, Side, Trade
from mmctl.pnl.position import CTX

if TYPE_CHECKING:
    from mmctl.exchange.paper.conditionals import LiveConditional

MarginMemo = tuple[
    Decimal, Decimal, Decimal, Decimal, Decimal, int, Decimal, Decimal, Decimal, Decimal | None
]
"""`mmctl.exchange.paper.margin`'s figures of one symbol: the inputs (mark, position, open buy and sell
notional, entry price, leverage), then the results (long and short exposure, initial margin, unrealized
PnL or None without a position)."""

NO_BID = Decimal("-Infinity")
NO_ASK = Decimal("Infinity")


class LiveOrder:
    """The venue's working record of one order."""

    __slots__ = (
        "amendments",
        "client_order_id",
        "cost",
        "created_ms",
        "filled",
        "id",
        "post_only",
        "price",
        "priority",
        "qty",
        "reduce_only",
        "resting",
        "side",
        "snap",
        "status",
        "symbol",
        "type",
        "updated_ms",
    )

    def __init__(
        self,
        order_id: str,
        client_order_id: str,
        symbol: str,
        side: Side,
        order_type: OrderType,
        price: Decimal | None,
        qty: Decimal,
        *,
        post_only: bool,
        reduce_only: bool,
        seq: int,
        ts_ms: int,
    ) -> None:
        self.id = order_id
        self.client_order_id = client_order_id
        self.symbol = symbol
        self.side = side
        self.type = order_type
        self.price = price
        self.qty = qty
        self.filled = ZERO
        self.cost = ZERO
        self.status = OrderStatus.NEW
        self.post_only = post_only
        self.reduce_only = reduce_only
        self.created_ms = ts_ms
        self.updated_ms = ts_ms
        self.resting = False
        self.amendments = 0  # times amended (Binance allows fewer than 10000 per order)
        self.priority = _key(side, price, seq)
        self.snap: Order | None = None  # the latest snapshot, reused while the order is unchanged

    def amend(self, price: Decimal, qty: Decimal, seq: int, ts_ms: int) -> None:
        """Take a new price and total quantity with a new time priority `seq` (the order must not be
        resting while its priority changes)."""
        assert not self.resting
        self.price = price
        self.qty = qty
        self.priority = _key(self.side, price, seq)
        self.amendments += 1
        self.updated_ms = ts_ms

    @property
    def remaining(self) -> Decimal:
        return CTX.subtract(self.qty, self.filled)

    @property
    def notional(self) -> Decimal:
        """Notional of the unfilled part at the order's price (0 for market orders)."""
        return CTX.multiply(self.remaining, self.price) if self.price is not None else ZERO

    def snapshot(self) -> Order:
        """The order's state as an immutable `Order`. The last one is reused while nothing it shows has
        changed: every change of price, quantity, fill (`cost` only ever moves with `filled`), status or
        update time replaces that attribute's object, which the identity checks below notice."""
        snap = self.snap
        if (
            snap is not None
            and snap.status is self.status
            and snap.filled is self.filled
            and snap.updated_ms == self.updated_ms
            and snap.price is self.price
            and snap.qty is self.qty
        ):
            return snap
        avg = CTX.divide(self.cost, self.filled) if self.filled else None
        self.snap = snap = Order(
            id=self.id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            price=self.price,
            qty=self.qty,
            filled=self.filled,
            avg_price=avg,
            status=self.status,
            post_only=self.post_only,
            reduce_only=self.reduce_only,
            created_ms=self.created_ms,
            updated_ms=self.updated_ms,
        )
        return snap


def _key(side: Side, price: Decimal | None, seq: int) -> tuple[Decimal, int]:
    """Queue priority: best price first, then earliest `seq`."""
    key = price if price is not None else ZERO
    return (-key if side is Side.BUY else key, seq)


def _priority(order: LiveOrder) -> tuple[Decimal, int]:
    return order.priority


class SymbolState:
    """Everything the venue keeps for one market."""

    __slots__ = (
        "_mark",
        "_mark_of",
        "asks",
        "best_ask",
        "best_bid",
        "bids",
        "book_hook",
        "buy_notional",
        "conditionals",
        "countdown_ms",
        "entry_price",
        "last_trade",
        "leverage",
        "margin_memo",
        "position_qty",
        "reduce_only_resting",
        "rules",
        "sell_notional",
        "symbol",
        "top",
        "trade_hook",
    )

    def __init__(self, rules: MarketRules, leverage: int) -> None:
        self.rules = rules
        self.symbol = rules.symbol
        self.top: BookTop | None = None
        self._mark_of: BookTop | None = None
        self._mark = ZERO
        self.last_trade: Trade | None = None
        self.bids: list[LiveOrder] = []
        self.asks: list[LiveOrder] = []
        self.best_bid = NO_BID
        self.best_ask = NO_ASK
        self.buy_notional = ZERO
        self.sell_notional = ZERO
        self.position_qty = ZERO
        self.reduce_only_resting = 0  # how many resting orders are reduce-only
        self.entry_price = ZERO
        self.leverage = leverage
        self.countdown_ms: int | None = None
        self.book_hook: Callable[[BookTop], None] | None = None
        self.trade_hook: Callable[[Trade], None] | None = None
        self.margin_memo: MarginMemo | None = None  # see `MarginMemo`
        self.conditionals: dict[str, LiveConditional] = {}  # open conditional orders by client id

    def side_list(self, side: Side) -> list[LiveOrder]:
        return self.bids if side is Side.BUY else self.asks

    def rest(self, order: LiveOrder) -> None:
        """Add an open limit order to its side, in priority order."""
        bisect.insort(self.side_list(order.side), order, key=_priority)
        order.resting = True
        self.reduce_only_resting += int(order.reduce_only)
        self._add_notional(order, order.notional)
        self._refresh_best(order.side)

    def unrest(self, order: LiveOrder) -> None:
        """Take an order (fully filled, cancelled or expired) off its side."""
        orders = self.side_list(order.side)
        if orders and orders[0] is order:
            orders.pop(0)
        else:
            orders.remove(order)
        order.resting = False
        self.reduce_only_resting -= int(order.reduce_only)
        self._add_notional(order, CTX.minus(order.notional))
        self._refresh_best(order.side)

    def on_partial_fill(self, order: LiveOrder, qty: Decimal) -> None:
        """Account for `qty` of a resting order filling (before `order.filled` changes)."""
        if order.resting and order.price is not None:
            self._add_notional(order, CTX.minus(CTX.multiply(qty, order.price)))

    def orders(self) -> list[LiveOrder]:
        return self.bids + self.asks

    def mark_price(self) -> Decimal | None:
        """Mid of the latest book (else the last trade, else the entry price; None with no price at all)."""
        top = self.top
        if top is not None:
            if top is not self._mark_of:  # computed once per book update, when first asked for
                self._mark_of, self._mark = top, CTX.divide(CTX.add(top.bid, top.ask), 2)
            return self._mark
        if self.last_trade is not None:
            return self.last_trade.price
        return self.entry_price if self.position_qty else None

    def _add_notional(self, order: LiveOrder, amount: Decimal) -> None:
        if order.reduce_only:
            return
        if order.side is Side.BUY:
            self.buy_notional = CTX.add(self.buy_notional, amount)
        else:
            self.sell_notional = CTX.add(self.sell_notional, amount)

    def _refresh_best(self, side: Side) -> None:
        if side is Side.BUY:
            self.best_bid = _head_price(self.bids, NO_BID)
        else:
            self.best_ask = _head_price(self.asks, NO_ASK)


def _head_price(orders: list[LiveOrder], empty: Decimal) -> Decimal:
    price = orders[0].price if orders else None
    return empty if price is None else price


def decimal_text(text: Any) -> Decimal:
    """A finite Decimal from its text as saved (a snapshot of the paper venue): anything else raises
    `TypeError` or `ValueError`."""
    if not isinstance(text, str):
        raise TypeError(f"expected decimal text, got {text!r}")
    try:
        value = Decimal(text)
    except InvalidOperation as e:
        raise ValueError(f"not a decimal: {text!r}") from e
    if not value.is_finite():
        raise ValueError(f"not a finite decimal: {text!r}")
    return value
