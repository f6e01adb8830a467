"""Binance budget: the request weight and order counts a fleet of default bots really sends to Binance.

One `mmctl daemon run` process with one `binanceusdm` account pointed at the local fake Binance server
(tests/fakebinance, served from a thread of this script: real ccxt, real signing, Binance's weights and
order counts per endpoint). `--bots` (50) market_maker bots at default parameters are spread over
`--symbols` (10) USDⓈ-M perpetuals, five per symbol; the fake moves every symbol's book as a random walk
(`--step-bps` standard deviation every `--interval` s), so the bots re-quote, amend, cancel and get
filled. After every bot runs, the fake's request log is read for `--seconds` (120) of quoting:

- peak_weight_1m: the most request weight in any sliding 60 s window (what Binance counts per IP);
- peak_orders_10s: the most order-count units in any sliding 10 s window (per account); the 1 min
  window is measured too and also limits the account;
- bots_per_ip = floor(80 % of 2400 / (peak_weight_1m / bots)), bots_per_account = the same with
  80 % of 300 orders per 10 s and of 1200 per minute (Binance USDⓈ-M's published limits, as the fake's
  exchangeInfo reports them). The start-up (markets, leverage, first quotes) is left out: it is paid
  once, in waves the daemon's budget spaces out.

A run shorter than a window (the smoke test) scales what it saw to the window.

Budget (DESIGN.md §7, issue 11): >= 100 bots per IP at default parameters (bots_per_ip >= 100).
The levers are amend in place (0 IP weight, 1 order unit instead of 2), batches of up to 5, the
refresh tolerance, and one countdown refresh per symbol shared by its bots.

Usage: python bench/binance_budget.py [--bots 50] [--symbols 10] [--seconds 120] [--interval 0.25]
                                      [--step-bps 1.0] [--start-timeout 180]
Progress goes to stderr; the last stdout line is
`bots=<n> peak_weight_1m=<n> peak_orders_10s=<n> bots_per_ip=<n> bots_per_account=<n>`.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.fakebinance
sys.path.insert(0, str(ROOT / "bench"))  # the daemon helpers of bench/fleet.py

from tests.fakebinance import DEFAULT_SYMBOLS, FakeBinance, SymbolSpec, fake_in_thread  # noqa: E402
from tests.fakebinance.moving import MarketMover  # noqa: E402
from tests.fakebinance.rest import RequestRecord  # noqa: E402

from fleet import BenchDaemon, log, start_each, wait_for_rows  # noqa: E402

ACCOUNT = "budget"
USE = 0.8  # the share of Binance's limits a deployment should plan for
BOTS_PER_SYMBOL = 5


def symbols(count: int) -> list[SymbolSpec]:
    """The fake's six built-in perpetuals plus XRP-like ones, `count` in all."""
    specs = list(DEFAULT_SYMBOLS.values())
    xrp = DEFAULT_SYMBOLS["XRPUSDT"]
    for base, price in (("ADA", "0.9000"), ("SUI", "3.5000"), ("LINK", "15.0000"), ("AVAX", "30.0000")):
        specs.append(
            dataclasses.replace(xrp, symbol=f"{base}USDT", base_asset=base, start_price=Decimal(price))
        )
    for i in range(len(specs), count):
        specs.append(dataclasses.replace(xrp, symbol=f"ALT{i}USDT", base_asset=f"ALT{i}"))
    return specs[:count]


def account_toml(fake: FakeBinance) -> str:
    return (
        f'[accounts.{ACCOUNT}]\nexchange = "binanceusdm"\nenvironment = "demo"\n'
        f'rest_url = "{fake.rest_url}"\nws_url = "{fake.ws_url}"\n'
    )


