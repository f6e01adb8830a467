"""Per-account state that every bot of the account shares, so N bots and N readers do not pay N times:
the order-event stream (one router), the book subscriptions (one hub), the account's figures (balance,
positions, income totals: one shared refresh every few seconds, whatever the number of readers), each
symbol's leverage, and each symbol's exchange-side countdown cancel (Binance keeps one per symbol and
account: one refresh serves every bot quoting it).

Reading never costs the venue per call: readers get the latest figures with their age, and a stale value
starts one background refresh that every reader shares. Nobody holds a lock while a request waits for
budget: concurrent readers await the same refresh task, which has its own deadline.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, TypeVar

from mmctl.bots.market_data import MarketDataHub
from mmctl.bots.router import OrderRouter
from mmctl.clock import Clock
from mmctl.errors import ExchangeError, VenueUnavailable
from mmctl.exchange.base import Exchange
from mmctl.exchange.priority import Priority, request_class
from mmctl.model import ZERO, Balance, Order, Position
from mmctl.pnl.income import iter_income

T = TypeVar("T")

REACHABLE_TTL_S = 5.0  # a balance this recent proves the venue reachable for a start
FIGURES_TTL_S = 5.0  # balance and positions for views: at most one refresh per account per 5 s
INCOME_TTL_S = 30.0  # income totals for the portfolio: at most one ledger walk per 30 s
FIRST_WAIT_S = 3.0  # a reader with nothing cached waits this long for the first refresh
STALE_WAIT_S = 0.5  # a reader with a stale value waits this long for the shared refresh, then shows it


@dataclass(frozen=True, slots=True)
class Snapshot(Generic[T]):
    """A shared figure as a reader sees it: the value (None before the first success), its age, and the
    last refresh's error when that failed."""

    value: T | None
    age_s: float | None
    error: str | None = None


