"""Safety under load: how long `mmctl stop NAME`, `mmctl pause NAME` and `mmctl cancel-all --all --yes`
take to a confirmed answer while the request budget is saturated by other traffic.

Set-up: one daemon process on a temp socket, `--bots` (40) bots quoting on `--accounts` (2) paper
accounts that share the IP weight budget as on Binance (one VPS, one IP). Then the load, kept up until
the last measurement:
- `--readers` (4) threads flooding `portfolio.get` and `bot.status`, back to back, each on its own
  connection;
- a burst of starts: `--burst` (100) more bots created and started with one `bot.start`, as
  `mmctl start a b c ...` does;
- a prober calling `bot.status` on a random quoting bot every 50 ms: its round trips (a call that times
  out counts its whole wait) are the status figure;
- a monitor reading the IP budget's use from `daemon.health` every 0.5 s (the readers' `portfolio.get`
  replies are read too).
The config has no key for the budget limits (issue 8), so the budget is saturated by load alone;
`--extra-config` appends TOML tables to the daemon's config (e.g. small budgets, once a key exists).

Measured through the real CLI (a subprocess with `--json`, as an operator runs it), once the budget is
first seen saturated (or after `--saturate-wait` s): `stop NAME` on `--stops` (5) quoting bots one after
another, `pause NAME` on `--pauses` (2) others, then `cancel-all --all --yes`. Each is timed from launch
to its confirmed answer: exit 0 and every outcome ok (stopped or paused, the bot's orders confirmed
cancelled; cancel-all: no bot failed and no order left). When the answer is not a confirmation, `bot.list`
is polled until it shows the bot(s) stopped or paused with no open order, up to `--op-timeout` s after the
launch; an operation never confirmed counts all of that wait. A CLI run's own cost (interpreter start,
imports) is part of each figure; `cli_floor_ms` on stderr is the median of three `mmctl version` runs
against the same daemon, under the same load.

budget_saturated=1 when, during the measurements, the IP weight window was seen full: at or above its
cap (health's `budget:ip` weight/min >= 100 %), or, in a `portfolio` reply, at or above the share of
the cap the non-safety classes may fill (all of it when the budget has no safety reserve), or with
requests of those classes waiting for room or refused for lack of it. Otherwise 0: the figures were not
taken under saturation and prove nothing about it.

Budgets (the product's, also listed in README.md, Development; issue 8): stop p99 <= 2000 ms;
cancel-all <= 2000 ms; status p99 <= 50 ms (pause <= 2000 ms, on stderr); and budget_saturated=1,
else the run proves nothing.

Usage: python bench/safety_under_load.py [--bots 40] [--accounts 2] [--burst 100] [--readers 4]
       [--stops 5] [--pauses 2] [--op-timeout 30] [--saturate-wait 20] [--extra-config TOML]
Progress goes to stderr; the last stdout line is
`stop_p99_ms=<n> cancel_all_ms=<n> status_p99_ms=<n> budget_saturated=<0|1>`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet import (
    SYMBOLS,
    BenchDaemon,
    Rpc,
    bot_rows,
    create_bots,
    log,
    paper_accounts,
    percentile,
    start_bots,
    wait_for_rows,
)

Rows = dict[str, dict[str, Any]]
HEALTH_WEIGHT = re.compile(r"weight/min (\d+(?:\.\d+)?)%")
SAFETY_CLASSES = ("safety", "cancel", "reduce")  # queues that may use the reserve (today's and issue 8's)


@dataclass
class Load:
    """What the load threads share with the measuring thread."""

    socket: Path
    names: list[str]  # the quoting bots the readers and the prober ask about
    timeout_s: float
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    saturation: list[tuple[float, bool, str]] = field(default_factory=list)  # (monotonic, full, source)
    status: list[tuple[float, float]] = field(default_factory=list)  # (monotonic at the call, ms)
    reader_calls: int = 0
    reader_failures: list[str] = field(default_factory=list)
    max_weight_share: float = 0.0  # of the whole cap, as seen

    def saw(self, source: str, full: bool, share: float) -> None:
        with self.lock:
            self.saturation.append((time.monotonic(), full, source))
            self.max_weight_share = max(self.max_weight_share, share)

    def saturated_by(self, t0: float, t1: float) -> set[str]:
        """The sources that saw the window full between `t0` and `t1`."""
        with self.lock:
            return {source for at, full, source in self.saturation if full and t0 <= at <= t1}

    def first_saturated(self) -> float | None:
        with self.lock:
            return next((at for at, full, _ in self.saturation if full), None)


def ip_usage(doc: Any) -> dict[str, Any] | None:
    """The IP budget's usage in a `portfolio.get` reply (every account carries the same), if shown."""
    accounts = doc.get("accounts") if isinstance(doc, dict) else None
    for account in accounts or []:
        ip = ((account or {}).get("budget") or {}).get("ip")
        if isinstance(ip, dict):
            return ip
    return None


