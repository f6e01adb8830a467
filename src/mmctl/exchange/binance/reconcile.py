"""The REST side of a user-stream reconciliation: ask the venue what the stream may have missed.

For every symbol with orders not settled on the stream, and every symbol this account has placed orders
on: the open orders (GET openOrders, weight 1), the final state of each pending order that left the book
(GET order, weight 1 each), and, only when the venue shows more filled than the stream delivered, the
user trades since the earliest such order (GET userTrades, weight 5; at most 7 days back, as Binance
allows). `OrderTracker.reconcile` turns that into the missed updates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from mmctl.errors import UnknownOrder
from mmctl.exchange.binance.convert import fill_from_trade
from mmctl.exchange.binance.tracker import OrderTracker
from mmctl.model import Fill, MarketRules, Order, OrderUpdate

TRADES_WINDOW_MS = 7 * 86_400_000 - 60_000
TRADE_PAGE = 1000
MAX_TRADE_PAGES = 10


class Venue(Protocol):
    """What a reconciliation needs from the exchange."""

    tracker: OrderTracker
    active_symbols: set[str]

    def market(self, symbol: str) -> MarketRules: ...

    def symbol_of(self, venue_id: str) -> str: ...

    async def open_orders(self, symbol: str | None = None) -> list[Order]: ...

    async def fetch_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order: ...

    async def call(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Any: ...


class Reconciler:
    def __init__(self, venue: Venue, venue_now_ms: Callable[[], int]) -> None:
        self.venue = venue
        self.venue_now_ms = venue_now_ms

    async def run(self) -> list[OrderUpdate]:
        """The updates the stream missed, for every symbol that may have some."""
        v = self.venue
        orders: list[Order] = []
        trades: list[Fill] = []
        for symbol in sorted(v.tracker.pending_symbols() | v.active_symbols):
            found = await self._orders(symbol)
            if v.tracker.needs_trades(found):
                trades += await self._trades(symbol, found)
            orders += found
        return v.tracker.reconcile(orders, trades)

    async def _orders(self, symbol: str) -> list[Order]:
        v = self.venue
        open_now = await v.open_orders(symbol)
        open_ids = {o.client_order_id for o in open_now}
        finals = []
        for pending in v.tracker.pending(symbol):
            if pending.client_order_id in open_ids:
                continue
            try:
                finals.append(await v.fetch_order(symbol, order_id=pending.id))
            except UnknownOrder:
                v.tracker.forget(pending.client_order_id)
        return open_now + finals

    async def _trades(self, symbol: str, orders: list[Order]) -> list[Fill]:
        v = self.venue
        behind = [o for o in orders if o.filled > v.tracker.emitted_filled(o.client_order_id)]
        client_ids = {o.id: o.client_order_id for o in orders}
        start = max(min(o.created_ms for o in behind) - 1000, self.venue_now_ms() - TRADES_WINDOW_MS)
        params: dict[str, Any] = {"symbol": v.market(symbol).id, "startTime": start, "limit": TRADE_PAGE}
        fills: list[Fill] = []
        for _ in range(MAX_TRADE_PAGES):
            rows = await v.call("fapiPrivateGetUserTrades", params)
            rows = rows if isinstance(rows, list) else []
            for row in rows:
                cid = client_ids.get(str(row.get("orderId")))
                if cid is not None:
                    fills.append(fill_from_trade(row, cid, v.symbol_of))
            if len(rows) < TRADE_PAGE:
                break
            params = {"symbol": params["symbol"], "fromId": int(rows[-1]["id"]) + 1, "limit": TRADE_PAGE}
        return fills


ReconcileFn = Callable[[], Awaitable[list[OrderUpdate]]]
