"""Cancels of many bots on one account and symbol, sent together: what a mass stop, pause or cancel-all
costs the venue.

When 200 bots stop at once, each cancelling its handful of orders in its own request, the stop costs
200 requests of weight 1 from the safety share of a request budget that busy quoting may have filled to
the brim, and waits for the window to free that much. `SharedCancels.cancel(symbol, ids)` instead joins
the ids of every caller on the same symbol in the same loop turn into batches of the venue's largest
cancel batch (Binance: 10 per `DELETE batchOrders`), sent concurrently at the next loop turn, and hands
each caller the results for its own ids, in its order. A batch that fails raises its error in every
caller with an id in it. Only the stop paths use it; a running bot's own re-quote cancels go out at
once (they are the first request of a reaction).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from mmctl.bots.orders import batches
from mmctl.exchange.base import MAX_CANCEL_BATCH, Exchange
from mmctl.model import CancelResult


@dataclass(slots=True)
class _Pending:
    """The ids asked to be cancelled on one symbol in this loop turn, and who waits for which."""

    ids: dict[str, None] = field(default_factory=dict)  # in the order asked, each once
    waiters: list[tuple[list[str], asyncio.Future[list[CancelResult]]]] = field(default_factory=list)


class SharedCancels:
    """One account's cancels, joined per symbol across callers (see the module docstring)."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self._pending: dict[str, _Pending] = {}
        self._sending: set[asyncio.Task[None]] = set()
        self.requests = 0  # cancel requests sent (for tests and health)

    async def cancel(self, symbol: str, client_ids: Sequence[str]) -> list[CancelResult]:
        """Cancel these orders of `symbol` together with other callers' in this loop turn; the results
        for `client_ids`, in their order."""
        if not client_ids:
            return []
        loop = asyncio.get_running_loop()
        pending = self._pending.get(symbol)
        if pending is None:
            pending = self._pending[symbol] = _Pending()
            loop.call_soon(self._flush, symbol)
        future: asyncio.Future[list[CancelResult]] = loop.create_future()
        mine = list(dict.fromkeys(client_ids))
        pending.ids.update(dict.fromkeys(mine))
        pending.waiters.append((mine, future))
        return await future

    def _flush(self, symbol: str) -> None:
        pending = self._pending.pop(symbol)
        task = asyncio.ensure_future(self._send(symbol, pending))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, symbol: str, pending: _Pending) -> None:
        groups = batches(list(pending.ids), MAX_CANCEL_BATCH)
        self.requests += len(groups)
        answers = await asyncio.gather(
            *(self.exchange.cancel_orders(symbol, group) for group in groups), return_exceptions=True
        )
        by_id: dict[str, CancelResult | BaseException] = {}
        for group, answer in zip(groups, answers, strict=True):
            if isinstance(answer, BaseException):
                by_id.update(dict.fromkeys(group, answer))
            else:
                by_id.update((r.client_order_id, r) for r in answer)
        for ids, future in pending.waiters:
            if future.done():  # the caller was cancelled
                continue
            failure = next((a for i in ids if isinstance(a := by_id.get(i), BaseException)), None)
            if failure is not None:
                future.set_exception(failure)
            else:
                future.set_result([r for i in ids if isinstance(r := by_id.get(i), CancelResult)])