def window_full(usage: dict[str, Any], refused: int) -> tuple[bool, float]:
    """Whether the IP budget's usage shows its weight window full for the non-safety classes (at or
    above their share of the cap, or some of their requests waiting, or `refused` of them turned away
    since the last look), and the window's share of the whole cap."""
    limits = usage.get("limits") or {}
    cap = int(limits.get("weight_cap") or 0)
    if cap <= 0:
        return False, 0.0
    weight = int(usage.get("weight_1m") or 0)
    reserve = float(limits.get("safety_reserve") or 0.0)
    load_cap = cap if reserve <= 0 else max(1, math.floor(cap * (1 - reserve)))
    waiting = usage.get("waiting") or {}
    queued = sum(int(n) for cls, n in waiting.items() if cls not in SAFETY_CLASSES)
    return weight >= load_cap or queued > 0 or refused > 0, weight / cap


def reader(load: Load, seed: int) -> None:
    """Flood `portfolio.get` and `bot.status`, back to back, until told to stop."""
    rpc, rng = Rpc(load.socket, load.timeout_s), random.Random(seed)
    refused_seen: int | None = None  # the IP budget's count of refused requests, at the last look
    try:
        while not load.stop.is_set():
            usage = ip_usage(rpc.call("portfolio.get").result)
            if usage is not None:
                refused = int(usage.get("exhausted") or 0)
                full, share = window_full(
                    usage, refused - (refused if refused_seen is None else refused_seen)
                )
                refused_seen = refused
                load.saw("portfolio", full, share)
            rpc.call("bot.status", {"name": rng.choice(load.names)})
            with load.lock:
                load.reader_calls += 2
    finally:
        rpc.close()
        with load.lock:
            load.reader_failures += rpc.failures


def prober(load: Load) -> None:
    """`bot.status` on a random quoting bot every 50 ms: the status figure."""
    rpc, rng = Rpc(load.socket, load.timeout_s), random.Random(7)
    try:
        while not load.stop.is_set():
            at = time.monotonic()
            reply = rpc.call("bot.status", {"name": rng.choice(load.names)})
            with load.lock:
                load.status.append((at, reply.ms))
            load.stop.wait(0.05)
    finally:
        rpc.close()


def monitor(load: Load) -> None:
    """The IP budget's weight window, from `daemon.health` (no venue call), every 0.5 s."""
    rpc = Rpc(load.socket, load.timeout_s)
    try:
        while not load.stop.is_set():
            reply = rpc.call("daemon.health")
            checks = reply.result.get("checks", []) if isinstance(reply.result, dict) else []
            for check in checks:
                match = HEALTH_WEIGHT.search(str(check.get("detail", "")))
                if check.get("name") == "budget:ip" and match:
                    share = float(match.group(1)) / 100
                    load.saw("health", share >= 1.0, share)
            load.stop.wait(0.5)
    finally:
        rpc.close()


def burst(load: Load, specs: list[tuple[str, str, str]], start_timeout_s: float) -> None:
    """Create and start `specs` (one `bot.start`), as an operator starting a batch would."""
    rpc = Rpc(load.socket, load.timeout_s)
    t0 = time.monotonic()
    names = create_bots(rpc, specs)
    rpc.close()
    starter = Rpc(load.socket, start_timeout_s)
    failed, rows = start_bots(starter, names, start_timeout_s)
    running = sum(1 for n in names if rows.get(n, {}).get("state") == "running")
    starter.close()
    log(
        f"burst: {len(names)}/{len(specs)} created, {running} running, {len(failed)} start outcome(s) "
        f"failed, {time.monotonic() - t0:.1f} s"
    )


@dataclass
class Op:
    ms: float
    confirmed: bool
    how: str  # "answer", "list" (confirmed by polling bot.list after the answer) or "never"


def mmctl_cmd() -> list[str]:
    script = Path(sys.executable).with_name("mmctl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mmctl"]


