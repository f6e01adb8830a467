"""`mmctl start NAME... | --all` (issue 8 item 3): one `bot.start` per bot, a few in flight, one row per bot
as its answer arrives, the same rows in one `--json` document, exit 1 if any bot failed."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.cli.fake_daemon import FakeDaemon
from tests.support.daemon import PYTHON, DaemonProc, wait_until

from mmctl.cli.context import Globals
from mmctl.cli.starts import IN_FLIGHT, start_each

FAST_MARKET = "\n[accounts.paper]\nexchange = 'paper'\nspeed = 20.0\nseed = 5\n"


@pytest.fixture
def fake(short_tmp: Path) -> Iterator[FakeDaemon]:
    """A scripted daemon with six stopped bots and one running one; starts wait for `release`."""
    bots = {f"b{i}": "stopped" for i in range(6)} | {"up": "running"}
    with FakeDaemon(short_tmp / "fake.sock", bots) as d:
        yield d


def test_outcomes_arrive_one_by_one_with_at_most_in_flight_requests(fake: FakeDaemon) -> None:
    """Each outcome is yielded when its answer arrives, and never more than IN_FLIGHT starts are pending."""
    names = [f"b{i}" for i in range(6)]
    outcomes = start_each(Globals(socket=str(fake.path), timeout_s=30), names)
    wait_until(lambda: fake.in_flight == IN_FLIGHT, what="the first wave of starts")
    fake.release("b3")
    assert next(outcomes) == {"bot": "b3", "ok": True, "state": "running"}
    fake.release(*names)
    rest = list(outcomes)
    assert sorted(o["bot"] for o in rest) == ["b0", "b1", "b2", "b4", "b5"]
    assert fake.max_in_flight == IN_FLIGHT
    assert sorted(fake.started) == names


def test_piped_start_prints_each_row_before_the_others_finish(fake: FakeDaemon) -> None:
    """Through the real entry point, a bot's row is on stdout while another bot's start is still pending."""
    proc = subprocess.Popen(
        [PYTHON, "-m", "mmctl", "--socket", str(fake.path), "start", "b0", "b1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "bot\tresult\tstate\tdetail\n"
        fake.release("b1")
        assert proc.stdout.readline() == "b1\tok\trunning\t\n"
        assert proc.poll() is None  # b0 has not answered yet
        fake.release("b0")
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert out == "b0\tok\trunning\t\n"
    assert proc.returncode == 0, err


def test_start_all_skips_active_bots_and_json_lists_rows_in_name_order(fake: FakeDaemon) -> None:
    """`--all` starts every bot that is not active; `--json` prints one document, ordered by name."""
    fake.release(*fake.gates)
    r = subprocess.run(
        [PYTHON, "-m", "mmctl", "--socket", str(fake.path), "start", "--all", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [o["bot"] for o in doc] == [f"b{i}" for i in range(6)]
    assert all(o["ok"] for o in doc)
    assert "up" not in fake.started


def test_a_failed_start_is_a_failed_row_and_exit_1(fake: FakeDaemon) -> None:
    """A bot that cannot start gets a FAILED row with the daemon's reason; the others still start; exit 1."""
    fake.release(*fake.gates)
    r = subprocess.run(
        [PYTHON, "-m", "mmctl", "--socket", str(fake.path), "start", "up", "b0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    rows = [line.split("\t") for line in r.stdout.splitlines()[1:]]
    assert sorted(rows) == [["b0", "ok", "running", ""], ["up", "FAILED", "running", "already running"]]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["start", "b0", "ghost"], 1, "no bot named 'ghost'"),
        (["start"], 2, "--all"),
        (["start", "b0", "--all"], 2, "not both"),
    ],
)
def test_bad_names_start_nothing(fake: FakeDaemon, args: list[str], code: int, message: str) -> None:
    """An unknown name or a bad combination is refused before any bot is started."""
    fake.release(*fake.gates)
    r = subprocess.run(
        [PYTHON, "-m", "mmctl", "--socket", str(fake.path), *args], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == code
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert fake.started == []


@pytest.mark.slow
def test_start_all_on_a_real_daemon_reports_every_bot(daemon_factory: Callable[..., DaemonProc]) -> None:
    """On a real daemon, `start --all` starts every stopped bot and `--json` has one ok row per bot."""
    d = daemon_factory(FAST_MARKET).start()
    names = [f"s{i}" for i in range(6)]
    for i, name in enumerate(names):
        created = d.cli(
            "create", name, "--account", "paper", "--symbol", "BTCUSDT", "--set", f"spread_bps={5 + i}"
        )
        assert created.returncode == 0, created.stderr
    r = d.cli("start", "--all", "--json")
    assert r.returncode == 0, r.stderr
    doc: list[dict[str, Any]] = json.loads(r.stdout)
    assert [(o["bot"], o["ok"], o["state"]) for o in doc] == [(n, True, "running") for n in names]
    again = d.cli("start", "--all")
    assert again.returncode == 0
    assert again.stdout == "bot\tresult\tstate\tdetail\n"
    assert d.cli("stop", "--all").returncode == 0
