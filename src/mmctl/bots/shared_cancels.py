"""The safety requests of many bots on one account and symbol, joined: what a mass stop, pause or
cancel-all costs the venue.

When 400 bots stop at once, each cancelling its handful of orders and then listing the symbol's open
orders (and its held exits) to confirm, in requests of its own, the stop costs hundreds of requests from
the safety share of a request budget that busy quoting may have filled to the brim, and waits for the
window to free that much. Bots reach these requests a few loop turns apart, so joining only the callers
of one loop turn is not enough: a joined request takes joiners until it actually leaves for the venue.
With a request budget (`budgeted`) that is when the budget admits it (`mmctl.exchange.priority.on_send`:
SAFETY goes first but may still wait for the window); with none, when its task starts (the loop turn
after the first caller asked). A request that has left never takes another id: a later caller starts a
new one.

- `SharedCancels.cancel(symbol, ids)` puts the ids into the symbol's batch that has not left yet (at
  most `MAX_CANCEL_BATCH`, Binance's `DELETE batchOrders`; a full batch is followed by a new one) and
  hands each caller the results for its own ids, in its order. A batch that fails raises its error in
  every caller with an id in it; a caller that is cancelled stops waiting, its ids are still cancelled.
  Only the stop paths use it; a running bot's own re-quote cancels go out at once.
- `FreshQuery(fetch)(symbol)`: a SAFETY-class query (the symbol's open orders, its open conditional
  orders) answered by a request sent after the call: every caller joins the symbol's request that has
  not left yet instead of sending its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from mmctl.exchange.base import MAX_CANCEL_BATCH, Exchange
from mmctl.exchange.priority import Priority, on_send, request_class
from mmctl.model import CancelResult

T = TypeVar("T")


@contextmanager
def until_sent(budgeted: bool, leaving: Callable[[], None]) -> Iterator[None]:
    """Run `leaving` when the request made inside this block leaves for the venue: once its request
    budget admits it (`budgeted`), else at once. `leaving` may run twice: it must be idempotent."""
    if not budgeted:
        leaving()
    with on_send(leaving):
        yield


def _retrieve(task: asyncio.Task[object]) -> None:
    """A joined request's error is its callers' to raise; with every caller gone, nobody's."""
    if not task.cancelled():
        task.exception()


class FreshQuery(Generic[T]):
    """One SAFETY-class query per symbol, joined by every caller until it leaves (see the module
    docstring): `fetch(symbol)` asks the venue, `requests` counts the requests made."""

    def __init__(self, fetch: Callable[[str], Awaitable[list[T]]], *, budgeted: bool) -> None:
        self._fetch = fetch
        self.budgeted = budgeted
        self._joinable: dict[str, asyncio.Task[list[T]]] = {}  # symbol -> its request that has not left
        self.requests = 0

    async def __call__(self, symbol: str) -> list[T]:
        """The answer of a request sent after this call (joined with other callers'); raises its error."""
        task = self._joinable.get(symbol)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._send(symbol))
            task.add_done_callback(_retrieve)
            self._joinable[symbol] = task
        return list(await asyncio.shield(task))

    async def _send(self, symbol: str) -> list[T]:
        me = asyncio.current_task()

        def leaving() -> None:  # from here on, a newcomer's moment is after this request: it sends its own
            if self._joinable.get(symbol) is me:
                del self._joinable[symbol]

        try:
            with request_class(Priority.SAFETY), until_sent(self.budgeted, leaving):
                self.requests += 1
                return await self._fetch(symbol)
        finally:
            leaving()  # answered, or failed before it could leave: nobody joins it any more


@dataclass(slots=True, eq=False)
class _Batch:
    """One cancel request: `ids` is what it cancels, appended to until it leaves, never after."""

    ids: list[str] = field(default_factory=list)
    task: asyncio.Task[list[CancelResult]] | None = None
    left: bool = False


class SharedCancels:
    """One account's cancels, joined per symbol across callers (see the module docstring)."""

    def __init__(self, exchange: Exchange, *, budgeted: bool = False) -> None:
        self.exchange = exchange
        self.budgeted = budgeted  # requests wait for a request budget before they leave (on_send)
        self._waiting: dict[str, dict[str, _Batch]] = {}  # symbol -> id -> its batch that has not left
        self._filling: dict[str, _Batch] = {}  # symbol -> its batch that has not left and has room
        self.requests = 0  # cancel requests sent (for tests and health)

    async def cancel(self, symbol: str, client_ids: Sequence[str]) -> list[CancelResult]:
        """Cancel these orders of `symbol` together with other callers' whose requests have not left
        yet; the results for `client_ids`, in their order. Raises the error of a batch holding one."""
        mine = list(dict.fromkeys(client_ids))
        if not mine:
            return []
        tasks = [self._join(symbol, cid) for cid in mine]
        await asyncio.wait(set(tasks))  # a caller cancelled here stops waiting; the requests go on
        by_id: dict[str, CancelResult] = {}
        for task in dict.fromkeys(tasks):  # in the order of the caller's ids: its first failure raises
            by_id.update((r.client_order_id, r) for r in task.result())
        return [by_id[cid] for cid in mine if cid in by_id]

    def _join(self, symbol: str, cid: str) -> asyncio.Task[list[CancelResult]]:
        """The request that cancels `cid`: one that has not left yet, else the symbol's filling batch."""
        waiting = self._waiting.setdefault(symbol, {})
        batch = waiting.get(cid)
        if batch is None:
            batch = self._filling.get(symbol)
            if batch is None:
                batch = self._filling[symbol] = self._start(symbol)
            batch.ids.append(cid)
            waiting[cid] = batch
            if len(batch.ids) >= MAX_CANCEL_BATCH:
                del self._filling[symbol]
        assert batch.task is not None
        return batch.task

    def _start(self, symbol: str) -> _Batch:
        batch = _Batch()
        # the task first runs at a later loop turn: the ids asked in this turn are in the batch by then
        batch.task = asyncio.get_running_loop().create_task(self._send(symbol, batch))
        batch.task.add_done_callback(_retrieve)
        return batch

    async def _send(self, symbol: str, batch: _Batch) -> list[CancelResult]:
        def leaving() -> None:  # the request reads `batch.ids` now: nobody may add to it any more
            if batch.left:
                return
            batch.left = True
            if self._filling.get(symbol) is batch:
                del self._filling[symbol]
            waiting = self._waiting.get(symbol, {})
            for cid in batch.ids:
                if waiting.get(cid) is batch:
                    del waiting[cid]
            if not waiting:
                self._waiting.pop(symbol, None)

        try:
            with until_sent(self.budgeted, leaving):
                self.requests += 1
                return await self.exchange.cancel_orders(symbol, batch.ids)
        finally:
            leaving()  # answered, or failed before it could leave