def run_cli(socket: Path, timeout_s: float, *args: str) -> tuple[int, Any]:
    """One `mmctl --json` run: its exit code (-1 if killed) and its JSON document (None if none)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MMCTL_SOCKET", "MMCTL_CONFIG")}
    cmd = [*mmctl_cmd(), "--socket", str(socket), "--json", "--timeout", f"{timeout_s:g}", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout_s + 30)
    except subprocess.TimeoutExpired:
        return -1, None
    try:
        return proc.returncode, json.loads(proc.stdout)
    except ValueError:
        return proc.returncode, None


def timed_op(
    socket: Path,
    rpc: Rpc,
    args: list[str],
    answer_ok: Callable[[int, Any], bool],
    rows_ok: Callable[[Rows], bool],
    timeout_s: float,
) -> Op:
    """Time one CLI operation to its confirmed answer (see the module docstring)."""
    t0 = time.monotonic()
    code, doc = run_cli(socket, timeout_s, *args)
    if answer_ok(code, doc):
        return Op((time.monotonic() - t0) * 1000, True, "answer")
    log(f"  `mmctl {' '.join(args)}` answered without confirming (exit {code}): {str(doc)[:200]}")
    rows = wait_for_rows(rpc, rows_ok, max(0.0, t0 + timeout_s - time.monotonic()), interval_s=0.1)
    confirmed = bool(rows) and rows_ok(rows)
    return Op((time.monotonic() - t0) * 1000, confirmed, "list" if confirmed else "never")


def outcomes_in(state: str) -> Callable[[int, Any], bool]:
    """A batch command's answer confirms when it exits 0 and every bot is ok and in `state`."""
    return lambda code, doc: (
        code == 0
        and isinstance(doc, list)
        and bool(doc)
        and all(o.get("ok") and o.get("state") == state for o in doc)
    )


def rows_in(names: list[str], states: tuple[str, ...]) -> Callable[[Rows], bool]:
    """`bot.list` shows every one of `names` in one of `states` with no open order."""
    return lambda rows: all(
        n in rows and rows[n]["state"] in states and rows[n]["open_orders"] == 0 for n in names
    )


@dataclass
class Results:
    stops: list[Op] = field(default_factory=list)
    pauses: list[Op] = field(default_factory=list)
    cancel_all: Op | None = None
    cli_floor_ms: float = math.nan
    window: tuple[float, float] = (0.0, 0.0)  # monotonic span of the measurements


def measure(socket: Path, rpc: Rpc, running: list[str], args: argparse.Namespace) -> Results:
    """The safety operations, one after another, through the CLI."""
    res = Results()
    floor = []
    for _ in range(3):
        t0 = time.monotonic()
        code, _ = run_cli(socket, args.op_timeout, "version")
        floor.append((time.monotonic() - t0) * 1000 if code == 0 else math.nan)
    res.cli_floor_ms = percentile(floor, 0.5)
    to_stop = running[: args.stops]
    to_pause = running[args.stops : args.stops + args.pauses]
    res.window = (time.monotonic(), math.inf)
    for name in to_stop:
        op = timed_op(
            socket,
            rpc,
            ["stop", name],
            outcomes_in("stopped"),
            rows_in([name], ("stopped",)),
            args.op_timeout,
        )
        log(f"stop {name}: {op.ms:.0f} ms ({op.how})")
        res.stops.append(op)
    for name in to_pause:
        op = timed_op(
            socket, rpc, ["pause", name], outcomes_in("paused"), rows_in([name], ("paused",)), args.op_timeout
        )
        log(f"pause {name}: {op.ms:.0f} ms ({op.how})")
        res.pauses.append(op)
    rows = bot_rows(rpc) or {}
    quoting = [n for n, row in rows.items() if row["state"] == "running"]
    res.cancel_all = timed_op(
        socket,
        rpc,
        ["cancel-all", "--all", "--yes"],
        lambda code, doc: code == 0 and isinstance(doc, list),
        rows_in(quoting, ("paused", "stopped", "error")),
        args.op_timeout,
    )
    log(f"cancel-all --all: {res.cancel_all.ms:.0f} ms ({res.cancel_all.how}), {len(quoting)} bot(s) quoting")
    res.window = (res.window[0], time.monotonic())
    return res


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--bots", type=int, default=40, help="bots quoting before the load (default 40)")
    p.add_argument("--accounts", type=int, default=2, help="paper accounts sharing the IP (default 2)")
    p.add_argument("--burst", type=int, default=100, help="bots created and started under load (100)")
    p.add_argument("--readers", type=int, default=4, help="threads flooding portfolio/status (4)")
    p.add_argument("--stops", type=int, default=5, help="`mmctl stop NAME` runs timed (5)")
    p.add_argument("--pauses", type=int, default=2, help="`mmctl pause NAME` runs timed (2)")
    p.add_argument("--op-timeout", type=float, default=30.0, help="the CLI's --timeout, s (30, its default)")
    p.add_argument("--status-timeout", type=float, default=10.0, help="status/portfolio call timeout, s")
    p.add_argument("--start-timeout", type=float, default=120.0, help="bot.start timeout, s")
    p.add_argument("--saturate-wait", type=float, default=20.0, help="most seconds to wait for saturation")
    p.add_argument("--extra-config", default="", help="TOML tables appended to the daemon's config")
    args = p.parse_args(argv)
    if args.bots < args.stops + args.pauses or min(args.accounts, args.stops) < 1:
        p.error("need --bots >= --stops + --pauses, --accounts >= 1, --stops >= 1")
    return args


