"""What the account's order stream has told its subscribers, and what it missed: no fill lost or doubled.

Binance's user data stream can drop or go silent; REST answers can race ahead of it. `OrderTracker` keeps,
per client order id, the last order state emitted to subscribers, the fills emitted (by trade id) and the
freshest state seen anywhere (REST answers included). From it:

- `on_event(order, fill)` filters a stream event: a fill already emitted (e.g. recovered by a
  reconciliation just before the stream delivered it late) is dropped, and so is a state older than the
  one already delivered;
- `pending_symbols()` lists the symbols with orders not yet settled on the stream (open, or with fills
  the stream has not delivered), i.e. what a reconciliation must look at;
- `reconcile(symbol, venue_orders, trades)` turns the venue's REST truth (open orders, the final state of
  orders that left the book, and user trades) into the updates the stream should have delivered: each
  missed fill with the order's cumulative state at that fill, then any status change without a fill
  (cancelled, expired, amended, or an order nobody announced, e.g. after an ambiguous submit).

Pure (no I/O); bounded memory: settled orders and old trade ids are forgotten oldest first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from mmctl.exchange.rules import EXACT
from mmctl.model import ZERO, Fill, Order, OrderStatus, OrderUpdate

MAX_SETTLED = 5_000
MAX_TRADE_IDS = 50_000


@dataclass(slots=True)
class _Tracked:
    known: Order  # freshest state seen anywhere
    emitted: Order | None = None  # last state delivered to subscribers
    filled_emitted: Decimal = ZERO  # sum of the fills delivered

    @property
    def settled(self) -> bool:
        """The stream delivered the order's final state and all its fills."""
        e = self.emitted
        return (
            e is not None
            and not e.status.is_open
            and not self.known.status.is_open
            and self.filled_emitted == self.known.filled
        )


