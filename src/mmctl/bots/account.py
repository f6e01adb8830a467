"""Per-account state that every bot of the account shares, so N bots and N readers do not pay N times:
the order-event stream (one router), the book subscriptions (one hub), the account's figures (balance,
positions, income totals: one shared refresh every few seconds, whatever the number of readers), each
symbol's leverage, each symbol's exchange-side countdown cancel (Binance keeps one per symbol and
account: one refresh serves every bot quoting it; a keeper task per symbol refreshes it, so a tick
waiting for order budget or a slow report never delays it), and the funding poll: new FUNDING_FEE rows of the
income ledger, at most one walk per `FUNDING_POLL_S`, each split over the bots quoting its symbol by
their positions at the settlement time (`mmctl.pnl.funding`) and credited to their inventories.

Reading never costs the venue per call: readers get the latest figures with their age, and a stale value
starts one background refresh that every reader shares. Nobody holds a lock while a request waits for
budget: concurrent readers await the same refresh task, which has its own deadline.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Generic, Protocol, TypeVar

from mmctl.bots.definition import BotDefinition
from mmctl.bots.inventory import Inventory
from mmctl.bots.market_data import MarketDataHub
from mmctl.bots.router import OrderRouter
from mmctl.bots.shared_cancels import FreshQuery, SharedCancels
from mmctl.clock import Clock
from mmctl.errors import ExchangeError, MmctlError, VenueUnavailable
from mmctl.exchange.base import Exchange
from mmctl.exchange.conditional import ConditionalOrder
from mmctl.exchange.priority import Priority, request_class
from mmctl.model import ZERO, Balance, IncomeType, Order, Position
from mmctl.pnl.funding import allocate_funding
from mmctl.pnl.income import iter_income
from mmctl.pnl.position import CTX

T = TypeVar("T")

REACHABLE_TTL_S = 5.0  # a balance this recent proves the venue reachable for a start
FIGURES_TTL_S = 5.0  # balance and positions for views: at most one refresh per account per 5 s
INCOME_TTL_S = 30.0  # income totals for the portfolio: at most one ledger walk per 30 s
FIRST_WAIT_S = 3.0  # a reader with nothing cached waits this long for the first refresh
STALE_WAIT_S = 0.5  # a reader with a stale value waits this long for the shared refresh, then shows it
FUNDING_POLL_S = 60.0  # funding rows: at most one ledger walk per account per minute
FUNDING_LATE_MS = 60_000  # each walk re-reads this much before the newest row seen (late postings)
COUNTDOWN_RETRY_S = 2.0  # a failed countdown refresh is retried this soon
# the keeper refreshes a countdown until it is disarmed (no active bot on the symbol), or until no bot
# asked for it this long: a quoting bot asks at every tick, so only a hung bot or one paused this long
# goes quiet (the venue then takes down what it left; health shows the hung bot as not ticking)
COUNTDOWN_LEASE_S = 900.0


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

    async def read(self, max_age_s: float, stale_wait_s: float = STALE_WAIT_S) -> Snapshot[T]:
        """The value if it is at most `max_age_s` old; else start (or join) the one shared refresh and
        wait for it briefly (`FIRST_WAIT_S` with nothing to show, else `stale_wait_s`: 0 shows the stale
        value at once), then show what there is, with its age. The refresh outlives a reader that stops
        waiting."""
        snap = self.peek()
        if snap.age_s is not None and snap.age_s <= max_age_s:
            return snap
        task = self._refresh()
        wait_s = FIRST_WAIT_S if snap.value is None else stale_wait_s
        if wait_s > 0:
            await asyncio.wait([task], timeout=wait_s)
        return self.peek()

    async def fresh(self, max_age_s: float) -> T:
        """The value at most `max_age_s` old, waiting for a refresh if needed; raises its error."""
        snap = self.peek()
        if snap.value is not None and snap.age_s is not None and snap.age_s <= max_age_s:
            return snap.value
        await asyncio.shield(self._refresh())
        if self._error is not None:  # the shared refresh may have been a read that could not get budget:
            await asyncio.shield(self._refresh())  # one more, in this caller's request class
        if self._error is not None or self._value is None:
            raise ExchangeError(self._error or "no answer from the venue")
        return self._value

    def _refresh(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            # in the request class of the caller that found it stale: a start's refresh goes ahead of
            # quotes, a view's is a plain read
            self._task = asyncio.get_running_loop().create_task(self._run())
        return self._task

    async def _run(self) -> None:
        try:
            value = await self._fetch()
        except ExchangeError as e:
            self._error = e.message
            return
        self._value, self._at, self._error = value, self.clock.monotonic(), None


@dataclass(slots=True)
class _Countdown:
    """One symbol's countdown cancel as this process keeps it (monotonic times)."""

    timeout_s: float
    refresh_s: float
    armed_at: float | None = None  # the last successful arm or refresh
    wanted_at: float = 0.0  # the last time a bot about to quote asked for it
    failed_at: float | None = None  # the last failed refresh, until one succeeds
    error: str | None = None
    lapsed_at: float | None = None  # the keeper stopped: nobody asked for it during the lease
    task: asyncio.Task[None] | None = None

    @property
    def keeping(self) -> bool:
        return self.task is not None and not self.task.done()

    def armed(self, at: float) -> None:
        self.armed_at, self.failed_at, self.error, self.lapsed_at = at, None, None, None


