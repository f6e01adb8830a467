"""PnL report: `pnl --since 90d --by day --json` over a large ledger, and a cold ledger sync.

A store (the daemon's SQLite file, schema by `SqliteStore.open`) is filled with `--rows` income rows
(default 1,000,000) spread over the 400 days up to now on one account: trades of 50 bots on 10 symbols,
each trade a REALIZED_PNL and a COMMISSION row naming its trade id, with the bots' fills recorded beside
them, plus funding every 8 hours per symbol and a few transfers. The rows are inserted with the columns
the store's writer fills (`amount_units`; the summary trigger runs on each insert). A real daemon
(`mmctl daemon run`) is then started on that store and `pnl.report` with `since="90d", by="day"` is
called over its socket `--repeat` times (what `mmctl pnl --since 90d --by day --json` asks: times
parsed, ledgers synced, the store read, the report, its JSON on the wire); the figure is the median
round trip. The CLI's own start-up is measured by bench/cli_latency.py; the whole command's wall time
is printed too. The report is checked against the rows' exact sum computed separately.

Cold sync: a paper venue's ledger of `--sync-rows` rows (default 200,000, over 80 days) read through
the `Exchange` port into an empty store by `mmctl.pnl.sync.sync_income` (7-day windows, 1000-row
pages, every row written and de-duplicated by the store, synchronous=FULL as in the daemon).

Usage: python bench/pnl_report.py [--rows N] [--sync-rows N] [--repeat N]
Last line: `pnl_rows=<n> report_ms=<median> sync_rows_per_s=<n>`.
Budget (the product's): report <= 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from mmctl.clock import ManualClock
from mmctl.exchange.paper import PaperExchange, PaperVenue, builtin_markets
from mmctl.model import IncomeType
from mmctl.pnl.lines import exact_sum
from mmctl.pnl.sync import sync_income
from mmctl.rpc.client import Client
from mmctl.store.sqlite import SqliteStore
from mmctl.store.sqlite.ledger import amount_units

DAY_MS = 86_400_000
NOW_MS = int(time.time() * 1000)  # the daemon's `90d` is relative to its clock
BOTS = 50
SYMBOLS = [f"S{i}/USDT:USDT" for i in range(10)]


Ledger = list[tuple[int, str, Decimal]]


def fill_store(path: Path, rows: int, seed: int = 7) -> Ledger:
    """Write the ledger straight into the store's tables; returns (ts, type, amount) of every row."""
    rng = random.Random(seed)
    start = NOW_MS - 400 * DAY_MS
    funding_every = 8 * 3_600_000
    fundings = [(t, s) for t in range(start, NOW_MS, funding_every) for s in SYMBOLS]
    trades = (rows - len(fundings) - 10) // 2
    income: list[tuple[object, ...]] = []
    fills: list[tuple[object, ...]] = []
    span = NOW_MS - start
    for i in range(trades):
        ts = start + i * span // trades
        bot = i % BOTS
        symbol = SYMBOLS[bot % len(SYMBOLS)]
        tid = str(i)
        pnl = f"{rng.randint(-500000, 500000) / 10**6:.6f}"
        fee = f"-{rng.randint(1, 99999) / 10**8:.8f}"
        income.append(("main", "REALIZED_PNL", f"r{i}", symbol, "USDT", pnl, ts, tid, "{}"))
        income.append(("main", "COMMISSION", f"c{i}", symbol, "USDT", fee, ts, tid, "{}"))
        side = "buy" if i % 2 else "sell"
        fills.append(("main", symbol, tid, f"bot{bot}", tid, f"mm.bot{bot}.{i}", side, "100", "0.01",
                      fee[1:], "USDT", 1, pnl, ts))  # fmt: skip
    for n, (ts, symbol) in enumerate(fundings):
        amount = f"{rng.randint(-(10**6), 10**6) / 10**8:.8f}"
        income.append(("main", "FUNDING_FEE", f"f{n}", symbol, "USDT", amount, ts, None, "{}"))
    for n in range(rows - len(income)):
        income.append(("main", "TRANSFER", f"t{n}", "", "USDT", "1000", start + n * DAY_MS, None, "{}"))
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO income (account, income_type, tran_id, symbol, asset, amount, ts_ms, trade_id, "
            "info, amount_units) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((*row, amount_units(Decimal(str(row[5])))) for row in income),
        )
        conn.executemany(
            "INSERT INTO fills (account, symbol, trade_id, bot, order_id, client_order_id, side, price, qty, "
            "fee, fee_asset, maker, realized_pnl, ts_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            fills,
        )
    conn.execute("ANALYZE")
    conn.close()
    return [(int(str(r[6])), str(r[1]), Decimal(str(r[5]))) for r in income]


