"""`mmctl fills | orders | events | db` through the real CLI entry point against a scripted daemon on a
real socket: what each command sends (times parsed and sent as ISO UTC), what it prints, exit codes for
bad input and refusals, and `events --follow` resuming across a daemon restart."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from freezegun import freeze_time
from tests.cli.fake_daemon import FakeDaemon, Refuse
from tests.support.daemon import PYTHON, wait_until

from mmctl.cli.app import main
from mmctl.rpc import protocol as proto

FILL = {
    "ts": "2025-12-01T05:00:00.000Z",
    "account": "paper",
    "bot": "b1",
    "symbol": "BTC/USDT:USDT",
    "trade_id": "T1",
    "order_id": "88001",
    "client_order_id": "mm.b1.b0.1",
    "side": "buy",
    "price": "37000.10",
    "qty": "0.010",
    "fee": "0.0074",
    "fee_asset": "USDT",
    "maker": True,
    "realized_pnl": "0",
}
ORDER = {
    "client_order_id": "mm.b1.b0.1",
    "venue_order_id": "88001",
    "bot": "b1",
    "account": "paper",
    "symbol": "BTC/USDT:USDT",
    "side": "buy",
    "type": "limit",
    "price": "36999.9",
    "qty": "0.010",
    "filled": "0.010",
    "avg_price": "36999.9",
    "status": "filled",
    "post_only": True,
    "reduce_only": False,
    "created": "2025-12-01T05:00:00.000Z",
    "updated": "2025-12-01T05:00:01.000Z",
    "changes": [
        {"status": "submitting", "ts": "2025-12-01T05:00:00.000Z", "detail": ""},
        {"status": "new", "ts": "2025-12-01T05:00:00.010Z", "detail": ""},
        {"status": "filled", "ts": "2025-12-01T05:00:01.000Z", "detail": ""},
    ],
}
OPEN_ORDER = {
    "client_order_id": "mm.b1.s0.2",
    "side": "sell",
    "level": 0,
    "price": "1",
    "qty": "2",
    "age_s": 1.5,
}


def event(seq: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "ts": "2025-12-01T05:00:00.000Z",
        "bot": "b1",
        "kind": "state",
        "message": f"event {seq}",
        "data": {},
    }


class EventSource:
    """`events.list` over a growing list of events, with the daemon's paging rules."""

    def __init__(self, count: int = 0) -> None:
        self.events = [event(i) for i in range(1, count + 1)]

    def add(self, n: int) -> None:
        start = len(self.events) + 1
        self.events += [event(i) for i in range(start, start + n)]

    def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        last = len(self.events)
        after, limit = params.get("after"), params.get("limit", 200)
        if after is None:
            return {"events": self.events[-limit:], "last_seq": last}
        page = [e for e in self.events if e["seq"] > after][:limit]
        return {"events": page, "last_seq": page[-1]["seq"] if len(page) == limit else last}


def handlers() -> dict[str, Any]:
    fills = [FILL, {**FILL, "trade_id": "T2", "maker": False}]
    return {
        proto.FILLS_LIST: lambda p: {"bot": p["bot"], "fills": fills, "truncated": False},
        proto.ORDERS_HISTORY: lambda p: {"bot": p["bot"], "orders": [ORDER], "truncated": True},
        proto.BOT_ORDERS: lambda p: [OPEN_ORDER],
        proto.EVENTS_LIST: EventSource(3),
        proto.DB_CHECK: lambda p: {"ok": True, "problems": []},
        proto.DB_VACUUM: lambda p: {"vacuumed": True},
        proto.DB_BACKUP: lambda p: {"path": p["path"], "bytes": 4096},
    }  # fmt: skip


@pytest.fixture
def fake(short_tmp: Path) -> Iterator[FakeDaemon]:
    with FakeDaemon(short_tmp / "fake.sock", handlers=handlers()) as d:
        yield d


def cli(fake: FakeDaemon, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `mmctl --socket S ARGS...` in process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main(["--socket", str(fake.path), *args])
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), captured.out, captured.err


def sent(fake: FakeDaemon, method: str) -> list[dict[str, Any]]:
    return [params for m, params in fake.requests if m == method]


# --- fills -----------------------------------------------------------------------------------------------


