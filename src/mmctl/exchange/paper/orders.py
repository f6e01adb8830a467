"""The paper venue's order book-keeping: open orders by id and client id, and recently closed ones.

Client order ids are unique among open orders (as on Binance); a closed order stays findable by id or
by client id (the latest order that used it) until `max_closed` newer orders have closed.
"""

from __future__ import annotations

from collections import OrderedDict

from mmctl.errors import UnknownOrder
from mmctl.exchange.paper.state import LiveOrder

MAX_CLOSED_ORDERS = 10_000


class OrderStore:
    """Every order the venue knows, open or recently closed."""

    def __init__(self, max_closed: int = MAX_CLOSED_ORDERS) -> None:
        self.max_closed = max_closed
        self.open: dict[str, LiveOrder] = {}
        self.open_client_ids: dict[str, LiveOrder] = {}
        self._closed: OrderedDict[str, LiveOrder] = OrderedDict()
        self._closed_client_ids: dict[str, LiveOrder] = {}
        self.last_id = 0  # order ids are "1", "2", ...; never reused (a reset continues from here)
        self.closed_count = 0  # orders closed so far (the persistence finds the new ones by it)

    def next_id(self) -> str:
        self.last_id += 1
        return str(self.last_id)

    def next_seq(self) -> int:
        """A new time priority, later than every order's: drawn from the order-id sequence (that number
        is then never an order's id), so priorities stay ordered across saves and resets."""
        self.last_id += 1
        return self.last_id

    def add(self, order: LiveOrder) -> None:
        self.open[order.id] = order
        self.open_client_ids[order.client_order_id] = order

    def close(self, order: LiveOrder) -> None:
        """Move an order that reached a final state from the open to the closed set."""
        self.open.pop(order.id, None)
        if self.open_client_ids.get(order.client_order_id) is order:
            del self.open_client_ids[order.client_order_id]
        self._closed[order.id] = order
        self._closed_client_ids[order.client_order_id] = order
        self.closed_count += 1
        if len(self._closed) > self.max_closed:
            _, old = self._closed.popitem(last=False)
            if self._closed_client_ids.get(old.client_order_id) is old:
                del self._closed_client_ids[old.client_order_id]

    def closed_since(self, count: int) -> list[LiveOrder]:
        """The orders closed after the first `count` closures, oldest first (at most `max_closed`)."""
        n = min(self.closed_count - count, len(self._closed))
        if n <= 0:
            return []
        out = []
        for order in reversed(self._closed.values()):
            out.append(order)
            if len(out) >= n:
                break
        out.reverse()
        return out

    def restore_closed(self, orders: list[LiveOrder]) -> None:
        """Put back saved closed orders (oldest first) without counting them as new closures."""
        for order in orders[-self.max_closed :]:
            self._closed[order.id] = order
            self._closed_client_ids[order.client_order_id] = order

    def find_open(self, order_id: str | None, client_order_id: str | None) -> LiveOrder | None:
        if order_id is not None:
            return self.open.get(order_id)
        return self.open_client_ids.get(client_order_id) if client_order_id is not None else None

    def find(self, order_id: str | None, client_order_id: str | None) -> LiveOrder | None:
        """An open or recently closed order."""
        found = self.find_open(order_id, client_order_id)
        if found is not None:
            return found
        if order_id is not None:
            return self._closed.get(order_id)
        return self._closed_client_ids.get(client_order_id) if client_order_id is not None else None


def require_id(order_id: str | None, client_order_id: str | None) -> None:
    if order_id is None and client_order_id is None:
        raise UnknownOrder("give an order id or a client order id")


def unknown_order(symbol: str, order_id: str | None, client_order_id: str | None) -> UnknownOrder:
    what = f"id {order_id}" if order_id is not None else f"client order id {client_order_id!r}"
    return UnknownOrder(
        f"no such order on {symbol}: {what}", data={"order_id": order_id, "client_order_id": client_order_id}
    )
