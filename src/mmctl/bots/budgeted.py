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

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from mmctl.bots.budget import Priority, RequestBudget
from mmctl.errors import RateLimited
from mmctl.exchange.base import Exchange
from mmctl.exchange.weights import cost
from mmctl.model import (
    Balance,
    BookTop,
    CancelResult,
    ExchangeHealth,
    IncomeRow,
    IncomeType,
    MarketRules,
    Order,
    OrderRequest,
    OrderUpdate,
    PlaceResult,
    Position,
)

T = TypeVar("T")


class BudgetedExchange:
    """Wraps an `Exchange`; every request waits for room in `budget`, highest priority first."""

    def __init__(self, inner: Exchange, budget: RequestBudget) -> None:
        self.inner = inner
        self.budget = budget
        self._markets_loaded = False

    async def _run(
        self,
        method: str,
        call: Callable[[], Awaitable[T]],
        priority: Priority = Priority.QUERY,
        *,
        n_requests: int = 1,
        symbol_given: bool = True,
    ) -> T:
        await self.budget.acquire(cost(method, n_requests, symbol_given), priority)
        try:
            return await call()
        except RateLimited as e:
            if e.retry_after_s is not None:
                self.budget.penalize(e.retry_after_s)
            raise

    # --- uncharged: no request leaves the process ---------------------------------------------------

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def max_batch(self) -> int:
        return self.inner.max_batch

    def market(self, symbol: str) -> MarketRules:
        return self.inner.market(symbol)

    def book(self, symbol: str) -> BookTop | None:
        return self.inner.book(symbol)

    def watch_book(self, symbol: str) -> AsyncIterator[BookTop]:
        return self.inner.watch_book(symbol)

    def order_updates(self) -> AsyncIterator[OrderUpdate]:
        return self.inner.order_updates()

    def health(self) -> ExchangeHealth:
        return self.inner.health()

    async def close(self) -> None:
        await self.inner.close()

    # --- orders -------------------------------------------------------------------------------------

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
        reducing = bool(requests) and all(r.reduce_only for r in requests)
        return await self._run(
            "place_orders",
            lambda: self.inner.place_orders(requests),
            Priority.REDUCE if reducing else Priority.PLACE,
            n_requests=len(requests),
        )

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        return await self._run(
            "cancel_order",
            lambda: self.inner.cancel_order(symbol, order_id=order_id, client_order_id=client_order_id),
            Priority.CANCEL,
        )

    async def cancel_orders(self, symbol: str, client_order_ids: Sequence[str]) -> list[CancelResult]:
        return await self._run(
            "cancel_orders", lambda: self.inner.cancel_orders(symbol, client_order_ids), Priority.CANCEL
        )

    async def cancel_all(self, symbol: str) -> list[Order]:
        return await self._run("cancel_all", lambda: self.inner.cancel_all(symbol), Priority.CANCEL)

    async def arm_countdown(self, symbol: str, timeout_s: float) -> None:
        await self._run("arm_countdown", lambda: self.inner.arm_countdown(symbol, timeout_s), Priority.CANCEL)

    async def disarm_countdown(self, symbol: str) -> None:
        await self._run("disarm_countdown", lambda: self.inner.disarm_countdown(symbol), Priority.CANCEL)

    async def fetch_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        return await self._run(
            "fetch_order",
            lambda: self.inner.fetch_order(symbol, order_id=order_id, client_order_id=client_order_id),
        )

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return await self._run(
            "open_orders", lambda: self.inner.open_orders(symbol), symbol_given=symbol is not None
        )

    # --- queries ------------------------------------------------------------------------------------

    async def load_markets(self) -> Mapping[str, MarketRules]:
        if self._markets_loaded:  # the port fetches markets once; later calls are answered from memory
            return await self.inner.load_markets()
        markets = await self._run("load_markets", self.inner.load_markets)
        self._markets_loaded = True
        return markets

    async def positions(self) -> list[Position]:
        return await self._run("positions", self.inner.positions)

    async def position(self, symbol: str) -> Position:
        return await self._run("position", lambda: self.inner.position(symbol))

    async def balance(self) -> Balance:
        return await self._run("balance", self.inner.balance)

    async def leverage(self, symbol: str) -> int:
        return await self._run("leverage", lambda: self.inner.leverage(symbol))

    async def set_leverage(self, symbol: str, leverage: int) -> int:
        return await self._run("set_leverage", lambda: self.inner.set_leverage(symbol, leverage))

    async def income(
        self,
        since_ms: int,
        *,
        until_ms: int | None = None,
        income_type: IncomeType | None = None,
        symbol: str | None = None,
        limit: int = 1000,
    ) -> list[IncomeRow]:
        return await self._run(
            "income",
            lambda: self.inner.income(
                since_ms, until_ms=until_ms, income_type=income_type, symbol=symbol, limit=limit
            ),
        )

    async def server_time_ms(self) -> int:
        return await self._run("server_time_ms", self.inner.server_time_ms)


def _satisfies_port(exchange: BudgetedExchange) -> Exchange:
    """Never called: makes mypy prove that `BudgetedExchange` implements the `Exchange` port."""
    return exchange