def run(args: argparse.Namespace) -> tuple[Results, Load]:
    accounts = [f"p{k}" for k in range(args.accounts)]

    def spec(prefix: str, i: int) -> tuple[str, str, str]:
        return (f"{prefix}{i}", accounts[i % len(accounts)], SYMBOLS[(i // len(accounts)) % len(SYMBOLS)])

    with BenchDaemon(paper_accounts(accounts, book_interval_ms=200), extra_config=args.extra_config) as d:
        control = d.rpc(args.status_timeout)
        log(f"{args.bots} bots on {len(accounts)} paper accounts")
        names = create_bots(control, [spec("q", i) for i in range(args.bots)])
        starter = d.rpc(args.start_timeout)
        failed, rows = start_bots(starter, names, args.start_timeout)
        starter.close()
        running = [n for n in names if rows.get(n, {}).get("state") == "running"]
        log(f"{len(running)}/{args.bots} quoting ({len(failed)} start outcome(s) failed)")
        load = Load(d.socket, running or names, args.status_timeout)
        threads = [threading.Thread(target=reader, args=(load, k), daemon=True) for k in range(args.readers)]
        threads += [threading.Thread(target=f, args=(load,), daemon=True) for f in (prober, monitor)]
        burst_specs = [spec("b", i) for i in range(args.burst)]
        threads.append(
            threading.Thread(target=burst, args=(load, burst_specs, args.start_timeout), daemon=True)
        )
        t_load = time.monotonic()
        for t in threads:
            t.start()
        log(f"load on: {args.readers} reader(s), a burst of {args.burst} starts; waiting for saturation")
        while load.first_saturated() is None and time.monotonic() - t_load < args.saturate_wait:
            time.sleep(0.1)
        first = load.first_saturated()
        log(
            "saturated after "
            + (f"{first - t_load:.1f} s" if first else f"no sign in {args.saturate_wait:g} s")
        )
        res = measure(d.socket, control, [n for n in running if n in load.names], args)
        load.stop.set()
        deadline = time.monotonic() + args.status_timeout + 2  # a thread may be in one call still
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        control.close()
    return res, load


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    res, load = run(args)
    stop_ms = [op.ms for op in res.stops]
    pause_ms = [op.ms for op in res.pauses]
    status_ms = [ms for _, ms in load.status]
    cancel = res.cancel_all
    saturated_by = load.saturated_by(*res.window)
    unconfirmed = sum(
        1 for op in [*res.stops, *res.pauses, *([cancel] if cancel else [])] if not op.confirmed
    )
    log(
        f"stop: {len(stop_ms)} runs, p50 {percentile(stop_ms, 0.5):.0f} ms, "
        f"max {percentile(stop_ms, 1.0):.0f} ms; "
        f"pause: {len(pause_ms)} runs, p99 {percentile(pause_ms, 0.99):.0f} ms; "
        f"{unconfirmed} operation(s) never confirmed within {args.op_timeout:g} s; "
        f"cli_floor_ms={res.cli_floor_ms:.0f}"
    )
    log(
        f"status: {len(status_ms)} probes, p50 {percentile(status_ms, 0.5):.1f} ms; readers: "
        f"{load.reader_calls} calls, {len(load.reader_failures)} failed or timed out; IP weight window up "
        f"to {load.max_weight_share:.0%} of its cap, seen full by {sorted(saturated_by) or 'nothing'} "
        "during the measurements"
    )
    for failure in load.reader_failures[:3]:
        log(f"  {failure}")
    print(
        f"stop_p99_ms={percentile(stop_ms, 0.99):.1f} "
        f"cancel_all_ms={cancel.ms if cancel else math.nan:.1f} "
        f"status_p99_ms={percentile(status_ms, 0.99):.1f} budget_saturated={int(bool(saturated_by))}"
    )


if __name__ == "__main__":
    main()
