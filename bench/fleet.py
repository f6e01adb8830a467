"""Fleet: one daemon process with N paper bots (default 200; also run it with 400) on the six built-in
symbols, measured through its real socket.

The bots are spread over paper accounts of `--bots-per-account` (40): each account has its own order
counters while all of them share one IP weight budget, as on Binance (one VPS, one IP); one account carries
about 55 default bots and one IP about 170 (bench/binance_budget.py), so 400 bots start in waves over a
few minutes and then quote as the shared budget allows. Each account's synthetic market sends one book
update per second per symbol.

The run: create every bot; read the daemon's RSS with no bot running, then with one; start the rest as
`mmctl start a b c ...` does (one `bot.start` per bot, 4 in flight) and wait until none is still
starting; let them quote for `--seconds` while one client calls `bot.status` on random bots and
`bot.list` over the raw socket, one call every 50 ms; then `bot.stop --all`.

Figures: the daemon's CPU over the quoting window (utime + stime from /proc/<pid>/stat, in % of one
core); its RSS at the end; the memory per extra bot, (RSS with N bots - RSS with 1) / (N - 1); the p99
round trip of the status RPCs (a call that times out counts its whole wait); and errors: every RPC that
failed or timed out (`--rpc-timeout`, the creates, the start, the status calls, the final stop) plus
every bot that did not start or was not running at the end.

Budgets (the product's, also listed in README.md, Development; issue 8): errors 0; status RPC p99
<= 50 ms; per extra bot <= 1 MB (1024 kB); 400 bots under one core (cpu_pct < 100).

Usage: python bench/fleet.py [--bots 200] [--seconds 20] [--bots-per-account 40] [--rpc-timeout 5]
Progress goes to stderr; the last stdout line is
`bots=<n> cpu_pct=<n> rss_mb=<n> per_bot_kb=<n> rpc_p99_ms=<n> errors=<n>`.

The daemon helpers here (`BenchDaemon`, `Rpc`, ...) are shared with bench/safety_under_load.py.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from mmctl.errors import MmctlError
from mmctl.rpc.client import Client
from mmctl.rpc.protocol import START_ANSWER_S

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
IDLE_RECONNECT_S = 120.0  # a connection idle this long is reopened (the daemon's idle timeout is 300 s)
SETTLING = ("created", "starting")  # a bot in one of these has not finished starting yet


def log(message: str) -> None:
    """Progress, on stderr (stdout is for the figures)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, every thread) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (`q` in 0..1); NaN when there are no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def paper_accounts(names: list[str], book_interval_ms: int) -> str:
    """Config tables for paper accounts with deep pockets and their own market seeds."""
    return "".join(
        f'[accounts.{name}]\nexchange = "paper"\nbalance = "10000000"\n'
        f"book_interval_ms = {book_interval_ms}\nseed = {k + 1}\n"
        for k, name in enumerate(names)
    )


@dataclass
class CallResult:
    ms: float
    result: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Rpc:
    """One connection to the daemon: every call timed; a failure is recorded and returned, never raised."""

    def __init__(self, socket_path: Path, timeout_s: float) -> None:
        self.client = Client(socket_path, timeout_s=timeout_s)
        self.last_used = time.perf_counter()
        self.calls = 0
        self.failures: list[str] = []

    def call(self, method: str, params: dict[str, Any] | None = None) -> CallResult:
        self.calls += 1
        t0 = time.perf_counter()
        if t0 - self.last_used > IDLE_RECONNECT_S:  # the daemon drops connections idle for 300 s
            self.client.close()
        self.last_used = t0
        try:
            result = self.client.call(method, params)
        except (MmctlError, OSError) as e:
            self.client.close()  # a late reply must not be read as the next call's answer
            ms = (time.perf_counter() - t0) * 1000
            error = f"{method}: {type(e).__name__}: {e}"
            self.failures.append(error)
            return CallResult(ms, error=error)
        return CallResult((time.perf_counter() - t0) * 1000, result)

    def close(self) -> None:
        self.client.close()


