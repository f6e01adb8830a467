"""The writer: group commit, backpressure instead of loss, durability of awaited writes across a hard
exit, and the failed state after a write fails."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.store.conftest import fill, request

from mmctl.errors import StoreError
from mmctl.store.records import NewEvent, OrderSubmitting
from mmctl.store.sqlite import SqliteStore

T0 = 1_700_000_000_000


async def eventually(predicate: Callable[[], bool], what: str) -> None:
    """Poll `predicate` on the loop until it holds, failing after 10 seconds."""
    deadline = time.monotonic() + 10
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)


def count(db: Path, table: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def hold_write_lock(db: Path) -> sqlite3.Connection:
    """Another connection takes the database's write lock, as a foreign program could."""
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


async def test_writes_waiting_in_the_queue_commit_together(db: Path) -> None:
    """Everything queued while the writer was busy goes into one transaction (group commit)."""
    store = SqliteStore.open(db, synchronous="NORMAL")
    try:
        await store.flush()
        other = hold_write_lock(db)
        store.submit_nowait(NewEvent(T0, None, "info", "first"))  # the writer takes it and waits for the lock
        await eventually(lambda: store.queued == 0, "the writer to take the first write")
        before = store.batches
        for i in range(500):
            store.submit_nowait(NewEvent(T0, None, "info", f"e{i}"))
        flushed = asyncio.create_task(store.flush())
        await eventually(lambda: store.queued == 501, "the flush to be queued")
        other.execute("ROLLBACK")
        other.close()
        await flushed
        assert store.batches - before == 2  # the first write, then the other 500 and the flush together
        assert count(db, "events") == 501
    finally:
        await store.close()


async def test_a_full_queue_makes_writers_wait_and_loses_nothing(db: Path) -> None:
    """With the queue at capacity, awaited and fire-and-forget writes wait for room; all are stored."""
    store = SqliteStore.open(db, synchronous="NORMAL", capacity=8, busy_timeout_ms=30_000)
    try:
        await store.flush()
        other = hold_write_lock(db)
        store.submit_nowait(NewEvent(T0, None, "info", "first"))  # the writer takes it and waits for the lock
        await eventually(lambda: store.queued == 0, "the writer to take the first write")
        tasks = [asyncio.create_task(store.record_fill("paper", "bot", fill(f"T{i}"))) for i in range(15)]
        tasks += [asyncio.create_task(store.submit(NewEvent(T0, None, "info", f"e{i}"))) for i in range(5)]
        await eventually(lambda: store.queued == 8, "the queue to fill up")
        for _ in range(20):
            await asyncio.sleep(0)
        assert store.queued == 8  # never above capacity
        assert sum(t.done() for t in tasks) == 0  # fills wait for durability, submits for room
        other.execute("ROLLBACK")
        other.close()
        results = await asyncio.gather(*tasks)
        assert results[:15] == [True] * 15
        await store.flush()
        assert count(db, "fills") == 15
        assert count(db, "events") == 6
        assert store.failed is None
    finally:
        await store.close()


async def test_a_failed_write_fails_the_store_and_every_later_write(db: Path) -> None:
    """A write that cannot commit raises StoreError, sets `failed`, calls back once; later writes fail."""
    store = SqliteStore.open(db, synchronous="NORMAL", busy_timeout_ms=50)
    failures: list[StoreError] = []
    store.on_failure(failures.append)
    await store.record_fill("paper", "bot", fill("T0"))
    other = hold_write_lock(db)
    try:
        with pytest.raises(StoreError, match="is locked by another process") as info:
            await store.record_fill("paper", "bot", fill("T1"))
        assert "accepts no more writes" in str(info.value)
        assert str(db) in str(info.value)
        assert store.failed is not None
        assert len(failures) == 1
    finally:
        other.execute("ROLLBACK")
        other.close()
    with pytest.raises(StoreError):
        await store.record_fill("paper", "bot", fill("T2"))
    with pytest.raises(StoreError):
        store.submit_nowait(NewEvent(T0, None, "info", "x"))
    with pytest.raises(StoreError):
        await store.flush()
    await store.close()
    assert len(failures) == 1
    reopened = SqliteStore.open(db)
    try:
        assert not reopened.previous_run.clean  # a failed store never claims a clean shutdown
        assert [f.fill.trade_id for f in await reopened.read(lambda r: r.fills())] == ["T0"]
    finally:
        await reopened.close()


