"""Daemon-wide risk: total notional across bots and the daily loss limit (UTC day) → stop everything.

Checked every `[risk] check_interval_s`. Exposure is each account and symbol's net of the bots' own
positions at the mid; the daily figure is the bots' net PnL since 00:00 UTC (their lifetime figures
minus a snapshot taken at the day's start). While a limit is breached the guard holds a `halt` reason:
running bots are stopped (orders cancelled) and starts are refused until the figures are back in bounds.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING

from mmctl.bots.risk import RiskVerdict
from mmctl.clock import now_ms
from mmctl.fleet.risk import FleetLimits, FleetRiskMonitor, utc_day_start_ms
from mmctl.model import ZERO

if TYPE_CHECKING:
    from mmctl.fleet.manager import BotManager


class FleetGuard:
    def __init__(self, manager: BotManager, limits: FleetLimits) -> None:
        self.manager = manager
        self.monitor = FleetRiskMonitor(limits)
        self.halt: RiskVerdict | None = None
        # lifetime figures start at 0 when the daemon loads the bots: today's base is 0 until the next
        # UTC midnight, when every bot's lifetime net is snapshotted
        self._day_ms = utc_day_start_ms(now_ms(manager.clock))
        self._day_base: dict[str, Decimal] = {}

    def exposures(self) -> dict[str, Decimal]:
        """|net position| × mid per account and symbol, from the bots' own positions."""
        net: dict[str, Decimal] = defaultdict(lambda: ZERO)
        mids: dict[str, Decimal] = {}
        for bot in self.manager.bots.values():
            key = f"{bot.definition.account}:{bot.definition.symbol}"
            net[key] += bot.inventory.qty
            book = bot.exchange.book(bot.definition.symbol)
            if book is not None:
                mids[key] = book.mid
        return {k: abs(q) * mids.get(k, ZERO) for k, q in net.items() if q}

    def daily_net(self) -> Decimal:
        day = utc_day_start_ms(now_ms(self.manager.clock))
        marks = {name: self._lifetime(name) for name in self.manager.bots}
        if day != self._day_ms:
            self._day_ms, self._day_base = day, marks
        return sum((v - self._day_base.setdefault(name, ZERO) for name, v in marks.items()), ZERO)

    def _lifetime(self, name: str) -> Decimal:
        bot = self.manager.bots[name]
        book = bot.exchange.book(bot.definition.symbol)
        return bot.inventory.lifetime_net(book.mid if book is not None else None)

    async def check(self) -> RiskVerdict:
        """One check; on a new breach, stop every active bot."""
        verdict = self.monitor.check(self.exposures(), self.daily_net())
        if verdict.halts:
            if self.halt is None:
                self.manager.events.add(
                    None, "risk", f"daemon-wide: {verdict.reason}; stopping every bot", **verdict.data
                )
            self.halt = verdict
            active = [b.name for b in self.manager.bots.values() if b.state.active]
            if active:
                await self.manager.stop(active)
        elif self.halt is not None:
            self.manager.events.add(None, "risk", "daemon-wide limits back in bounds: starts allowed again")
            self.halt = None
        return verdict
