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
Several `BudgetedExchange`s (e.g. two accounts on one IP) may share one budget.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from mmctl.bots.budget import Priority, RequestBudget
from mmctl.errors import RateLimited
from mmctl.exchange.base import Exchange
from mmctl.exchange.forwarding import ForwardingExchange
from mmctl.exchange.weights import cost
from mmctl.model import MarketRules

T = TypeVar("T")

_CANCEL_METHODS = frozenset(
    {"cancel_order", "cancel_orders", "cancel_all", "arm_countdown", "disarm_countdown"}
)
"""Charged at `Priority.CANCEL`: they reduce risk (the countdown is a safety heartbeat)."""


class BudgetedExchange(ForwardingExchange):
    """Wraps an `Exchange`; every request waits for room in `budget`, highest priority first."""

    def __init__(self, inner: Exchange, budget: RequestBudget) -> None:
        super().__init__(inner)
        self.budget = budget
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
        await self.budget.acquire(cost(method, n_requests, symbol_given), _priority(method, reduce_only))
        try:
            return await call()
        except RateLimited as e:
            if e.retry_after_s is not None:
                self.budget.penalize(e.retry_after_s)
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