class OrderTracker:
    """Emitted state per client order id (see the module docstring)."""

    def __init__(self, max_settled: int = MAX_SETTLED, max_trade_ids: int = MAX_TRADE_IDS) -> None:
        self.max_settled = max_settled
        self.max_trade_ids = max_trade_ids
        self._orders: dict[str, _Tracked] = {}
        self._settled: OrderedDict[str, None] = OrderedDict()
        self._trades: OrderedDict[tuple[str, str], None] = OrderedDict()
        self.last_event_ms = 0
        self.recovered_fills = 0
        self.recovered_changes = 0

    # --- inputs ---------------------------------------------------------------------------------------

    def on_event(self, order: Order, fill: Fill | None) -> OrderUpdate | None:
        """A stream event; returns the update to deliver, or None for a fill already delivered."""
        self.last_event_ms = max(self.last_event_ms, order.updated_ms)
        if fill is not None and not self._new_trade(fill):
            self._see(order)
            return None
        t = self._see(order)
        last = t.emitted
        if fill is None and last is not None and last.id == order.id and not _fresher(order, last):
            return None  # older than what a reconciliation already delivered (e.g. NEW after FILLED)
        if fill is not None:
            t.filled_emitted = EXACT.add(t.filled_emitted, fill.qty)
        return self._emit(t, OrderUpdate(order, fill))

    def on_rest(self, order: Order) -> None:
        """An order state from a REST answer (placed, cancelled, fetched): tracked, not delivered."""
        self._see(order)

    def forget(self, client_order_id: str) -> None:
        """Stop tracking an order the venue no longer knows (too old to query)."""
        self._orders.pop(client_order_id, None)
        self._settled.pop(client_order_id, None)

    # --- queries --------------------------------------------------------------------------------------

    def pending(self, symbol: str | None = None) -> list[Order]:
        """Orders not settled on the stream (freshest known state), optionally for one symbol."""
        return [
            t.known
            for t in self._orders.values()
            if not t.settled and (symbol is None or t.known.symbol == symbol)
        ]

    def known(self, client_order_id: str) -> Order | None:
        """The freshest state seen of the order with this client id, if tracked."""
        t = self._orders.get(client_order_id)
        return t.known if t is not None else None

    def pending_symbols(self) -> set[str]:
        return {o.symbol for o in self.pending()}

    def emitted_filled(self, client_order_id: str) -> Decimal:
        t = self._orders.get(client_order_id)
        return t.filled_emitted if t is not None else ZERO

    def needs_trades(self, venue_orders: Iterable[Order]) -> bool:
        """True when the venue shows more filled than the stream delivered for any of these orders."""
        return any(o.filled > self.emitted_filled(o.client_order_id) for o in venue_orders)

    # --- reconciliation -------------------------------------------------------------------------------

    def reconcile(self, venue_orders: Iterable[Order], trades: Iterable[Fill]) -> list[OrderUpdate]:
        """The updates the stream missed, given the venue's state of some orders and the account's
        trades over a window covering the gap (trades of other orders are ignored)."""
        by_order: dict[str, list[Fill]] = {}
        for f in sorted(trades, key=lambda f: (f.ts_ms, _trade_key(f.trade_id))):
            by_order.setdefault(f.order_id, []).append(f)
        out: list[OrderUpdate] = []
        for venue in venue_orders:
            t = self._see(venue)
            cumulative = t.filled_emitted
            for fill in by_order.get(venue.id, ()):
                if not self._new_trade(replace(fill, client_order_id=venue.client_order_id)):
                    continue
                cumulative = EXACT.add(cumulative, fill.qty)
                t.filled_emitted = cumulative
                at_fill = _state_at(venue, cumulative, fill.ts_ms)
                fill = replace(fill, client_order_id=venue.client_order_id, symbol=venue.symbol)
                self.recovered_fills += 1
                out.append(self._emit(t, OrderUpdate(at_fill, fill)))
            last = t.emitted
            changed = (
                last is None
                or last.status != venue.status
                or last.filled != venue.filled
                or (last.price, last.qty) != (venue.price, venue.qty)  # an amend the stream missed
            )
            if changed and (last is None or _fresher(venue, last)):
                self.recovered_changes += 1
                out.append(self._emit(t, OrderUpdate(venue)))
        return out

    # --- machinery ------------------------------------------------------------------------------------

    def _see(self, order: Order) -> _Tracked:
        t = self._orders.get(order.client_order_id)
        if t is None or (t.known.id != order.id and order.updated_ms >= t.known.updated_ms):
            t = _Tracked(order)  # a new order (a client id is reused only after the old one closed)
            self._orders[order.client_order_id] = t
            self._settled.pop(order.client_order_id, None)
        elif t.known.id == order.id and _fresher(order, t.known):
            t.known = order
        return t

    def _emit(self, t: _Tracked, update: OrderUpdate) -> OrderUpdate:
        t.emitted = update.order
        cid = update.order.client_order_id
        if t.settled:
            self._settled[cid] = None
            while len(self._settled) > self.max_settled:
                old, _ = self._settled.popitem(last=False)
                self._orders.pop(old, None)
        return update

    def _new_trade(self, fill: Fill) -> bool:
        key = (fill.order_id, fill.trade_id)
        if key in self._trades:
            return False
        self._trades[key] = None
        while len(self._trades) > self.max_trade_ids:
            self._trades.popitem(last=False)
        return True


def _fresher(new: Order, old: Order) -> bool:
    """Whether `new` is a later state of the same order than `old` (fills and closes only go forward)."""
    if new.filled != old.filled:
        return new.filled > old.filled
    if old.status.is_open != new.status.is_open:
        return not new.status.is_open
    return new.updated_ms >= old.updated_ms


def _state_at(venue: Order, filled: Decimal, ts_ms: int) -> Order:
    """The order as it stood right after the fill that brought it to `filled`."""
    status = venue.status if filled == venue.filled else OrderStatus.PARTIALLY_FILLED
    return replace(venue, filled=filled, status=status, updated_ms=ts_ms)


def _trade_key(trade_id: str) -> tuple[int, str]:
    return (int(trade_id), "") if trade_id.isdigit() else (0, trade_id)
