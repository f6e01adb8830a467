"""`mmctl demo`: the whole product in one command, on the paper exchange, with nothing to configure.

Starts a private daemon in a temporary directory (paper account, synthetic market, time compressed),
creates and starts a sample bot, shows a live view while it runs (plain lines when not a terminal),
then stops the bot (orders cancelled and confirmed), prints the final status and a PnL summary, and
cleans everything up, also on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from mmctl.cli.context import JsonFlag, globals_of
from mmctl.cli.output import Output, fail
from mmctl.cli.render import render_status
from mmctl.cli.values import finite
from mmctl.errors import MmctlError
from mmctl.rpc import protocol as proto
from mmctl.rpc.client import Client
from mmctl.timefmt import iso_utc

BOT = "demo-btc"
SPEED = 10.0
DEMO_PARAMS = {"spread_bps": "4", "levels": "3", "level_step_bps": "4", "inventory_skew": "0.8"}


def demo_config(root: Path, seed: int) -> str:
    return (
        f'[daemon]\nsocket = "{root / "mmctl.sock"}"\nstate_dir = "{root / "state"}"\n\n'
        '[log]\nlevel = "info"\nformat = "json"\n\n'
        "[accounts.paper]\n"
        'exchange = "paper"\nmarket = "synthetic"\n'
        f"seed = {seed}\nspeed = {SPEED}\n"
        'balance = "10000"\nfunding_interval_s = 60\nsymbols = ["BTCUSDT"]\n'
    )


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(
        ctx: typer.Context,
        seconds: Annotated[
            float,
            typer.Option(
                "--seconds", min=1, max=86_400, callback=finite, help="How long the bot runs (1..86400)."
            ),
        ] = 30,
        seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the synthetic market.")] = 1,
        json_flag: JsonFlag = False,
    ) -> None:
        """Run a sample bot on the paper exchange for a while and report what it did.

        \b
        Example:
          mmctl demo --seconds 10
        """
        out = globals_of(ctx).output(json_flag)
        root = Path(tempfile.mkdtemp(prefix="mmctl-demo-"))
        daemon: subprocess.Popen[bytes] | None = None
        try:
            (root / "config.toml").write_text(demo_config(root, seed))
            daemon = _spawn_daemon(root)
            with Client(root / "mmctl.sock", timeout_s=30) as client:
                _wait_ready(client, daemon, root)
                summary = _run(client, out, seconds)
            if out.json:
                out.document(summary)
            else:
                _print_summary(out, summary)
        except MmctlError as e:
            fail(e, out)
        except KeyboardInterrupt:
            out.write("interrupted: stopping the demo bot")
            with contextlib.suppress(MmctlError), Client(root / "mmctl.sock", timeout_s=30) as client:
                client.call(proto.BOT_STOP, {"names": [BOT]})
            raise typer.Exit(130) from None
        finally:
            _shutdown(daemon)
            shutil.rmtree(root, ignore_errors=True)


def _spawn_daemon(root: Path) -> subprocess.Popen[bytes]:
    log = (root / "daemon.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "mmctl", "daemon", "run", "--config", str(root / "config.toml")],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C goes to the demo, which stops the daemon in order
    )


def _wait_ready(client: Client, daemon: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            client.call(proto.DAEMON_VERSION)
            return
        except MmctlError:
            client.close()
            if daemon.poll() is not None or time.monotonic() > deadline:
                tail = (root / "daemon.log").read_text(errors="replace")[-2000:]
                raise MmctlError(f"the demo daemon did not start:\n{tail}") from None
            time.sleep(0.05)


def _run(client: Client, out: Output, seconds: float) -> dict[str, Any]:
    client.call(
        proto.BOT_CREATE, {"name": BOT, "account": "paper", "symbol": "BTCUSDT", "params": DEMO_PARAMS}
    )
    (outcome,) = client.call(proto.BOT_START, {"names": [BOT]})
    if not outcome["ok"]:
        raise MmctlError(f"the demo bot did not start: {outcome['error']}")
    started_ms = int(time.time() * 1000)
    if not out.json:
        out.write(
            f"demo: bot {BOT} quoting BTCUSDT on the paper exchange for {seconds:g} s "
            f"(market time runs {SPEED:g}x faster)"
        )
    last_seq = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(min(1.0, max(0.0, end - time.monotonic())))
        status = client.call(proto.BOT_STATUS, {"name": BOT})
        events = client.call(proto.EVENTS_LIST, {"bot": BOT, "after": last_seq, "limit": 5000})
        last_seq = events["last_seq"]
        if not out.json:
            _live_view(out, status, events["events"], end - time.monotonic())
    stop = client.call(proto.BOT_STOP, {"names": [BOT]})[0]
    final = client.call(proto.BOT_STATUS, {"name": BOT})
    account = client.call(proto.ACCOUNT_SUMMARY, {"account": "paper", "since": iso_utc(started_ms)})
    return _summary(final, stop, account, seconds)


def _live_view(out: Output, status: dict[str, Any], events: list[dict[str, Any]], left: float) -> None:
    line = (
        f"mid {status['mid']}  position {status['position']}  realized {status['realized_pnl']}  "
        f"unrealized {status['unrealized_pnl']}  fills {status['fills']}  open orders {status['open_orders']}"
    )
    fills = [e for e in events if e["kind"] == "fill"]
    if out.tty:
        out.stream.write("\x1b[H\x1b[2J")
        out.write(
            f"mmctl demo: {BOT} on BTCUSDT (paper), {max(0.0, left):.0f} s left, Ctrl-C to stop early\n"
        )
        render_status(out, status)
        return
    out.write(line)
    for f in fills:
        out.write(f"  fill {f['message']}")


def _summary(
    final: dict[str, Any], stop: dict[str, Any], account: dict[str, Any], seconds: float
) -> dict[str, Any]:
    income = account["income"]
    realized = Decimal(final["realized_pnl"])
    fees = Decimal(final["fees_paid"])
    funding = Decimal(income.get("FUNDING_FEE", "0"))
    unrealized = Decimal(final["unrealized_pnl"])
    return {
        "bot": BOT,
        "symbol": final["symbol"],
        "seconds": seconds,
        "state": final["state"],
        "open_orders_after_stop": len(final["orders"]),
        "orders_cancelled_at_stop": stop.get("cancelled", 0),
        "fills": final["fills"],
        "volume": final["volume"],
        "quotes": final["quotes"],
        "position": final["position"],
        "pnl": {
            "realized": str(realized),
            "fees": str(-fees),
            "funding": str(funding),
            "unrealized": str(unrealized),
            "net": str(realized - fees + funding + unrealized),
        },
        "wallet_balance": account["wallet_balance"],
    }


def _print_summary(out: Output, s: dict[str, Any]) -> None:
    out.write()
    out.write(
        f"demo finished: {s['bot']} is {s['state']} with {s['open_orders_after_stop']} open orders "
        f"({s['orders_cancelled_at_stop']} cancelled at stop)"
    )
    pnl = s["pnl"]
    out.fields(
        [
            ("fills", s["fills"]),
            ("volume (USDT)", s["volume"]),
            ("quotes placed / cancelled", f"{s['quotes']['placed']} / {s['quotes']['cancelled']}"),
            ("position left (BTC)", s["position"]),
            ("realized pnl", pnl["realized"]),
            ("fees", pnl["fees"]),
            ("funding", pnl["funding"]),
            ("unrealized pnl", pnl["unrealized"]),
            ("net pnl", pnl["net"]),
            ("wallet balance", s["wallet_balance"]),
        ]
    )


def _shutdown(daemon: subprocess.Popen[bytes] | None) -> None:
    if daemon is None or daemon.poll() is not None:
        return
    daemon.send_signal(signal.SIGTERM)
    try:
        daemon.wait(timeout=60)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()
