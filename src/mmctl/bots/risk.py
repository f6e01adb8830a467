"""Risk guards: pure checks that turn market data and PnL into a verdict the bot loop or daemon acts on.

Core layer: no I/O, no asyncio, no clock. Time is passed in as float seconds (`now_s`) on any clock the
caller uses consistently (the bot loop's monotonic clock, say); a `PAUSE` verdict's `until_s` is on it.

Per bot (`BotRiskMonitor`, parameters from `StrategyParams`; 0 turns a guard off):
- `max_loss`: net PnL since start (realized + unrealized - fees) <= -max_loss → `STOP` or `FLATTEN`
  (`on_loss`).
- `max_drawdown`: peak net PnL since start (the start counts as 0) minus net PnL >= max_drawdown → the
  same. A loss verdict latches: every later `check` returns it until `reset`.
- `max_move_bps` (circuit breaker): the mid's range over the last `move_window_s`, counting the mid that
  prevailed at the window's start, `(high - low) / low` in bps, strictly above the limit → `PAUSE` until
  `now + cooldown_s`. The window restarts at the current mid, so one move trips once; a further move
  beyond the limit during the cooldown restarts the cooldown. Quoting resumes by itself after it. The
  mid before a feed gap prevails until the next book, so a jump across a gap counts as a move.
- `stale_data_s`: no book update (or none since `reset`) for at least this long → `PULL`, until a book
  arrives.
Precedence: latched loss, then a loss or drawdown trip, then `PAUSE`, then `PULL`, then `OK`.

Daemon-wide guards live in `mmctl.fleet.risk` and share these verdict types.

Every verdict but `OK` names its guard, a one-line `reason` and JSON-safe `data` (money as strings).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from enum import StrEnum

from mmctl.model import ZERO
from mmctl.strategies.params import StrategyParams

BPS = Decimal(10_000)
DAY_MS = 86_400_000
EXACT = Context(prec=60, rounding=ROUND_HALF_EVEN)  # sums, differences and products stay exact
_SHOWN_BPS = Decimal("0.01")  # move_bps as reported (the comparison uses the exact value)

JsonScalar = str | int | float | None


class RiskAction(StrEnum):
    """What the caller must do."""

    OK = "ok"  # quote normally
    PULL = "pull"  # cancel quotes, keep running; quote again when data returns (stale data)
    PAUSE = "pause"  # cancel quotes, keep running; quote again at `until_s` (circuit breaker)
    STOP = "stop"  # stop the bot: cancel its orders (loss or drawdown)
    FLATTEN = "flatten"  # stop the bot and close its position (loss or drawdown, on_loss = flatten)
    STOP_ALL = "stop_all"  # stop every bot (a daemon-wide limit)


class Guard(StrEnum):
    """Which guard produced a verdict (its parameter or setting name)."""

    MAX_LOSS = "max_loss"
    MAX_DRAWDOWN = "max_drawdown"
    STALE_DATA = "stale_data_s"
    MAX_MOVE = "max_move_bps"
    MAX_TOTAL_NOTIONAL = "max_total_notional"
    DAILY_LOSS_LIMIT = "daily_loss_limit"


@dataclass(frozen=True, slots=True)
class RiskVerdict:
    """A guard's decision: the action, the guard, a one-line reason and the numbers behind it."""

    action: RiskAction = RiskAction.OK
    guard: Guard | None = None
    reason: str = ""
    data: Mapping[str, JsonScalar] = field(default_factory=dict)
    until_s: float | None = None  # PAUSE only: when quoting may resume, on the caller's clock

    @property
    def ok(self) -> bool:
        return self.action is RiskAction.OK

    @property
    def halts(self) -> bool:
        """The bot (or every bot) must stop: STOP, FLATTEN or STOP_ALL."""
        return self.action in (RiskAction.STOP, RiskAction.FLATTEN, RiskAction.STOP_ALL)

    def to_dict(self) -> dict[str, object]:
        """JSON-safe form for events, status and logs."""
        return {
            "action": self.action.value,
            "guard": None if self.guard is None else self.guard.value,
            "reason": self.reason,
            "data": dict(self.data),
            "until_s": self.until_s,
        }


def money_text(value: Decimal) -> str:
    return format(value, "f")


# --- the circuit breaker's window ---------------------------------------------------------------------


class _Point:
    """A mid that prevailed from its arrival until `end_s` (inf while it is the latest)."""

    __slots__ = ("end_s", "mid")

    def __init__(self, mid: Decimal) -> None:
        self.mid = mid
        self.end_s = math.inf