@dataclass(frozen=True, slots=True)
class CountdownState:
    """A countdown cancel as health shows it: `age_s` since the last refresh (None: never armed yet),
    `lapsed` when no bot asks for it any more (the venue lets it expire), the last refresh's error."""

    symbol: str
    timeout_s: float
    refresh_s: float
    age_s: float | None
    lapsed: bool
    error: str | None


@dataclass(frozen=True, slots=True)
class AccountFigures:
    """Balance and net positions of the account, as of one shared refresh."""

    balance: Balance
    positions: tuple[Position, ...]

    def position(self, symbol: str) -> Position | None:
        return next((p for p in self.positions if p.symbol == symbol), None)


class FundedBot(Protocol):
    """What the funding poll needs of a bot."""

    @property
    def name(self) -> str: ...

    @property
    def definition(self) -> BotDefinition: ...

    @property
    def inventory(self) -> Inventory: ...


@dataclass(slots=True)
class AccountFunding:
    """The account's funding since the poll began, as attributed: per symbol, `total` equals the sum of
    the bots' shares on it plus `unattributed`, exactly."""

    total: dict[str, Decimal] = field(default_factory=dict)  # symbol → funding of the account
    unattributed: dict[str, Decimal] = field(default_factory=dict)  # symbol → held by no bot
    by_bot: dict[str, Decimal] = field(default_factory=dict)  # bot → its shares, whatever its restarts
    rows: int = 0
    error: str | None = None  # the last poll's failure, None once a poll succeeds
    polled_at: float | None = None  # monotonic time of the last successful poll

    def sum_total(self) -> Decimal:
        return _exact_sum(self.total.values())

    def sum_unattributed(self) -> Decimal:
        return _exact_sum(self.unattributed.values())

    def sum_bots(self) -> Decimal:
        return _exact_sum(self.by_bot.values())


def _exact_sum(values: Iterable[Decimal]) -> Decimal:
    total = ZERO
    for v in values:
        total = CTX.add(total, v)
    return total