class Refreshed(Generic[T]):
    """A value fetched from the venue by one request at a time and kept for every reader."""

    def __init__(self, clock: Clock, fetch: Callable[[], Awaitable[T]]) -> None:
        self.clock = clock
        self._fetch = fetch
        self._value: T | None = None
        self._at: float | None = None
        self._error: str | None = None
        self._task: asyncio.Task[None] | None = None

    def peek(self) -> Snapshot[T]:
        """What is known now, with no request."""
        age = None if self._at is None else max(0.0, self.clock.monotonic() - self._at)
        return Snapshot(self._value, age, self._error)

    async def read(self, max_age_s: float) -> Snapshot[T]:
        """The value if it is at most `max_age_s` old; else start (or join) the one shared refresh and
        wait for it briefly (`FIRST_WAIT_S` with nothing to show, else `STALE_WAIT_S`), then show what
        there is, with its age. The refresh outlives a reader that stops waiting."""
        snap = self.peek()
        if snap.age_s is not None and snap.age_s <= max_age_s:
            return snap
        task = self._refresh()
        await asyncio.wait([task], timeout=FIRST_WAIT_S if snap.value is None else STALE_WAIT_S)
        return self.peek()

    async def fresh(self, max_age_s: float) -> T:
        """The value at most `max_age_s` old, waiting for a refresh if needed; raises its error."""
        snap = self.peek()
        if snap.value is not None and snap.age_s is not None and snap.age_s <= max_age_s:
            return snap.value
        task = self._refresh()
        await asyncio.shield(task)
        if self._error is not None or self._value is None:
            raise ExchangeError(self._error or "no answer from the venue")
        return self._value

    def _refresh(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            # a fresh context: the refresh is a plain read whatever scope (a start, a stop) triggered it
            self._task = asyncio.get_running_loop().create_task(self._run(), context=contextvars.Context())
        return self._task

    async def _run(self) -> None:
        try:
            value = await self._fetch()
        except ExchangeError as e:
            self._error = e.message
            return
        self._value, self._at, self._error = value, self.clock.monotonic(), None


@dataclass(slots=True)
class _PendingQuery:
    """One shared open-orders request: joinable by callers until it starts running."""

    task: asyncio.Task[list[Order]] | None = None
    sent: bool = False


@dataclass(frozen=True, slots=True)
class AccountFigures:
    """Balance and net positions of the account, as of one shared refresh."""

    balance: Balance
    positions: tuple[Position, ...]

    def position(self, symbol: str) -> Position | None:
        return next((p for p in self.positions if p.symbol == symbol), None)


class AccountShared:
    def __init__(self, exchange: Exchange, clock: Clock, name: str = "") -> None:
        self.exchange = exchange
        self.clock = clock
        self.name = name or exchange.name
        self.router = OrderRouter(exchange, clock)  # one order-event subscription
        self.market_data = MarketDataHub(exchange, clock)  # one book subscription per symbol
        self.figures = Refreshed(clock, self._fetch_figures)
        self._income: dict[int, Refreshed[dict[str, Decimal]]] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._leverage: dict[str, int] = {}
        self._armed_at: dict[str, float] = {}
        self._open_orders: dict[str, _PendingQuery] = {}

    async def _fetch_figures(self) -> AccountFigures:
        balance = await self.exchange.balance()
        positions = await self.exchange.positions()
        return AccountFigures(balance, tuple(positions))

    async def check_reachable(self) -> None:
        """Raise `VenueUnavailable` unless the venue answered a figures refresh in the last few seconds."""
        try:
            await self.figures.fresh(REACHABLE_TTL_S)
        except ExchangeError as e:
            raise VenueUnavailable(
                f"cannot reach account {self.name!r}: {e.message}", data={"code": e.code}
            ) from None

    async def read_figures(self) -> Snapshot[AccountFigures]:
        """Balance and positions for a view: cached, at most one refresh per `FIGURES_TTL_S`."""
        return await self.figures.read(FIGURES_TTL_S)

    def flat(self, symbol: str) -> Position:
        """A flat position on `symbol` at the current mid (for views when the venue lists none)."""
        rules = self.exchange.market(symbol)
        book = self.exchange.book(rules.symbol)
        mark = book.mid if book is not None else ZERO
        return Position(rules.symbol, ZERO, ZERO, mark, ZERO, self._leverage.get(rules.symbol, 0))

    async def income_totals(self, since_ms: int) -> Snapshot[dict[str, Decimal]]:
        """Income by type since `since_ms`, from the venue's ledger, at most one walk per `INCOME_TTL_S`
        for each start time (the portfolio asks for two: since the daemon started, since 00:00 UTC)."""
        cached = self._income.get(since_ms)
        if cached is None:
            if len(self._income) > 8:  # yesterday's start times are not asked for again
                self._income.clear()
            cached = self._income[since_ms] = Refreshed(self.clock, lambda: self._walk_income(since_ms))
        return await cached.read(INCOME_TTL_S)

    async def _walk_income(self, since_ms: int) -> dict[str, Decimal]:
        sums: dict[str, Decimal] = defaultdict(lambda: ZERO)
        async for row in iter_income(self.exchange, since_ms):
            sums[row.type.value] += row.amount
        return dict(sorted(sums.items()))

    async def open_orders_fresh(self, symbol: str) -> list[Order]:
        """The symbol's open orders as seen by a request sent after this call: every bot confirming a
        stop or pause in the same moment joins one SAFETY-class request per symbol that has not been sent
        yet, instead of sending its own."""
        pending = self._open_orders.get(symbol)
        if pending is None or pending.sent:
            pending = self._open_orders[symbol] = _PendingQuery()
            pending.task = asyncio.get_running_loop().create_task(self._fetch_open_orders(symbol, pending))
        assert pending.task is not None
        return list(await asyncio.shield(pending.task))

    async def _fetch_open_orders(self, symbol: str, pending: _PendingQuery) -> list[Order]:
        pending.sent = True  # from here on, a newcomer's moment is after this request: it sends its own
        with request_class(Priority.SAFETY):
            return await self.exchange.open_orders(symbol)

    def known_leverage(self, symbol: str) -> int | None:
        """The symbol's leverage as this process last set or read it (no request)."""
        return self._leverage.get(self.exchange.market(symbol).symbol)

    async def leverage(self, symbol: str) -> int:
        """The symbol's leverage, fetched once and then kept up to date by this process."""
        key = self.exchange.market(symbol).symbol
        async with self._locks[f"leverage:{key}"]:
            if key not in self._leverage:
                self._leverage[key] = await self.exchange.leverage(key)
            return self._leverage[key]

    async def ensure_leverage(self, symbol: str, leverage: int) -> None:
        """Set the symbol's leverage on the venue unless it is already known to be `leverage`."""
        async with self._locks[f"leverage:{symbol}"]:
            if self._leverage.get(symbol) == leverage:
                return
            if await self.exchange.leverage(symbol) != leverage:
                await self.exchange.set_leverage(symbol, leverage)
            self._leverage[symbol] = leverage

    def note_leverage(self, symbol: str, leverage: int) -> None:
        """Leverage was changed by other means (the leverage command)."""
        self._leverage[symbol] = leverage

    async def keep_countdown(
        self, symbol: str, timeout_s: float, refresh_s: float, force: bool = False
    ) -> bool:
        """Arm or refresh the symbol's countdown cancel when due (or `force`); True if a request went out.
        The countdown is a SAFETY request: admitted first, so the lock is held only for its round trip."""
        if not force and self._fresh(symbol, refresh_s):  # the hot path: no lock, no wait
            return False
        async with self._locks[f"countdown:{symbol}"]:
            if not force and self._fresh(symbol, refresh_s):  # refreshed while we waited
                return False
            await self.exchange.arm_countdown(symbol, timeout_s)
            self._armed_at[symbol] = self.clock.monotonic()
            return True

    def _fresh(self, symbol: str, refresh_s: float) -> bool:
        return self.clock.monotonic() - self._armed_at.get(symbol, -1e18) < refresh_s

    def countdown_age_s(self, symbol: str) -> float | None:
        armed = self._armed_at.get(symbol)
        return None if armed is None else self.clock.monotonic() - armed

    async def disarm_countdown(self, symbol: str) -> None:
        async with self._locks[f"countdown:{symbol}"]:
            await self.exchange.disarm_countdown(symbol)
            self._armed_at.pop(symbol, None)