class MidWindow:
    """Highest and lowest mid over `[cutoff, now]`, the mid that prevailed at the cutoff included.

    Two monotonic deques (highs decreasing, lows increasing from the front): O(1) amortized per update, and
    only points that can still be an extreme are kept, all of them inside the window. An unchanged mid
    adds nothing."""

    def __init__(self) -> None:
        self._high: deque[_Point] = deque()
        self._low: deque[_Point] = deque()
        self._last: _Point | None = None
        self._last_s = -math.inf

    def add(self, mid: Decimal, now_s: float) -> None:
        now_s = max(now_s, self._last_s)  # a clock step backwards must not reorder the window
        self._last_s = now_s
        if self._last is not None:
            if mid == self._last.mid:
                return
            self._last.end_s = now_s
        point = _Point(mid)
        while self._high and self._high[-1].mid <= mid:
            self._high.pop()
        self._high.append(point)
        while self._low and self._low[-1].mid >= mid:
            self._low.pop()
        self._low.append(point)
        self._last = point

    def trim(self, cutoff_s: float) -> None:
        """Forget mids that were replaced at or before `cutoff_s`."""
        for points in (self._high, self._low):
            while points and points[0].end_s <= cutoff_s:
                points.popleft()

    def extremes(self) -> tuple[Decimal, Decimal] | None:
        """(high, low) of what is kept, or None before the first mid."""
        if not self._high:
            return None
        return self._high[0].mid, self._low[0].mid

    def restart(self) -> None:
        """Keep only the latest mid: the next move is measured from here."""
        self._high.clear()
        self._low.clear()
        if self._last is not None:
            self._high.append(self._last)
            self._low.append(self._last)

    def __len__(self) -> int:
        """Distinct points kept (a measure of memory)."""
        return len({id(p) for p in (*self._high, *self._low)})


# --- one bot ------------------------------------------------------------------------------------------


