"""The daemon's scheduled PnL work, run on its event loop by `mmctl.daemon.scheduler` (issue 12, item 5).

- `sync_ledgers`: every open account's income ledger is brought up to date in the store (`SYNC_EVERY_S`),
  so reports and snapshots never wait for a long sync; then the `status`/`portfolio` figures since each
  bot's start and since `[reports] pnl_since` are recomputed (`mmctl.pnl.since`).
- `snapshot`: an equity snapshot per account (`bot = ""`: wallet, equity = wallet + unrealized,
  unrealized, and in `data` the net positions and the asset; `realized_pnl` and `fees` are the ledger's
  REALIZED_PNL and COMMISSION (as a cost, positive) of the local day the snapshot closes, its own
  millisecond included, so the 00:00 one holds the whole previous day) and one per loaded bot (its own
  figures since its last start: `wallet` = realized - fees + funding, `equity` = that + unrealized,
  position and funding in `data`). Every hour at :00 of `[reports] timezone`, so also at 00:00 there;
  the ledgers are synced first.
- `daily_reports`: with `[reports] directory` set, `pnl-YYYY-MM-DD.json` and `pnl-YYYY-MM-DD.csv` for
  every finished local day not yet written: the documents `mmctl pnl --since D --until D+1 --by bot
  --json` and `--csv` give (the same `pnl.report`). Each file is written whole (temporary file, then
  rename). Runs at :05 every hour of the zone (a no-op once yesterday is written). A day whose ledger
  could not be brought up to date (a venue down, an account no longer configured) waits for the next
  run; after `INCOMPLETE_GRACE_MS` it is written as it is (`complete: false`, `complete_until` says
  up to when) with a warning, so one dead account never stops the files.
- `catch_up`: at start, after recovery. How a missed run is known: the store's meta key
  `pnl.report_day` holds the last day written (days after it up to yesterday are written, at most
  `CATCH_UP_DAYS`; with no key, yesterday only), and the newest account snapshot's time is compared with
  the last local :00 (older: one snapshot now, its `data.catch_up_for` naming the missed time; a
  snapshot cannot be taken in the past).
The zone is read when the daemon starts its schedules; a changed `[reports] timezone` applies at restart
(reports asked over RPC use the new zone at once).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog

from mmctl.clock import Clock, now_ms
from mmctl.config.schema import Settings
from mmctl.daemon.pnl_methods import PnlService
from mmctl.fleet.manager import BotManager
from mmctl.fleet.portfolio import bot_figures
from mmctl.pnl.buckets import local_date
from mmctl.pnl.export import csv_text
from mmctl.pnl.lines import exact_sum
from mmctl.pnl.report import ReportRequest, build_report
from mmctl.pnl.since import LedgerSince
from mmctl.store.base import Store
from mmctl.store.records import EquitySnapshot, NewSnapshot, SetMeta
from mmctl.timefmt import iso_utc
from mmctl.timeparse import day_start_ms, zone_of

log = structlog.get_logger("mmctl.daemon")

SYNC_EVERY_S = 300.0
CATCH_UP_DAYS = 31
REPORT_DAY_KEY = "pnl.report_day"
INCOMPLETE_GRACE_MS = 6 * 3_600_000  # how long a day's file waits for a ledger that cannot be synced


def hour_start_ms(ts_ms: int, zone: tzinfo) -> int:
    """The last :00 of `zone`'s wall clock at or before `ts_ms` (half-hour zones' :00 is UTC :30)."""
    local = datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(zone)
    start = int(local.replace(minute=0, second=0, microsecond=0).timestamp() * 1000)
    return start if start <= ts_ms else start - 3_600_000


class PnlJobs:
    """The jobs above, over the daemon's services; each raises on failure (the scheduler logs it)."""

    def __init__(
        self,
        service: PnlService,
        store: Store,
        manager: BotManager,
        settings: Callable[[], Settings],
        clock: Clock,
        ledger: LedgerSince | None = None,
    ) -> None:
        self.ledger = ledger
        self.service = service
        self.store = store
        self.manager = manager
        self.settings = settings
        self.clock = clock
        self.zone_name = settings().reports.timezone.strip() or "UTC"
        self.zone = zone_of(self.zone_name)

    async def sync_ledgers(self) -> None:
        complete: dict[str, int] = {}
        for account in sorted(self.manager.accounts):
            done = await self.service.sync(account, 0)
            complete[account] = done["complete_until_ms"]
            if done["error"] is not None:
                log.warning("pnl_sync_failed", account=account, error=done["error"])
        if self.ledger is not None:
            await self.ledger.refresh(complete)

    async def snapshot(self, catch_up_for: int | None = None) -> int:
        """Bring the ledgers up to date, then record the snapshots now; returns how many."""
        await self.sync_ledgers()
        ts = now_ms(self.clock)
        extra = {} if catch_up_for is None else {"catch_up_for": iso_utc(catch_up_for)}
        day_start = day_start_ms(local_date(ts - 1, self.zone), self.zone)
        written = 0
        for account in sorted(self.manager.accounts):
            figures = (await self.manager.account(account).read_figures()).value
            if figures is None:
                log.warning("pnl_snapshot_skipped", account=account, reason="no balance from the venue")
                continue
            b = figures.balance
            request = ReportRequest(day_start, ts + 1, self.zone, self.zone_name, (account,))
            day = (await build_report(self.store, request, complete_until_ms=ts + 1)).lines
            data: dict[str, Any] = {
                "asset": b.asset,
                "positions": [
                    {
                        "symbol": p.symbol,
                        "qty": str(p.qty),
                        "entry_price": str(p.entry_price),
                        "mark_price": str(p.mark_price),
                        "unrealized_pnl": str(p.unrealized_pnl),
                    }
                    for p in figures.positions
                ],
                "pnl_since": iso_utc(day_start),
                **extra,
            }
            await self.store.write(
                NewSnapshot(
                    EquitySnapshot(
                        ts,
                        account,
                        "",
                        b.wallet,
                        b.margin_balance,
                        b.unrealized_pnl,
                        day["realized"],
                        -day["commission"],
                        data,
                    )
                )
            )
            written += 1
        for row in bot_figures(self.manager):
            realized, fees = Decimal(row["realized_pnl"]), Decimal(row["fees"])
            funding, unrealized = Decimal(row["funding"]), Decimal(row["unrealized_pnl"])
            wallet = exact_sum([realized, -fees, funding])
            data = {"symbol": row["symbol"], "state": row["state"], "position": row["position"],
                    "funding": row["funding"], **extra}  # fmt: skip
            snap = EquitySnapshot(
                ts, row["account"], row["bot"], wallet, exact_sum([wallet, unrealized]), unrealized,
                realized, fees, data,
            )  # fmt: skip
            await self.store.write(NewSnapshot(snap))
            written += 1
        return written

    async def daily_reports(self) -> list[date]:
        """Write every finished day not yet written (see the module docstring); returns the days written."""
        directory = self.settings().reports.directory.strip()
        if not directory:
            return []
        yesterday = local_date(now_ms(self.clock), self.zone) - timedelta(days=1)
        last = await self.store.read(lambda r: r.meta(REPORT_DAY_KEY))
        first = yesterday if last is None else date.fromisoformat(last) + timedelta(days=1)
        first = max(first, yesterday - timedelta(days=CATCH_UP_DAYS - 1))
        written: list[date] = []
        day = first
        while day <= yesterday:
            if not await self.write_day(Path(directory), day):
                break
            written.append(day)
            day += timedelta(days=1)
        return written

    async def write_day(self, directory: Path, day: date) -> bool:
        since = day_start_ms(day, self.zone)
        until = day_start_ms(day + timedelta(days=1), self.zone)
        doc: dict[str, Any] = dict(
            await self.service.report(since=iso_utc(since), until=iso_utc(until), tz=self.zone_name, by="bot")
        )
        if not doc["complete"]:
            waited_ms = now_ms(self.clock) - until
            if waited_ms < INCOMPLETE_GRACE_MS:
                log.warning(
                    "pnl_daily_report_waiting", day=day.isoformat(), complete_until=doc["complete_until"]
                )
                return False
            log.warning(
                "pnl_daily_report_incomplete", day=day.isoformat(), complete_until=doc["complete_until"]
            )
        await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
        stem = f"pnl-{day.isoformat()}"
        json_text = json.dumps(doc, ensure_ascii=False) + "\n"
        await asyncio.to_thread(_write_whole, directory / f"{stem}.json", json_text)
        await asyncio.to_thread(_write_whole, directory / f"{stem}.csv", csv_text(doc))
        await self.store.write(SetMeta(REPORT_DAY_KEY, day.isoformat()))
        log.info("pnl_daily_report_written", day=day.isoformat(), directory=str(directory), net=doc["net"])
        return True

    async def catch_up(self) -> None:
        """At start: sync, a snapshot if the last :00 was missed, the daily files not yet written."""
        due = hour_start_ms(now_ms(self.clock), self.zone)
        accounts = sorted(self.manager.accounts)
        newest = []
        if accounts:
            newest = await self.store.read(lambda r: r.snapshots(account=accounts[0], bot="", limit=1))
        missed = bool(accounts) and (not newest or newest[-1].ts_ms < due)
        if missed:
            await self.snapshot(catch_up_for=due)  # syncs first
        else:
            await self.sync_ledgers()
        days = await self.daily_reports()
        log.info("pnl_caught_up", snapshot=missed, days=[d.isoformat() for d in days])


def _write_whole(path: Path, text: str) -> None:
    """Write `path` so that a reader sees the old file or the whole new one, never a part."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
