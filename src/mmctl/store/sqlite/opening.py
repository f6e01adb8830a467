"""Opening the database file: checks with one clear message each, the lock, migrations, pragmas.

Every refusal is a `StoreError` that names the file and says what to do, and nothing is written before
the checks pass:
- directory or file read-only (SQLite must create `<db>-wal` and `<db>-shm` beside the database);
- in use by another process. Two locks, both non-blocking: an exclusive `flock` on `<db>.lock` (held for
  as long as the store is open, so a second mmctl process on the same file is refused at once, whoever
  opens it: the daemon also holds its state-dir lock, but a store opened by another tool or path would
  not see that one), then `BEGIN IMMEDIATE` with a short busy timeout, which finds any other program
  holding a write transaction (e.g. a `sqlite3` shell). The lock file is never the database file itself:
  closing any descriptor of a database file drops every POSIX lock SQLite holds on it;
- not a database, corrupt, or another program's SQLite file (`PRAGMA application_id`);
- a schema version newer than this mmctl knows.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mmctl.errors import StoreError
from mmctl.store.records import PreviousRun
from mmctl.store.sqlite.schema import APPLICATION_ID, LATEST_VERSION, MIGRATIONS, Migration, migrate

Synchronous = Literal["FULL", "NORMAL"]


@dataclass(slots=True)
class Opened:
    """The connections of an open store and what the open found."""

    writer: sqlite3.Connection
    reader: sqlite3.Connection
    lock_fd: int
    version: int
    previous_run: PreviousRun


def describe(path: Path, e: sqlite3.Error, doing: str = "open") -> StoreError:
    """One actionable `StoreError` for an SQLite error on `path` (chain it: `raise ... from e`)."""
    code = getattr(e, "sqlite_errorcode", 0) & 0xFF
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StoreError(
            f"{path} is locked by another process (another mmctl daemon, or a program such as a sqlite3 "
            "shell holding a transaction); stop it, or use another state_dir"
        )
    if code == sqlite3.SQLITE_READONLY:
        return read_only(path)
    if code in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
        return not_a_database(path, str(e))
    if code == sqlite3.SQLITE_FULL:
        return StoreError(f"{path}: the disk is full ({e}); free space on its filesystem, then restart")
    if code == sqlite3.SQLITE_IOERR:
        return StoreError(f"{path}: cannot {doing} the database: {e} (is the disk full, failing or gone?)")
    return StoreError(f"{path}: cannot {doing} the database: {e}")


def read_only(path: Path) -> StoreError:
    return StoreError(
        f"{path} is read-only: make the file and its directory writable by the daemon's user "
        "(SQLite creates its -wal and -shm files beside it), or use another state_dir"
    )


def not_a_database(path: Path, detail: str) -> StoreError:
    return StoreError(
        f"{path} is not an mmctl database or is corrupt ({detail}); move it aside and restore a backup "
        "made with `mmctl db backup` (nothing was changed)"
    )


def open_database(
    path: Path,
    *,
    synchronous: Synchronous,
    busy_timeout_ms: int,
    lock_timeout_ms: int,
    now_ms: int,
    migrations: tuple[Migration, ...] = MIGRATIONS,
) -> Opened:
    """Check, lock, migrate and configure `path`; `StoreError` (nothing written) when it cannot be used."""
    _check_paths(path)
    lock_fd = _lock(path)
    try:
        writer = _connect(path, lock_timeout_ms)
        try:
            version, previous = _prepare(path, writer, now_ms, migrations)
            writer.execute(f"PRAGMA synchronous = {synchronous}")
            writer.execute("PRAGMA foreign_keys = ON")
            writer.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
            reader = _connect(path, busy_timeout_ms)
            reader.execute("PRAGMA query_only = ON")
        except sqlite3.Error as e:
            writer.close()
            raise describe(path, e) from e
        except BaseException:
            writer.close()
            raise
    except BaseException:
        os.close(lock_fd)
        raise
    return Opened(writer, reader, lock_fd, version, previous)


def _check_paths(path: Path) -> None:
    directory = path.parent
    try:
        directory.mkdir(mode=0o750, parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(f"{path}: cannot create its directory {directory}: {e.strerror}") from e
    if not os.access(directory, os.W_OK | os.X_OK):
        raise read_only(path)
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if candidate.exists():
            if not candidate.is_file():
                raise StoreError(f"{candidate} is not a regular file; move it aside")
            if not os.access(candidate, os.R_OK | os.W_OK):
                raise read_only(path)


def _lock(path: Path) -> int:
    lock_path = Path(f"{path}.lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise read_only(path) from e
        raise StoreError(f"{path}: cannot create its lock file {lock_path}: {e.strerror}") from e
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        owner = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise StoreError(
                f"{path} is in use by another process (pid {owner}, probably another mmctl daemon); "
                "stop it first, or use another state_dir"
            ) from None
        raise StoreError(f"{path}: cannot lock {lock_path}: {e.strerror}") from e
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _connect(path: Path, busy_timeout_ms: int) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(
            path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as e:
        raise describe(path, e) from e
    conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
    return conn


def _prepare(
    path: Path, conn: sqlite3.Connection, now_ms: int, migrations: tuple[Migration, ...]
) -> tuple[int, PreviousRun]:
    """Identify the file (reading only), then lock, migrate, mark this run as started, and use WAL."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
    if app_id != APPLICATION_ID and (app_id != 0 or version != 0 or tables != 0):
        raise not_a_database(path, f"application_id {app_id:#x}, schema version {version}, {tables} objects")
    latest = migrations[-1].version if migrations else 0
    if version > latest:
        raise StoreError(
            f"{path} has schema version {version}, written by a newer mmctl (this one knows up to "
            f"version {latest}); upgrade mmctl, or move the file aside and restore a backup made by this "
            "version (nothing was changed)"
        )
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        try:
            version = migrate(conn, current, migrations)
        except sqlite3.Error as e:
            raise StoreError(
                f"{path}: upgrading its schema from version {current} to {latest} failed ({e}); nothing was "
                "changed: keep the file, report this, and run the previous mmctl meanwhile"
            ) from e
        previous = _previous_run(conn, now_ms)
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    if conn.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
        raise StoreError(f"{path}: cannot switch the database to WAL mode (is it on a network filesystem?)")
    return version, previous


def _previous_run(conn: sqlite3.Connection, now_ms: int) -> PreviousRun:
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    if "clean_shutdown" not in meta:
        previous = PreviousRun(clean=True, ended_ms=None)
    elif meta["clean_shutdown"] == "1":
        previous = PreviousRun(clean=True, ended_ms=int(meta.get("closed_ms", "0")))
    else:
        last = meta.get("last_commit_ms") or meta.get("opened_ms") or "0"
        previous = PreviousRun(clean=False, ended_ms=int(last))
    conn.executemany(
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [("clean_shutdown", "0"), ("opened_ms", str(now_ms))],
    )
    return previous


__all__ = ["LATEST_VERSION", "Opened", "Synchronous", "describe", "open_database"]
