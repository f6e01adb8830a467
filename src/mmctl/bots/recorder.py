"""What the bot runtime tells the store: every order it sends (before it leaves), every state the venue
reports for an order of the account, and every fill booked.

`Recorder` is the application's view of recording; `StoreRecorder` puts it on the `Store` port (only
queued writes, `Store.submit_nowait`: a tick never awaits the disk), `NullRecorder` records nothing
(tests and benches without a store).

Rules `StoreRecorder` follows:
- `submitting` queues one `OrderSubmitting` per request; the caller calls it before the place request
  leaves, in the same loop turn. On a failed store it raises `StoreError`, so nothing is sent unrecorded.
- `order` queues the venue's view of an order (`OrderSnapshot`). An order without a venue id is one the
  venue never took (a rejected placement, an ambiguous submit the venue has no record of): it is recorded
  as a status change of its `submitting` row, with `detail` saying why.
- `fill` queues the fill (the store keeps it once per account, symbol and trade id).
- `order` and `fill` never raise `StoreError`: they report outcomes of requests already made (a cancel
  must go on whatever the store says), and a failed store already stops the bots (`Store.on_failure`).
  What they could not queue is counted in `dropped`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from mmctl.clock import Clock, now_ms
from mmctl.errors import StoreError
from mmctl.model import Fill, Order, OrderRequest
from mmctl.store.base import Store
from mmctl.store.records import NewFill, OrderSnapshot, OrderStatusChange, OrderSubmitting

__all__ = ["NULL_RECORDER", "NullRecorder", "Recorder", "StoreRecorder"]


class Recorder(Protocol):
    def submitting(self, bot: str, account: str, requests: Sequence[OrderRequest]) -> None:
        """Queue each request as `submitting`; called before the place request leaves."""
        ...

    def order(self, bot: str | None, account: str, order: Order, detail: str = "") -> None:
        """Queue the venue's view of an order (`bot` None: no running bot owns it)."""
        ...

    def fill(self, bot: str | None, account: str, fill: Fill) -> None:
        """Queue a fill (recorded once per trade id)."""
        ...

    async def durable(self) -> None:
        """Return once everything recorded so far is committed."""
        ...

    async def bot_fills(self, bot: str) -> list[Fill]:
        """Every recorded fill of `bot` (queued ones included), oldest first."""
        ...


class StoreRecorder(Recorder):
    """Records on a `Store` (see the module docstring for the rules)."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.dropped = 0  # order states and fills that a failed store could not take

    def submitting(self, bot: str, account: str, requests: Sequence[OrderRequest]) -> None:
        ts = now_ms(self.clock)
        for request in requests:
            self.store.submit_nowait(OrderSubmitting(bot, account, request, ts))

    def order(self, bot: str | None, account: str, order: Order, detail: str = "") -> None:
        if order.id:
            op: OrderSnapshot | OrderStatusChange = OrderSnapshot(bot, account, order, detail)
        else:
            op = OrderStatusChange(order.client_order_id, order.status.value, now_ms(self.clock), detail)
        try:
            self.store.submit_nowait(op)
        except StoreError:
            self.dropped += 1

    def fill(self, bot: str | None, account: str, fill: Fill) -> None:
        try:
            self.store.submit_nowait(NewFill(account, bot, fill))
        except StoreError:
            self.dropped += 1

    async def durable(self) -> None:
        await self.store.flush()

    async def bot_fills(self, bot: str) -> list[Fill]:
        await self.store.flush()  # what is queued is recorded too
        rows = await self.store.read(lambda r: r.fills(bot=bot, limit=None))
        return [row.fill for row in rows]


class NullRecorder(Recorder):
    """Records nothing."""

    def submitting(self, bot: str, account: str, requests: Sequence[OrderRequest]) -> None:
        return None

    def order(self, bot: str | None, account: str, order: Order, detail: str = "") -> None:
        return None

    def fill(self, bot: str | None, account: str, fill: Fill) -> None:
        return None

    async def durable(self) -> None:
        return None

    async def bot_fills(self, bot: str) -> list[Fill]:
        return []


NULL_RECORDER = NullRecorder()
"""The shared do-nothing recorder (it has no state)."""
