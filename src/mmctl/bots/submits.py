"""Sending a bot's place requests with a record of each, and resolving ambiguous submits (issue 10 item 5).

`Submitter.place` records every request as `submitting` before it leaves (same loop turn, no await in
between), then the venue's answer for each order: accepted → the venue's order (id, status); rejected →
`rejected` with the reason as detail.

A request that failed without an answer (a timeout, a dropped connection, a per-order error that says
nothing about whether the order was placed, or the caller cancelled while it was in flight) may or may
not have placed its orders: their client ids stay in `unresolved` until `resolve(cid)` looks each one up
on the venue (`fetch_order`, in the caller's request class: a query while quoting, safety inside a stop
or pause). Found → the venue's order, recorded with its real status, for the caller to adopt; unknown →
recorded as never placed (status `rejected`, detail `NEVER_PLACED`) and forgotten, so its level is free
again. The quoter resolves every unresolved id before it sends anything else.

Failures that prove nothing was placed are recorded `rejected` at once with the error as detail: the
venue refused the whole request (`OrderRejected`, e.g. a batch too large), a rate limit or mmctl's own
budget (`RateLimited`, `BudgetExhausted`), an authentication error, a clock-skew refusal.

Amends (`Submitter.amend`) follow the same rule. The venue's state of each amended order is recorded (an
order snapshot: the store keeps every status change, a cancel by the amend included); a rejected amend
changed nothing and records nothing. An amend without an answer may or may not have changed its order:
its client id stays in `unresolved_amends` until `resolve_amend(cid)` fetches the order (found → its
real state, recorded; unknown → the order is gone, None). `pending` is true while either kind waits.
"""

from __future__ import annotations

from collections.abc import Sequence

from mmctl.bots.events import EventLog
from mmctl.bots.recorder import Recorder
from mmctl.clock import Clock, now_ms
from mmctl.errors import AuthError, ClockSkew, OrderRejected, RateLimited, UnknownOrder
from mmctl.exchange.base import Exchange
from mmctl.model import ZERO, Amend, AmendResult, Order, OrderRequest, OrderStatus, PlaceResult

NEVER_PLACED = "not on the venue after an ambiguous submit: never placed"
FOUND = "found on the venue after an ambiguous submit"
AMENDED = "amended"
CANCELLED_BY_AMEND = "cancelled by the venue instead of amended"
AMEND_FOUND = "found on the venue after an ambiguous amend"
REFUSED = (OrderRejected, RateLimited, AuthError, ClockSkew)  # nothing of the request was placed