class BotRiskMonitor:
    """One bot's guards. The loop calls `on_book` for each book update and `check` before each quote.

    `net_pnl` passed to `check` must be measured since the last `reset` (call it at every start): the peak
    starts at 0 there. Without a `reset`, the first call's time is the start."""

    def __init__(self, params: StrategyParams) -> None:
        self._params = params
        self._window = MidWindow()
        self._since_s: float | None = None
        self._last_book_s: float | None = None
        self._peak = ZERO
        self._halt: RiskVerdict | None = None
        self._paused_at: float | None = None
        self._pause: RiskVerdict | None = None

    @property
    def params(self) -> StrategyParams:
        return self._params

    @property
    def peak(self) -> Decimal:
        """Highest net PnL seen by `check` since the start (at least 0)."""
        return self._peak

    @property
    def paused_until(self) -> float | None:
        return None if self._pause is None else self._pause.until_s

    @property
    def window(self) -> MidWindow:
        return self._window

    def reset(self, now_s: float) -> None:
        """A fresh start: forget the peak, a latched loss verdict, a pause, the mids and the last book."""
        self._window = MidWindow()
        self._since_s = now_s
        self._last_book_s = None
        self._peak = ZERO
        self._halt = None
        self._paused_at = self._pause = None

    def update_params(self, params: StrategyParams) -> None:
        """New limits apply at the next `check`. Turning the breaker off ends a pause; a new cooldown_s
        moves the end of the current pause (counted from its trip). A latched loss verdict stays."""
        self._params = params
        if self._pause is None or self._paused_at is None:
            return
        if params.max_move_bps <= 0:
            self._paused_at = self._pause = None
        else:
            until = self._paused_at + params.cooldown_s
            data = {**self._pause.data, "cooldown_s": params.cooldown_s, "until_s": until}
            self._pause = RiskVerdict(RiskAction.PAUSE, Guard.MAX_MOVE, self._pause.reason, data, until)

    def on_book(self, mid: Decimal, now_s: float) -> None:
        """A book update. A non-positive or non-finite mid is not data: it is ignored."""
        if not mid.is_finite() or mid <= 0:
            return
        self._start(now_s)
        self._last_book_s = now_s
        self._window.add(mid, now_s)
        self._window.trim(now_s - self._params.move_window_s)

    def check(self, now_s: float, net_pnl: Decimal) -> RiskVerdict:
        """The verdict now, given the bot's net PnL since start (see the module docstring)."""
        self._start(now_s)
        if self._halt is not None:
            return self._halt
        self._halt = self._check_pnl(net_pnl)
        if self._halt is not None:
            return self._halt
        return self._check_move(now_s) or self._check_stale(now_s) or RiskVerdict()

    def _start(self, now_s: float) -> None:
        if self._since_s is None:
            self._since_s = now_s

    def _check_pnl(self, pnl: Decimal) -> RiskVerdict | None:
        params = self._params
        with localcontext(EXACT):
            self._peak = max(self._peak, pnl)
            drawdown = self._peak - pnl
            if params.max_loss > 0 and pnl <= -params.max_loss:
                reason = (
                    f"net PnL {money_text(pnl)} reached the loss limit -{money_text(params.max_loss)} "
                    "(max_loss)"
                )
                data: dict[str, JsonScalar] = {"pnl": money_text(pnl), "limit": money_text(params.max_loss)}
                return self._loss_verdict(Guard.MAX_LOSS, reason, data)
            if params.max_drawdown > 0 and drawdown >= params.max_drawdown:
                reason = (
                    f"net PnL {money_text(pnl)} is {money_text(drawdown)} below its peak "
                    f"{money_text(self._peak)} "
                    f"(max_drawdown {money_text(params.max_drawdown)})"
                )
                data = {
                    "pnl": money_text(pnl),
                    "peak": money_text(self._peak),
                    "drawdown": money_text(drawdown),
                    "limit": money_text(params.max_drawdown),
                }
                return self._loss_verdict(Guard.MAX_DRAWDOWN, reason, data)
        return None

    def _loss_verdict(self, guard: Guard, reason: str, data: dict[str, JsonScalar]) -> RiskVerdict:
        flatten = self._params.on_loss == "flatten"
        action = RiskAction.FLATTEN if flatten else RiskAction.STOP
        data["on_loss"] = self._params.on_loss
        return RiskVerdict(action, guard, f"{reason}: {'flattening' if flatten else 'stopping'}", data)

    def _check_move(self, now_s: float) -> RiskVerdict | None:
        params = self._params
        if params.max_move_bps <= 0:
            return None
        self._window.trim(now_s - params.move_window_s)
        extremes = self._window.extremes()
        if extremes is not None and self.move_tripped():
            self._trip_breaker(now_s, *extremes)
        if self._pause is not None and self._pause.until_s is not None and now_s < self._pause.until_s:
            return self._pause
        self._paused_at = self._pause = None
        return None

    @property
    def watches_loss(self) -> bool:
        """True when the net PnL can trip a loss guard (`max_loss` or `max_drawdown` on, or a loss verdict
        latched): otherwise `loss_tripped` is False whatever the PnL, and it need not be computed."""
        params = self._params
        return self._halt is not None or params.max_loss > 0 or params.max_drawdown > 0

    def loss_tripped(self, net_pnl: Decimal) -> bool:
        """True when `check` with this net PnL would stop the bot on a loss or drawdown (or already
        has). No side effect: the peak is not moved."""
        if self._halt is not None:
            return True
        params = self._params  # on the reaction path: no context manager, comparisons need no context
        if params.max_loss > 0 and net_pnl <= params.max_loss.copy_negate():
            return True
        if params.max_drawdown <= 0:
            return False
        peak = self._peak if self._peak > net_pnl else net_pnl
        return EXACT.subtract(peak, net_pnl) >= params.max_drawdown

    def move_tripped(self) -> bool:
        """True when the mids held now trip the circuit breaker: (high - low) × 10000 > max_move_bps ×
        low, exactly. No side effect (the window is trimmed as each book arrives and at `check`)."""
        limit = self._params.max_move_bps
        extremes = self._window.extremes()
        if limit <= 0 or extremes is None:
            return False
        high, low = extremes
        return EXACT.multiply(EXACT.subtract(high, low), BPS) > EXACT.multiply(limit, low)

    def _trip_breaker(self, now_s: float, high: Decimal, low: Decimal) -> None:
        params = self._params
        with localcontext(EXACT):
            move = ((high - low) * BPS / low).quantize(_SHOWN_BPS)
        until = now_s + params.cooldown_s
        reason = (
            f"mid moved {money_text(move)} bps within {params.move_window_s} s (max_move_bps "
            f"{money_text(params.max_move_bps)}): quoting paused for {params.cooldown_s} s"
        )
        data: dict[str, JsonScalar] = {
            "move_bps": money_text(move),
            "limit_bps": money_text(params.max_move_bps),
            "window_s": params.move_window_s,
            "high": money_text(high),
            "low": money_text(low),
            "cooldown_s": params.cooldown_s,
            "until_s": until,
        }
        self._paused_at = now_s
        self._pause = RiskVerdict(RiskAction.PAUSE, Guard.MAX_MOVE, reason, data, until)
        self._window.restart()

    def _check_stale(self, now_s: float) -> RiskVerdict | None:
        limit = self._params.stale_data_s
        since = self._last_book_s if self._last_book_s is not None else self._since_s
        if limit <= 0 or since is None or now_s - since < limit:
            return None
        age = round(now_s - since, 3)
        what = "no book update" if self._last_book_s is not None else "no book since start"
        reason = f"{what} for {age:.1f} s (stale_data_s {limit}): quotes pulled until data returns"
        data: dict[str, JsonScalar] = {"age_s": age, "limit_s": limit}
        return RiskVerdict(RiskAction.PULL, Guard.STALE_DATA, reason, data)
