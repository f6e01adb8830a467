"""Crash soak: the real daemon with bots quoting on paper accounts, `kill -9`ed at random moments and
restarted each time; after every recovery the books must balance.

The run: one daemon process (`mmctl daemon run`, a temp config and state directory kept across
restarts) with `--bots` market makers spread over two paper accounts whose synthetic markets run fast
(`speed`), so quotes fill often. Each cycle lets the bots quote for a random while, sends random operator
commands (start, stop, pause, resume) and kills the daemon with SIGKILL at one of three kinds of moment:
anywhere; right after a burst of book updates (orders are being submitted and answered); in the middle
of a `stop` (a stop RPC sent, the kill a few milliseconds later). Then it reads the SQLite store while no
daemon runs (the venue's saved state is the venue's truth at the kill), restarts the daemon, waits until
it is healthy and every bot the operator left running quotes again, and checks:

- orphans: open orders on the venue carrying mmctl's prefix whose bot is not running (read from the
  paper venue's saved state after the recovery);
- lost_fills: venue trades (every trade the venue had at the kill) missing from the store's fills, plus
  store fills the venue never made;
- dup_fills: a venue trade recorded more than once;
- position_mismatch: a bot whose position (`bot.status`) differs from the sum of its recorded fills, plus
  an account whose venue wallet differs from its start balance plus the sum of its recorded income rows
  (checked at the kill);
- state_mismatch: a bot whose state after recovery is not the operator's last command (a command whose
  answer the kill cut off may have taken effect or not: either state passes);
- recovery time: from spawning the new process to every bot left running quoting again (running, with
  open orders) — budget p99 <= 1 s on paper (DESIGN.md §7; issue 10).

Usage: python bench/crash_recovery.py [kills] [--bots 6] [--seed 1] [--keep]
Progress goes to stderr; the last stdout line is `kills=<n> orphans=<n> lost_fills=<n> dup_fills=<n>
position_mismatch=<n> state_mismatch=<n> recovery_p50_ms=<n> recovery_p99_ms=<n>`. The exit status is 1
when a mismatch count is not 0. A short run (5 kills) is part of the test suite
(tests/bench/test_crash_recovery.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet import Rpc, log, percentile
from mmctl.bots import ids
from mmctl.errors import MmctlError
from mmctl.rpc.client import Client

ACCOUNTS = ("pa", "pb")
BALANCE = Decimal("100000")
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
DB_NAME = "mmctl.sqlite"
READY_TIMEOUT_S = 60.0


def config_text(root: Path) -> str:
    accounts = "".join(
        f'[accounts.{name}]\nexchange = "paper"\nbalance = "{BALANCE}"\nseed = {k + 7}\nspeed = 20.0\n'
        f"book_interval_ms = 100\ntrade_intensity = 20.0\ntrade_decay = 0.3\n"
        f'symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]\n'
        for k, name in enumerate(ACCOUNTS)
    )
    return (
        f'[daemon]\nsocket = "{root / "s.sock"}"\nstate_dir = "{root / "state"}"\n'
        'shutdown_timeout_s = 15.0\n[log]\nlevel = "warning"\nformat = "json"\n' + accounts
    )


class Daemon:
    """The daemon process on a fixed temp config and state directory, started and killed at will."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "c.toml"
        self.config.write_text(config_text(root))
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.root / "s.sock"

    @property
    def db(self) -> Path:
        return self.root / "state" / DB_NAME

    def spawn(self) -> float:
        """Start the daemon; returns the monotonic time of the spawn."""
        self._log = (self.root / "daemon.log").open("ab")
        env = {k: v for k, v in os.environ.items() if k not in ("MMCTL_SOCKET", "MMCTL_CONFIG")}
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mmctl", "daemon", "run", "--config", str(self.config)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        return t0

    def wait_healthy(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Until `daemon.health` answers with recovery finished (the daemon is not healthy before)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the daemon exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with Client(self.socket, timeout_s=5) as client:
                    report = client.call("daemon.health")
                if isinstance(report, dict) and not _recovering(report):
                    return
            except (MmctlError, OSError):
                pass
            time.sleep(0.01)
        raise SystemExit(f"the daemon was not healthy within {timeout_s:g} s:\n{self.log_tail()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 30) -> str:
        path = self.root / "daemon.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _recovering(report: dict[str, Any]) -> bool:
    """True while the health report's `recovery` check fails (the start-up recovery has not finished)."""
    return any(
        check.get("name") == "recovery" and check.get("ok") is False for check in report.get("checks", [])
    )


# --- what the store and the venue's saved state say -------------------------------------------------


@dataclass
class VenueView:
    """One paper account as its saved state says (the venue's truth at the moment it was read)."""

    wallet: Decimal
    trade_ids: set[str]
    open_orders: list[str]  # client order ids


@dataclass
class StoreView:
    fills: Counter[tuple[str, str, str]]  # (account, symbol, trade id) -> times recorded
    fills_by_bot: dict[str, Decimal]  # signed quantity per bot
    income: dict[str, Decimal]  # sum of income rows per account
    desired: dict[str, str]


def _connect(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)


def read_store(db: Path) -> StoreView:
    with _connect(db) as conn:
        fills: Counter[tuple[str, str, str]] = Counter()
        by_bot: dict[str, Decimal] = {}
        for account, symbol, trade_id, bot, side, qty in conn.execute(
            "SELECT account, symbol, trade_id, bot, side, qty FROM fills"
        ):
            fills[(account, symbol, trade_id)] += 1
            if bot is not None:
                signed = Decimal(qty) if side == "buy" else -Decimal(qty)
                by_bot[bot] = by_bot.get(bot, Decimal(0)) + signed
        income: dict[str, Decimal] = {}
        for account, amount in conn.execute("SELECT account, amount FROM income"):
            income[account] = income.get(account, Decimal(0)) + Decimal(amount)
        desired = dict(conn.execute("SELECT name, desired_state FROM bots").fetchall())
    return StoreView(fills, by_bot, income, desired)


def read_venue(db: Path, account: str) -> VenueView:
    """The paper venue's saved state for `account` (see mmctl.daemon.paper_accounts for the format)."""
    from mmctl.daemon.paper_accounts import read_saved_venue

    with _connect(db) as conn:
        saved = read_saved_venue(conn, account)
    return VenueView(saved.wallet, set(saved.trade_ids), list(saved.open_client_order_ids))


# --- the soak -------------------------------------------------------------------------------------------


@dataclass
class Tally:
    kills: int = 0
    orphans: int = 0
    lost_fills: int = 0
    dup_fills: int = 0
    position_mismatch: int = 0
    state_mismatch: int = 0
    recovery_ms: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def note(self, kind: str, message: str) -> None:
        """Count one problem; the same problem seen again after a later kill counts once."""
        if f"{kind}: {message}" in self.problems:
            return
        setattr(self, kind, getattr(self, kind) + 1)
        self.problems.append(f"{kind}: {message}")
        log(f"MISMATCH {kind}: {message}")

    def line(self) -> str:
        return (
            f"kills={self.kills} orphans={self.orphans} lost_fills={self.lost_fills} "
            f"dup_fills={self.dup_fills} position_mismatch={self.position_mismatch} "
            f"state_mismatch={self.state_mismatch} "
            f"recovery_p50_ms={percentile(self.recovery_ms, 0.5):.0f} "
            f"recovery_p99_ms={percentile(self.recovery_ms, 0.99):.0f}"
        )

    @property
    def failed(self) -> bool:
        return any(
            (self.orphans, self.lost_fills, self.dup_fills, self.position_mismatch, self.state_mismatch)
        )


STATE_OF_COMMAND = {
    "bot.start": "running",
    "bot.resume": "running",
    "bot.pause": "paused",
    "bot.stop": "stopped",
}
COMMANDS = {  # the commands that make sense from each desired state
    "running": ("bot.pause", "bot.stop"),
    "paused": ("bot.resume", "bot.stop"),
    "stopped": ("bot.start",),
}


class Soak:
    def __init__(self, daemon: Daemon, bots: list[tuple[str, str, str]], rng: random.Random) -> None:
        self.daemon = daemon
        self.specs = bots
        self.names = [name for name, _, _ in bots]
        self.rng = rng
        self.desired: dict[str, set[str]] = {}  # bot -> the states it may be in (2 if a command was cut)
        self.tally = Tally()

    def rpc(self, timeout_s: float = 10.0) -> Rpc:
        return Rpc(self.daemon.socket, timeout_s)

    def setup(self) -> None:
        self.daemon.spawn()
        self.daemon.wait_healthy()
        rpc = self.rpc()
        for i, (name, account, symbol) in enumerate(self.specs):
            params = {"levels": "2", "spread_bps": str(2 + i % 3)}
            reply = rpc.call(
                "bot.create", {"name": name, "account": account, "symbol": symbol, "params": params}
            )
            if not reply.ok:
                raise SystemExit(f"cannot create {name}: {reply.error}")
        reply = rpc.call("bot.start", {"names": self.names})
        if not reply.ok:
            raise SystemExit(f"cannot start the bots: {reply.error}")
        for name in self.names:
            self.desired[name] = {"running"}
        rpc.close()
        self.wait_quoting(time.monotonic(), first=True)

    def wait_quoting(self, t0: float, *, first: bool = False) -> float:
        """Until every bot the operator left running quotes (running, open orders); ms since `t0`."""
        rpc = self.rpc(5.0)
        must_run = [n for n, states in self.desired.items() if states == {"running"}]
        deadline = time.monotonic() + READY_TIMEOUT_S
        try:
            while time.monotonic() < deadline:
                reply = rpc.call("bot.list")
                if reply.ok and isinstance(reply.result, list):
                    rows = {row["name"]: row for row in reply.result}
                    if all(
                        n in rows and rows[n]["state"] == "running" and rows[n]["open_orders"] > 0
                        for n in must_run
                    ):
                        return (time.monotonic() - t0) * 1000
                time.sleep(0.005)
        finally:
            rpc.close()
        if first:
            raise SystemExit(f"the bots did not start quoting:\n{self.daemon.log_tail()}")
        self.tally.note(
            "state_mismatch", f"bots {must_run} not all quoting {READY_TIMEOUT_S:g} s after restart"
        )
        return READY_TIMEOUT_S * 1000

    def operate(self) -> None:
        """Quote for a random while, sending a few random operator commands."""
        rpc = self.rpc()
        try:
            for _ in range(self.rng.randint(0, 3)):
                time.sleep(self.rng.uniform(0.05, 0.6))
                name = self.rng.choice(self.names)
                current = next(iter(self.desired[name])) if len(self.desired[name]) == 1 else None
                if current is None:
                    continue
                method = self.rng.choice(COMMANDS[current])
                reply = rpc.call(method, {"names": [name]})
                if reply.ok and all(o.get("ok") for o in reply.result):
                    self.desired[name] = {STATE_OF_COMMAND[method]}
            time.sleep(self.rng.uniform(0.1, 1.5))
        finally:
            rpc.close()

    def kill_somewhere(self) -> str:
        """SIGKILL at one of the three kinds of moment; returns which."""
        kind = self.rng.choice(("anywhere", "submitting", "stopping"))
        if kind == "submitting":
            time.sleep(self.rng.uniform(0.0, 0.01))  # inside the bots' reaction to book updates
        elif kind == "stopping":
            running = [n for n, s in self.desired.items() if s == {"running"}]
            if running:
                name = self.rng.choice(running)
                self.desired[name] = {"running", "stopped"}
                threading.Thread(target=self._stop_quietly, args=(name,), daemon=True).start()
                time.sleep(self.rng.uniform(0.0, 0.03))
        self.daemon.kill()
        return kind

    def _stop_quietly(self, name: str) -> None:
        with Client(self.daemon.socket, timeout_s=5) as client, contextlib.suppress(MmctlError, OSError):
            client.call("bot.stop", {"names": [name]})  # its answer may be cut off by the kill

    def check_at_kill(self) -> dict[str, VenueView]:
        """With no daemon running: the venue's wallet against the recorded income."""
        store = read_store(self.daemon.db)
        venues = {account: read_venue(self.daemon.db, account) for account in ACCOUNTS}
        for account, venue in venues.items():
            expected = BALANCE + store.income.get(account, Decimal(0))
            if venue.wallet != expected:
                self.tally.note(
                    "position_mismatch",
                    f"{account}: wallet {venue.wallet} != {BALANCE} + income = {expected}",
                )
        return venues

    def check_after_recovery(self, at_kill: dict[str, VenueView]) -> None:
        store = read_store(self.daemon.db)
        for account, venue in at_kill.items():
            for trade_id in venue.trade_ids:
                count = sum(n for (a, _, t), n in store.fills.items() if a == account and t == trade_id)
                if count == 0:
                    self.tally.note("lost_fills", f"{account}: venue trade {trade_id} not in the store")
                elif count > 1:
                    self.tally.note("dup_fills", f"{account}: venue trade {trade_id} recorded {count} times")
        now = {account: read_venue(self.daemon.db, account) for account in ACCOUNTS}
        for (account, _symbol, trade_id), _n in store.fills.items():
            if account in now and trade_id not in now[account].trade_ids:
                self.tally.note("lost_fills", f"{account}: stored fill {trade_id} is no venue trade")
        rpc = self.rpc()
        try:
            rows = {r["name"]: r for r in (rpc.call("bot.list").result or [])}
            for name, allowed in self.desired.items():
                state = rows.get(name, {}).get("state")
                if state not in allowed:
                    self.tally.note(
                        "state_mismatch", f"{name}: {state} after recovery, expected {sorted(allowed)}"
                    )
                self.desired[name] = {state} if state in allowed else allowed
            self._check_positions(rpc)
            running = {n for n, r in rows.items() if r["state"] == "running"}
        finally:
            rpc.close()
        for account, venue in now.items():
            for cid in venue.open_orders:
                owner = ids.parse(cid)
                if owner is not None and owner.bot not in running:
                    self.tally.note(
                        "orphans", f"{account}: open order {cid} of {owner.bot}, which is not running"
                    )

    def _check_positions(self, rpc: Rpc) -> None:
        """Each bot's position equals the sum of its recorded fills (re-read while fills keep coming)."""
        for name in self.names:
            for attempt in range(5):
                status = rpc.call("bot.status", {"name": name})
                recorded = read_store(self.daemon.db).fills_by_bot.get(name, Decimal(0))
                if status.ok and Decimal(status.result["position"]) == recorded:
                    break
                if attempt == 4:
                    shown = status.result["position"] if status.ok else status.error
                    self.tally.note(
                        "position_mismatch", f"{name}: position {shown} != recorded fills {recorded}"
                    )
                time.sleep(0.05)

    def cycle(self, k: int) -> None:
        self.operate()
        kind = self.kill_somewhere()
        self.tally.kills += 1
        at_kill = self.check_at_kill()
        t0 = self.daemon.spawn()
        self.daemon.wait_healthy()
        ms = self.wait_quoting(t0)
        self.tally.recovery_ms.append(ms)
        self.check_after_recovery(at_kill)
        trades = sum(len(v.trade_ids) for v in at_kill.values())
        log(f"kill {k + 1} ({kind}): back quoting in {ms:.0f} ms; venue trades so far {trades}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("kills", nargs="?", type=int, default=50, help="kill -9 count (default 50)")
    p.add_argument("--bots", type=int, default=6, help="bots (default 6, over 2 accounts and 3 symbols)")
    p.add_argument("--seed", type=int, default=1, help="seed of the random moments and commands")
    p.add_argument("--keep", action="store_true", help="keep the temp directory (its path is logged)")
    args = p.parse_args(argv)
    if args.kills < 1 or args.bots < 1:
        p.error("need kills >= 1 and --bots >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="mmk"))  # short: Unix socket paths are limited
    log(f"temp dir {root}")
    daemon = Daemon(root)
    specs = [
        (f"k{i}", ACCOUNTS[i % len(ACCOUNTS)], SYMBOLS[(i // len(ACCOUNTS)) % len(SYMBOLS)])
        for i in range(args.bots)
    ]
    soak = Soak(daemon, specs, random.Random(args.seed))
    try:
        soak.setup()
        for k in range(args.kills):
            soak.cycle(k)
    finally:
        daemon.terminate()
        if args.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    if soak.tally.problems:
        log(json.dumps(soak.tally.problems[:20], indent=1))
    print(soak.tally.line(), flush=True)
    return 1 if soak.tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