def expected_net(ledger: Ledger, since_ms: int, until_ms: int) -> Decimal:
    return exact_sum(a for ts, kind, a in ledger if since_ms <= ts < until_ms and kind != "TRANSFER")


def wait_for_daemon(sock: Path, daemon: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise SystemExit(f"the daemon exited with {daemon.returncode}")
        try:
            with Client(sock, timeout_s=5) as client:
                client.call("daemon.version")
                return
        except Exception:  # not up yet: poll again
            pass
        time.sleep(0.05)
    raise SystemExit(f"daemon did not come up on {sock}")


def time_report(root: Path, repeat: int, ledger: Ledger) -> tuple[float, float]:
    """Median `pnl.report` round trip over the daemon's socket, and one whole CLI command's wall time."""
    sock = root / "mmctl.sock"
    config = root / "config.toml"
    config.write_text(f'[daemon]\nsocket = "{sock}"\nstate_dir = "{root}"\n')
    script = Path(sys.executable).with_name("mmctl")
    mmctl = [str(script)] if script.exists() else [sys.executable, "-m", "mmctl"]
    daemon = subprocess.Popen([*mmctl, "daemon", "run", "--config", str(config)], stdout=subprocess.DEVNULL)
    try:
        wait_for_daemon(sock, daemon)
        times = []
        with Client(sock, timeout_s=60) as client:
            for _ in range(repeat):
                t0 = time.perf_counter()
                doc = client.call("pnl.report", {"since": "90d", "by": "day"})
                times.append((time.perf_counter() - t0) * 1000)
        since = int(datetime.fromisoformat(doc["since"]).timestamp() * 1000)
        until = int(datetime.fromisoformat(doc["until"]).timestamp() * 1000)
        expected = expected_net(ledger, since, until)
        if Decimal(doc["net"]) != expected or len(doc["buckets"]) not in (90, 91):
            raise SystemExit(f"wrong report: net {doc['net']} != {expected} or {len(doc['buckets'])} buckets")
        t0 = time.perf_counter()
        subprocess.run(
            [*mmctl, "--socket", str(sock), "pnl", "--since", "90d", "--by", "day", "--json"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        cli_ms = (time.perf_counter() - t0) * 1000
        return statistics.median(times), cli_ms
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)


async def time_sync(path: Path, rows: int) -> float:
    start = NOW_MS - 80 * DAY_MS
    venue = PaperVenue(
        builtin_markets(Decimal("0.0002"), Decimal("0.0005")), balance=Decimal(0), start_ms=start
    )
    step = 80 * DAY_MS // rows
    for i in range(rows):
        venue.wallet.credit(
            start + i * step, "BTC/USDT:USDT", IncomeType.COMMISSION, Decimal("-0.00012345"), str(i)
        )
    venue.advance_to(NOW_MS)
    exchange = PaperExchange("paper", venue, ManualClock(NOW_MS / 1000))
    store = SqliteStore.open(path, ManualClock(NOW_MS / 1000))
    try:
        t0 = time.perf_counter()
        result = await sync_income(exchange, store, "paper")
        elapsed = time.perf_counter() - t0
        stored = await store.read(lambda r: len(r.income(account="paper", limit=None)))
        if result.rows_new != rows or stored != rows:
            raise SystemExit(f"sync stored {stored} of {rows} rows ({result})")
        return rows / elapsed
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sync-rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mmctl-bench-pnl-"))
    print(f"temp dir {tmp}", file=sys.stderr)
    try:
        state = tmp / "state"
        state.mkdir()
        db = state / "mmctl.sqlite"
        asyncio.run(SqliteStore.open(db, ManualClock(NOW_MS / 1000)).close())
        t0 = time.perf_counter()
        ledger = fill_store(db, args.rows)
        print(f"store filled with {args.rows} rows in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        report_ms, cli_ms = time_report(state, args.repeat, ledger)
        sync_rate = asyncio.run(time_sync(tmp / "sync.sqlite", args.sync_rows))
        print(f"pnl.report over the socket (90 days by day): median {report_ms:.1f} ms of {args.repeat}")
        print(f"mmctl pnl --since 90d --by day --json, whole command once: {cli_ms:.1f} ms")
        print(f"cold sync from the paper venue: {sync_rate:.0f} rows/s over {args.sync_rows} rows")
        print(f"pnl_rows={args.rows} report_ms={report_ms:.1f} sync_rows_per_s={sync_rate:.0f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
