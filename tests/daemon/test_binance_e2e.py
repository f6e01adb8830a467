"""End to end on Binance's protocol: a real `mmctl daemon run` process with a `binanceusdm` account
pointed at the local fake Binance server (`rest_url` / `ws_url`, credentials from the environment),
driven by the real CLI. The fake runs in a thread of the test process with a moving market.

The dead-man's switch is shown without waiting on it: after `kill -9` the fake's countdown for the
symbol is armed with at most `countdown_s` (10 s) left and the orders still rest; the fake's countdowns
are then brought forward by 10 s (`advance_countdowns`, the fake running its clock faster) and the venue
cancels them, as Binance would 10 s after the daemon died.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
from tests.fakebinance import FakeBinance, fake_in_thread
from tests.fakebinance.moving import MarketMover
from tests.support.daemon import DaemonProc, make_daemon, wait_until

pytestmark = pytest.mark.slow

ACCOUNT = "live"
ENV = {"MMCTL_LIVE_API_KEY": "k", "MMCTL_LIVE_API_SECRET": "s"}
PREFIX = "mm."  # the bots' client order ids (mmctl.bots.ids)
BOT_ARGS = ("--set", "levels=2", "--set", "spread_bps=10", "--set", "leverage=5")


def config_for(fake: FakeBinance) -> str:
    return (
        f'[accounts.{ACCOUNT}]\nexchange = "binanceusdm"\nenvironment = "demo"\n'
        f'rest_url = "{fake.rest_url}"\nws_url = "{fake.ws_url}"\n'
        "countdown_s = 10.0\ncountdown_refresh_s = 3.0\n"
    )


def cli_json(d: DaemonProc, *args: str) -> Any:
    out = d.cli(*args, "--json")
    assert out.returncode == 0, f"mmctl {' '.join(args)}: {out.stderr or out.stdout}"
    return json.loads(out.stdout)


def health(d: DaemonProc) -> dict[str, dict[str, Any]]:
    result = d.call("daemon.health")["result"]
    return {c["name"]: c for c in result["checks"]}


def recovered(d: DaemonProc) -> bool:
    checks = health(d)
    return "recovery" not in checks and f"account:{ACCOUNT}" in checks


def recovery_messages(d: DaemonProc) -> list[str]:
    return [e["message"] for e in cli_json(d, "events")["events"] if e["kind"] == "recovery"]


def ours(fake: FakeBinance) -> list[str]:
    return sorted(o.client_order_id for o in fake.open_orders() if o.client_order_id.startswith(PREFIX))


def start_daemon(root: Path, fake: FakeBinance) -> DaemonProc:
    d = make_daemon(root, config_for(fake))
    d.start(ENV)
    wait_until(lambda: recovered(d), timeout=60, what="the daemon to open the account and recover")
    return d


def test_a_binance_account_through_the_daemon_and_its_dead_mans_switch(short_tmp: Path) -> None:
    """create, start, status, leverage, health, pause, stop (nothing left on the venue, countdown
    disarmed); start again, kill -9: the venue's countdown cancels the quotes; a restart puts the bot
    back quoting; kill -9 and restart at once: recovery reconciles the quotes still on the venue;
    SIGTERM leaves nothing behind."""
    with fake_in_thread() as fake, MarketMover(fake, ["BTCUSDT"], interval_s=0.2) as mover:
        d = start_daemon(short_tmp, fake)
        try:
            out = d.cli(
                "create",
                "b1",
                "--account",
                ACCOUNT,
                "--symbol",
                "BTCUSDT",
                "--strategy",
                "market_maker",
                *BOT_ARGS,
            )
            assert out.returncode == 0, out.stderr
            (started,) = cli_json(d, "start", "b1")
            assert started["ok"], started
            wait_until(lambda: len(ours(fake)) == 4, timeout=20, what="four quotes on the fake venue")
            status = cli_json(d, "status", "b1")
            assert status["state"] == "running"
            assert status["leverage"] == 5
            assert fake.leverage("BTCUSDT") == 5
            assert 0 < fake.countdowns_left().get("BTCUSDT", 0) <= 10

            lev = cli_json(d, "leverage", "b1", "10")
            assert (lev["leverage"], lev["previous"]) == (10, 5)
            assert fake.leverage("BTCUSDT") == 10
            refused = d.cli("leverage", "b1", "200")
            assert refused.returncode == 2  # a value out of range: a usage error
            assert len(refused.stderr.strip().splitlines()) == 1
            assert "200" in refused.stderr
            assert "125" in refused.stderr  # the symbol's maximum: what to choose instead
            assert fake.leverage("BTCUSDT") == 10

            checks = health(d)
            assert checks[f"account:{ACCOUNT}"]["ok"], checks[f"account:{ACCOUNT}"]
            assert "latency" in checks[f"account:{ACCOUNT}"]["detail"]
            assert "clock offset" in checks[f"account:{ACCOUNT}"]["detail"]
            assert checks[f"rate:{ACCOUNT}"]["ok"]
            assert "weight/min" in checks[f"rate:{ACCOUNT}"]["detail"]
            assert "user stream connected" in checks[f"streams:{ACCOUNT}"]["detail"]
            assert checks[f"countdown:{ACCOUNT}:BTC/USDT:USDT"]["ok"]

            (paused,) = cli_json(d, "pause", "b1")
            assert paused["ok"], paused
            assert ours(fake) == []
            (resumed,) = cli_json(d, "resume", "b1")
            assert resumed["ok"], resumed
            wait_until(lambda: len(ours(fake)) == 4, timeout=20, what="quotes again after resume")

            (stopped,) = cli_json(d, "stop", "b1")
            assert stopped["ok"], stopped
            assert ours(fake) == []
            wait_until(lambda: "BTCUSDT" not in fake.countdowns_left(), timeout=10, what="countdown disarmed")

            (started,) = cli_json(d, "start", "b1")
            assert started["ok"], started
            wait_until(lambda: len(ours(fake)) == 4, timeout=20, what="quotes after the second start")
            d.stop(signal.SIGKILL)
            assert len(ours(fake)) == 4  # the daemon is gone, its quotes still rest on the venue
            left = fake.countdowns_left()["BTCUSDT"]
            assert 0 < left <= 10
            fake.advance_countdowns(10.0)
            assert ours(fake) == []
            assert ("k", "BTCUSDT") in fake.countdowns.fired

            d = start_daemon(short_tmp, fake)  # same state dir: recovery, then the bot is put back
            wait_until(lambda: len(ours(fake)) == 4, timeout=30, what="the bot quoting again after restart")
            listed = cli_json(d, "list")
            assert [(r["name"], r["state"]) for r in listed] == [("b1", "running")]
            assert "uncleanly" in " ".join(recovery_messages(d))

            d.stop(signal.SIGKILL)  # again, and restart before the countdown runs out
            assert len(ours(fake)) == 4
            d = start_daemon(short_tmp, fake)
            last = recovery_messages(d)[-1]
            assert last.startswith(f"account {ACCOUNT} recovered")
            assert "0 adopted, 0 cancelled" not in last  # the 4 quotes found on the venue were reconciled
            wait_until(lambda: len(ours(fake)) == 4, timeout=30, what="quoting after the second restart")
            assert len(set(ours(fake))) == 4
            assert mover.error is None
        finally:
            code, log = d.stop()
        assert code == 0, log
        assert ours(fake) == []
        assert "BTCUSDT" not in fake.countdowns_left()