class AccountShared:
    def __init__(self, exchange: Exchange, clock: Clock, name: str = "", *, budgeted: bool = False) -> None:
        self.exchange = exchange
        self.budgeted = budgeted  # requests wait for a request budget before they leave (on_send)
        self.clock = clock
        self.name = name or exchange.name
        self.router = OrderRouter(exchange, clock)  # one order-event subscription
        self.market_data = MarketDataHub(exchange, clock)  # one book subscription per symbol
        self.figures = Refreshed(clock, self._fetch_figures)
        self._income: dict[int, Refreshed[dict[str, Decimal]]] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._leverage: dict[str, int] = {}
        self._countdowns: dict[str, _Countdown] = {}  # symbol → its countdown cancel, while armed
        self.countdown_lease_s = COUNTDOWN_LEASE_S
        # a mass stop's safety requests, joined per symbol until they leave (bots.shared_cancels)
        self.cancels = SharedCancels(exchange, budgeted=budgeted)
        self._open_orders = FreshQuery(exchange.open_orders, budgeted=budgeted)
        self._open_conditionals = FreshQuery(exchange.open_conditionals, budgeted=budgeted)
        self.funding = AccountFunding()
        self._funding_cursor_ms: int | None = None
        self._funding_seen: set[str] = set()  # funding row ids at or after the cursor
        self._funding_task: asyncio.Task[None] | None = None

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

    async def read_figures(self, stale_wait_s: float = STALE_WAIT_S) -> Snapshot[AccountFigures]:
        """Balance and positions for a view: cached, at most one refresh per `FIGURES_TTL_S`; a stale
        value is shown after at most `stale_wait_s` (`Refreshed.read`)."""
        return await self.figures.read(FIGURES_TTL_S, stale_wait_s)

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
            sums[row.venue_type] += row.amount  # the venue's own type: INSURANCE_CLEAR is not REALIZED_PNL
        return dict(sorted(sums.items()))

    async def open_orders_fresh(self, symbol: str) -> list[Order]:
        """The symbol's open orders as seen by a request sent after this call: every bot confirming a
        stop or pause joins the symbol's SAFETY-class request that has not left yet (it may be waiting
        for the request budget: a mass stop shares one), instead of sending its own."""
        return await self._open_orders(symbol)

    async def open_conditionals_fresh(self, symbol: str) -> list[ConditionalOrder]:
        """The symbol's open conditional orders (held exits) as seen by a request sent after this call,
        joined as `open_orders_fresh` is: what every exit keeper confirming a stop shares."""
        return await self._open_conditionals(symbol)

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
        """A bot that is about to quote `symbol` asks for its countdown cancel: armed now if it is not
        (or `force`), True if a request went out. From then on the symbol's keeper task refreshes it
        every `refresh_s`, on a path of its own: no tick, order or report traffic can delay it. The
        keeper goes on until the countdown is disarmed (the manager does when no active bot is on the
        symbol); one nobody asked for during `countdown_lease_s` (or `timeout_s` if longer) is left to
        expire. Refreshes are SAFETY requests."""
        cd = self._countdowns.get(symbol)
        if cd is None:
            cd = self._countdowns[symbol] = _Countdown(timeout_s, refresh_s)
        cd.timeout_s, cd.refresh_s = timeout_s, refresh_s
        cd.wanted_at = self.clock.monotonic()
        if not force and (cd.keeping or self._fresh(cd)):  # the hot path: no lock, no request
            self._keep_alive(symbol, cd)
            return False
        async with self._locks[f"countdown:{symbol}"]:
            if force or not self._fresh(cd):  # else refreshed while we waited
                await self.exchange.arm_countdown(symbol, cd.timeout_s)
                cd.armed(self.clock.monotonic())
                sent = True
            else:
                sent = False
        self._keep_alive(symbol, cd)
        return sent

    def _fresh(self, cd: _Countdown) -> bool:
        return cd.armed_at is not None and self.clock.monotonic() - cd.armed_at < cd.refresh_s

    def _keep_alive(self, symbol: str, cd: _Countdown) -> None:
        """Start the symbol's keeper unless it runs (in a fresh context: no caller's request class)."""
        if not cd.keeping and cd.armed_at is not None:
            cd.task = asyncio.get_running_loop().create_task(
                self._keep(symbol, cd), name=f"countdown-{self.name}-{symbol}", context=contextvars.Context()
            )

    async def _keep(self, symbol: str, cd: _Countdown) -> None:
        """The keeper: refresh when due, retry a failure every `COUNTDOWN_RETRY_S` (the failure is kept
        for health), stop when the countdown is disarmed or nobody asked for it during the lease."""
        while self._countdowns.get(symbol) is cd and cd.armed_at is not None:
            now = self.clock.monotonic()
            if now - cd.wanted_at > max(self.countdown_lease_s, cd.timeout_s):
                cd.lapsed_at = now  # nobody quotes it: the venue's countdown runs out by itself
                return
            due = cd.armed_at + cd.refresh_s if cd.failed_at is None else cd.failed_at + COUNTDOWN_RETRY_S
            if now < due:
                await self.clock.sleep(due - now)
                continue
            async with self._locks[f"countdown:{symbol}"]:
                if self._fresh(cd) or self._countdowns.get(symbol) is not cd:
                    continue
                try:
                    await self.exchange.arm_countdown(symbol, cd.timeout_s)
                except Exception as e:  # the keeper's one error boundary: it must outlive any failure
                    cd.error = e.message if isinstance(e, MmctlError) else f"{type(e).__name__}: {e}"
                    cd.failed_at = self.clock.monotonic()
                    continue
                cd.armed(self.clock.monotonic())

    def countdown_age_s(self, symbol: str) -> float | None:
        cd = self._countdowns.get(symbol)
        armed = None if cd is None else cd.armed_at
        return None if armed is None else self.clock.monotonic() - armed

    def countdowns(self) -> list[CountdownState]:
        """Every countdown this process armed and has not disarmed, for health (no request)."""
        now = self.clock.monotonic()
        return [
            CountdownState(
                symbol,
                cd.timeout_s,
                cd.refresh_s,
                None if cd.armed_at is None else now - cd.armed_at,
                cd.lapsed_at is not None and not cd.keeping,
                cd.error,
            )
            for symbol, cd in sorted(self._countdowns.items())
        ]

    async def disarm_countdown(self, symbol: str) -> None:
        """Stop refreshing the symbol's countdown (at once, whatever the request does) and disarm it."""
        cd = self._countdowns.pop(symbol, None)
        if cd is not None and cd.task is not None:
            cd.task.cancel()
        async with self._locks[f"countdown:{symbol}"]:
            await self.exchange.disarm_countdown(symbol)

    # --- funding ---------------------------------------------------------------------------------------

    def funding_poll(
        self, bots: Callable[[], Iterable[FundedBot]], since_ms: int, max_age_s: float = FUNDING_POLL_S
    ) -> asyncio.Task[None] | None:
        """Start (or join) the funding poll unless one succeeded in the last `max_age_s`; returns its task,
        or None when none is due. `bots` lists the account's bots when the rows arrive; the first poll
        reads from `since_ms`. The walk is a QUERY-class read in a fresh context."""
        if self._funding_task is not None and not self._funding_task.done():
            return self._funding_task
        polled = self.funding.polled_at
        if polled is not None and self.clock.monotonic() - polled < max_age_s:
            return None
        self._funding_task = asyncio.get_running_loop().create_task(
            self._poll_funding(bots, since_ms), context=contextvars.Context()
        )
        return self._funding_task

    async def poll_funding(
        self, bots: Callable[[], Iterable[FundedBot]], since_ms: int, max_age_s: float = FUNDING_POLL_S
    ) -> AccountFunding:
        """`funding_poll`, waiting for it; the attribution so far (its `error` says if the poll failed)."""
        task = self.funding_poll(bots, since_ms, max_age_s)
        if task is not None:
            await asyncio.shield(task)
        return self.funding

    async def _poll_funding(self, bots: Callable[[], Iterable[FundedBot]], since_ms: int) -> None:
        cursor = since_ms if self._funding_cursor_ms is None else self._funding_cursor_ms
        newest = cursor
        try:
            with request_class(Priority.QUERY):
                async for row in iter_income(self.exchange, cursor):
                    newest = max(newest, row.ts_ms)
                    if row.type is IncomeType.FUNDING_FEE and row.id not in self._funding_seen:
                        self._funding_seen.add(row.id)
                        self._attribute(row.symbol, row.amount, row.ts_ms, list(bots()))
        except ExchangeError as e:
            self.funding.error = e.message
            return
        cursor = max(cursor, newest - FUNDING_LATE_MS)
        self._funding_cursor_ms = cursor
        self.funding.error, self.funding.polled_at = None, self.clock.monotonic()

    def _attribute(self, symbol: str, amount: Decimal, ts_ms: int, bots: list[FundedBot]) -> None:
        key = self._unified(symbol)
        holders = [b for b in bots if self._unified(b.definition.symbol) == key]
        split = allocate_funding(amount, {b.name: b.inventory.qty_at(ts_ms) for b in holders})
        for bot in holders:
            share = split.shares.get(bot.name, ZERO)
            if share:
                bot.inventory.add_funding(share)
                self.funding.by_bot[bot.name] = CTX.add(self.funding.by_bot.get(bot.name, ZERO), share)
        f = self.funding
        f.total[key] = CTX.add(f.total.get(key, ZERO), amount)
        f.unattributed[key] = CTX.add(f.unattributed.get(key, ZERO), split.unattributed)
        f.rows += 1

    def _unified(self, symbol: str) -> str:
        try:
            return self.exchange.market(symbol).symbol
        except (MmctlError, KeyError):
            return symbol