@freeze_time("2025-12-01 05:59:01")
def test_fills_sends_parsed_times_as_iso_utc_and_prints_a_table(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--since 24h --until 2025-12-01 --tz America/New_York` goes out as ISO UTC; rows print as TSV."""
    code, out, _ = cli(fake, capsys, "fills", "b1", "--since", "24h", "--until", "2025-12-01", "--tz",
                       "America/New_York", "--limit", "7")  # fmt: skip
    assert code == 0
    assert sent(fake, proto.FILLS_LIST) == [
        {"bot": "b1", "limit": 7, "since": "2025-11-30T05:59:01.000Z", "until": "2025-12-01T05:00:00.000Z"}
    ]
    lines = out.splitlines()
    assert lines[0].split("\t") == ["time", "side", "price", "qty", "fee", "fee_asset", "liquidity",
                                    "realized_pnl", "trade_id", "client_order_id"]  # fmt: skip
    assert lines[1].split("\t")[6] == "maker"
    assert lines[2].split("\t")[6] == "taker"
    assert lines[1].split("\t")[2] == "37000.10"


@freeze_time("2026-11-02 04:30:00")  # 23:30 on New York's 25-hour day
def test_since_yesterday_in_new_york_across_the_dst_change(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--since yesterday --tz America/New_York` is New York's midnight of Oct 31 (EDT), sent in UTC."""
    assert cli(fake, capsys, "fills", "b1", "--since", "yesterday", "--tz", "America/New_York")[0] == 0
    assert cli(fake, capsys, "fills", "b1", "--since", "today", "--tz", "America/New_York")[0] == 0
    assert [p["since"] for p in sent(fake, proto.FILLS_LIST)] == [
        "2026-10-31T04:00:00.000Z",
        "2026-11-01T04:00:00.000Z",
    ]


def test_fills_json_prints_the_daemons_document(fake: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    """`fills NAME --json` prints the `fills.list` document unchanged."""
    code, out, _ = cli(fake, capsys, "fills", "b1", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["fills"][0] == FILL
    assert sent(fake, proto.FILLS_LIST) == [{"bot": "b1", "limit": 100}]


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--since", "last tuesday"], "--since: 'last tuesday' is not a time; use ISO 8601"),
        (["--until", "-3d"], "--until: '-3d' is not a time"),
        (["--since", "2026-03-08T02:30", "--tz", "America/New_York"], "does not exist in America/New_York"),
        (["--since", "today", "--tz", "Mars/Olympus"], "--tz: unknown time zone 'Mars/Olympus'"),
    ],
)
def test_a_bad_time_or_zone_is_a_usage_error_and_nothing_is_asked(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], args: list[str], text: str
) -> None:
    """An unreadable time or zone exits 2 with one line naming the option; the daemon is not asked."""
    code, out, err = cli(fake, capsys, "fills", "b1", *args)
    assert code == 2
    assert err.count("\n") == 1
    assert text in err
    assert out == ""
    assert sent(fake, proto.FILLS_LIST) == []


@pytest.mark.parametrize("command", [["fills", "b1"], ["orders", "b1", "--all"], ["events"]])
@pytest.mark.parametrize("limit", ["0", "-1", str(proto.MAX_PAGE + 1), "ten"])
def test_an_out_of_range_limit_is_a_usage_error(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], command: list[str], limit: str
) -> None:
    """`--limit` outside 1..MAX_PAGE (or not a number) exits 2 before any request."""
    code, _, err = cli(fake, capsys, *command, "--limit", limit)
    assert code == 2
    assert "--limit" in err
    assert [m for m, _ in fake.requests if m != proto.DAEMON_VERSION] == []


