"""The store's single writer: one thread, one connection, a bounded queue and group commit.

The event loop never runs SQL for a write. It appends the operation to a queue and goes on; the writer
thread takes everything waiting in the queue (up to `max_batch`) and commits it as one transaction, so
one fsync covers the whole batch however many bots wrote. Callers choose how long they wait:
- `await write(op)` returns the operation's result once its transaction has committed (durable);
- `await submit(op)` returns as soon as the operation is queued (fire-and-forget);
- `submit_nowait(op)`, for synchronous code on the loop thread, never waits at all;
- `await flush()` returns once everything queued before it has committed.
Writes commit in queue order: when `write(op)` returns, every write queued before it is durable too
(so a bot may `submit` a fill and then await its next `write` instead of awaiting both).

A full queue (`capacity` operations not yet taken by the writer) is backpressure, never loss:
`write` and `submit` wait for room, first come first served, so a bot that records faster than the disk
can keep up slows down instead of losing a fill or an order state. `submit_nowait` cannot wait, so it
queues beyond `capacity` (use it only for low-volume rows such as control events; `overflow` counts it).

A write that fails (disk full, I/O error, a lock held past the busy timeout) rolls its whole batch back
and makes the writer failed: every caller waiting on that batch and every later write gets the
`StoreError`, queued operations are discarded, and the `on_failure` callbacks run once on the loop
(the daemon stops its bots safely: trading on unrecorded fills is worse than not trading).

Threading: `write`/`submit`/`submit_nowait`/`flush` are called from one event loop thread (the writer
binds to the first loop that writes, and may rebind to another once nothing is in flight). The writer
thread reports back with one `call_soon_threadsafe` per batch for "taken" and one for "committed"; the
waiting callers are then woken `SETTLE_CHUNK` per loop turn, so timers and sockets run in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from mmctl.errors import StoreError
from mmctl.store.records import Write
from mmctl.store.sqlite.opening import describe
from mmctl.store.sqlite.ops import Flush, heartbeat, run, segments

T = TypeVar("T")
_Item = tuple[Write[Any], "asyncio.Future[Any] | None"]
_STOP: Any = object()
SETTLE_CHUNK = 8  # futures resolved per event-loop turn


class Writer:
    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        now_ms: Callable[[], int],
        *,
        capacity: int = 10_000,
        max_batch: int = 5_000,
    ) -> None:
        if capacity < 1 or max_batch < 1:
            raise ValueError("capacity and max_batch must be positive")
        self._conn = conn
        self._path = path
        self._now_ms = now_ms
        self.capacity = capacity
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending = 0  # queued, not yet taken by the writer (the bounded part)
        self._inflight = 0  # queued, not yet settled on the loop
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._callbacks: list[Callable[[StoreError], None]] = []
        self._closing = False
        self.failure: StoreError | None = None  # set by the writer thread, read anywhere
        self.overflow = 0  # submit_nowait calls that found the queue full
        self.batches = 0
        self._thread = threading.Thread(target=self._run, name="mmctl-store-writer", daemon=True)
        self._thread.start()

    # --- loop side -------------------------------------------------------------------------------------

    @property
    def queued(self) -> int:
        """Operations waiting for the writer thread to take them."""
        return self._pending

    def on_failure(self, callback: Callable[[StoreError], None]) -> None:
        """Call `callback(error)` on the loop when a write fails (at most once)."""
        self._callbacks.append(callback)

    def submit_nowait(self, op: Write[Any]) -> None:
        self._admit()
        if self._pending >= self.capacity:
            self.overflow += 1
        self._pending += 1
        self._inflight += 1
        self._queue.put((op, None))

    async def submit(self, op: Write[Any]) -> None:
        if self._admit():
            self._pending += 1
        else:
            await self._room()
        self._inflight += 1
        self._queue.put((op, None))

    async def write(self, op: Write[T]) -> T:
        if self._admit():
            self._pending += 1
        else:
            await self._room()
        assert self._loop is not None
        fut: asyncio.Future[T] = self._loop.create_future()
        self._inflight += 1
        self._queue.put((op, fut))
        return await fut

    async def flush(self) -> None:
        await self.write(Flush())

    def close(self, last: Write[Any] | None = None) -> None:
        """Commit everything queued so far, then `last` (unless a write failed), and stop the thread.

        Blocks until the thread ends; callable from any thread. Later writes raise `StoreError`.
        """
        if not self._closing:
            self._closing = True
            if last is not None and self.failure is None:
                self._queue.put((last, None))
            self._queue.put((_STOP, None))
        self._thread.join()

    def _admit(self) -> bool:
        """Refuse writes to a failed or closed store, bind to the running loop; True if there is room now."""
        if self.failure is not None:
            raise StoreError(str(self.failure)) from self.failure
        if self._closing:
            raise StoreError(f"{self._path}: the store is closed")
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None and self._inflight:
                raise RuntimeError("store writes belong to one event loop while any is in flight")
            self._loop = loop
        return self._pending < self.capacity and not self._waiters

    async def _room(self) -> None:
        """Wait, first come first served, until `_grant` reserves a queue slot for this caller."""
        assert self._loop is not None
        granted = self._loop.create_future()
        self._waiters.append(granted)
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self._pending -= 1  # give the reserved slot to the next waiter
                self._grant()
            raise

    def _grant(self) -> None:
        while self._waiters and self._pending < self.capacity:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._pending += 1
                waiter.set_result(None)

    def _taken(self, count: int) -> None:
        self._pending -= count
        self._grant()

    def _settled(
        self, items: list[_Item], results: list[Any] | None, error: StoreError | None, start: int = 0
    ) -> None:
        """Resolve the batch's futures, at most `SETTLE_CHUNK` per loop turn: a commit that wakes a hundred
        bots must not hold the loop for all of their work at once (timers and sockets run in between)."""
        if error is not None:
            for _, fut in items:
                if fut is not None and not fut.done():
                    copy = StoreError(str(error))
                    copy.__cause__ = error.__cause__
                    fut.set_exception(copy)
            self._inflight -= len(items)
            self._failed(error)
            return
        assert results is not None
        woken, i = 0, start
        while i < len(items) and woken < SETTLE_CHUNK:
            fut = items[i][1]
            if fut is not None and not fut.done():
                fut.set_result(results[i])
                woken += 1
            i += 1
        if i < len(items):
            asyncio.get_running_loop().call_soon(self._settled, items, results, None, i)
        else:
            self._inflight -= len(items)

    def _failed(self, error: StoreError) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(StoreError(str(error)))
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(error)

    # --- writer thread ---------------------------------------------------------------------------------

    def _notify(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(fn, *args)

    def _run(self) -> None:
        stop = False
        while not stop:
            items: list[_Item] = []
            item = self._queue.get()
            while True:
                if item[0] is _STOP:
                    stop = True
                    break
                items.append(item)
                if len(items) >= self._max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if not items:
                continue
            self._notify(self._taken, len(items))
            results, error = self._commit(items)
            self._notify(self._settled, items, results, error)

    def _commit(self, items: list[_Item]) -> tuple[list[Any] | None, StoreError | None]:
        if self.failure is not None:
            return None, self.failure
        conn = self._conn
        results: list[Any] = []
        try:
            for segment, exclusive in segments([op for op, _ in items]):
                if exclusive and conn.in_transaction:
                    self._commit_now()
                elif not exclusive and not conn.in_transaction:
                    conn.execute("BEGIN IMMEDIATE")
                results.extend(run(conn, segment))
            if conn.in_transaction:
                self._commit_now()
            self.batches += 1
            return results, None
        except Exception as e:  # the writer loop's one error boundary: any failure fails the store
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            if isinstance(e, sqlite3.Error):
                error = describe(self._path, e, doing="write to")
            else:
                error = StoreError(f"{self._path}: a write failed: {type(e).__name__}: {e}")
            error = StoreError(f"{error}; the store accepts no more writes (bots must stop)")
            error.__cause__ = e
            self.failure = error
            return None, error

    def _commit_now(self) -> None:
        heartbeat(self._conn, self._now_ms())
        self._conn.execute("COMMIT")
