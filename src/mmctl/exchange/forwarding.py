"""`ForwardingExchange`: the whole `Exchange` port forwarded to an inner `Exchange`, through hooks.

A wrapper that adds one concern to every call (injected faults, a request budget, ...) subclasses
`ForwardingExchange(inner)` and overrides only the hooks it needs; each port method is written once here:

- `_call(method, call, *, n_requests, reduce_only, symbol_given)` runs every async request method
  (`load_markets`, `place_orders`, `amend_orders`, the cancels, the queries, the conditional orders, the
  countdown, `server_time_ms`). `call()` performs the request on `inner`; the keywords describe it:
  `n_requests` is the number of orders in a `place_orders` or `amend_orders` batch (1 elsewhere),
  `reduce_only` is true for a non-empty batch whose every request (order or amend) is reduce-only and
  for a reduce-only or close-position `place_conditional`, and `symbol_given` is false for
  `open_orders` and `open_conditionals` over all symbols. Default: `return await call()`.
- `_sync(method)` runs before the synchronous `market` and `book` (default: nothing).
- `_stream(method, items)` wraps the iterators of `watch_book`, `watch_trades`, `order_updates` and
  `conditional_updates` (default: `items`). A wrapped trade stream keeps the inner one's `dropped` count
  and closes both.

`name`, `max_batch`, `trade_window_ms`, `health`, `settle` and `close` forward to `inner` without a
hook; subclasses may override them.
The method names passed to the hooks are the port's own. Neutral module: stdlib, `mmctl.model` and
`mmctl.exchange.base` only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from mmctl.exchange.base import Exchange, TradeStream
from mmctl.exchange.conditional import ConditionalOrder, ConditionalRequest
from mmctl.model import (
    Amend,
    AmendResult,
    Balance,
    BookTop,
    CancelResult,
    ExchangeHealth,
    Fill,
    IncomeRow,
    IncomeType,
    MarketRules,
    Order,
    OrderRequest,
    OrderUpdate,
    PlaceResult,
    Position,
    Trade,
)

T = TypeVar("T")


class ForwardingExchange:
    """Implements the `Exchange` port by forwarding every call to `inner` through overridable hooks."""

    def __init__(self, inner: Exchange) -> None:
        self.inner = inner

    # --- hooks ----------------------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        call: Callable[[], Awaitable[T]],
        *,
        n_requests: int = 1,
        reduce_only: bool = False,
        symbol_given: bool = True,
    ) -> T:
        """Run one async request method; `call()` performs it on `inner`."""
        return await call()

    def _sync(self, method: str) -> None:
        """Runs before the synchronous `market` and `book` are forwarded."""

    def _stream(self, method: str, items: AsyncIterator[T]) -> AsyncIterator[T]:
        """Wrap the stream `watch_book`, `watch_trades`, `order_updates` or `conditional_updates` returns."""
        return items

    # --- the port -------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def max_batch(self) -> int:
        return self.inner.max_batch

    async def load_markets(self) -> Mapping[str, MarketRules]:
        return await self._call("load_markets", self.inner.load_markets)

    def market(self, symbol: str) -> MarketRules:
        self._sync("market")
        return self.inner.market(symbol)

    def book(self, symbol: str) -> BookTop | None:
        self._sync("book")
        return self.inner.book(symbol)

    def watch_book(self, symbol: str) -> AsyncIterator[BookTop]:
        return self._stream("watch_book", self.inner.watch_book(symbol))

    def watch_trades(self, symbol: str) -> TradeStream:
        inner = self.inner.watch_trades(symbol)
        items = self._stream("watch_trades", inner)
        return inner if items is inner else WrappedTrades(inner, items)

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
        return await self._call(
            "place_orders",
            lambda: self.inner.place_orders(requests),
            n_requests=len(requests),
            reduce_only=bool(requests) and all(r.reduce_only for r in requests),
        )

    async def amend_orders(self, symbol: str, amends: Sequence[Amend]) -> list[AmendResult]:
        return await self._call(
            "amend_orders",
            lambda: self.inner.amend_orders(symbol, amends),
            n_requests=len(amends),
            reduce_only=bool(amends) and all(a.reduce_only for a in amends),
        )

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        return await self._call(
            "cancel_order",
            lambda: self.inner.cancel_order(symbol, order_id=order_id, client_order_id=client_order_id),
        )

    async def cancel_orders(self, symbol: str, client_order_ids: Sequence[str]) -> list[CancelResult]:
        return await self._call("cancel_orders", lambda: self.inner.cancel_orders(symbol, client_order_ids))

    async def cancel_all(self, symbol: str) -> list[Order]:
        return await self._call("cancel_all", lambda: self.inner.cancel_all(symbol))

    async def fetch_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        return await self._call(
            "fetch_order",
            lambda: self.inner.fetch_order(symbol, order_id=order_id, client_order_id=client_order_id),
        )

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return await self._call(
            "open_orders", lambda: self.inner.open_orders(symbol), symbol_given=symbol is not None
        )

    async def positions(self) -> list[Position]:
        return await self._call("positions", self.inner.positions)

    async def position(self, symbol: str) -> Position:
        return await self._call("position", lambda: self.inner.position(symbol))

    async def balance(self) -> Balance:
        return await self._call("balance", self.inner.balance)

    async def leverage(self, symbol: str) -> int:
        return await self._call("leverage", lambda: self.inner.leverage(symbol))

    async def set_leverage(self, symbol: str, leverage: int) -> int:
        return await self._call("set_leverage", lambda: self.inner.set_leverage(symbol, leverage))

    async def income(
        self,
        since_ms: int,
        *,
        until_ms: int | None = None,
        income_type: IncomeType | None = None,
        symbol: str | None = None,
        limit: int = 1000,
        page: int = 1,
    ) -> list[IncomeRow]:
        return await self._call(
            "income",
            lambda: self.inner.income(
                since_ms, until_ms=until_ms, income_type=income_type, symbol=symbol, limit=limit, page=page
            ),
        )

    @property
    def trade_window_ms(self) -> int | None:
        return self.inner.trade_window_ms

    async def my_trades(self, symbol: str, *, since_ms: int | None = None, limit: int = 500) -> list[Fill]:
        return await self._call(
            "my_trades", lambda: self.inner.my_trades(symbol, since_ms=since_ms, limit=limit)
        )

    def order_updates(self) -> AsyncIterator[OrderUpdate]:
        return self._stream("order_updates", self.inner.order_updates())

    async def place_conditional(self, req: ConditionalRequest) -> ConditionalOrder:
        return await self._call(
            "place_conditional", lambda: self.inner.place_conditional(req), reduce_only=req.reduces
        )

    async def cancel_conditional(self, symbol: str, client_id: str) -> ConditionalOrder:
        return await self._call(
            "cancel_conditional", lambda: self.inner.cancel_conditional(symbol, client_id)
        )

    async def cancel_all_conditionals(self, symbol: str) -> list[ConditionalOrder]:
        return await self._call("cancel_all_conditionals", lambda: self.inner.cancel_all_conditionals(symbol))

    async def open_conditionals(self, symbol: str | None = None) -> list[ConditionalOrder]:
        return await self._call(
            "open_conditionals", lambda: self.inner.open_conditionals(symbol), symbol_given=symbol is not None
        )

    def conditional_updates(self) -> AsyncIterator[ConditionalOrder]:
        return self._stream("conditional_updates", self.inner.conditional_updates())

    async def arm_countdown(self, symbol: str, timeout_s: float) -> None:
        await self._call("arm_countdown", lambda: self.inner.arm_countdown(symbol, timeout_s))

    async def disarm_countdown(self, symbol: str) -> None:
        await self._call("disarm_countdown", lambda: self.inner.disarm_countdown(symbol))

    async def server_time_ms(self) -> int:
        return await self._call("server_time_ms", self.inner.server_time_ms)

    def health(self) -> ExchangeHealth:
        return self.inner.health()

    async def settle(self) -> None:
        await self.inner.settle()

    async def close(self) -> None:
        await self.inner.close()


class WrappedTrades:
    """A trade stream read through a hook's wrapper (`items`), keeping the inner stream's `dropped`
    count; closing it closes the wrapper and the inner stream."""

    def __init__(self, inner: TradeStream, items: AsyncIterator[Trade]) -> None:
        self.inner = inner
        self.items = items

    def __aiter__(self) -> WrappedTrades:
        return self

    async def __anext__(self) -> Trade:
        return await anext(self.items)

    @property
    def dropped(self) -> int:
        return self.inner.dropped

    async def aclose(self) -> None:
        aclose = getattr(self.items, "aclose", None)
        if aclose is not None:
            await aclose()
        await self.inner.aclose()


def _satisfies_port(exchange: ForwardingExchange) -> Exchange:
    """Never called: makes mypy prove that `ForwardingExchange` (and so each subclass that keeps the
    port's signatures) implements the `Exchange` port."""
    return exchange