CHILD = """
import asyncio, os, sys
from pathlib import Path
from mmctl.store.sqlite import SqliteStore
from mmctl.store.records import OrderSubmitting
from tests.store.conftest import fill, request

async def main() -> None:
    store = SqliteStore.open(Path(sys.argv[1]))
    await store.write(OrderSubmitting("bot", "paper", request(), 1))
    await store.record_fill("paper", "bot", fill("T-durable"))
    os._exit(0)  # no close, no flush, no atexit: the process just ends

asyncio.run(main())
"""


def run_child(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, timeout=60, cwd=root
    )


async def test_an_awaited_write_survives_the_process_ending_abruptly(db: Path) -> None:
    """A fill and an order awaited before os._exit are there after reopening, and the run shows unclean."""
    done = run_child(CHILD, str(db))
    assert done.returncode == 0, done.stderr
    store = SqliteStore.open(db)
    try:
        fills, order = await store.read(lambda r: (r.fills(), r.order(request().client_order_id)))
        assert [f.fill.trade_id for f in fills] == ["T-durable"]
        assert order is not None
        assert order.status == "submitting"
        assert not store.previous_run.clean
        assert store.previous_run.ended_ms is not None
    finally:
        await store.close()


DISK_FULL_CHILD = """
import asyncio, json, resource, signal, sys
from pathlib import Path
from mmctl.store.sqlite import SqliteStore
from mmctl.errors import StoreError
from mmctl.store.records import NewEvent, PutPaperState

async def main() -> None:
    store = SqliteStore.open(Path(sys.argv[1]))
    calls = []
    store.on_failure(calls.append)
    await store.write(PutPaperState("paper", "small", 1))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.RLIM_INFINITY))  # files stop at 1 MiB
    out = {}
    try:
        await store.write(PutPaperState("paper", "x" * (4 << 20), 2))
    except StoreError as e:
        out["error"] = str(e)
    await asyncio.sleep(0)
    out["failed"] = store.failed is not None
    out["callbacks"] = len(calls)
    try:
        await store.write(NewEvent(3, None, "info", "after"))
    except StoreError as e:
        out["later"] = str(e)
    await store.close()
    print(json.dumps(out))

asyncio.run(main())
"""


async def test_a_disk_that_cannot_take_the_write_fails_the_store(db: Path) -> None:
    """When the file cannot grow (a file-size limit stands in for a full disk) the store fails cleanly."""
    done = run_child(DISK_FULL_CHILD, str(db))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert str(db) in out["error"]
    assert "accepts no more writes" in out["error"]
    assert out["failed"] is True
    assert out["callbacks"] == 1
    assert "accepts no more writes" in out["later"]
    store = SqliteStore.open(db)
    try:
        state = await store.read(lambda r: r.paper_state("paper"))
        assert state is not None
        assert state.state == "small"  # the failed write left nothing half-done
    finally:
        await store.close()


async def test_writes_from_a_second_loop_are_refused_while_the_first_has_writes_in_flight(db: Path) -> None:
    """The writer belongs to one event loop while anything is in flight; another loop gets a clear error."""
    store = SqliteStore.open(db, synchronous="NORMAL")
    try:
        other = hold_write_lock(db)
        store.submit_nowait(OrderSubmitting("bot", "paper", request(), T0))
        with pytest.raises(RuntimeError, match="one event loop"):
            await asyncio.to_thread(asyncio.run, store.flush())
        other.execute("ROLLBACK")
        other.close()
        await store.flush()
    finally:
        await store.close()
