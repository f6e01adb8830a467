"""Refused opens: each cause gets one message naming the file and what to do, and the file is untouched."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mmctl.errors import StoreError
from mmctl.store.sqlite import SqliteStore


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make `path` (file or directory) unwritable even for root (chattr +i), restoring it afterwards."""
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode:
            pytest.skip("running as root, and chattr +i is unavailable to make a file read-only")
        try:
            yield
        finally:
            subprocess.run([chattr, "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)


def make_store(db: Path) -> bytes:
    """Create a store, close it cleanly, and return the file's bytes."""
    SqliteStore.open(db, synchronous="NORMAL").close_sync()
    return db.read_bytes()


def refusal(db: Path, **options: object) -> str:
    with pytest.raises(StoreError) as info:
        SqliteStore.open(db, **options)  # type: ignore[arg-type]
    message = str(info.value)
    assert str(db) in message
    assert "\n" not in message
    return message


def test_a_second_store_on_the_same_file_is_refused(db: Path) -> None:
    """While one store has the file open, another open is refused as in use by another process."""
    first = SqliteStore.open(db, synchronous="NORMAL")
    try:
        message = refusal(db)
        assert f"in use by another process (pid {os.getpid()}" in message
        assert "stop it first" in message
    finally:
        first.close_sync()
    SqliteStore.open(db).close_sync()  # free again once the first store closed


def test_a_foreign_write_transaction_is_refused_as_locked(db: Path) -> None:
    """A program holding a write transaction (e.g. a sqlite3 shell) makes the open fail fast as locked."""
    make_store(db)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        message = refusal(db, lock_timeout_ms=50)
        assert "is locked by another process" in message
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_read_only_database_file_is_refused_untouched(db: Path) -> None:
    """A database file the daemon cannot write is refused with the read-only message."""
    before = make_store(db)
    with read_only(db):
        assert "is read-only" in refusal(db)
    assert db.read_bytes() == before


def test_a_read_only_directory_is_refused_untouched(db: Path) -> None:
    """A directory where SQLite cannot create its -wal and -shm files is refused as read-only."""
    before = make_store(db)
    with read_only(db.parent):
        assert "-wal and -shm" in refusal(db)
    assert db.read_bytes() == before


def test_a_file_that_is_not_a_database_is_refused_untouched(db: Path) -> None:
    """Garbage in place of the database is refused as not a database or corrupt; it is not overwritten."""
    db.parent.mkdir(parents=True)
    db.write_bytes(b"definitely not SQLite\n" * 200)
    message = refusal(db)
    assert "is not an mmctl database or is corrupt" in message
    assert "restore a backup" in message
    assert db.read_bytes() == b"definitely not SQLite\n" * 200


def test_another_programs_sqlite_file_is_refused_untouched(db: Path) -> None:
    """A valid SQLite file that is not mmctl's is refused instead of being migrated."""
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    assert "is not an mmctl database" in refusal(db)
    assert db.read_bytes() == before


def test_a_database_from_a_newer_mmctl_is_refused_untouched(db: Path) -> None:
    """A schema version above the latest known one is refused, saying to upgrade mmctl."""
    make_store(db)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = db.read_bytes()
    message = refusal(db)
    assert "has schema version 99, written by a newer mmctl" in message
    assert "upgrade mmctl" in message
    assert db.read_bytes() == before
