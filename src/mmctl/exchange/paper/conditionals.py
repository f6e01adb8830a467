"""Conditional orders on the paper venue (stop-loss, take-profit, trailing stop), as Binance's Algo
Service holds them (rules and lifecycle: `mmctl.exchange.conditional`).

Each symbol keeps its open conditionals in `SymbolState.conditionals`; the venue hands this engine a
book's mark price (the mid) or a public trade's price only when that dict is non-empty, so a symbol
without conditionals pays one truth test per event. A MARK_PRICE conditional is checked on every book,
a CONTRACT_PRICE one on every trade. A due conditional leaves the open set and becomes a market order
placed through the venue's own order path (`PaperVenue.place`: taker at the opposite top, reduce-only
clamped to the position, the venue's rejections), with the conditional's client id; a reduce-only or
close-position one that finds nothing to reduce expires instead. Events go to the listeners registered
with `add_listener` and move `venue.revision` (the persistence saves them); a trailing stop's reference
price moving does not (the periodic clock save carries it).

Ids are "1", "2", ... of their own sequence (Binance's algoId is not an order id); a reset continues it.
`to_doc` / `from_doc` are the saved form (`mmctl.exchange.paper.snapshot`): decimal text, never floats.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mmctl.errors import FilterRejected, MmctlError, OrderRejected, UnknownOrder
from mmctl.exchange.conditional import (
    MAX_OPEN_CONDITIONALS,
    ConditionalKind,
    ConditionalOrder,
    ConditionalRequest,
    ConditionalStatus,
    WorkingType,
    check_request,
    condition_met,
    immediate_trigger,
    trail_activates,
    trail_best,
    trail_triggered,
)
from mmctl.exchange.paper.state import SymbolState, decimal_text
from mmctl.model import OrderRequest, OrderType, Side
from mmctl.pnl.position import reducible_qty

if TYPE_CHECKING:
    from mmctl.exchange.paper.venue import PaperVenue

ConditionalListener = Callable[[ConditionalOrder], None]


class LiveConditional:
    """The venue's working record of one conditional order (callers see `ConditionalOrder` snapshots).
    `best` is a trailing stop's reference price once it is active (None before)."""

    __slots__ = (
        "activate_price",
        "best",
        "callback_rate",
        "client_id",
        "close_position",
        "created_ms",
        "id",
        "kind",
        "order_id",
        "qty",
        "reason",
        "reduce_only",
        "side",
        "status",
        "symbol",
        "trigger_price",
        "updated_ms",
        "working_type",
    )

    def __init__(self, cond_id: str, req: ConditionalRequest, symbol: str, ts_ms: int) -> None:
        self.id = cond_id
        self.client_id = req.client_id
        self.symbol = symbol
        self.side = req.side
        self.kind = req.kind
        self.trigger_price = req.trigger_price
        self.callback_rate = req.callback_rate
        self.activate_price = req.activate_price
        self.qty = req.qty
        self.close_position = req.close_position
        self.reduce_only = req.reduces
        self.working_type = req.working_type
        self.status = ConditionalStatus.NEW
        self.created_ms = ts_ms
        self.updated_ms = ts_ms
        self.order_id: str | None = None
        self.reason = ""
        self.best: Decimal | None = None

    def snapshot(self) -> ConditionalOrder:
        return ConditionalOrder(
            id=self.id,
            client_id=self.client_id,
            symbol=self.symbol,
            side=self.side,
            kind=self.kind,
            status=self.status,
            trigger_price=self.trigger_price,
            callback_rate=self.callback_rate,
            activate_price=self.activate_price,
            qty=self.qty,
            close_position=self.close_position,
            reduce_only=self.reduce_only,
            working_type=self.working_type,
            created_ms=self.created_ms,
            updated_ms=self.updated_ms,
            order_id=self.order_id,
            order_client_id=self.client_id if self.order_id is not None else None,
            reason=self.reason,
        )

    def to_doc(self) -> dict[str, Any]:
        """The saved form of an open conditional."""
        return {
            "id": self.id,
            "client_id": self.client_id,
            "symbol": self.symbol,
            "side": self.side.value,
            "kind": self.kind.value,
            "trigger_price": _text(self.trigger_price),
            "callback_rate": _text(self.callback_rate),
            "activate_price": _text(self.activate_price),
            "qty": _text(self.qty),
            "close_position": self.close_position,
            "reduce_only": self.reduce_only,
            "working_type": self.working_type.value,
            "created_ms": self.created_ms,
            "updated_ms": self.updated_ms,
            "best": _text(self.best),
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> LiveConditional:
        req = ConditionalRequest(
            symbol=str(doc["symbol"]),
            side=Side(doc["side"]),
            kind=ConditionalKind(doc["kind"]),
            trigger_price=_decimal(doc["trigger_price"]),
            callback_rate=_decimal(doc["callback_rate"]),
            activate_price=_decimal(doc["activate_price"]),
            qty=_decimal(doc["qty"]),
            close_position=bool(doc["close_position"]),
            reduce_only=bool(doc["reduce_only"]),
            working_type=WorkingType(doc["working_type"]),
            client_id=str(doc["client_id"]),
        )
        cond = cls(str(doc["id"]), req, req.symbol, int(doc["created_ms"]))
        cond.updated_ms = int(doc["updated_ms"])
        cond.best = _decimal(doc["best"])
        return cond


class PaperConditionals:
    """Every open conditional order of one paper account, and their triggering (see the module doc)."""

    def __init__(self, venue: PaperVenue) -> None:
        self.venue = venue
        self.open: dict[str, LiveConditional] = {}  # by client id, every symbol, oldest first
        self.last_id = 0
        self._listeners: list[ConditionalListener] = []

    def add_listener(self, listener: ConditionalListener) -> None:
        """Call `listener` with every conditional event, in order (it must only record or queue)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: ConditionalListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # --- entry --------------------------------------------------------------------------------------

    def place(self, req: ConditionalRequest) -> ConditionalOrder:
        """Validate and hold one conditional order; returns it NEW."""
        st = self.venue.state(req.symbol) if isinstance(req, ConditionalRequest) else None
        if st is None:
            raise FilterRejected(f"expected a ConditionalRequest, got {type(req).__name__}")
        check_request(req, st.rules)
        if req.client_id in self.open:
            raise OrderRejected(
                f"client id {req.client_id!r} is already used by an open conditional order (Binance -4116)",
                data={"field": "client_id", "client_id": req.client_id},
            )
        if len(self.open) >= MAX_OPEN_CONDITIONALS:
            raise FilterRejected(
                f"the account already has the maximum of {MAX_OPEN_CONDITIONALS} open conditional orders",
                data={"field": "max_open_conditionals"},
            )
        price = working_price(st, req.working_type)
        refused = immediate_trigger(req, price)
        if refused is not None:
            raise refused
        self.last_id += 1
        cond = LiveConditional(str(self.last_id), req, st.symbol, self.venue.now_ms)
        trailing = req.kind is ConditionalKind.TRAILING_STOP_MARKET
        if trailing and price is not None and trail_activates(cond.side, cond.activate_price, price):
            cond.best = price  # active from placement: tracks from the price now
        self._hold(st, cond)
        self._emit(cond)
        return cond.snapshot()

    def cancel(self, symbol: str, client_id: str) -> ConditionalOrder:
        st = self.venue.state(symbol)
        cond = st.conditionals.get(client_id) if isinstance(client_id, str) else None
        if cond is None:
            raise UnknownOrder(
                f"no open conditional order on {st.symbol} with client id {client_id!r}",
                data={"client_id": client_id},
            )
        self._end(st, cond, ConditionalStatus.CANCELED)
        return cond.snapshot()

    def cancel_all(self, symbol: str) -> list[ConditionalOrder]:
        st = self.venue.state(symbol)
        out = []
        for cond in list(st.conditionals.values()):
            self._end(st, cond, ConditionalStatus.CANCELED)
            out.append(cond.snapshot())
        return out

    def open_orders(self, symbol: str | None = None) -> list[ConditionalOrder]:
        unified = self.venue.state(symbol).symbol if symbol is not None else None
        return [c.snapshot() for c in self.open.values() if unified is None or c.symbol == unified]

    def restore(self, docs: Iterable[Mapping[str, Any]], last_id: int) -> None:
        """Put back saved open conditionals (silently: they were announced before the save)."""
        self.last_id = last_id
        for doc in docs:
            cond = LiveConditional.from_doc(doc)
            self._hold(self.venue.state(cond.symbol), cond)

    # --- triggering (the venue calls this only when `st.conditionals` is non-empty) ------------------

    def on_price(self, st: SymbolState, working_type: WorkingType, price: Decimal | None) -> None:
        """A new working price for `st`'s conditionals of `working_type`: trigger those it reaches."""
        if price is None:
            return
        due = [c for c in st.conditionals.values() if c.working_type is working_type and _reached(c, price)]
        for cond in due:
            if cond.status is ConditionalStatus.NEW:  # a guard: listeners cannot call back to end it
                self._trigger(st, cond)

    def _trigger(self, st: SymbolState, cond: LiveConditional) -> None:
        self._release(st, cond)
        reducible = reducible_qty(st.position_qty, cond.side)
        if cond.reduce_only and reducible == 0:
            self._finish(cond, ConditionalStatus.EXPIRED, "nothing to reduce when it triggered")
            return
        qty = reducible if cond.close_position else cond.qty
        assert qty is not None
        req = OrderRequest(
            st.symbol,
            cond.side,
            qty,
            None,
            cond.client_id,
            type=OrderType.MARKET,
            reduce_only=cond.reduce_only,
        )
        try:
            order = self.venue.place(req)
        except MmctlError as e:
            self._finish(cond, ConditionalStatus.REJECTED, e.message)
            return
        cond.order_id = order.id
        self._finish(cond, ConditionalStatus.TRIGGERED)
        self._finish(cond, ConditionalStatus.FINISHED)  # a market order is done once placed

    # --- machinery ----------------------------------------------------------------------------------

    def _hold(self, st: SymbolState, cond: LiveConditional) -> None:
        st.conditionals[cond.client_id] = cond
        self.open[cond.client_id] = cond

    def _release(self, st: SymbolState, cond: LiveConditional) -> None:
        st.conditionals.pop(cond.client_id, None)
        self.open.pop(cond.client_id, None)

    def _end(self, st: SymbolState, cond: LiveConditional, status: ConditionalStatus) -> None:
        self._release(st, cond)
        self._finish(cond, status)

    def _finish(self, cond: LiveConditional, status: ConditionalStatus, reason: str = "") -> None:
        cond.status = status
        cond.updated_ms = self.venue.now_ms
        if reason:
            cond.reason = reason
        self._emit(cond)

    def _emit(self, cond: LiveConditional) -> None:
        self.venue.revision += 1
        if self._listeners:
            snap = cond.snapshot()
            for listener in self._listeners:
                listener(snap)


def working_price(st: SymbolState, working_type: WorkingType) -> Decimal | None:
    """The price a conditional of `working_type` watches on `st`: the mark (the book's mid, else the last
    trade), or the last trade's price (None before any)."""
    if working_type is WorkingType.MARK_PRICE:
        return st.mark_price()
    return st.last_trade.price if st.last_trade is not None else None


def _reached(cond: LiveConditional, price: Decimal) -> bool:
    """Whether `price` triggers `cond`; moves a trailing stop's activation and reference on the way."""
    if cond.kind is not ConditionalKind.TRAILING_STOP_MARKET:
        assert cond.trigger_price is not None
        return condition_met(cond.kind, cond.side, cond.trigger_price, price)
    best = cond.best
    if best is None:
        if trail_activates(cond.side, cond.activate_price, price):
            cond.best = price
        return False
    assert cond.callback_rate is not None
    if trail_triggered(cond.side, best, cond.callback_rate, price):
        return True
    cond.best = trail_best(cond.side, best, price)
    return False


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(text: Any) -> Decimal | None:
    return None if text is None else decimal_text(text)
