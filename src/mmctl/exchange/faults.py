"""A failure-injecting wrapper around any `Exchange`, for tests of what sits above the port.

`FaultyExchange(inner, clock)` forwards every call to `inner` and, as configured through its public
methods, can:
- `fail(*methods, error=TransientError, times=None)`: make those methods (all when none are named)
  raise `error` (a class, instantiated with a message naming the method, or an instance) for the next
  `times` calls, or until `heal()`;
- `ambiguous(*methods, times=None)`: perform the call on `inner`, then raise `TransientError` anyway, as
  a submit whose response was lost does (default method: `place_orders`; `amend_orders` too when named);
- `delay(seconds, *methods)`: wait on the clock before each call (all methods when none are named).
Streams (`watch_book`, `watch_trades`, `order_updates`, `conditional_updates`) fail on their next item;
`market` and `book` fail without delay; `health` never raises but reports `connected=False` while it
is failing; `close` is never faulted. `calls` counts the calls each method received (faulted ones included).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from mmctl.clock import Clock, SystemClock
from mmctl.errors import TransientError
from mmctl.exchange.base import Exchange
from mmctl.exchange.forwarding import ForwardingExchange
from mmctl.model import ExchangeHealth

T = TypeVar("T")
ErrorSpec = BaseException | type[BaseException]

METHODS = frozenset(
    {
        "load_markets",
        "market",
        "book",
        "watch_book",
        "watch_trades",
        "place_orders",
        "amend_orders",
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
        "place_conditional",
        "cancel_conditional",
        "cancel_all_conditionals",
        "open_conditionals",
        "conditional_updates",
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


class FaultyExchange(ForwardingExchange):
    """Wraps an `Exchange` and injects errors, latency and ambiguous submits on demand."""

    def __init__(self, inner: Exchange, clock: Clock | None = None) -> None:
        super().__init__(inner)
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

    async def _call(self, method: str, call: Callable[[], Awaitable[T]], **_request: object) -> T:
        """Delay, fault, perform, then maybe lose the response; the request's size and kind do not matter."""
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

    def _sync(self, method: str) -> None:
        self._check(method)

    # --- the port: `ForwardingExchange` forwards the rest through the hooks above ----------------------

    def health(self) -> ExchangeHealth:
        self.calls["health"] += 1
        health = self.inner.health()
        if self.failing("health"):
            return replace(health, connected=False, detail={**health.detail, "fault": "injected"})
        return health


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
