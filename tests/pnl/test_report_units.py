"""The daily report's systemd units: both verify, the timer's zone is the service's, and the service's
command (systemd's escapes undone) saves yesterday's per-bot CSV whole, or nothing when the daemon is down."""

from __future__ import annotations

import datetime as dt
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.cli.fake_daemon import FakeDaemon

SYSTEMD = Path(__file__).resolve().parents[2] / "systemd"
SERVICE = SYSTEMD / "mmctl-pnl-report.service"
TIMER = SYSTEMD / "mmctl-pnl-report.timer"
MMCTL = "/opt/mmctl/bin/mmctl"
SOCKET = "/run/mmctl/mmctl.sock"
DOC = {
    "since": "2026-11-30T00:00:00.000Z", "until": "2026-12-01T00:00:00.000Z", "timezone": "UTC",
    "complete_until": "2026-12-01T00:00:00.000Z", "complete": True, "accounts": ["paper"], "symbol": None,
    "bot": None, "by": "bot", "realized": "1.5", "commission": "-0.25", "funding": "0", "transfers": "0",
    "net": "1.25", "unrealized": None, "rows": 3, "sync": [],
    "buckets": [{"key": "a", "start": None, "realized": "1.5", "commission": "-0.25", "funding": "0",
                 "transfers": "0", "net": "1.25"}],
}  # fmt: skip


def entry(key: str, path: Path = SERVICE) -> str:
    (value,) = [line.split("=", 1)[1] for line in path.read_text().splitlines() if line.startswith(f"{key}=")]
    return value


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_both_units_verify(tmp_path: Path) -> None:
    """`systemd-analyze verify` accepts the service and the timer."""
    for unit in (SERVICE, TIMER):
        shutil.copy(unit, tmp_path / unit.name)
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / SERVICE.name), str(tmp_path / TIMER.name)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "mmctl-pnl-report" not in proc.stderr, proc.stderr


def test_the_timer_runs_in_the_zone_the_service_names_its_file_in() -> None:
    """The timer's OnCalendar zone is the service's TZ, so the file's day is the day reported."""
    assert entry("OnCalendar", TIMER).split()[-1] == entry("Environment").removeprefix("TZ=")


def script(cli: Path, socket: Path) -> list[str]:
    """ExecStart as the process systemd starts would get it (`%%` and `$$` undone), pointed at `cli`."""
    text = entry("ExecStart").replace("%%", "%").replace("$$", "$")
    return [w.replace(MMCTL, str(cli)).replace(SOCKET, str(socket)) for w in shlex.split(text)]


def run(command: list[str], state: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "STATE_DIRECTORY": str(state), "TZ": "UTC"}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def fake_cli(tmp: Path) -> Path:
    cli = tmp / "mmctl"
    cli.write_text(f'#!/bin/sh\nexec {sys.executable} -m mmctl "$@"\n')
    cli.chmod(0o755)
    return cli


def test_the_service_saves_yesterdays_csv_whole(short_tmp: Path) -> None:
    """The command asks for yesterday..today by bot and saves the CLI's CSV as pnl-<yesterday>.csv."""
    state = short_tmp / "state"
    state.mkdir()
    with FakeDaemon(short_tmp / "fake.sock", handlers={"pnl.report": lambda params: DOC}) as daemon:
        proc = run(script(fake_cli(short_tmp), daemon.path), state)
    assert proc.returncode == 0, proc.stderr
    yesterday = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    assert os.listdir(state) == [f"pnl-{yesterday}.csv"]
    lines = (state / f"pnl-{yesterday}.csv").read_text().splitlines()
    assert lines[0].split(",")[:3] == ["key", "start", "realized"]
    assert [line.split(",")[0] for line in lines[1:]] == ["a", "total"]
    asked = [p for m, p in daemon.requests if m == "pnl.report"]
    assert asked == [{"since": "yesterday", "until": "today", "by": "bot"}]


def test_the_service_fails_and_leaves_no_file_when_the_daemon_is_down(short_tmp: Path) -> None:
    """With no daemon on the socket the command fails (the unit shows failed) and writes nothing."""
    state = short_tmp / "state"
    state.mkdir()
    proc = run(script(fake_cli(short_tmp), short_tmp / "nobody.sock"), state)
    assert proc.returncode != 0
    assert os.listdir(state) == []
