"""Backup, integrity check, vacuum and prune: consistent copies while writing, refusals that change
nothing, corruption reported, and retention that never touches fills or income."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.store.conftest import fill, income, order, request
from tests.store.test_store_open_errors import read_only

from mmctl.errors import StoreError
from mmctl.model import OrderStatus
from mmctl.store.records import NewEvent, NewFill, OrderSnapshot, OrderSubmitting
from mmctl.store.sqlite import SqliteStore, check_database
from mmctl.store.sqlite.ops import DAY_MS

NOW = 1_750_000_000_000


def hidden_files(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.startswith(".")]


def damage_middle_pages(path: Path, page_size: int = 4096) -> None:
    """Overwrite three pages in the middle of the file with garbage."""
    data = bytearray(path.read_bytes())
    middle = len(data) // page_size // 2
    data[middle * page_size : (middle + 3) * page_size] = bytes([0xA5]) * (3 * page_size)
    path.write_bytes(bytes(data))


async def test_a_backup_taken_while_writing_is_a_sound_copy(db: Path, tmp_path: Path) -> None:
    """The online backup, taken while events stream in, opens as a store holding every committed fill."""
    store = SqliteStore.open(db, synchronous="NORMAL")
    try:
        for i in range(200):
            await store.submit(NewFill("paper", "bot", fill(f"T{i}", ts_ms=NOW + i)))
        await store.flush()
        stop = asyncio.Event()

        async def stream() -> None:
            i = 0
            while not stop.is_set():
                await store.submit(NewEvent(NOW, None, "info", f"e{i}"))
                i += 1
                await asyncio.sleep(0)

        writer = asyncio.create_task(stream())
        await store.backup(tmp_path / "backup.sqlite")
        stop.set()
        await writer
    finally:
        await store.close()
    assert check_database(tmp_path / "backup.sqlite") == []
    copy = SqliteStore.open(tmp_path / "backup.sqlite")
    try:
        assert len(await copy.read(lambda r: r.fills(limit=None))) == 200
    finally:
        await copy.close()
    assert hidden_files(tmp_path) == []  # no temporary file left over


async def test_a_backup_never_overwrites_an_existing_file(db: Path, tmp_path: Path) -> None:
    """Backing up onto an existing file is refused and the file keeps its content."""
    target = tmp_path / "precious.sqlite"
    target.write_bytes(b"keep me")
    store = SqliteStore.open(db)
    try:
        with pytest.raises(StoreError, match="already exists") as info:
            await store.backup(target)
        assert str(target) in str(info.value)
    finally:
        await store.close()
    assert target.read_bytes() == b"keep me"


async def test_a_backup_into_a_missing_or_read_only_directory_is_refused(db: Path, tmp_path: Path) -> None:
    """A backup whose directory does not exist or cannot be written is refused and writes nothing."""
    store = SqliteStore.open(db)
    try:
        with pytest.raises(StoreError, match="does not exist"):
            await store.backup(tmp_path / "nowhere" / "b.sqlite")
        locked = tmp_path / "locked"
        locked.mkdir()
        with read_only(locked), pytest.raises(StoreError, match="is not writable"):
            await store.backup(locked / "b.sqlite")
        assert list(locked.iterdir()) == []
    finally:
        await store.close()


async def test_check_reports_nothing_on_a_sound_database(db: Path) -> None:
    """`check` on a freshly written store finds no problem."""
    store = SqliteStore.open(db)
    try:
        await store.record_fill("paper", "bot", fill())
        assert await store.check() == []
    finally:
        await store.close()


async def test_check_reports_a_corrupted_page(db: Path) -> None:
    """Bytes damaged inside a table's pages make the integrity check report at least one problem."""
    store = SqliteStore.open(db, synchronous="NORMAL")
    for i in range(3000):
        store.submit_nowait(NewEvent(NOW, "bot", "info", f"event number {i} " + "x" * 40))
    await store.close()  # the last connection checkpoints the WAL into the file
    damage_middle_pages(db)
    problems = check_database(db)
    assert problems
    assert all(isinstance(p, str) and p for p in problems)


async def test_vacuum_keeps_the_data(db: Path) -> None:
    """Vacuum runs between writes and every row is still there afterwards."""
    store = SqliteStore.open(db, synchronous="NORMAL")
    try:
        for i in range(50):
            store.submit_nowait(NewEvent(NOW, None, "info", f"e{i}"))
        await store.vacuum()
        await store.record_fill("paper", "bot", fill())
        assert len(await store.read(lambda r: r.events(limit=None))) == 50
        assert await store.check() == []
    finally:
        await store.close()


async def test_prune_removes_old_events_and_order_history_but_never_fills_or_income(db: Path) -> None:
    """Old events, status changes and finished orders go; fills, income and open orders stay."""
    old, recent = NOW - 10 * DAY_MS, NOW - DAY_MS
    store = SqliteStore.open(db)
    try:
        await store.write(NewEvent(old, "bot", "info", "old"))
        await store.write(NewEvent(recent, "bot", "info", "recent"))
        await store.record_fill("paper", "bot", fill("T-old", ts_ms=old))
        await store.record_income("paper", income("I-old", ts_ms=old))
        done, still_open = request("mm.bot.b0.1"), request("mm.bot.s0.2")
        await store.write(OrderSubmitting("bot", "paper", done, old))
        await store.write(
            OrderSnapshot("bot", "paper", order(OrderStatus.FILLED, filled="0.010", updated_ms=old))
        )
        await store.write(OrderSubmitting("bot", "paper", still_open, old))
        last_seq = await store.read(lambda r: r.last_event_seq())
        result = await store.prune(retain_days=5, now_ms=NOW)
        assert (result.events, result.orders) == (1, 1)
        assert result.order_changes == 2  # the finished order's; the open order keeps its history
        events, fills, rows, orders = await store.read(
            lambda r: (r.events(limit=None), r.fills(limit=None), r.income(), r.orders(limit=None))
        )
        assert [e.message for e in events] == ["recent"]
        assert [f.fill.trade_id for f in fills] == ["T-old"]
        assert [i.row.id for i in rows] == ["I-old"]
        assert [o.client_order_id for o in orders] == ["mm.bot.s0.2"]
        assert await store.write(NewEvent(NOW, None, "info", "next")) > last_seq  # seqs are never reused
        with pytest.raises(ValueError, match="retain_days"):
            await store.prune(retain_days=0, now_ms=NOW)
    finally:
        await store.close()
