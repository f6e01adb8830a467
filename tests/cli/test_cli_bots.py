"""Bots end to end: the real CLI, a real daemon process, the paper venue on a fast synthetic market."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.support.daemon import DaemonProc, rpc, run_cli, wait_until

FAST_MARKET = "\n[accounts.paper]\nexchange = 'paper'\nspeed = 20.0\nseed = 7\n"


@pytest.fixture
def fast_daemon(daemon_factory: Callable[..., DaemonProc]) -> DaemonProc:
    return daemon_factory(FAST_MARKET).start()


def ok(d: DaemonProc, *args: str) -> Any:
    r = d.cli(*args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def bot_names(d: DaemonProc) -> list[str]:
    return [b["name"] for b in ok(d, "list")]


def test_create_start_quote_fill_stop(fast_daemon: DaemonProc) -> None:
    """A bot created and started through the CLI quotes two levels per side, fills on the synthetic market,
    and `stop` leaves it stopped with no open order and its fills in `events`."""
    d = fast_daemon
    created = ok(
        d,
        "create",
        "mm1",
        "--account",
        "paper",
        "--symbol",
        "BTCUSDT",
        "--set",
        "levels=2",
        "--set",
        "spread_bps=3",
    )
    assert created["state"] == "created"
    assert created["symbol"] == "BTC/USDT:USDT"
    started = ok(d, "start", "mm1")
    assert started == [{"bot": "mm1", "ok": True, "state": "running"}]

    def both_sides_quoted() -> bool:
        orders = ok(d, "orders", "mm1")
        return sorted((o["side"], o["level"]) for o in orders) == [
            ("buy", 0),
            ("buy", 1),
            ("sell", 0),
            ("sell", 1),
        ]

    wait_until(both_sides_quoted, what="two levels on each side")
    wait_until(lambda: ok(d, "status", "mm1")["fills"] > 0, timeout=60, what="a fill on the synthetic market")
    status = ok(d, "status", "mm1")
    assert status["state"] == "running"
    assert status["quotes"]["placed"] >= 4
    assert {"best_bid", "best_ask", "wallet_balance", "available_balance", "leverage", "orders"} <= set(
        status
    )

    stopped = ok(d, "stop", "mm1")
    assert stopped[0]["ok"] is True
    assert stopped[0]["state"] == "stopped"
    after = ok(d, "status", "mm1")
    assert after["state"] == "stopped"
    assert after["orders"] == []
    assert after["open_orders"] == 0
    events = ok(d, "events", "mm1")["events"]
    kinds = {e["kind"] for e in events}
    assert {"state", "fill"} <= kinds


def test_table_and_tsv_output_of_list_status_and_events(fast_daemon: DaemonProc) -> None:
    """Piped `list`, `status` and `events` print tab-separated text under their documented headers."""
    d = fast_daemon
    ok(d, "create", "t1", "--account", "paper", "--symbol", "ETHUSDT")
    r = d.cli("list")
    assert r.returncode == 0
    header, row = r.stdout.splitlines()[:2]
    assert header.split("\t")[:3] == ["name", "state", "symbol"]
    assert row.split("\t")[:3] == ["t1", "created", "ETH/USDT:USDT"]
    status = d.cli("status", "t1")
    assert status.returncode == 0
    assert "state\tcreated" in status.stdout
    assert d.cli("events").stdout.startswith("time\tbot\tkind\tmessage")


def test_export_then_create_from_the_file_and_set_and_remove(
    fast_daemon: DaemonProc, short_tmp: Path
) -> None:
    """An exported definition recreates the bot with `create --from` (under the new name, not the file's),
    `set` changes its parameters, and `remove` deletes it."""
    d = fast_daemon
    ok(d, "create", "src", "--account", "paper", "--symbol", "SOLUSDT", "--set", "levels=4")
    exported = d.cli("export", "src")
    assert exported.returncode == 0
    assert "levels = 4" in exported.stdout
    path = short_tmp / "src.toml"
    path.write_text(exported.stdout.replace('name = "src"', 'name = "ignored"'))
    ok(d, "create", "copy", "--from", str(path))
    assert ok(d, "export", "copy")["params"]["levels"] == 4
    changed = ok(d, "set", "copy", "levels=2", "spread_bps=12")
    assert changed["params"]["levels"] == 2
    assert ok(d, "export", "copy")["params"]["spread_bps"] == "12"
    ok(d, "remove", "copy", "--yes")
    assert "copy" not in bot_names(d)


def test_definitions_survive_a_daemon_restart(daemon_factory: Callable[..., DaemonProc]) -> None:
    """A bot's definition and parameters are still there after the daemon stops and starts again."""
    d = daemon_factory(FAST_MARKET).start()
    ok(d, "create", "keep", "--account", "paper", "--symbol", "BTCUSDT", "--set", "levels=5")
    assert d.stop()[0] == 0
    d.start()
    assert bot_names(d) == ["keep"]
    assert ok(d, "export", "keep")["params"]["levels"] == 5


def test_start_all_and_stop_all_report_each_bot(fast_daemon: DaemonProc) -> None:
    """`start --all` and `stop --all` return one ok row per bot."""
    d = fast_daemon
    for name, sym in (("a1", "BTCUSDT"), ("a2", "ETHUSDT"), ("a3", "BTCUSDT")):
        ok(d, "create", name, "--account", "paper", "--symbol", sym)
    started = ok(d, "start", "--all")
    assert sorted(o["bot"] for o in started) == ["a1", "a2", "a3"]
    assert all(o["ok"] for o in started)
    stopped = ok(d, "stop", "--all")
    assert all(o["ok"] and o["state"] == "stopped" for o in stopped)


def test_sigterm_with_running_bots_cancels_every_order_before_exit(fast_daemon: DaemonProc) -> None:
    """SIGTERM with two quoting bots exits 0 only after each bot logged `bot_stopped` with its orders
    cancelled and none left open."""
    d = fast_daemon
    for name in ("s1", "s2"):
        ok(
            d,
            "create",
            name,
            "--account",
            "paper",
            "--symbol",
            "BTCUSDT",
            "--set",
            f"spread_bps={5 if name == 's1' else 9}",
        )
    ok(d, "start", "s1", "s2")
    wait_until(lambda: all(ok(d, "status", n)["open_orders"] > 0 for n in ("s1", "s2")), what="quotes")
    code, log = d.stop(signal.SIGTERM)
    assert code == 0
    stopped = [json.loads(line) for line in log.splitlines() if '"bot_stopped"' in line]
    assert sorted(e["bot"] for e in stopped) == ["s1", "s2"]
    assert all(e["cancelled"] > 0 and e["open_orders_left"] == 0 for e in stopped)
    assert "bot_stop_incomplete" not in log


# --- bad input: a clear error, the right exit code, nothing changed -----------------------------------


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["create", "Bad_Name", "--account", "paper", "--symbol", "BTCUSDT"], 2, "bot name"),
        (["create", "x", "--account", "nope", "--symbol", "BTCUSDT"], 2, "no account named 'nope'"),
        (["create", "x", "--account", "paper", "--symbol", "FOOUSDT"], 2, "FOOUSDT"),
        (
            ["create", "x", "--account", "paper", "--symbol", "BTCUSDT", "--strategy", "magic"],
            2,
            "unknown strategy",
        ),
        (
            ["create", "x", "--account", "paper", "--symbol", "BTCUSDT", "--set", "sprad_bps=5"],
            2,
            "sprad_bps",
        ),
        (["create", "x", "--account", "paper", "--symbol", "BTCUSDT", "--set", "levels=50"], 2, "levels"),
        (["create", "x", "--account", "paper", "--symbol", "BTCUSDT", "--set", "levels=abc"], 2, "levels"),
        (
            ["create", "x", "--account", "paper", "--symbol", "BTCUSDT", "--set", "order_size=0.0001"],
            2,
            "order_size",
        ),
        (["create", "x", "--account", "paper", "--symbol", "BTCUSDT", "--set", "spread"], 2, "key=value"),
        (["create", "x", "--symbol", "BTCUSDT"], 2, "--account"),
        (["status", "ghost"], 1, "no bot named 'ghost'"),
        (["start", "ghost"], 1, "no bot named 'ghost'"),
        (["stop", "ghost"], 1, "no bot named 'ghost'"),
        (["set", "ghost", "levels=2"], 1, "no bot named 'ghost'"),
        (["export", "ghost"], 1, "no bot named 'ghost'"),
        (["remove", "ghost", "--yes"], 1, "no bot named 'ghost'"),
        (["orders", "ghost"], 1, "no bot named 'ghost'"),
        (["events", "ghost"], 1, "no bot named 'ghost'"),
        (["start"], 2, "--all"),
        (["stop", "keep", "--all"], 2, "not both"),
    ],
)
def test_bad_input_is_a_clear_error_and_changes_nothing(
    shared_daemon: DaemonProc, args: list[str], code: int, message: str
) -> None:
    """Each bad `create`/`set`/`start` argument exits with its documented code and one stderr line naming the
    problem, leaving the bot list unchanged."""
    before = rpc(shared_daemon.socket, "bot.list")["result"]
    r = shared_daemon.cli(*args)
    assert r.returncode == code, (r.stdout, r.stderr)
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert rpc(shared_daemon.socket, "bot.list")["result"] == before


