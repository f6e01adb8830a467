"""`SqliteStore`: the `Store` port on one SQLite file in the state directory.

Durability: `synchronous=FULL` (the default). In WAL mode, NORMAL already survives a crash or `kill -9`
of the daemon (a commit is in the OS once `COMMIT` returns) but may lose the last commits on power loss
or a kernel crash. A fill must be durable before a bot's status shows it, and an order must be recorded
as `submitting` before its request leaves: after a power cut, NORMAL could forget an order the venue
has. FULL fsyncs the WAL on each commit, and group commit (one transaction for everything waiting in the
queue) makes that one fsync per batch, not per row; bench/store_write.py measures it against the budget
(≥ 20 000 rows/s). Pass `synchronous="NORMAL"` only where power loss does not matter (tests, demos).

Threads: writes go through one writer thread (`writer.Writer`: bounded queue, backpressure, group
commit, failed state); reads run on one reader thread with its own read-only connection (`read(fn)`
runs `fn(Reads)` there in one read transaction; WAL lets it proceed while the writer commits). Backup
and check use their own connections in `asyncio.to_thread`. Nothing here runs SQL on the event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mmctl.clock import Clock, SystemClock, now_ms
from mmctl.errors import StoreError
from mmctl.model import Fill, IncomeRow
from mmctl.store.base import Store
from mmctl.store.records import (
    BotRecord,
    NewEvent,
    NewFill,
    NewIncome,
    PreviousRun,
    PruneResult,
    Write,
)
from mmctl.store.sqlite import maintenance
from mmctl.store.sqlite.opening import Opened, Synchronous, describe, open_database
from mmctl.store.sqlite.ops import DAY_MS, KNOWN, ImportBots, MarkClean, Prune, Vacuum
from mmctl.store.sqlite.reads import Reads
from mmctl.store.sqlite.writer import Writer
from mmctl.store.toml_files import TomlDefinitionStore

T = TypeVar("T")
DB_NAME = "mmctl.sqlite"


class SqliteStore:
    """Open with `SqliteStore.open(path)`; close with `await store.close()` (or `close_sync()`)."""

    def __init__(self, path: Path, clock: Clock, opened: Opened, capacity: int) -> None:
        self.path = path
        self._clock = clock
        self.version = opened.version
        self.previous_run: PreviousRun = opened.previous_run
        self._lock_fd = opened.lock_fd
        self._reader_conn = opened.reader
        self._reads = Reads(opened.reader)
        self._reader = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mmctl-store-read")
        self._writer = Writer(opened.writer, self.path, lambda: now_ms(clock), capacity=capacity)
        self._writer_conn = opened.writer
        self._closed = False

    @classmethod
    def open(
        cls,
        path: Path,
        clock: Clock | None = None,
        *,
        synchronous: Synchronous = "FULL",
        capacity: int = 10_000,
        busy_timeout_ms: int = 5_000,
        lock_timeout_ms: int = 200,
    ) -> SqliteStore:
        """Open (creating or migrating) the store at `path`; `StoreError` naming the file if it cannot.

        `capacity`: queued writes before writers wait; `busy_timeout_ms`: how long a write waits for a
        lock another connection holds before the store fails; `lock_timeout_ms`: how long opening waits
        for another process's write transaction before refusing.
        """
        clock = clock or SystemClock()
        path = Path(path)
        opened = open_database(
            path,
            synchronous=synchronous,
            busy_timeout_ms=busy_timeout_ms,
            lock_timeout_ms=lock_timeout_ms,
            now_ms=now_ms(clock),
        )
        return cls(path, clock, opened, capacity)

    # --- state -----------------------------------------------------------------------------------------

    @property
    def failed(self) -> StoreError | None:
        """The error that stopped the writer, or None while writes work."""
        return self._writer.failure

    @property
    def queued(self) -> int:
        """Writes queued and not yet taken by the writer thread."""
        return self._writer.queued

    @property
    def batches(self) -> int:
        """Transactions the writer has committed so far (group commit: many writes per batch)."""
        return self._writer.batches

    def on_failure(self, callback: Callable[[StoreError], None]) -> None:
        """Call `callback(error)` on the event loop when a write fails (once)."""
        self._writer.on_failure(callback)

    # --- writes ----------------------------------------------------------------------------------------

    def _checked(self, op: Write[Any]) -> Write[Any]:
        if type(op) not in KNOWN:
            raise TypeError(f"{type(op).__name__} is not a store write")
        return op

    async def write(self, op: Write[T]) -> T:
        """Queue `op` (waiting for room if the queue is full) and return its result once durable."""
        return await self._writer.write(self._checked(op))

    async def submit(self, op: Write[Any]) -> None:
        """Queue `op` without waiting for its commit (waits only while the queue is full)."""
        await self._writer.submit(self._checked(op))

    def submit_nowait(self, op: Write[Any]) -> None:
        """Queue `op` from synchronous code on the loop; never waits, may exceed the queue's capacity."""
        self._writer.submit_nowait(self._checked(op))

    async def flush(self) -> None:
        """Return once every write queued before this call is durable; `StoreError` if the store failed."""
        await self._writer.flush()

    async def record_fill(self, account: str, bot: str | None, fill: Fill) -> bool:
        """Record a fill durably; True if it was new (a fill seen again is stored once)."""
        return await self.write(NewFill(account, bot, fill))

    async def record_income(
        self, account: str, row: IncomeRow, info: Mapping[str, Any] | None = None
    ) -> bool:
        """Record an income row durably; True if it was new."""
        return await self.write(NewIncome(account, row, info or {}))

    async def record_event(
        self,
        ts_ms: int,
        bot: str | None,
        kind: str,
        message: str,
        data: Mapping[str, Any] | None = None,
        *,
        uid: int | None = None,
        user: str | None = None,
    ) -> int:
        """Append an event durably; returns its sequence number."""
        return await self.write(NewEvent(ts_ms, bot, kind, message, data or {}, uid, user))

    # --- reads -----------------------------------------------------------------------------------------

    def _read_tx(self, fn: Callable[[Reads], T]) -> T:
        conn = self._reader_conn
        try:
            conn.execute("BEGIN")
            try:
                return fn(self._reads)
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as e:
            raise describe(self.path, e, doing="read") from e

    async def read(self, fn: Callable[[Reads], T]) -> T:
        """Run `fn(reads)` on the reader thread in one read transaction; the loop is free meanwhile."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, self._read_tx, fn)

    def read_blocking(self, fn: Callable[[Reads], T]) -> T:
        """`read` for code outside the event loop (start-up, CLI tools); blocks the calling thread."""
        return self._reader.submit(self._read_tx, fn).result()

    # --- maintenance -----------------------------------------------------------------------------------

    async def backup(self, target: Path) -> None:
        """Online backup to the new file `target` (never overwrites; nothing written on refusal)."""
        await asyncio.to_thread(maintenance.backup, self.path, Path(target))

    async def check(self) -> list[str]:
        """Problems found by SQLite's integrity and foreign-key checks; empty when sound."""
        return await asyncio.to_thread(maintenance.check_database, self.path)

    async def vacuum(self) -> None:
        """Rebuild the file to reclaim space; writes queue behind it while it runs."""
        await self.write(Vacuum())

    async def prune(self, retain_days: int, now_ms: int) -> PruneResult:
        """Delete events older than `retain_days` before `now_ms`, and finished orders (with their status
        history) created and last updated before then. Fills and income rows are never pruned."""
        if retain_days < 1:
            raise ValueError("retain_days must be at least 1")
        return await self.write(Prune(now_ms - retain_days * DAY_MS))

    async def import_toml(
        self, directory: Path, validate: Callable[[dict[str, Any]], dict[str, Any]] = dict
    ) -> int:
        """Import legacy `bots/*.toml` definitions once; returns how many bots were added (0 after the
        first time). `validate` checks each definition (pass `BotDefinition.from_dict(d).to_dict()`); an
        unreadable or invalid file raises and imports nothing, so the next start tries again."""
        if await self.read(lambda r: r.meta("imported_toml")) is not None:
            return 0
        raw = await asyncio.to_thread(TomlDefinitionStore(Path(directory)).load_all)
        ts = now_ms(self._clock)
        records = []
        for stem, definition in sorted(raw.items()):
            checked = validate({"name": stem, **definition})
            records.append(BotRecord.from_definition(checked, updated_ms=ts))
        return await self.write(ImportBots(tuple(records), ts))

    # --- closing ---------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Commit everything queued, mark a clean shutdown (unless the store failed), and close."""
        with contextlib.suppress(StoreError):
            await self.flush()
        await asyncio.to_thread(self.close_sync)

    def close_sync(self) -> None:
        """`close` for code outside the event loop: blocks until everything queued is committed."""
        if self._closed:
            return
        self._closed = True
        self._writer.close(last=MarkClean(now_ms(self._clock)))
        self._reader.shutdown(wait=True)
        for conn in (self._reader_conn, self._writer_conn):
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        os.close(self._lock_fd)


if TYPE_CHECKING:

    def _implements_the_port(store: SqliteStore) -> Store:
        return store  # mypy checks that SqliteStore satisfies the `Store` protocol
