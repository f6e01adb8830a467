"""Fleet commands through the real CLI and daemon: pause/resume, leverage, cancel-all, portfolio."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from tests.support.daemon import DaemonProc, wait_until

FAST_MARKET = "\n[accounts.paper]\nexchange = 'paper'\nspeed = 20.0\nseed = 11\n"


@pytest.fixture
def fleet(daemon_factory: Callable[..., DaemonProc]) -> DaemonProc:
    d = daemon_factory(FAST_MARKET).start()
    for name, sym in (("f1", "BTCUSDT"), ("f2", "BTCUSDT"), ("f3", "ETHUSDT")):
        ok(d, "create", name, "--account", "paper", "--symbol", sym, "--set", f"spread_bps={3 + len(name)}")
    ok(d, "start", "--all")
    wait_until(lambda: all(ok(d, "status", n)["open_orders"] > 0 for n in ("f1", "f2", "f3")), what="quotes")
    return d


def ok(d: DaemonProc, *args: str) -> Any:
    r = d.cli(*args, "--json")
    assert r.returncode == 0, (r.stdout, r.stderr)
    return json.loads(r.stdout)


def test_pause_and_resume(fleet: DaemonProc) -> None:
    """`pause` cancels a running bot's orders and keeps it paused with none, and `resume` makes it quote
    again."""
    (paused,) = ok(fleet, "pause", "f1")
    assert paused["state"] == "paused"
    assert paused["cancelled"] > 0
    assert ok(fleet, "status", "f1")["orders"] == []
    (resumed,) = ok(fleet, "resume", "f1")
    assert resumed["state"] == "running"
    wait_until(lambda: ok(fleet, "status", "f1")["open_orders"] > 0, what="quotes again")


def test_resume_of_a_running_bot_fails_with_exit_1(fleet: DaemonProc) -> None:
    """`resume` of a bot that is not paused exits 1 saying only a paused bot can be resumed."""
    r = fleet.cli("resume", "f2")
    assert r.returncode == 1
    assert "only a paused bot" in r.stdout


def test_leverage_show_set_and_refuse(fleet: DaemonProc) -> None:
    """`leverage` shows the symbol's setting shared by its bots, sets it for all of them, and refuses values
    outside 1..125 or not integers with exit 2 and no change."""
    shown = ok(fleet, "leverage", "f1")
    assert shown["leverage"] == 5
    assert shown["max_leverage"] == 125
    assert shown["shared_with"] == ["f2"]
    assert ok(fleet, "leverage", "f1", "15")["leverage"] == 15
    assert ok(fleet, "leverage", "f2")["leverage"] == 15
    for bad in ("0", "126"):
        r = fleet.cli("leverage", "f1", bad)
        assert r.returncode == 2
        assert "between 1 and 125" in r.stderr
    assert fleet.cli("leverage", "f1", "-5").returncode == 2
    assert fleet.cli("leverage", "f1", "ten").returncode == 2
    assert ok(fleet, "leverage", "f1")["leverage"] == 15


def test_cancel_all_forms_and_usage_errors(fleet: DaemonProc) -> None:
    """`cancel-all` by bot, by symbol and `--all` leave no order and pause the bots concerned, and its
    ambiguous or incomplete forms are usage errors (exit 2)."""
    (by_bot,) = ok(fleet, "cancel-all", "f3", "--yes")
    assert by_bot["state"] == "paused"
    (symbol_result,) = ok(fleet, "cancel-all", "--symbol", "BTCUSDT", "--account", "paper", "--yes")
    assert symbol_result["remaining"] == []
    assert sorted(symbol_result["paused"]) == ["f1", "f2"]
    assert symbol_result["cancelled"]
    assert {b["state"] for b in ok(fleet, "list")} == {"paused"}
    everything = ok(fleet, "cancel-all", "--all", "--yes")
    assert all(r["remaining"] == [] for r in everything)
    for args in (["cancel-all"], ["cancel-all", "--symbol", "BTCUSDT"], ["cancel-all", "f1", "--all"]):
        r = fleet.cli(*args)
        assert r.returncode == 2, args
        assert r.stderr.startswith("mmctl: error: ")


def test_portfolio_totals_match_the_bots(fleet: DaemonProc) -> None:
    """Once a bot has a position, `portfolio --json` totals equal the sums of the bot rows and the account
    block has its balance fields, and the table prints the totals line."""
    wait_until(
        lambda: any(Decimal(b["position"]) != 0 for b in ok(fleet, "portfolio")["bots"]),
        timeout=60,
        what="a fill",
    )
    doc = ok(fleet, "portfolio")
    for key in ("realized_pnl", "fees", "unrealized_pnl", "net_pnl"):
        assert Decimal(doc["totals"][key]) == sum(Decimal(b[key]) for b in doc["bots"])
    (account,) = doc["accounts"]
    assert {"wallet_balance", "available_balance", "margin_used", "positions", "income_today"} <= set(account)
    table = fleet.cli("portfolio")
    assert table.returncode == 0
    assert "total net pnl" in table.stdout


@pytest.mark.slow
def test_portfolio_of_a_fresh_paper_account_prints_plain_amounts(daemon: DaemonProc) -> None:
    """A fresh paper account's portfolio, as a table and with `--json`, writes no amount in exponent
    notation (its zero margin is "0.00000000", never "0E-8")."""
    exponent = re.compile(r"\d[eE][+-]?\d")
    doc = ok(daemon, "portfolio")
    (account,) = doc["accounts"]
    assert Decimal(account["margin_used"]) == 0
    raw = daemon.cli("portfolio", "--json").stdout
    assert exponent.findall(raw) == [], raw
    table = daemon.cli("portfolio")
    assert table.returncode == 0, table.stderr
    assert "margin_used" in table.stdout
    assert exponent.findall(table.stdout) == [], table.stdout