def test_duplicate_name_start_twice_and_remove_running_are_refused(fast_daemon: DaemonProc) -> None:
    """Creating a bot under a taken name, starting a running bot and removing a running bot are each refused,
    and the existing bot is unchanged."""
    d = fast_daemon
    ok(d, "create", "dup", "--account", "paper", "--symbol", "BTCUSDT")
    again = d.cli("create", "dup", "--account", "paper", "--symbol", "ETHUSDT")
    assert again.returncode == 1
    assert "already exists" in again.stderr
    assert ok(d, "export", "dup")["symbol"] == "BTC/USDT:USDT"
    ok(d, "start", "dup")
    twice = d.cli("start", "dup")
    assert twice.returncode == 1
    assert "already running" in twice.stdout
    removing = d.cli("remove", "dup", "--yes")
    assert removing.returncode == 1
    assert "stop it before removing" in removing.stderr
    assert ok(d, "status", "dup")["state"] == "running"
    ok(d, "stop", "dup")


def test_demo_completes_and_reports_fills() -> None:
    """`demo --json` runs to the end with fills, stops with no open order and reports every PnL component."""
    r = run_cli("demo", "--seconds", "5", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["fills"] > 0
    assert summary["state"] == "stopped"
    assert summary["open_orders_after_stop"] == 0
    assert set(summary["pnl"]) == {"realized", "fees", "funding", "unrealized", "net"}


def test_demo_plain_output_when_piped() -> None:
    """Piped `demo` prints its plain summary with no terminal escape codes."""
    r = run_cli("demo", "--seconds", "2")
    assert r.returncode == 0, r.stderr
    assert "demo finished" in r.stdout
    assert "\x1b[" not in r.stdout


def test_events_follow_streams_new_events_as_json_lines(fast_daemon: DaemonProc) -> None:
    """`events --follow --json` streams an event that happens after it started (a bot's creation) as one JSON
    line."""
    import subprocess
    import sys
    import threading

    follower = subprocess.Popen(
        [sys.executable, "-m", "mmctl", "--socket", str(fast_daemon.socket), "events", "--follow", "--json"],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(follower.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        ok(fast_daemon, "create", "fol", "--account", "paper", "--symbol", "BTCUSDT")
        wait_until(
            lambda: any('"bot":"fol"' in line for line in lines), what="the create event on the follower"
        )
        event = json.loads(next(line for line in lines if '"bot":"fol"' in line))
        assert event["kind"] == "state"
        assert "created" in event["message"]
    finally:
        follower.terminate()
        follower.wait(timeout=30)
