"""`BudgetedExchange`: an `Exchange` that draws every request from a shared `RequestBudget` first.

Each I/O method is charged `mmctl.exchange.weights.cost(...)` (Binance USDⓈ-M's weight and order counts
for that call) in its request class (`mmctl.exchange.priority`): cancels, the countdown and reduce-only
orders (placed or amended) and conditional exits (placed or cancelled) are SAFETY, and so is every
request made inside a `request_class(SAFETY)` scope (a stop's confirming queries); new quotes and
amends are PLACE (an amend waits no longer than a new quote), reads QUERY, a bot's start START.
Classes below SAFETY wait at most their deadline (`DEADLINES_S`) and then fail with `BudgetExhausted`:
a read or a quote that cannot be sent soon is better refused than sent late.

Once admitted, a request runs to its answer even if its caller is cancelled (a stop interrupting a bot's
tick must not cut a request half-way: the order might exist on the venue with nobody knowing);
`settle()` waits for every such request, so a stop confirms against a venue that has seen them all.

`market`, `book`, `health`, `name`, `max_batch`, `trade_window_ms`, `watch_book`, `watch_trades`,
`order_updates`, `conditional_updates` and `close` pass through uncharged. Results and errors of the
inner exchange pass through unchanged; a `RateLimited` error with a known `retry_after_s` also pauses
the shared budget for that long, so every client on the IP backs off.
`load_markets` is charged once (the port fetches markets once).

Binance counts request weight per IP and new orders per account. With an `ip_budget`, a call's weight is
drawn from it (shared by every account on the machine's IP) and its order counts from the account's own
`budget`; without one, `budget` takes both (one account per IP).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from mmctl.errors import RateLimited
from mmctl.exchange.base import Exchange
from mmctl.exchange.budget import RequestBudget
from mmctl.exchange.forwarding import ForwardingExchange
from mmctl.exchange.priority import Priority, classify, sending
from mmctl.exchange.weights import Cost, cost
from mmctl.model import MarketRules

T = TypeVar("T")

DEADLINES_S: dict[Priority, float | None] = {
    Priority.SAFETY: None,  # admitted first from a reserved share: it waits only for the window itself
    Priority.HEARTBEAT: None,  # the countdown refresh: next from the same share, well before it expires
    Priority.PLACE: 5.0,  # a quote that waited longer is stale: the next tick prices it afresh
    Priority.QUERY: 5.0,  # reads are served from shared state; a refresh that cannot run soon fails fast
    Priority.START: 240.0,  # starts queue up and proceed in waves; within a start's answer time (300 s)
}


class BudgetedExchange(ForwardingExchange):
    """Wraps an `Exchange`; every request waits for room in `budget`, the most urgent class first."""

    def __init__(
        self, inner: Exchange, budget: RequestBudget, ip_budget: RequestBudget | None = None
    ) -> None:
        super().__init__(inner)
        self.budget = budget
        self.ip_budget = ip_budget
        self._markets_loaded = False
        self._in_flight: set[asyncio.Task[object]] = set()

    @property
    def budgets(self) -> list[RequestBudget]:
        """The account's own budget, then the IP's when shared."""
        return [self.budget] if self.ip_budget is None else [self.budget, self.ip_budget]

    # --- every async request method; the rest (no request leaves the process) is forwarded uncharged ---

    async def _call(
        self,
        method: str,
        call: Callable[[], Awaitable[T]],
        *,
        n_requests: int = 1,
        reduce_only: bool = False,
        symbol_given: bool = True,
    ) -> T:
        price, priority = cost(method, n_requests, symbol_given), classify(method, reduce_only=reduce_only)
        deadline = DEADLINES_S[priority]
        if self.ip_budget is None:
            await self.budget.acquire(price, priority, deadline)
        else:
            await self.ip_budget.acquire(Cost(weight=price.weight), priority, deadline)
            await self.budget.acquire(
                Cost(orders_10s=price.orders_10s, orders_1m=price.orders_1m), priority, deadline
            )
        sending()  # admitted: whoever waits for this request to leave learns it does now
        request: asyncio.Task[T] = asyncio.ensure_future(call())  # sent: runs to its answer
        self._in_flight.add(request)
        request.add_done_callback(self._answered)
        try:
            return await asyncio.shield(request)
        except RateLimited as e:
            if e.retry_after_s is not None:  # 429/418 are IP-wide; order-count limits are the account's
                for budget in self.budgets:
                    budget.penalize(e.retry_after_s)
            raise

    def _answered(self, request: asyncio.Task[object]) -> None:
        self._in_flight.discard(request)
        if not request.cancelled():
            request.exception()  # retrieved: a caller cut short no longer awaits it (the stop confirms)

    async def settle(self) -> None:
        """Wait until every request already sent has its answer (its caller may have been cancelled)."""
        while self._in_flight:
            await asyncio.wait(list(self._in_flight))
        await self.inner.settle()

    async def load_markets(self) -> Mapping[str, MarketRules]:
        if self._markets_loaded:  # the port fetches markets once; later calls are answered from memory
            return await self.inner.load_markets()
        markets = await super().load_markets()
        self._markets_loaded = True
        return markets
