"""Daemon-wide risk: total notional across bots and the daily loss limit (UTC day) → stop everything.

Checked every `[risk] check_interval_s`. Exposure is each account and symbol's net of the bots' own
positions at the mid; the daily figure is the bots' net PnL since 00:00 UTC, funding included (their
lifetime figures minus a snapshot taken at the day's start). While a limit is breached the guard holds a
`halt` reason: running bots are stopped (orders cancelled) and starts are refused until the figures are
back in bounds. `[risk] on_trip` says what a trip does to positions: "stop" leaves them open (the event
and each bot's status say how large they are), "flatten" also closes every bot's own position.

Each check also starts the accounts' funding polls when due (`AccountShared.funding_poll`, in the
background: a check never waits for the ledger), so funding reaches the bots' PnL and these guards.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING

from mmctl.bots.risk import RiskVerdict, money_text
from mmctl.clock import now_ms
from mmctl.fleet.risk import FleetLimits, FleetRiskMonitor, utc_day_start_ms
from mmctl.model import ZERO

if TYPE_CHECKING:
    from mmctl.bots.bot import Bot
    from mmctl.fleet.manager import BotManager

RISK_PREFIX = "risk: "  # a bot's last_error after a risk stop starts with this (bots' own guards too)


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

    def poll_funding(self) -> list[asyncio.Task[None]]:
        """Start each account's funding poll if due (no wait); the polls under way."""
        manager, tasks = self.manager, []
        for account, shared in sorted(manager.shared.items()):

            def bots(account: str = account) -> list[Bot]:
                return [b for b in manager.bots.values() if b.definition.account == account]

            task = shared.funding_poll(bots, manager.started_ms) if bots() else None
            if task is not None:
                tasks.append(task)
        return tasks

    async def check(self) -> RiskVerdict:
        """One check; on a new breach, stop every active bot (flattening with `on_trip = "flatten"`)."""
        self.poll_funding()
        verdict = self.monitor.check(self.exposures(), self.daily_net())
        if verdict.halts:
            flatten = self.monitor.settings.on_trip == "flatten"
            new = self.halt is None
            if new:
                what = "stopping and flattening every bot" if flatten else "stopping every bot"
                on_trip = "flatten" if flatten else "stop"
                self.manager.events.add(
                    None, "risk", f"daemon-wide: {verdict.reason}; {what}", on_trip=on_trip, **verdict.data
                )
            self.halt = verdict
            await self._trip(verdict, flatten, new)
        elif self.halt is not None:
            self.manager.events.add(None, "risk", "daemon-wide limits back in bounds: starts allowed again")
            self.halt = None
        return verdict

    async def _trip(self, verdict: RiskVerdict, flatten: bool, new: bool) -> None:
        """Stop the active bots (and, flattening on a new trip, every bot holding a position); then say
        which positions the stop left open."""
        bots = self.manager.bots.values()
        targets = [b for b in bots if b.state.active or (flatten and new and b.inventory.qty)]
        if not targets:
            return
        await self.manager.stop([b.name for b in targets], flatten=flatten)
        for bot in targets:
            if bot.last_error is None and not bot.state.active:
                bot.last_error = f"{RISK_PREFIX}daemon-wide: {verdict.reason}"
        left = [b for b in targets if b.inventory.qty]
        if left:
            message, positions, total = _left_open(left)
            self.manager.events.add(
                None, "risk", message, positions=positions, open_notional=money_text(total)
            )


def _left_open(bots: list[Bot]) -> tuple[str, dict[str, str], Decimal]:
    """The event message, each bot's position and the total notional a risk stop left open."""
    parts, positions, total = [], {}, ZERO
    for bot in sorted(bots, key=lambda b: b.name):
        book = bot.exchange.book(bot.definition.symbol)
        qty = bot.inventory.qty
        notional = abs(qty) * book.mid if book is not None else ZERO
        total += notional
        parts.append(f"{bot.name} {bot.definition.symbol} {qty} (notional {money_text(notional)})")
        positions[bot.name] = str(qty)
    message = f"risk stop left {len(bots)} position(s) open, notional {money_text(total)}: " + "; ".join(
        parts
    )
    return message, positions, total