class Submitter:
    def __init__(
        self, bot: str, account: str, exchange: Exchange, clock: Clock, recorder: Recorder, events: EventLog
    ) -> None:
        self.bot = bot
        self.account = account
        self.exchange = exchange
        self.clock = clock
        self.recorder = recorder
        self.events = events
        self.unresolved: dict[str, OrderRequest] = {}  # client id → request, oldest first
        self.unresolved_amends: dict[str, tuple[str, Amend]] = {}  # client id → (symbol, amend)

    @property
    def pending(self) -> bool:
        """Some place or amend awaits its lookup on the venue."""
        return bool(self.unresolved) or bool(self.unresolved_amends)

    async def place(self, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
        """Record and place one batch; returns the venue's results (recorded). Raises what `place_orders`
        raises, after marking the batch unresolved (or, when nothing can have been placed, rejected)."""
        self.recorder.submitting(self.bot, self.account, requests)
        try:
            results = await self.exchange.place_orders(requests)
        except BaseException as e:  # a cancelled tick too: noted for the record, then re-raised as is
            refused = isinstance(e, REFUSED)
            for request in requests:
                if refused:
                    self._never_placed(request, f"request refused: {e}")
                else:
                    self.unresolved[request.client_order_id] = request
            raise
        for res in results:
            if res.order is not None:
                self.recorder.order(self.bot, self.account, res.order)
            elif isinstance(res.error, OrderRejected):
                self._never_placed(res.request, str(res.error))
            else:  # no verdict for this order
                self.unresolved[res.request.client_order_id] = res.request
        return results

    async def amend(self, symbol: str, amends: Sequence[Amend]) -> list[AmendResult]:
        """Amend one batch; returns the venue's results (each resulting order state recorded). Raises what
        `amend_orders` raises, after marking the batch unresolved unless nothing can have changed."""
        try:
            results = await self.exchange.amend_orders(symbol, amends)
        except BaseException as e:  # a cancelled tick too
            if not isinstance(e, REFUSED):
                for amend in amends:
                    self.unresolved_amends[amend.client_order_id] = (symbol, amend)
            raise
        for res in results:
            if res.order is not None:
                detail = CANCELLED_BY_AMEND if res.cancelled_by_amend else AMENDED
                self.recorder.order(self.bot, self.account, res.order, detail)
            elif not isinstance(res.error, (OrderRejected, UnknownOrder)):  # no verdict for this one
                self.unresolved_amends[res.client_order_id] = (symbol, res.amend)
        return results

    async def resolve_amend(self, client_order_id: str) -> Order | None:
        """Look up an order whose amend went unanswered: its state now if found (recorded), None if the
        venue no longer knows it. Other errors propagate and the amend stays unresolved."""
        symbol, amend = self.unresolved_amends[client_order_id]
        try:
            order = await self.exchange.fetch_order(symbol, client_order_id=client_order_id)
        except UnknownOrder:
            del self.unresolved_amends[client_order_id]
            self._amend_event(amend, "the venue no longer has the order")
            return None
        del self.unresolved_amends[client_order_id]
        self.recorder.order(self.bot, self.account, order, AMEND_FOUND)
        applied = order.price == amend.price and order.qty == amend.qty
        self._amend_event(
            amend,
            f"found {order.status.value} at {order.qty} @ {order.price} "
            f"({'amended' if applied else 'not amended'}), filled {order.filled}",
        )
        return order

    async def resolve(self, client_order_id: str) -> Order | None:
        """Look an unresolved order up on the venue: its order if found (recorded), else None (recorded as
        never placed). Other errors propagate and the order stays unresolved."""
        request = self.unresolved[client_order_id]
        try:
            order = await self.exchange.fetch_order(request.symbol, client_order_id=client_order_id)
        except UnknownOrder:
            del self.unresolved[client_order_id]
            self._never_placed(request, NEVER_PLACED)
            self._event(request, "not placed: the venue has no such order")
            return None
        del self.unresolved[client_order_id]
        self.recorder.order(self.bot, self.account, order, FOUND)
        self._event(request, f"found {order.status.value}, filled {order.filled}")
        return order

    def _never_placed(self, request: OrderRequest, detail: str) -> None:
        now = now_ms(self.clock)
        order = Order(
            "",  # no venue id: the venue never took it (see mmctl.bots.recorder)
            request.client_order_id,
            request.symbol,
            request.side,
            request.type,
            request.price,
            request.qty,
            ZERO,
            None,
            OrderStatus.REJECTED,
            request.post_only,
            request.reduce_only,
            now,
            now,
        )
        self.recorder.order(self.bot, self.account, order, detail)

    def _event(self, request: OrderRequest, outcome: str) -> None:
        self.events.add(
            self.bot,
            "order",
            f"ambiguous submit of {request.client_order_id} resolved: {outcome}",
            client_order_id=request.client_order_id,
            side=request.side.value,
            qty=str(request.qty),
            price=None if request.price is None else str(request.price),
        )

    def _amend_event(self, amend: Amend, outcome: str) -> None:
        self.events.add(
            self.bot,
            "order",
            f"ambiguous amend of {amend.client_order_id} resolved: {outcome}",
            client_order_id=amend.client_order_id,
            side=amend.side.value,
            qty=str(amend.qty),
            price=str(amend.price),
        )