def peak(records: Sequence[RequestRecord], window_ms: int, field: str, span_ms: int) -> int:
    """The largest sum of `field` over any `window_ms` sliding window; scaled up to the window when the
    measured span is shorter than it."""
    times = [r.time_ms for r in records]
    values = [getattr(r, field) for r in records]
    best = total = lo = 0
    for hi, t in enumerate(times):
        total += values[hi]
        while times[lo] <= t - window_ms:
            total -= values[lo]
            lo += 1
        best = max(best, total)
    if 0 < span_ms < window_ms:
        return math.ceil(best * window_ms / span_ms)
    return best


def carry(limit: int, peak_use: int, bots: int) -> int:
    """How many bots fit in `USE` of `limit` at the measured use per bot."""
    if peak_use <= 0:
        return 10**6
    return math.floor(USE * limit / (peak_use / bots))


def run(args: argparse.Namespace) -> int:
    specs = symbols(args.symbols)
    os.environ[f"MMCTL_{ACCOUNT.upper()}_API_KEY"] = "k"
    os.environ[f"MMCTL_{ACCOUNT.upper()}_API_SECRET"] = "s"
    names = [f"b{i:03d}" for i in range(args.bots)]
    with (
        fake_in_thread(balance=Decimal("100000000"), symbols=specs) as fake,
        MarketMover(fake, [s.symbol for s in specs], interval_s=args.interval, step_bps=args.step_bps),
        BenchDaemon(account_toml(fake)) as daemon,
    ):
        rpc = daemon.rpc(args.start_timeout)
        wait_for_rows(rpc, lambda rows: True, timeout_s=60)
        for i, name in enumerate(names):
            symbol = specs[(i // BOTS_PER_SYMBOL) % len(specs)].symbol
            reply = rpc.call("bot.create", {"name": name, "account": ACCOUNT, "symbol": symbol, "params": {}})
            if not reply.ok:
                raise SystemExit(f"bot.create {name}: {reply.error}")
        log(f"{len(names)} bots created on {len(specs)} symbols; starting them")
        failed, rows = start_each(daemon, rpc, names, args.start_timeout)
        running = [n for n in names if rows.get(n, {}).get("state") == "running"]
        log(f"{len(running)} running, {len(failed)} failed to start")
        t0 = fake.now_ms()
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        t1 = fake.now_ms()
        records = sorted((r for r in fake.requests() if t0 <= r.time_ms <= t1), key=lambda r: r.time_ms)
        rpc.call("bot.stop", {"all": True})
        limited = sum(1 for r in records if r.status in (418, 429))
        by_path: dict[str, int] = {}
        for r in records:
            by_path[f"{r.method} {r.path}"] = by_path.get(f"{r.method} {r.path}", 0) + r.weight
        log(f"{len(records)} requests in {(t1 - t0) / 1000:.0f} s, {limited} answered 429/418")
        log(
            "weight by endpoint: "
            + ", ".join(f"{k} {v}" for k, v in sorted(by_path.items(), key=lambda kv: -kv[1]))
        )
    span = t1 - t0
    weight_1m = peak(records, 60_000, "weight", span)
    orders_10s = peak(records, 10_000, "orders", span)
    orders_1m = peak(records, 60_000, "orders", span)
    limits = fake.limits
    bots = len(names)
    per_ip = carry(limits.weight_per_min, weight_1m, bots)
    per_account = min(
        carry(limits.orders_per_10s, orders_10s, bots), carry(limits.orders_per_min, orders_1m, bots)
    )
    log(f"peak orders per minute {orders_1m}")
    print(
        f"bots={bots} peak_weight_1m={weight_1m} peak_orders_10s={orders_10s} "
        f"bots_per_ip={per_ip} bots_per_account={per_account}"
    )
    return 0 if len(running) == bots else 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--bots", type=int, default=50)
    p.add_argument("--symbols", type=int, default=10)
    p.add_argument("--seconds", type=float, default=120.0)
    p.add_argument("--interval", type=float, default=0.25, help="seconds between book moves")
    p.add_argument("--step-bps", type=float, default=1.0, help="random walk step, bp per move")
    p.add_argument("--start-timeout", type=float, default=180.0)
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(run(parse_args(None)))
