"""`BudgetedExchange`: an `Exchange` that draws every request from a shared `RequestBudget` first.

Each I/O method is charged `mmctl.exchange.weights.cost(...)` (Binance USDⓈ-M's weight and order counts
for that call) at a priority that lets risk-reducing traffic go first when the budget is tight:

    CANCEL  cancel_order, cancel_orders, cancel_all, disarm_countdown, arm_countdown (a safety heartbeat)
    REDUCE  place_orders whose every request is reduce-only
    PLACE   any other place_orders
    QUERY   everything else that sends a request

`market`, `book`, `health`, `name`, `max_batch`, `watch_book`, `order_updates` and `close` pass through
uncharged. Results and errors of the inner exchange pass through unchanged; a `RateLimited` error with a
known `retry_after_s` also pauses the shared budget for that long, so every client on the IP backs off.
`load_markets` is charged once (the port fetches markets once).

Binance counts request weight per IP and new orders per account. With an `ip_budget`, a call's weight is
drawn from it (shared by every account on the machine's IP) and its order counts from the account's own
`budget`; without one, `budget` takes both (one account per IP).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from mmctl.errors import RateLimited
from mmctl.exchange.base import Exchange
from mmctl.exchange.budget import Priority, RequestBudget
from mmctl.exchange.forwarding import ForwardingExchange
from mmctl.exchange.weights import Cost, cost
from mmctl.model import MarketRules

T = TypeVar("T")

_CANCEL_METHODS = frozenset(
    {"cancel_order", "cancel_orders", "cancel_all", "arm_countdown", "disarm_countdown"}
)
"""Charged at `Priority.CANCEL`: they reduce risk (the countdown is a safety heartbeat)."""


class BudgetedExchange(ForwardingExchange):
    """Wraps an `Exchange`; every request waits for room in `budget`, highest priority first."""

    def __init__(
        self, inner: Exchange, budget: RequestBudget, ip_budget: RequestBudget | None = None
    ) -> None:
        super().__init__(inner)
        self.budget = budget
        self.ip_budget = ip_budget
        self._markets_loaded = False

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
        price, priority = cost(method, n_requests, symbol_given), _priority(method, reduce_only)
        if self.ip_budget is None:
            await self.budget.acquire(price, priority)
        else:
            await self.ip_budget.acquire(Cost(weight=price.weight), priority)
            await self.budget.acquire(Cost(orders_10s=price.orders_10s, orders_1m=price.orders_1m), priority)
        try:
            return await call()
        except RateLimited as e:
            if e.retry_after_s is not None:  # 429/418 are IP-wide; order-count limits are the account's
                for budget in (self.budget, self.ip_budget):
                    if budget is not None:
                        budget.penalize(e.retry_after_s)
            raise

    async def load_markets(self) -> Mapping[str, MarketRules]:
        if self._markets_loaded:  # the port fetches markets once; later calls are answered from memory
            return await self.inner.load_markets()
        markets = await super().load_markets()
        self._markets_loaded = True
        return markets


def _priority(method: str, reduce_only: bool) -> Priority:
    if method in _CANCEL_METHODS:
        return Priority.CANCEL
    if method == "place_orders":
        return Priority.REDUCE if reduce_only else Priority.PLACE
    return Priority.QUERY
