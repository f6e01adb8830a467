"""The backtested bot's risk monitor as its loop applies it (`Bot.tick`, `Bot._apply_risk`).

At each tick `RiskGate.check` hands the monitor the latest book (every book as it comes instead when the
circuit breaker is on: its window needs every mid), ends a pause whose cooldown is over, and asks for the
verdict on the bot's net PnL at the mid. A loss or drawdown stop is returned for the caller to carry out
and latches; a circuit-breaker pause and a stale-data pull stop the quoting (`quoting`) until the
cooldown ends or data returns. Every change is noted (`RiskNote`) for the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mmctl.bots.inventory import Inventory
from mmctl.bots.risk import BotRiskMonitor, RiskAction, RiskVerdict
from mmctl.model import BookTop
from mmctl.strategies.params import StrategyParams
from mmctl.timefmt import iso_utc


@dataclass(frozen=True, slots=True)
class RiskNote:
    """A risk verdict that changed what the bot did: a stop, a pause, quotes pulled or resumed."""

    ts_ms: int
    action: str
    guard: str | None
    reason: str

    def to_json_dict(self) -> dict[str, Any]:
        return {"ts": iso_utc(self.ts_ms), "action": self.action, "guard": self.guard, "reason": self.reason}


class RiskGate:
    """One bot's `BotRiskMonitor` and the quoting state its verdicts leave (see the module docstring)."""

    def __init__(self, params: StrategyParams, start_ms: int) -> None:
        self.monitor = BotRiskMonitor(params)
        self.monitor.reset(start_ms / 1000)
        self.breaker = params.max_move_bps > 0  # the breaker needs every mid; else the latest will do
        self.notes: list[RiskNote] = []
        self.halt: RiskNote | None = None  # the stop, once one tripped
        self.paused = False
        self.resume_at: float | None = None  # seconds
        self.hold = False
        self._fed: BookTop | None = None  # the latest book the monitor saw

    @property
    def quoting(self) -> bool:
        return self.halt is None and not self.paused and not self.hold

    def on_book(self, book: BookTop) -> None:
        """Every book, with the breaker on (the caller checks `breaker`)."""
        self.monitor.on_book(book.mid, book.ts_ms / 1000)

    def check(self, now_ms: int, book: BookTop, inventory: Inventory) -> RiskVerdict | None:
        """The tick's verdict applied: the halting verdict (noted, latched) or None."""
        now_s = now_ms / 1000
        monitor = self.monitor
        if self._fed is not book and not self.breaker:
            monitor.on_book(book.mid, book.ts_ms / 1000)
        self._fed = book
        if self.paused and self.resume_at is not None and now_s >= self.resume_at:
            self.paused, self.resume_at = False, None
            self.note(now_ms, "resume", None, "cooldown over: quoting again")
        verdict = monitor.check(now_s, inventory.net(book.mid))
        if verdict.halts:
            self.halt = RiskNote(now_ms, verdict.action.value, _guard(verdict), verdict.reason)
            self.notes.append(self.halt)
            return verdict
        if verdict.action is RiskAction.PAUSE:
            if not self.paused:
                self.paused, self.resume_at = True, verdict.until_s
                self.note(now_ms, verdict.action.value, _guard(verdict), verdict.reason)
            return None
        hold = verdict.action is RiskAction.PULL
        if hold != self.hold:
            self.hold = hold
            if hold:
                self.note(now_ms, verdict.action.value, _guard(verdict), verdict.reason)
            else:
                self.note(now_ms, "resume", None, "market data fresh again: quoting")
        return None

    def note(self, now_ms: int, action: str, guard: str | None, reason: str) -> None:
        self.notes.append(RiskNote(now_ms, action, guard, reason))


def _guard(verdict: RiskVerdict) -> str | None:
    return None if verdict.guard is None else verdict.guard.value
