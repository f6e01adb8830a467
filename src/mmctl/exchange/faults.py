"""A failure-injecting wrapper around any `Exchange`, for tests of what sits above the port.

`FaultyExchange(inner, clock)` forwards every call to `inner` and, as configured through its public
methods, can:
- `fail(*methods, error=TransientError, times=None)`: make those methods (all when none are named)
  raise `error` (a class, instantiated with a message naming the method, or an instance) for the next
  `times` calls, or until `heal()`;
- `ambiguous(*methods, times=None)`: perform the call on `inner`, then raise `TransientError` anyway, as
  a submit whose response was lost does (default method: `place_orders`);
- `delay(seconds, *methods)`: wait on the clock before each call (all methods when none are named).
Streams (`watch_book`, `order_updates`) fail on their next item; `market` and `book` fail without delay;
`health` never raises but reports `connected=False` while it is failing; `close` is never faulted.
`calls` counts the calls each method received (faulted ones included).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from mmctl.clock import Clock, SystemClock
from mmctl.errors import TransientError
from mmctl.exchange.base import Exchange
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
ErrorSpec = BaseException | type[BaseException]

METHODS = frozenset(
    {
        "load_markets",
        "market",
        "book",
        "watch_book",
        "place_orders",
        "cancel_order",
        "cancel_orders",
        "cancel_all",
        "fetch_order",
        "open_orders",
        "positions",
        "position",
        "balance",
        "leverage",
        "set_leverage",
        "income",
        "order_updates",
        "arm_countdown",
        "disarm_countdown",
        "server_time_ms",
        "health",
    }
)
ALL = "*"


@dataclass
class _Fault:
    error: ErrorSpec
    remaining: int | None  # None: until healed

    def take(self) -> bool:
        """Use one occurrence; False once exhausted."""
        if self.remaining is None:
            return True
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True


class FaultyExchange:
    """Wraps an `Exchange` and injects errors, latency and ambiguous submits on demand."""

    def __init__(self, inner: Exchange, clock: Clock | None = None) -> None:
        self.inner = inner
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.calls: Counter[str] = Counter()
        self._faults: dict[str, _Fault] = {}
        self._ambiguous: dict[str, _Fault] = {}
        self._delays: dict[str, float] = {}

    # --- configuration ------------------------------------------------------------------------------

    def fail(self, *methods: str, error: ErrorSpec = TransientError, times: int | None = None) -> None:
        """Make `methods` (all when none are named) raise `error`, `times` times or until healed."""
        for method in _names(methods):
            self._faults[method] = _Fault(error, times)

    def heal(self, *methods: str) -> None:
        """Stop failing `methods` (everything, ambiguous submits included, when none are named)."""
        if not methods:
            self._faults.clear()
            self._ambiguous.clear()
            return
        for method in _names(methods):
            self._faults.pop(method, None)
            self._ambiguous.pop(method, None)

    def ambiguous(self, *methods: str, times: int | None = None) -> None:
        """Apply `methods` (default `place_orders`) on the inner venue, then raise `TransientError`."""
        for method in _names(methods or ("place_orders",)):
            self._ambiguous[method] = _Fault(TransientError, times)

    def delay(self, seconds: float, *methods: str) -> None:
        """Wait `seconds` on the clock before each call of `methods` (all when none are named; 0 clears)."""
        for method in _names(methods):
            if seconds > 0:
                self._delays[method] = seconds
            else:
                self._delays.pop(method, None)

    def failing(self, method: str) -> bool:
        """Whether the next call of `method` would fail (without using up a counted fault)."""
        fault = self._faults.get(method) or self._faults.get(ALL)
        return fault is not None and (fault.remaining is None or fault.remaining > 0)

    # --- machinery ------------------------------------------------------------------------------------

    def _check(self, method: str) -> None:
        self.calls[method] += 1
        for key in (method, ALL):
            fault = self._faults.get(key)
            if fault is not None and fault.take():
                raise _instance(fault.error, method)

    async def _run(self, method: str, call: Callable[[], Awaitable[T]]) -> T:
        seconds = self._delays.get(method, self._delays.get(ALL, 0.0))
        if seconds > 0:
            await self.clock.sleep(seconds)
        self._check(method)
        result = await call()
        for key in (method, ALL):
            fault = self._ambiguous.get(key)
            if fault is not None and fault.take():
                raise TransientError(f"injected ambiguous {method}: the request reached the venue")
        return result

    async def _stream(self, method: str, items: AsyncIterator[T]) -> AsyncIterator[T]:
        while True:
            self._check(method)
            try:
                item = await anext(items)
            except StopAsyncIteration:
                return
            yield item

    # --- the port -------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def max_batch(self) -> int:
        return self.inner.max_batch

    async def load_markets(self) -> Mapping[str, MarketRules]:
        return await self._run("load_markets", self.inner.load_markets)

    def market(self, symbol: str) -> MarketRules:
        self._check("market")
        return self.inner.market(symbol)

    def book(self, symbol: str) -> BookTop | None:
        self._check("book")
        return self.inner.book(symbol)

    def watch_book(self, symbol: str) -> AsyncIterator[BookTop]:
        return self._stream("watch_book", self.inner.watch_book(symbol))

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
        return await self._run("place_orders", lambda: self.inner.place_orders(requests))

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        return await self._run(
            "cancel_order",
            lambda: self.inner.cancel_order(symbol, order_id=order_id, client_order_id=client_order_id),
        )

    async def cancel_orders(self, symbol: str, client_order_ids: Sequence[str]) -> list[CancelResult]:
        return await self._run("cancel_orders", lambda: self.inner.cancel_orders(symbol, client_order_ids))

    async def cancel_all(self, symbol: str) -> list[Order]:
        return await self._run("cancel_all", lambda: self.inner.cancel_all(symbol))

    async def fetch_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        return await self._run(
            "fetch_order",
            lambda: self.inner.fetch_order(symbol, order_id=order_id, client_order_id=client_order_id),
        )

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return await self._run("open_orders", lambda: self.inner.open_orders(symbol))

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

    def order_updates(self) -> AsyncIterator[OrderUpdate]:
        return self._stream("order_updates", self.inner.order_updates())

    async def arm_countdown(self, symbol: str, timeout_s: float) -> None:
        await self._run("arm_countdown", lambda: self.inner.arm_countdown(symbol, timeout_s))

    async def disarm_countdown(self, symbol: str) -> None:
        await self._run("disarm_countdown", lambda: self.inner.disarm_countdown(symbol))

    async def server_time_ms(self) -> int:
        return await self._run("server_time_ms", self.inner.server_time_ms)

    def health(self) -> ExchangeHealth:
        self.calls["health"] += 1
        health = self.inner.health()
        if self.failing("health"):
            return replace(health, connected=False, detail={**health.detail, "fault": "injected"})
        return health

    async def close(self) -> None:
        await self.inner.close()


def _names(methods: Sequence[str]) -> list[str]:
    if not methods:
        return [ALL]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"not an Exchange method: {', '.join(unknown)}")
    return list(methods)


def _instance(error: ErrorSpec, method: str) -> BaseException:
    if isinstance(error, BaseException):
        return copy.copy(error)
    return error(f"injected fault in {method}")


def _satisfies_port(exchange: FaultyExchange) -> Exchange:
    """Never called: makes mypy prove that `FaultyExchange` implements the `Exchange` port."""
    return exchange