class BenchDaemon:
    """`mmctl daemon run` on a temp socket and config; on exit SIGTERM (then kill), temp dir removed."""

    def __init__(self, accounts_toml: str, *, extra_config: str = "", shutdown_wait_s: float = 30.0) -> None:
        self.toml = accounts_toml + extra_config
        self.shutdown_wait_s = shutdown_wait_s
        self._tmp: Path | None = None  # the temp dir, once entered
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def root(self) -> Path:
        assert self._tmp is not None, "use BenchDaemon as a context manager"
        return self._tmp

    @property
    def socket(self) -> Path:
        return self.root / "s.sock"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> BenchDaemon:
        self._tmp = Path(tempfile.mkdtemp(prefix="mmb"))  # short: Unix socket paths are limited
        config = self.root / "c.toml"
        config.write_text(
            f'[daemon]\nsocket = "{self.socket}"\nstate_dir = "{self.root / "state"}"\n'
            'shutdown_timeout_s = 15.0\n[log]\nlevel = "warning"\n' + self.toml
        )
        try:
            self._log = (self.root / "daemon.log").open("wb")
            env = {k: v for k, v in os.environ.items() if k not in ("MMCTL_SOCKET", "MMCTL_CONFIG")}
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mmctl", "daemon", "run", "--config", str(config)],
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=env,
            )
            log(f"daemon pid {self.proc.pid}, temp dir {self._tmp}")
            self._wait_ready()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _wait_ready(self, timeout_s: float = 60.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with Client(self.socket, timeout_s=5) as client:
                try:
                    client.call("daemon.version")
                    return
                except MmctlError:
                    pass
            if self.proc.poll() is not None:
                raise SystemExit(f"the daemon exited with {self.proc.returncode}:\n{self.log_tail()}")
            time.sleep(0.05)
        raise SystemExit(f"the daemon did not answer within {timeout_s:g} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        path = self.root / "daemon.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def rpc(self, timeout_s: float) -> Rpc:
        return Rpc(self.socket, timeout_s)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=self.shutdown_wait_s)
            except subprocess.TimeoutExpired:
                log(f"the daemon did not exit {self.shutdown_wait_s:g} s after SIGTERM: killed")
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def bot_rows(rpc: Rpc) -> dict[str, dict[str, Any]] | None:
    """`bot.list` by name, or None when the call failed."""
    reply = rpc.call("bot.list")
    if not reply.ok or not isinstance(reply.result, list):
        return None
    return {row["name"]: row for row in reply.result}


def wait_for_rows(
    rpc: Rpc, done: Callable[[dict[str, dict[str, Any]]], bool], timeout_s: float, interval_s: float = 0.5
) -> dict[str, dict[str, Any]]:
    """Poll `bot.list` until `done(rows)` or the deadline; the last rows seen ({} if none)."""
    deadline = time.monotonic() + timeout_s
    rows: dict[str, dict[str, Any]] = {}
    while True:
        seen = bot_rows(rpc)
        if seen is not None:
            rows = seen
            if done(rows):
                return rows
        if time.monotonic() >= deadline:
            return rows
        time.sleep(interval_s)


def settled(names: list[str]) -> Callable[[dict[str, dict[str, Any]]], bool]:
    """All these bots exist and none is still created-or-starting."""
    return lambda rows: all(n in rows and rows[n]["state"] not in SETTLING for n in names)


def start_bots(rpc: Rpc, names: list[str], timeout_s: float) -> tuple[set[str], dict[str, dict[str, Any]]]:
    """One `bot.start` for `names`, then wait until none is still starting (same deadline).
    Returns the bots whose start outcome failed, and the last `bot.list` rows."""
    t0 = time.monotonic()
    reply = rpc.call("bot.start", {"names": names})
    failed: set[str] = set()
    if reply.ok and isinstance(reply.result, list):
        failed = {o.get("bot", "?") for o in reply.result if not o.get("ok")}
        if failed:
            first = next(o for o in reply.result if not o.get("ok"))
            log(f"{len(failed)} start outcome(s) failed, e.g. {first.get('bot')}: {first.get('error')}")
    elif not reply.ok:
        log(f"the start call failed after {reply.ms / 1000:.1f} s: {reply.error}")
    rows = wait_for_rows(rpc, settled(names), max(1.0, timeout_s - (time.monotonic() - t0)))
    return failed, rows


def start_each(
    daemon: BenchDaemon, starter: Rpc, names: list[str], timeout_s: float, in_flight: int = 4
) -> tuple[set[str], dict[str, dict[str, Any]]]:
    """Start `names` as `mmctl start a b c ...` does: one `bot.start` per bot, `in_flight` at a time (each
    answer within the daemon's request timeout while the budget admits starts in waves), then wait until
    none is still starting. RPC failures are recorded on `starter`."""
    import queue
    from concurrent.futures import ThreadPoolExecutor

    t0 = time.monotonic()
    rpcs = [daemon.rpc(max(timeout_s, START_ANSWER_S)) for _ in range(in_flight)]
    idle: queue.SimpleQueue[Rpc] = queue.SimpleQueue()  # each connection used by one thread at a time
    for rpc in rpcs:
        idle.put(rpc)

    def one(i: int) -> tuple[str, CallResult]:
        rpc = idle.get()
        try:
            return names[i], rpc.call("bot.start", {"names": [names[i]]})
        finally:
            idle.put(rpc)

    failed: set[str] = set()
    with ThreadPoolExecutor(in_flight) as pool:
        for name, reply in pool.map(one, range(len(names))):
            outcomes = reply.result if isinstance(reply.result, list) else []
            if not reply.ok or not all(isinstance(o, dict) and o.get("ok") for o in outcomes):
                failed.add(name)
    for rpc in rpcs:
        starter.failures.extend(rpc.failures)
        rpc.close()
    if failed:
        log(f"{len(failed)} start(s) failed")
    rows = wait_for_rows(starter, settled(names), max(1.0, timeout_s - (time.monotonic() - t0)))
    return failed, rows


def create_bots(rpc: Rpc, specs: list[tuple[str, str, str]]) -> list[str]:
    """Create (name, account, symbol) bots, 3 levels each, spreads 8..24 bps; the names created."""
    created = []
    for i, (name, account, symbol) in enumerate(specs):
        params = {"levels": "3", "spread_bps": str(8 + i % 17)}
        reply = rpc.call("bot.create", {"name": name, "account": account, "symbol": symbol, "params": params})
        if reply.ok:
            created.append(name)
        if (i + 1) % 100 == 0:
            log(f"created {i + 1}/{len(specs)} bots")
    return created


def settle_rss(pid: int, seconds: float = 2.0) -> int:
    time.sleep(seconds)
    return rss_kb(pid)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--bots", type=int, default=200, help="bots in the daemon (default 200)")
    p.add_argument("--seconds", type=float, default=20.0, help="quoting window measured (default 20)")
    p.add_argument("--bots-per-account", type=int, default=40, help="bots per paper account (default 40)")
    p.add_argument("--rpc-timeout", type=float, default=5.0, help="status/list/create call timeout, s")
    p.add_argument("--start-timeout", type=float, default=120.0, help="start (and stop --all) timeout, s")
    args = p.parse_args(argv)
    if args.bots < 2 or args.bots_per_account < 1 or args.seconds <= 0:
        p.error("need --bots >= 2, --bots-per-account >= 1, --seconds > 0")
    return args


def probe_status(rpc: Rpc, targets: list[str], seconds: float) -> dict[str, list[float]]:
    """Round trips of `bot.status` on random bots, every fourth call `bot.list`, one call per 50 ms."""
    rtts: dict[str, list[float]] = {"bot.status": [], "bot.list": []}
    rng = random.Random(1)
    t0 = time.monotonic()
    calls = 0
    while time.monotonic() - t0 < seconds:
        calls += 1
        if calls % 4 == 0:
            rtts["bot.list"].append(rpc.call("bot.list").ms)
        else:
            rtts["bot.status"].append(rpc.call("bot.status", {"name": rng.choice(targets)}).ms)
        time.sleep(0.05)
    return rtts


@dataclass
class Figures:
    cpu_pct: float = math.nan
    rss_kb: dict[str, int] = field(default_factory=dict)  # "none", "one", "all" running
    rtts: dict[str, list[float]] = field(default_factory=dict)
    rpc_failures: list[str] = field(default_factory=list)
    bad_bots: set[str] = field(default_factory=set)  # did not start, or not running at the end
    unconfirmed_stops: int = 0

    @property
    def errors(self) -> int:
        return len(self.rpc_failures) + len(self.bad_bots) + self.unconfirmed_stops


def run_fleet(args: argparse.Namespace) -> Figures:
    n: int = args.bots
    accounts = [f"p{k}" for k in range(math.ceil(n / args.bots_per_account))]
    specs = [(f"f{i}", accounts[i // args.bots_per_account], SYMBOLS[i % len(SYMBOLS)]) for i in range(n)]
    figures = Figures()
    with BenchDaemon(paper_accounts(accounts, book_interval_ms=1000)) as daemon:
        control, starter = daemon.rpc(args.rpc_timeout), daemon.rpc(args.start_timeout)
        log(f"creating {n} bots on {len(accounts)} paper accounts")
        names = create_bots(control, specs)
        figures.bad_bots |= {name for name, _, _ in specs} - set(names)
        figures.rss_kb["none"] = settle_rss(daemon.pid)
        failed, _ = start_bots(starter, names[:1], args.start_timeout)
        figures.rss_kb["one"] = settle_rss(daemon.pid)
        log(f"starting {len(names) - 1} more bots")
        t_start = time.monotonic()
        more_failed, rows = start_each(daemon, starter, names[1:], args.start_timeout)
        running = sorted(name for name, row in rows.items() if row["state"] == "running")
        log(f"{len(running)}/{n} running {time.monotonic() - t_start:.1f} s after the start call")
        time.sleep(3.0)
        cpu0, t0 = cpu_s(daemon.pid), time.monotonic()
        figures.rtts = probe_status(control, running or names, args.seconds)
        figures.cpu_pct = (cpu_s(daemon.pid) - cpu0) / (time.monotonic() - t0) * 100
        figures.rss_kb["all"] = rss_kb(daemon.pid)
        end_rows = bot_rows(control) or {}
        states = Counter(row["state"] for row in end_rows.values())
        log(f"states at the end of the window: {dict(states)}")
        ended = {name for name, _, _ in specs if end_rows.get(name, {}).get("state") != "running"}
        figures.bad_bots |= failed | more_failed | ended
        stop = starter.call("bot.stop", {"all": True})
        figures.unconfirmed_stops = sum(1 for o in stop.result or [] if not o.get("ok")) if stop.ok else 0
        log(f"stop --all answered in {stop.ms:.0f} ms, {figures.unconfirmed_stops} bot(s) not confirmed")
        for rpc in (control, starter):
            rpc.close()
            figures.rpc_failures += rpc.failures
    return figures


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    f = run_fleet(args)
    for method, values in f.rtts.items():
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        log(f"{method}: {len(values)} calls, p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    log(f"rss: no bot running {f.rss_kb['none']} kB, one {f.rss_kb['one']} kB, all {f.rss_kb['all']} kB")
    log(
        f"errors: {len(f.rpc_failures)} failed or timed-out RPC(s), {len(f.bad_bots)} bot(s) not running, "
        f"{f.unconfirmed_stops} stop(s) not confirmed"
    )
    for failure in f.rpc_failures[:5]:
        log(f"  {failure}")
    all_rtts = [ms for values in f.rtts.values() for ms in values]
    per_bot = (f.rss_kb["all"] - f.rss_kb["one"]) / (args.bots - 1)
    print(
        f"bots={args.bots} cpu_pct={f.cpu_pct:.1f} rss_mb={f.rss_kb['all'] / 1024:.1f} "
        f"per_bot_kb={per_bot:.0f} rpc_p99_ms={percentile(all_rtts, 0.99):.1f} errors={f.errors}"
    )


if __name__ == "__main__":
    main()
