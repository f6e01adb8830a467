"""A shared request budget for one Binance IP: sliding windows, request classes, deadlines, no polling.

Binance counts request weight per IP per minute and new orders per account per 10 s and per minute;
going over earns a 429 and then 418 IP bans (see the shared ccxt reference). Every client of the daemon
that talks to the venue through one IP must therefore draw from one budget. `RequestBudget.acquire(cost,
priority, deadline_s)` returns once the request fits in all three windows:

- Classes (`mmctl.exchange.priority.Priority`: SAFETY < HEARTBEAT < START < PLACE < QUERY) are served
  strictly in order, first come first served within a class. SAFETY may fill a window past our cap up to
  `safety_ceiling` of the venue's own limit (95 %: a mass stop of hundreds of bots never waits for a full
  window to slide), HEARTBEAT (the countdown cancel) to the cap, the others to all but `safety_reserve`,
  and START requests together never hold more than `start_share` of a window (they are counted in
  windows of their own too). So the reserved share is always there for cancels, reduce-only orders, a
  stop's confirming queries and then the countdown refreshes, starts are not starved by busy quoting,
  and starting many bots cannot take the room running bots need.
- A request larger than a whole window is admitted alone, once that window is empty (never deadlock).
- `deadline_s`: a request that cannot be admitted within it fails with `BudgetExhausted` ("request
  budget exhausted on ...: retry in N s"): at once when the window alone says it cannot fit in time,
  else when the deadline passes. Nothing is charged for a request that was not admitted.
- `observe(...)` raises our estimate to the usage the venue reports in its headers (the max of both);
  `penalize(retry_after_s)` admits nothing until then (429/418).
- Waiters sleep on the injected `Clock`: one timer sleeps until the head can fit (the earliest window
  expiry that frees enough, or the end of a penalty) and admits it then. Nothing polls.

The windows slide (any 60 s / 10 s span), which is stricter than Binance's fixed calendar windows.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from mmctl.clock import Clock
from mmctl.errors import BudgetExhausted
from mmctl.exchange.priority import Priority
from mmctl.exchange.weights import Cost

__all__ = ["AccountBudgets", "BudgetLimits", "Priority", "RequestBudget", "SlidingWindow"]

MINUTE_S = 60.0
TEN_S = 10.0
_EPS = 1e-6  # clock float noise: an entry this close to its expiry has expired


@dataclass(frozen=True, slots=True)
class BudgetLimits:
    """Binance USDⓈ-M's published limits, and the fraction of them we allow ourselves to use.

    `use_fraction` defaults to 0.8 so we never run at the edge: our count cannot see requests made on the
    same IP or account by anything else (the web UI, a manual script, ccxt's own time sync and market
    loads), the usage headers lag behind requests still in flight, and Binance may change an endpoint's
    weight without notice. A 429 costs far more (a back-off, then an IP ban) than the 20 % kept in hand.
    """

    weight_per_min: int = 2400
    orders_per_10s: int = 300
    orders_per_min: int = 1200
    use_fraction: float = 0.8
    safety_reserve: float = 0.2  # share of each cap only the SAFETY class may use
    start_share: float = 0.5  # most of each cap the START class may fill
    safety_ceiling: float = 0.95  # of the venue's own limit: how far SAFETY alone may go past the cap

    def __post_init__(self) -> None:
        for name in ("weight_per_min", "orders_per_10s", "orders_per_min"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("use_fraction", "safety_reserve", "start_share", "safety_ceiling"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1):
                raise ValueError(f"{name} must be a fraction between 0 and 1, got {value!r}")
        if self.use_fraction == 0 or self.start_share == 0 or self.safety_reserve == 1:
            raise ValueError("use_fraction and start_share must be above 0, safety_reserve below 1")
        if self.start_share > 1 - self.safety_reserve:
            raise ValueError("start_share must leave the safety reserve free: at most 1 - safety_reserve")

    def share(self, priority: Priority) -> float:
        """The share of each window's cap that requests of `priority` may fill: SAFETY up to
        `safety_ceiling` of the venue's limit (beyond the cap: a mass stop never waits for the window to
        slide), HEARTBEAT the whole cap, the others all but `safety_reserve`."""
        if priority is Priority.SAFETY:
            return max(1.0, self.safety_ceiling / self.use_fraction)
        return 1.0 if priority is Priority.HEARTBEAT else 1.0 - self.safety_reserve

    @property
    def weight_cap(self) -> int:
        """Weight we allow ourselves per sliding minute."""
        return _cap(self.weight_per_min, self.use_fraction)

    @property
    def orders_10s_cap(self) -> int:
        return _cap(self.orders_per_10s, self.use_fraction)

    @property
    def orders_1m_cap(self) -> int:
        return _cap(self.orders_per_min, self.use_fraction)

    def to_dict(self) -> dict[str, Any]:
        return {
            "weight_per_min": self.weight_per_min,
            "orders_per_10s": self.orders_per_10s,
            "orders_per_min": self.orders_per_min,
            "use_fraction": self.use_fraction,
            "safety_reserve": self.safety_reserve,
            "start_share": self.start_share,
            "weight_cap": self.weight_cap,
            "orders_10s_cap": self.orders_10s_cap,
            "orders_1m_cap": self.orders_1m_cap,
        }


def _cap(limit: int, fraction: float) -> int:
    return max(1, math.floor(limit * fraction))


class SlidingWindow:
    """Amounts used in the last `span` seconds (monotonic clock), with their running total."""

    def __init__(self, span: float, cap: int) -> None:
        self.span = span
        self.cap = cap
        self.total = 0
        self._entries: deque[tuple[float, int]] = deque()

    def expire(self, now: float) -> None:
        entries = self._entries
        while entries and entries[0][0] + self.span <= now + _EPS:
            self.total -= entries.popleft()[1]

    def add(self, now: float, amount: int) -> None:
        if amount <= 0:
            return
        self.total += amount
        if self._entries and self._entries[-1][0] == now:
            amount += self._entries.pop()[1]
        self._entries.append((now, amount))

    def limit(self, share: float) -> int:
        """The most this window may hold for a class allowed `share` of the cap (above 1: past it)."""
        return self.cap if share == 1 else max(1, math.floor(self.cap * share + _EPS))

    def fits(self, amount: int, share: float = 1.0) -> bool:
        """Whether `amount` more fits within `share` of the cap; an amount above that fits only into an
        empty window."""
        return amount <= 0 or self.total + amount <= self.limit(share) or self.total == 0

    def fits_at(self, amount: int, share: float = 1.0) -> float:
        """The earliest time (monotonic) at which `amount` fits, assuming nothing else is added."""
        if self.fits(amount, share):
            return -math.inf
        limit = self.limit(share)
        need = self.total if amount > limit else self.total + amount - limit
        freed = 0
        for at, used in self._entries:
            freed += used
            if freed >= need:
                return at + self.span
        return -math.inf  # unreachable: everything expires eventually


@dataclass(eq=False)
class _Waiter:
    cost: Cost
    priority: Priority
    future: asyncio.Future[None] = field(repr=False)
    deadline: asyncio.Task[None] | None = field(default=None, repr=False)


class RequestBudget:
    """The request budget of one venue IP (and its accounts' order counters), shared by every client.

    `name` says whose budget it is in errors and health ("the IP's weight", "account main")."""

    def __init__(self, clock: Clock, limits: BudgetLimits | None = None, name: str = "this venue") -> None:
        self.clock = clock
        self.name = name
        self.limits = limits if limits is not None else BudgetLimits()
        self._weight = SlidingWindow(MINUTE_S, self.limits.weight_cap)
        self._orders_10s = SlidingWindow(TEN_S, self.limits.orders_10s_cap)
        self._orders_1m = SlidingWindow(MINUTE_S, self.limits.orders_1m_cap)
        # what START requests hold of each window, capped at `start_share` of it
        self._starts = (
            SlidingWindow(MINUTE_S, self.limits.weight_cap),
            SlidingWindow(TEN_S, self.limits.orders_10s_cap),
            SlidingWindow(MINUTE_S, self.limits.orders_1m_cap),
        )
        self._queues: dict[Priority, deque[_Waiter]] = {p: deque() for p in Priority}
        self._blocked_until = -math.inf
        self._timer: asyncio.Task[None] | None = None
        self._timer_at = math.nan
        self.admitted = 0
        self.queued = 0
        self.penalties = 0
        self.exhausted = 0

    # --- the public surface -------------------------------------------------------------------------

    async def acquire(
        self, cost: Cost, priority: Priority = Priority.QUERY, deadline_s: float | None = None
    ) -> None:
        """Wait until a request of `cost` fits for its class, then charge it. A free cost (no request)
        returns at once. With `deadline_s`, raise `BudgetExhausted` if it cannot be admitted in time.

        If the caller is cancelled while waiting, nothing is charged; if it is cancelled in the instant
        after admission, the charge stays (an over-estimate, which is the safe side)."""
        if cost.free:
            return
        now = self._now()
        self._expire(now)
        if not self._waiting_before(priority) and now >= self._blocked_until and self._fits(cost, priority):
            self._charge(now, cost, priority)
            return
        if deadline_s is not None:
            eta = self._eta(cost, priority) - now
            if eta > deadline_s:  # the windows alone say it cannot be in time: fail now, not later
                raise self._exhausted(eta)
        waiter = _Waiter(cost, priority, asyncio.get_running_loop().create_future())
        self._queues[priority].append(waiter)
        self.queued += 1
        if deadline_s is not None:
            waiter.deadline = asyncio.get_running_loop().create_task(self._expire_waiter(waiter, deadline_s))
        self._dispatch()
        try:
            await waiter.future
        except asyncio.CancelledError:
            if waiter.future.cancelled():
                self._forget(waiter)
            raise
        except BudgetExhausted:
            self._forget(waiter)
            raise
        finally:
            if waiter.deadline is not None:
                waiter.deadline.cancel()

    def observe(
        self,
        used_weight_1m: int | None = None,
        order_count_10s: int | None = None,
        order_count_1m: int | None = None,
    ) -> None:
        """Raise our estimate to the venue's reported usage (X-MBX-USED-WEIGHT-1M, X-MBX-ORDER-COUNT-10S
        / -1M); a figure below our estimate changes nothing. The excess is recorded as used now, so it
        ages out one window later (Binance's fixed windows reset sooner: the safe side)."""
        now = self._now()
        self._expire(now)
        for window, reported in (
            (self._weight, used_weight_1m),
            (self._orders_10s, order_count_10s),
            (self._orders_1m, order_count_1m),
        ):
            if reported is not None and reported > window.total:
                window.add(now, reported - window.total)

    def set_limits(self, limits: BudgetLimits) -> None:
        """Adopt the venue's own published limits (e.g. from Binance's exchangeInfo rateLimits)."""
        self.limits = limits
        self._weight.cap = limits.weight_cap
        self._orders_10s.cap = limits.orders_10s_cap
        self._orders_1m.cap = limits.orders_1m_cap
        for window, cap in zip(
            self._starts, (limits.weight_cap, limits.orders_10s_cap, limits.orders_1m_cap), strict=True
        ):
            window.cap = cap
        if self._has_waiters():
            self._dispatch()

    def penalize(self, retry_after_s: float) -> None:
        """Admit nothing for `retry_after_s` seconds (a 429 or 418 with its Retry-After)."""
        if not (isinstance(retry_after_s, int | float) and math.isfinite(retry_after_s)):
            raise ValueError(f"retry_after_s must be a finite number, got {retry_after_s!r}")
        self.penalties += 1
        self._blocked_until = max(self._blocked_until, self._now() + max(0.0, retry_after_s))
        if self._has_waiters():
            self._dispatch()

    def usage(self) -> dict[str, Any]:
        """A JSON-safe snapshot: use in each window, the limits, waiters per class, any penalty."""
        now = self._now()
        self._expire(now)
        return {
            "name": self.name,
            "weight_1m": self._weight.total,
            "orders_10s": self._orders_10s.total,
            "orders_1m": self._orders_1m.total,
            "limits": self.limits.to_dict(),
            "waiting": {p.name.lower(): self._waiting(p) for p in Priority},
            "blocked_for_s": round(max(0.0, self._blocked_until - now), 6),
            "admitted": self.admitted,
            "queued": self.queued,
            "penalties": self.penalties,
            "exhausted": self.exhausted,
        }

    # --- machinery ----------------------------------------------------------------------------------

    def _now(self) -> float:
        return self.clock.monotonic()

    def _windows(self, cost: Cost) -> tuple[tuple[SlidingWindow, int], ...]:
        return (
            (self._weight, cost.weight),
            (self._orders_10s, cost.orders_10s),
            (self._orders_1m, cost.orders_1m),
        )

    def _starts_of(self, cost: Cost) -> tuple[tuple[SlidingWindow, int], ...]:
        return tuple(zip(self._starts, (cost.weight, cost.orders_10s, cost.orders_1m), strict=True))

    def _expire(self, now: float) -> None:
        for window in (self._weight, self._orders_10s, self._orders_1m, *self._starts):
            window.expire(now)

    def _fits(self, cost: Cost, priority: Priority) -> bool:
        share = self.limits.share(priority)
        if not all(window.fits(amount, share) for window, amount in self._windows(cost)):
            return False
        start_share = self.limits.start_share
        return priority is not Priority.START or all(w.fits(a, start_share) for w, a in self._starts_of(cost))

    def _eta(self, cost: Cost, priority: Priority) -> float:
        """The earliest time this request could be admitted, ignoring other waiters."""
        share = self.limits.share(priority)
        times = [w.fits_at(amount, share) for w, amount in self._windows(cost)]
        if priority is Priority.START:
            times += [w.fits_at(a, self.limits.start_share) for w, a in self._starts_of(cost)]
        return max(self._blocked_until, *times)

    def _exhausted(self, retry_in_s: float) -> BudgetExhausted:
        self.exhausted += 1
        retry = max(0.1, math.ceil(retry_in_s * 10) / 10)
        return BudgetExhausted(
            f"request budget exhausted on {self.name}: retry in {retry:g} s", retry_after_s=retry
        )

    def _charge(self, now: float, cost: Cost, priority: Priority) -> None:
        for window, amount in self._windows(cost):
            window.add(now, amount)
        if priority is Priority.START:
            for window, amount in self._starts_of(cost):
                window.add(now, amount)
        self.admitted += 1

    def _has_waiters(self) -> bool:
        return any(self._queues.values())

    def _waiting_before(self, priority: Priority) -> bool:
        """Whether a waiter of this class or a more urgent one is queued and goes first (a start held only
        by the starts' own share holds nobody else up)."""
        return any(self._queues[p] and not self._held_by_share(p) for p in Priority if p <= priority)

    def _held_by_share(self, priority: Priority) -> bool:
        """Whether this class's head waits only because starts are at their own share."""
        queue = self._queues[priority]
        if priority is not Priority.START or not queue:
            return False
        head = queue[0]
        return all(w.fits(a, self.limits.share(priority)) for w, a in self._windows(head.cost))

    def _waiting(self, priority: Priority) -> int:
        return sum(1 for w in self._queues[priority] if not w.future.done())

    def _heads(self) -> list[_Waiter]:
        """The head of each class in priority order, down to the first one that holds the rest up."""
        heads = []
        for priority, queue in self._queues.items():  # in priority order
            while queue and queue[0].future.done():  # cancelled or expired while queued
                queue.popleft()
            if queue:
                heads.append(queue[0])
                if not self._held_by_share(priority):
                    break
        return heads

    def _forget(self, waiter: _Waiter) -> None:
        with contextlib.suppress(ValueError):
            self._queues[waiter.priority].remove(waiter)
        self._dispatch()

    async def _expire_waiter(self, waiter: _Waiter, deadline_s: float) -> None:
        await self.clock.sleep(deadline_s)
        if not waiter.future.done():
            waiter.future.set_exception(
                self._exhausted(self._eta(waiter.cost, waiter.priority) - self._now())
            )

    def _dispatch(self) -> None:
        """Admit waiters from the head while they fit, then sleep until the head can fit."""
        now = self._now()
        self._expire(now)
        progress = True
        while progress and now >= self._blocked_until:
            progress = False
            for head in self._heads():
                if self._fits(head.cost, head.priority):
                    self._queues[head.priority].popleft()
                    self._charge(now, head.cost, head.priority)
                    head.future.set_result(None)
                    progress = True
                    break
        self._arm_timer(self._heads())

    def _arm_timer(self, heads: list[_Waiter]) -> None:
        if not heads:
            self._cancel_timer()
            return
        wake_at = min(self._eta(head.cost, head.priority) for head in heads)
        if self._timer is not None and self._timer_at == wake_at:
            return
        self._cancel_timer()
        self._timer_at = wake_at
        self._timer = asyncio.get_running_loop().create_task(self._wake(wake_at), name="request-budget-timer")

    def _cancel_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    async def _wake(self, wake_at: float) -> None:
        await self.clock.sleep(wake_at - self._now())  # measured when the sleep starts, not when armed
        self._timer = None
        self._dispatch()


@dataclass(frozen=True, slots=True)
class AccountBudgets:
    """The budgets one account draws from: its own (orders; weight too when it has the IP to itself) and
    the IP's weight budget shared with the other accounts. Handed to views by the composition root."""

    account: RequestBudget
    ip: RequestBudget | None = None

    def usage(self) -> dict[str, Any]:
        use: dict[str, Any] = {"account": self.account.usage()}
        if self.ip is not None:
            use["ip"] = self.ip.usage()
        return use
