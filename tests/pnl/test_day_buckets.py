"""Day, week and month buckets follow --tz across New York's daylight-saving changes (freezegun for now)."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from freezegun import freeze_time

from mmctl.clock import ManualClock
from mmctl.model import IncomeRow, IncomeType
from mmctl.pnl.buckets import offset_segments, time_buckets
from mmctl.pnl.report import ReportRequest, build_report
from mmctl.store.records import NewIncome
from mmctl.store.sqlite import SqliteStore
from mmctl.timefmt import parse_iso_utc as iso
from mmctl.timeparse import parse_time

NY = ZoneInfo("America/New_York")


def iso_ms(text: str) -> int:
    return iso(text)


def test_new_york_days_are_23_and_25_hours_on_the_dst_changes() -> None:
    """The March change day lasts 23 h and the November one 25 h; each is one bucket."""
    march = time_buckets(iso_ms("2026-03-07T05:00Z"), iso_ms("2026-03-10T04:00Z"), NY, "day")
    assert [k for k, _ in march] == ["2026-03-07", "2026-03-08", "2026-03-09"]
    assert march[2][1] - march[1][1] == 23 * 3_600_000
    nov = time_buckets(iso_ms("2026-10-31T04:00Z"), iso_ms("2026-11-03T05:00Z"), NY, "day")
    assert nov[2][1] - nov[1][1] == 25 * 3_600_000
    assert offset_segments(iso_ms("2026-03-07T05:00Z"), iso_ms("2026-03-10T04:00Z"), NY) == [
        (iso_ms("2026-03-07T05:00Z"), iso_ms("2026-03-08T07:00Z"), -5 * 3_600_000),
        (iso_ms("2026-03-08T07:00Z"), iso_ms("2026-03-10T04:00Z"), -4 * 3_600_000),
    ]


def test_yesterday_in_new_york_on_the_day_after_the_november_change() -> None:
    """At 00:30 EST on November 2, `yesterday` is November 1 00:00 EDT, 25.5 hours earlier."""
    with freeze_time("2026-11-02T05:30:00Z"):
        now = int(time.time() * 1000)
        assert parse_time("yesterday", now_ms=now, tz="America/New_York") == iso_ms("2026-11-01T04:00Z")
        assert now - parse_time("yesterday", now_ms=now, tz="America/New_York") == 25 * 3_600_000 + 1_800_000


async def test_a_report_spanning_the_march_change_puts_each_row_on_its_new_york_day(tmp_path: Path) -> None:
    """Rows just before and after New York's midnights around March 8 land on their local days; sums hold."""
    store = SqliteStore.open(tmp_path / "m.sqlite", ManualClock(), synchronous="OFF")
    times = {
        "2026-03-08T04:59:59.999Z": "2026-03-07",  # 23:59:59.999 EST
        "2026-03-08T05:00:00Z": "2026-03-08",  # 00:00 EST
        "2026-03-08T07:30:00Z": "2026-03-08",  # 03:30 EDT, after the jump
        "2026-03-09T03:59:59Z": "2026-03-08",  # 23:59:59 EDT
        "2026-03-09T04:00:00Z": "2026-03-09",
    }
    try:
        for i, t in enumerate(times):
            row = IncomeRow(
                str(i), iso_ms(t), "BTC/USDT:USDT", IncomeType.FUNDING_FEE, Decimal(f"0.{i + 1}"), "USDT"
            )
            await store.write(NewIncome("paper", row))
        with freeze_time("2026-03-10T12:00:00Z"):
            since = parse_time("2026-03-07", now_ms=int(time.time() * 1000), tz=NY)
            until = parse_time("today", now_ms=int(time.time() * 1000), tz=NY)
        request = ReportRequest(since, until, NY, "America/New_York", ("paper",), by="day")
        report = await build_report(store, request, complete_until_ms=until)
        got = {b.key: b.lines["funding"] for b in report.buckets}
        assert got == {
            "2026-03-07": Decimal("0.1"),
            "2026-03-08": Decimal("0.9"),
            "2026-03-09": Decimal("0.5"),
        }
        assert report.lines["funding"] == Decimal("1.5")
        weekly = await build_report(
            store, ReportRequest(since, until, NY, "NY", ("paper",), by="week"), complete_until_ms=until
        )
        assert [b.key for b in weekly.buckets] == ["2026-W10", "2026-W11"]
        assert sum(b.lines["net"] for b in weekly.buckets) == report.lines["net"]
    finally:
        await store.close()
