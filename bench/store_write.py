"""Store writes: rows per second the SQLite store sustains under a 100-bot load, and the event loop's lag.

100 bot tasks share one `SqliteStore` (synchronous=FULL, as in the daemon) on one event loop, each
re-quoting both sides at a steady rate. A tick records what a market-making bot records: the acks of
last tick's bid and ask, the bid's fill (its FILLED state, the fill row, an event), the ask's
cancellation, then the new bid and ask as `submitting` with an event each. Everything is queued with
`submit` (events with `submit_nowait`, like the event log) and the tick awaits the last write, the new
ask's `submitting`: durable before the requests would leave. Writes commit in queue order, so once that
await returns the fill is durable too, before the bot's status could show it: one commit wait per tick.
That is 12 rows per tick: 2 orders, 6 status changes, 1 fill, 3 events. A probe task sleeps 1 ms in a
loop and records how late it wakes: the loop's lag.

The figure is rows actually in the database at the end (fills, events, orders, status changes) divided
by the time from the start of the load until everything is durable. References measured first in the
same run, because machines are noisy: the probe on the idle loop (this machine's timer granularity and
scheduling), the same bots against a store that stores nothing (the load generator's own lag), and the
store alone, one task queueing the same writes as fast as it can (its capacity without a loaded loop).

Usage: python bench/store_write.py [seconds] [offered_rows_per_s] [FULL|NORMAL]   (defaults 10, 30000, FULL)
Last line: `store_rows_per_s=<n> loop_lag_p99_ms=<n>`.
Budget (the product's, also in README.md, Development): >= 20 000 rows/s with event-loop lag p99 <= 5 ms.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from mmctl.model import Fill, Order, OrderRequest, OrderStatus, OrderType, Side
from mmctl.store.records import (
    NewEvent,
    NewFill,
    OrderSnapshot,
    OrderStatusChange,
    OrderSubmitting,
    Write,
)
from mmctl.store.sqlite import SqliteStore
from mmctl.store.sqlite.opening import Synchronous

BOTS = 100
ROWS_PER_TICK = 12
SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "BNB/USDT:USDT", "XRP/USDT:USDT"]
QTY, FEE, PNL = Decimal("0.010"), Decimal("0.0004"), Decimal("0.0123")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


async def probe(stop: asyncio.Event, lags: list[float]) -> None:
    """Sleep 1 ms repeatedly; record how much later than asked each wake-up comes (ms)."""
    while not stop.is_set():
        t = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append((time.perf_counter() - t) * 1000 - 1.0)


def venue_order(request: OrderRequest, status: OrderStatus, filled: Decimal, ts: int) -> Order:
    return Order(f"v-{request.client_order_id}", request.client_order_id, request.symbol, request.side,
                 OrderType.LIMIT, request.price, request.qty, filled, request.price if filled else None,
                 status, True, False, ts, ts)  # fmt: skip


def requote(bot: str, account: str, symbol: str, tick: int, placed: list[OrderRequest], ts: int) -> tuple[
    list[Write[Any]], list[OrderRequest]
]:  # fmt: skip
    """One tick's writes, in order (the last is the new ask's `submitting`), and the two new orders."""
    ops: list[Write[Any]] = []
    if placed:
        bid, ask = placed
        ops += [OrderSnapshot(bot, account, venue_order(r, OrderStatus.NEW, Decimal(0), ts)) for r in placed]
        ops.append(OrderSnapshot(bot, account, venue_order(bid, OrderStatus.FILLED, QTY, ts)))
        fill = Fill(f"t-{bid.client_order_id}", f"v-{bid.client_order_id}", bid.client_order_id, symbol,
                    Side.BUY, bid.qty, QTY, FEE, "USDT", True, PNL, ts)  # fmt: skip
        ops.append(NewFill(account, bot, fill))
        ops.append(NewEvent(ts, bot, "fill", f"filled {bid.client_order_id}", {"trade_id": fill.trade_id}))
        ops.append(OrderStatusChange(ask.client_order_id, "canceled", ts, "re-quote"))
    price = Decimal(100 + tick % 7)
    new = [
        OrderRequest(symbol, side, QTY, price + offset, f"mm.{bot}.{code}0.{tick:x}", post_only=True)
        for side, code, offset in ((Side.BUY, "b", Decimal("-0.5")), (Side.SELL, "s", Decimal("0.5")))
    ]
    ops += [NewEvent(ts, bot, "order", f"placing {r.client_order_id}", {"price": r.price}) for r in new]
    ops += [OrderSubmitting(bot, account, r, ts) for r in new]
    return ops, new


async def record(store: SqliteStore | NullStore, ops: list[Write[Any]]) -> None:
    """Queue a tick's writes and wait until the last one (hence all of them) is durable."""
    for op in ops[:-1]:
        if isinstance(op, NewEvent):
            store.submit_nowait(op)
        else:
            await store.submit(op)
    await store.write(ops[-1])


