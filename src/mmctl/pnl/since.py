"""PnL since each bot's start and since `[reports] pnl_since`, from the store's copy of the venue's ledger,
for `status` and `portfolio` (issue 12, item 8).

The figures are `mmctl pnl` reports (`build_report`: the same lines, attribution and exact arithmetic),
kept here and refreshed after each scheduled ledger sync (`refresh`, which reports only the time since
the last one), so a view costs no store read and no venue request; `as_of` says when they were computed
(they include every ledger row synced by then).
Per account: one report by bot since `pnl_since` (its lines, and each bot's bucket). Per bot that has
started: a report of its share since its last start. A bot without income in a period has zero lines.
`pnl_since` is read at each refresh in `[reports] timezone` (empty: today), as `mmctl pnl` reads it.

Application layer: core, the `Store` port and the bot manager.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mmctl.clock import Clock, now_ms
from mmctl.pnl.attribution import UNATTRIBUTED
from mmctl.pnl.lines import NET, Lines, plain
from mmctl.pnl.report import ReportRequest, build_report
from mmctl.store.base import Store
from mmctl.timefmt import iso_utc
from mmctl.timeparse import parse_time, zone_of

if TYPE_CHECKING:
    from mmctl.fleet.manager import BotManager

SHOWN = ("realized", "commission", "funding", NET)
"""The lines a view shows (the `pnl` document has every line; `net` includes the venue's other income
types, such as rebates or insurance clearances; `transfers` is never profit)."""


@dataclass(frozen=True, slots=True)
class SinceLines:
    """Report lines of one period that starts at `since_ms` and runs up to the refresh."""

    since_ms: int
    lines: dict[str, Decimal]

    def doc(self) -> dict[str, Any]:
        """`{"since", "realized", "commission", "funding", "net"}`: money as plain strings."""
        return {"since": iso_utc(self.since_ms), **{k: plain(self.lines.get(k, Decimal(0))) for k in SHOWN}}


@dataclass
class _Running:
    """Lines of a period that starts at `since_ms`, summed up to `upto_ms` (exclusive) so far."""

    since_ms: int
    upto_ms: int
    lines: Lines = field(default_factory=Lines)

    def add(self, lines: Mapping[str, Decimal], upto_ms: int) -> None:
        for name, value in lines.items():
            if name != NET:
                self.lines.add(name, value)
        self.upto_ms = upto_ms

    def shown(self) -> SinceLines:
        return SinceLines(self.since_ms, self.lines.as_dict())


class LedgerSince:
    """The figures above; `reports()` gives the (`pnl_since`, `timezone`) config values at each refresh.

    Refreshes add only what is new: each period's lines are kept with the time they are summed up to,
    and a refresh reports [that time, the account's ledger sync time) and adds it (reports over disjoint
    periods add up exactly). A changed `pnl_since` or zone, or a bot's new start, starts its period over."""

    def __init__(
        self, store: Store, manager: BotManager, reports: Callable[[], tuple[str, str]], clock: Clock
    ) -> None:
        self.store = store
        self.manager = manager
        self.reports = reports
        self.clock = clock
        self.as_of_ms: int | None = None
        self._key: tuple[int, str] | None = None
        self._accounts: dict[str, _Running] = {}
        self._bots: dict[str, _Running] = {}
        self._since_start: dict[str, _Running] = {}

    async def refresh(self, complete: Mapping[str, int] | None = None) -> None:
        """Bring every figure up to each account's `complete` time, exclusive (the ledger sync's
        `complete_until_ms`: rows of that very millisecond may still come; absent: now, inclusive)."""
        pnl_since, zone_text = self.reports()
        zone_name = zone_text.strip() or "UTC"
        zone = zone_of(zone_name)
        now = now_ms(self.clock)
        since = parse_time(pnl_since.strip() or "today", now_ms=now, tz=zone, field="pnl_since")
        if self._key != (since, zone_name):
            self._key, self._accounts, self._bots = (since, zone_name), {}, {}

        def upto_of(account: str) -> int:  # exclusive: rows of the sync's own millisecond may follow
            return min(now + 1, (complete or {}).get(account, now + 1))

        for account in sorted(self.manager.accounts):
            running = self._accounts.setdefault(account, _Running(since, since))
            upto = upto_of(account)
            if upto <= running.upto_ms:
                continue
            request = ReportRequest(running.upto_ms, upto, zone, zone_name, (account,), by="bot")
            report = await build_report(self.store, request, complete_until_ms=upto)
            running.add(report.lines, upto)
            for bucket in report.buckets:
                if bucket.key != UNATTRIBUTED:
                    self._bots.setdefault(bucket.key, _Running(since, since)).add(bucket.lines, upto)
        for name, bot in sorted(self.manager.bots.items()):
            self._bots.setdefault(name, _Running(since, since))
            if bot.started_ms is None:
                continue
            account = bot.definition.account
            mine = self._since_start.get(name)
            if mine is None or mine.since_ms != bot.started_ms:
                mine = self._since_start[name] = _Running(bot.started_ms, bot.started_ms)
            upto = upto_of(account)
            if upto <= mine.upto_ms:
                continue
            request = ReportRequest(mine.upto_ms, upto, zone, zone_name, (account,), bot=name)
            mine.add((await build_report(self.store, request, complete_until_ms=upto)).lines, upto)
        self.as_of_ms = now

    @property
    def accounts(self) -> dict[str, SinceLines]:
        return {k: v.shown() for k, v in self._accounts.items()}

    @property
    def bots(self) -> dict[str, SinceLines]:
        return {k: v.shown() for k, v in self._bots.items()}

    @property
    def bots_since_start(self) -> dict[str, SinceLines]:
        return {k: v.shown() for k, v in self._since_start.items()}

    def bot_doc(self, name: str) -> dict[str, Any]:
        """`pnl_since_start` and `pnl_since` of bot `name` (null until the first refresh, or
        `pnl_since_start` null for a bot never started), and `ledger_as_of`."""
        start, since = self._since_start.get(name), self._bots.get(name)
        return {
            "pnl_since_start": None if start is None else start.shown().doc(),
            "pnl_since": None if since is None else since.shown().doc(),
            "ledger_as_of": None if self.as_of_ms is None else iso_utc(self.as_of_ms),
        }

    def account_doc(self, account: str) -> dict[str, Any]:
        """`pnl_since` of the account (every bot plus unattributed) and `ledger_as_of`."""
        since = self._accounts.get(account)
        return {
            "pnl_since": None if since is None else since.shown().doc(),
            "ledger_as_of": None if self.as_of_ms is None else iso_utc(self.as_of_ms),
        }
