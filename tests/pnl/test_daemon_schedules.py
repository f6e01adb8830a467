"""A real daemon runs the PnL schedules: at start it writes the daily files it missed and a snapshot, and a
restart does not write the day again."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.support.daemon import DaemonProc, wait_until

ZONE = "Asia/Kolkata"


def caught_up(log: Path) -> int:
    """How many start catch-ups the daemon's log file reports as done."""
    return log.read_text().count('"pnl_caught_up"') if log.exists() else 0


def test_a_started_daemon_catches_up_the_daily_file_and_the_snapshot(
    daemon_factory: Callable[..., DaemonProc], short_tmp: Path
) -> None:
    """Yesterday's JSON and CSV appear at start, with an account snapshot; after a restart the file is
    left as it was (the store notes the day written)."""
    reports, log = short_tmp / "reports", short_tmp / "daemon.log"
    d = daemon_factory(f'[log]\nfile = "{log}"\n[reports]\ntimezone = "{ZONE}"\ndirectory = "{reports}"\n')
    d.start()
    yesterday = dt.datetime.now(ZoneInfo(ZONE)).date() - dt.timedelta(days=1)
    json_file = reports / f"pnl-{yesterday}.json"
    wait_until(lambda: caught_up(log) == 1, what="the start's catch-up")
    doc = json.loads(json_file.read_text())
    assert (doc["by"], doc["timezone"], doc["complete"]) == ("bot", ZONE, True)
    assert (reports / f"pnl-{yesterday}.csv").read_text().startswith("key,start,")
    written = json_file.stat().st_mtime_ns
    assert d.stop()[0] == 0
    db = sqlite3.connect(d.state_dir / "mmctl.sqlite")
    try:
        snaps = db.execute("SELECT account, bot, data FROM equity_snapshots").fetchall()
        day = db.execute("SELECT value FROM meta WHERE key = 'pnl.report_day'").fetchone()
    finally:
        db.close()
    assert [(a, b) for a, b, _ in snaps] == [("paper", "")]
    assert "catch_up_for" in json.loads(snaps[0][2])
    assert day == (yesterday.isoformat(),)
    d.start()
    wait_until(lambda: caught_up(log) == 2, what="the second start's catch-up")
    assert d.stop()[0] == 0
    assert json_file.stat().st_mtime_ns == written
    last = [json.loads(line) for line in log.read_text().splitlines() if '"pnl_caught_up"' in line][-1]
    assert last["days"] == []
