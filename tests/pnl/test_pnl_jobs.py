"""The daemon's scheduled PnL jobs: daily report files (caught up after downtime, never twice), equity
snapshots per account and bot (one at start when the last :00 was missed), failing jobs retried."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.support.rig import BTC, PaperFleet, scenario

from mmctl.config.schema import PaperAccount, ReportSettings, Settings
from mmctl.daemon.pnl_jobs import REPORT_DAY_KEY, PnlJobs, hour_start_ms
from mmctl.daemon.pnl_methods import register_pnl_methods
from mmctl.daemon.scheduler import Scheduler
from mmctl.model import OrderRequest, OrderType, Side
from mmctl.pnl.export import csv_rows, csv_text
from mmctl.rpc.registry import MethodTable
from mmctl.store.records import SetMeta
from mmctl.store.sqlite import SqliteStore

ZONE = "America/New_York"
DAY_S = 86_400


def jobs_of(rig: PaperFleet, tmp: Path, directory: str) -> tuple[PnlJobs, SqliteStore]:
    store = SqliteStore.open(tmp / "mmctl.sqlite", rig.clock, synchronous="OFF")
    settings = Settings(reports=ReportSettings(timezone=ZONE, directory=directory))
    service = register_pnl_methods(MethodTable(), store, rig.manager, lambda: settings)
    return PnlJobs(service, store, rig.manager, lambda: settings, rig.clock), store


def local_today(rig: PaperFleet) -> date:
    return datetime.fromtimestamp(rig.clock.time(), ZoneInfo(ZONE)).date()


def advance(rig: PaperFleet, seconds: float) -> None:
    """Move the clock and the paper venue with it (its funding runs on the way)."""
    rig.clock.advance(seconds)
    rig.paper.venue.advance_to(int(rig.clock.time() * 1000))


async def hand_trade(rig: PaperFleet, n: int) -> Decimal:
    await rig.manual(OrderRequest(BTC, Side.BUY, Decimal("0.01"), None, f"hand.{n}", type=OrderType.MARKET))
    return rig.paper.venue.trades[-1].fee


def test_daily_files_are_the_pnl_by_bot_documents_and_are_written_once(tmp_path: Path) -> None:
    """Yesterday's JSON file is `pnl.report --by bot` for that local day, its CSV the CLI's --csv text,
    and a second run writes nothing more."""
    rig = PaperFleet({"paper": PaperAccount()}, {BTC: "60000"})
    out = tmp_path / "reports"
    jobs, store = jobs_of(rig, tmp_path, str(out))

    async def body(rig: PaperFleet) -> None:
        try:
            day = local_today(rig)
            fee = await hand_trade(rig, 1)
            advance(rig, DAY_S)
            assert await jobs.daily_reports() == [day]
            doc = json.loads((out / f"pnl-{day}.json").read_text())
            assert (doc["by"], doc["timezone"], doc["complete"]) == ("bot", ZONE, True)
            assert Decimal(doc["commission"]) == -fee
            assert [b["key"] for b in doc["buckets"]] == ["unattributed"]
            text = (out / f"pnl-{day}.csv").read_text()
            columns, rows = csv_rows(doc)
            assert list(csv.reader(io.StringIO(text))) == [columns, *[[str(c) for c in r] for r in rows]]
            assert text == csv_text(doc)
            assert await store.read(lambda r: r.meta(REPORT_DAY_KEY)) == day.isoformat()
            assert await jobs.daily_reports() == []
        finally:
            await store.close()

    scenario(rig, body)


def test_days_missed_while_down_are_written_at_start_and_nothing_without_a_directory(tmp_path: Path) -> None:
    """After three days down, the catch-up writes the two finished days the store has not noted; with no
    `[reports] directory` no file is written."""
    rig = PaperFleet({"paper": PaperAccount()}, {BTC: "60000"})
    out = tmp_path / "reports"
    jobs, store = jobs_of(rig, tmp_path, str(out))
    (tmp_path / "other").mkdir()
    silent, silent_store = jobs_of(rig, tmp_path / "other", "")

    async def body(rig: PaperFleet) -> None:
        try:
            first = local_today(rig)
            await store.write(SetMeta(REPORT_DAY_KEY, first.isoformat()))
            await hand_trade(rig, 1)
            advance(rig, 3 * DAY_S)
            await jobs.catch_up()
            names = sorted(p.name for p in out.iterdir())
            days = [date.fromordinal(first.toordinal() + i).isoformat() for i in (1, 2)]
            assert names == sorted(f"pnl-{d}.{ext}" for d in days for ext in ("csv", "json"))
            assert await silent.daily_reports() == []
        finally:
            await store.close()
            await silent_store.close()

    scenario(rig, body)


def test_snapshots_per_account_and_bot_and_one_at_start_when_the_hour_was_missed(tmp_path: Path) -> None:
    """A snapshot records the account's wallet, equity and today's commission and each bot's figures; the
    start catch-up takes one only when none exists since the last local :00."""
    rig = PaperFleet({"paper": PaperAccount()}, {BTC: "60000"})
    jobs, store = jobs_of(rig, tmp_path, "")

    async def body(rig: PaperFleet) -> None:
        try:
            await rig.manager.create("b1", "paper", "BTCUSDT", "market_maker", {})
            fee = await hand_trade(rig, 1)
            await jobs.catch_up()
            snaps = await store.read(lambda r: r.snapshots(account="paper"))
            assert sorted(s.bot for s in snaps) == ["", "b1"]
            account = next(s for s in snaps if s.bot == "")
            balance = (await rig.paper.balance()).wallet
            assert account.wallet == balance
            assert account.fees == fee
            assert "catch_up_for" in account.data
            await jobs.catch_up()  # the hour's snapshot exists: no second one
            assert len(await store.read(lambda r: r.snapshots(account="paper"))) == 2
            advance(rig, 3600)
            assert await jobs.snapshot() == 2
        finally:
            await store.close()

    scenario(rig, body)


def test_the_hour_start_follows_the_zone_wall_clock() -> None:
    """The last :00 is a UTC :30 in a half-hour zone and a UTC :00 in New York."""
    ts = int(datetime(2026, 3, 1, 10, 50, tzinfo=UTC).timestamp() * 1000)
    assert hour_start_ms(ts, ZoneInfo("Asia/Kolkata")) == ts - 20 * 60_000
    assert hour_start_ms(ts, ZoneInfo(ZONE)) == ts - 50 * 60_000


def test_a_failing_job_is_logged_and_runs_again() -> None:
    """A scheduled job that raises stays scheduled: it runs again at its next time."""
    runs: list[float] = []

    async def flaky() -> None:
        runs.append(time.monotonic())
        raise RuntimeError("boom")

    async def main() -> None:
        scheduler = Scheduler()
        scheduler.every("flaky", 0.05, flaky, first_in_s=0)
        scheduler.start()
        try:
            deadline = time.monotonic() + 10
            while len(runs) < 2 and time.monotonic() < deadline:  # noqa: ASYNC110 (polls a list)
                await asyncio.sleep(0.01)
        finally:
            scheduler.shutdown()

    asyncio.run(main())
    assert len(runs) >= 2