def test_the_daemons_refusal_keeps_its_exit_code(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    """A NotFound from the daemon exits 1 with its message on stderr."""

    def refuse(params: dict[str, Any]) -> Any:
        raise Refuse(1003, "no bot named 'ghost' (bots: b1)", {"field": "name"})

    fake.handlers[proto.FILLS_LIST] = refuse
    code, _, err = cli(fake, capsys, "fills", "ghost")
    assert code == 1
    assert "no bot named 'ghost'" in err


# --- orders ----------------------------------------------------------------------------------------------


def test_orders_without_flags_shows_open_orders_and_with_all_the_history(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    """`orders NAME` asks `bot.orders`; `--all` asks `orders.history` and prints each order's statuses."""
    code, out, _ = cli(fake, capsys, "orders", "b1")
    assert code == 0
    assert out.splitlines()[1].split("\t") == ["sell", "0", "1", "2", "1.5", "mm.b1.s0.2"]
    code, out, _ = cli(fake, capsys, "orders", "b1", "--all")
    assert code == 0
    header, row = out.splitlines()
    assert header.split("\t")[7] == "history"
    assert row.split("\t")[5] == "filled"
    assert row.split("\t")[7] == "submitting>new>filled"
    assert sent(fake, proto.BOT_ORDERS) == [{"name": "b1"}]
    assert sent(fake, proto.ORDERS_HISTORY) == [{"bot": "b1", "limit": 100}]


@freeze_time("2025-12-08 00:00:00")
def test_orders_since_asks_for_the_history_and_json_prints_it(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    """`orders NAME --since 7d --json` asks the history from a week ago and prints the document."""
    code, out, _ = cli(fake, capsys, "orders", "b1", "--since", "7d", "--json")
    assert code == 0
    assert json.loads(out)["orders"] == [ORDER]
    assert sent(fake, proto.ORDERS_HISTORY) == [
        {"bot": "b1", "limit": 100, "since": "2025-12-01T00:00:00.000Z"}
    ]


# --- events ----------------------------------------------------------------------------------------------


@freeze_time("2025-12-01 05:59:01")
def test_events_sends_its_filters_and_prints_the_page(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    """`events NAME --kind K --since today --limit N --json` sends each filter and prints the page."""
    code, out, _ = cli(
        fake, capsys, "events", "b1", "--kind", "fill", "--since", "today", "--limit", "2", "--json"
    )
    assert code == 0
    assert sent(fake, proto.EVENTS_LIST) == [
        {"bot": "b1", "kind": "fill", "limit": 2, "since": "2025-12-01T00:00:00.000Z"}
    ]
    assert [e["seq"] for e in json.loads(out)["events"]] == [2, 3]


def test_events_follow_resumes_after_a_daemon_restart_without_gaps_or_repeats(short_tmp: Path) -> None:
    """`events --follow --json` survives the daemon going away: it reconnects, resumes after the last seq
    it printed (each event exactly once), and Ctrl-C exits 0."""
    path = short_tmp / "fake.sock"
    source = EventSource(3)
    first = FakeDaemon(path, handlers={proto.EVENTS_LIST: source}).__enter__()
    proc = subprocess.Popen(
        [PYTHON, "-m", "mmctl", "--socket", str(path), "events", "--follow", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    second: FakeDaemon | None = None
    try:
        assert proc.stdout is not None
        seqs = [json.loads(proc.stdout.readline())["seq"] for _ in range(3)]
        source.add(2)
        seqs += [json.loads(proc.stdout.readline())["seq"] for _ in range(2)]
        first.__exit__(None, None, None)
        path.unlink()
        source.add(4)  # written while the daemon was away: the new daemon has them
        second = FakeDaemon(path, handlers={proto.EVENTS_LIST: source}).__enter__()
        seqs += [json.loads(proc.stdout.readline())["seq"] for _ in range(4)]
        follow_polls = [p for m, p in second.requests if m == proto.EVENTS_LIST]
        assert follow_polls[0]["after"] == 5
        wait_until(lambda: len([m for m, _ in second.requests if m == proto.EVENTS_LIST]) > 2, what="polls")
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if second is not None:
            second.__exit__(None, None, None)
    assert seqs == list(range(1, 10))
    assert rest == ""
    assert proc.returncode == 0
    assert "reconnecting" in err
    assert "resuming after event 5" in err


# --- db --------------------------------------------------------------------------------------------------


def test_db_backup_sends_an_absolute_path_from_the_callers_directory(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative PATH is made absolute in the caller's working directory before it goes to the daemon."""
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(fake, capsys, "db", "backup", "copy.sqlite")
    assert code == 0
    assert sent(fake, proto.DB_BACKUP) == [{"path": str(tmp_path / "copy.sqlite")}]
    assert out == f"backed up the database to {tmp_path / 'copy.sqlite'} (4096 bytes)\n"


def test_db_backup_refused_by_the_daemon_exits_1(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    """The daemon's refusal (an existing file) exits 1 with its one-line message."""

    def refuse(params: dict[str, Any]) -> Any:
        raise Refuse(1200, f"{params['path']} already exists; a backup never overwrites a file")

    fake.handlers[proto.DB_BACKUP] = refuse
    code, out, err = cli(fake, capsys, "db", "backup", "/tmp/x.sqlite")
    assert code == 1
    assert out == ""
    assert err == "mmctl: error: /tmp/x.sqlite already exists; a backup never overwrites a file\n"


def test_db_check_exits_0_when_sound_and_1_listing_problems(
    fake: FakeDaemon, capsys: pytest.CaptureFixture[str]
) -> None:
    """`db check` prints "sound" and exits 0, or prints each problem and exits 1 (also with --json)."""
    assert cli(fake, capsys, "db", "check") == (0, "the database is sound\n", "")
    problems = ["row 3 missing from index fills_bot", "order_status_changes row 9: no matching row in orders"]
    fake.handlers[proto.DB_CHECK] = lambda p: {"ok": False, "problems": problems}
    code, out, err = cli(fake, capsys, "db", "check")
    assert code == 1
    assert out.splitlines() == problems
    assert "found 2 problem(s)" in err
    code, out, _ = cli(fake, capsys, "db", "check", "--json")
    assert code == 1
    assert json.loads(out) == {"ok": False, "problems": problems}


def test_db_vacuum(fake: FakeDaemon, capsys: pytest.CaptureFixture[str]) -> None:
    """`db vacuum` asks `db.vacuum` and says it is done."""
    assert cli(fake, capsys, "db", "vacuum") == (0, "database vacuumed\n", "")
    assert sent(fake, proto.DB_VACUUM) == [{}]