async def bot(i: int, store: SqliteStore | NullStore, interval: float, end: float) -> int:
    """One bot re-quoting at a steady rate until `end`; returns its tick count."""
    name, account, symbol = f"bot-{i}", f"paper{i % 3}", SYMBOLS[i % len(SYMBOLS)]
    loop = asyncio.get_running_loop()
    next_t = loop.time() + random.random() * interval
    ticks = 0
    placed: list[OrderRequest] = []
    while True:
        delay = next_t - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -interval:
            next_t = loop.time()  # fell behind: do not burst to catch up
        next_t += interval
        if loop.time() >= end:
            return ticks
        ops, placed = requote(name, account, symbol, ticks, placed, int(time.time() * 1000))
        await record(store, ops)
        ticks += 1


class NullStore:
    """The bots' reference: the same calls, nothing stored (a write completes on the next loop turn)."""

    async def submit(self, op: Write[Any]) -> None:
        return None

    def submit_nowait(self, op: Write[Any]) -> None:
        return None

    async def write(self, op: Write[Any]) -> None:
        await asyncio.sleep(0)


async def load(store: SqliteStore | NullStore, seconds: float, offered: float) -> tuple[int, list[float]]:
    """Run the bots against `store` while probing the loop's lag; returns (ticks, lags)."""
    interval = BOTS * ROWS_PER_TICK / offered
    lags: list[float] = []
    stop = asyncio.Event()
    lag_task = asyncio.create_task(probe(stop, lags))
    end = asyncio.get_running_loop().time() + seconds
    ticks = await asyncio.gather(*(bot(i, store, interval, end) for i in range(BOTS)))
    if isinstance(store, SqliteStore):
        await store.flush()
    stop.set()
    await lag_task
    return sum(ticks), lags


async def store_alone(db: Path, ticks: int, sync: Synchronous) -> float:
    """The store's own capacity: one task queues `ticks` ticks' writes as fast as backpressure allows
    (no bots, no loop load), then waits until all are durable; returns rows per second."""
    store = SqliteStore.open(db, synchronous=sync)
    start = time.perf_counter()
    placed: list[OrderRequest] = []
    for t in range(ticks):
        ops, placed = requote("alone", "paper", SYMBOLS[0], t, placed, t)
        for op in ops:
            await store.submit(op)
    await store.flush()
    elapsed = time.perf_counter() - start
    await store.close()
    return ticks * ROWS_PER_TICK / elapsed


def count_rows(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        tables = ("fills", "events", "orders", "order_status_changes")
        return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}
    finally:
        conn.close()


async def run(db: Path, seconds: float, offered: float, sync: Synchronous) -> tuple[float, float]:
    stop = asyncio.Event()
    idle: list[float] = []
    idle_probe = asyncio.create_task(probe(stop, idle))
    await asyncio.sleep(1.5)
    stop.set()
    await idle_probe
    ref_seconds = min(seconds, 3.0)
    ref_ticks, ref_lags = await load(NullStore(), ref_seconds, offered)
    alone = await store_alone(db.with_name("alone.sqlite"), 5_000, sync)

    store = SqliteStore.open(db, synchronous=sync)
    start = time.perf_counter()
    ticks, lags = await load(store, seconds, offered)
    elapsed = time.perf_counter() - start
    batches, overflow = store.batches, store._writer.overflow
    await store.close()

    rows = count_rows(db)
    total = sum(rows.values())
    print(
        f"offered {offered:.0f} rows/s by {BOTS} bots for {seconds:.0f} s (synchronous={sync}); ticks {ticks}"
    )
    print(f"rows: {rows} in {elapsed:.2f} s; {batches} commits, {total / max(1, batches):.1f} rows each")
    print(f"fills_per_s={rows['fills'] / elapsed:.0f} events_per_s={rows['events'] / elapsed:.0f} "
          f"queue_overflow={overflow}")  # fmt: skip
    for name, values in (("idle loop", idle), ("bots, no store", ref_lags), ("bots + store", lags)):
        print(f"loop lag ms, {name}: p50 {percentile(values, 0.5):.2f} p99 {percentile(values, 0.99):.2f} "
              f"max {max(values, default=0):.2f} ({len(values)} samples)")  # fmt: skip
    print(f"reference: bots with no store ran {ref_ticks * ROWS_PER_TICK / ref_seconds:.0f} rows/s; "
          f"the store alone (no bots) committed {alone:.0f} rows/s")  # fmt: skip
    return total / elapsed, percentile(lags, 0.99)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    offered = float(sys.argv[2]) if len(sys.argv) > 2 else 30_000.0
    sync: Synchronous = "NORMAL" if sys.argv[3:] == ["NORMAL"] else "FULL"
    root = Path(tempfile.mkdtemp(prefix="mms"))
    try:
        rate, lag_p99 = asyncio.run(run(root / "mmctl.sqlite", seconds, offered, sync))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"store_rows_per_s={rate:.0f} loop_lag_p99_ms={lag_p99:.2f}")


if __name__ == "__main__":
    main()
