"""Backup and integrity check of a store file, each on its own short-lived connection.

Both are safe while the daemon writes (WAL): the backup copies one consistent snapshot with SQLite's
online backup API in a single step, the check reads one snapshot. They are blocking functions: the
store runs them with `asyncio.to_thread`, and `check_database` also serves a daemon that is not running.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import tempfile
import urllib.parse
from pathlib import Path

from mmctl.errors import StoreError


def _read_only_uri(path: Path) -> str:
    return f"file:{urllib.parse.quote(str(path.absolute()))}?mode=ro"


def backup(source: Path, target: Path) -> None:
    """Copy the database at `source` to the new file `target`; refuses an existing target, writes nothing.

    The copy goes to a temporary file in the target's directory, is fsynced, then hard-linked to `target`
    (which fails if `target` appeared meanwhile) so a partial backup is never visible under its name.
    """
    target = Path(target)
    if target.exists() or target.is_symlink():
        raise StoreError(f"{target} already exists; a backup never overwrites a file: choose a new name")
    directory = target.parent
    if not directory.is_dir():
        raise StoreError(f"cannot write the backup {target}: the directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise StoreError(f"cannot write the backup {target}: the directory {directory} is not writable")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=directory)
    except OSError as e:
        raise StoreError(f"cannot write the backup {target}: {e.strerror}") from e
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _copy(source, tmp)
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise StoreError(f"{target} already exists; a backup never overwrites a file") from None
        _fsync_dir(directory)
    except sqlite3.Error as e:
        raise StoreError(f"backup of {source} to {target} failed: {e}") from e
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise StoreError(f"backup to {target} failed: the disk is full") from e
        raise StoreError(f"backup to {target} failed: {e.strerror or e}") from e
    finally:
        for leftover in (tmp, Path(f"{tmp}-journal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def _copy(source: Path, tmp: Path) -> None:
    src = sqlite3.connect(_read_only_uri(source), uri=True)
    try:
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)  # pages=-1: one step, one consistent snapshot
        finally:
            dst.close()
    finally:
        src.close()
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_database(path: Path) -> list[str]:
    """Problems SQLite finds in the file (`integrity_check`, `foreign_key_check`); empty when it is sound."""
    path = Path(path)
    if not path.is_file():
        return [f"{path}: no such database file"]
    try:
        conn = sqlite3.connect(_read_only_uri(path), uri=True)
    except sqlite3.Error as e:
        return [f"{path}: cannot open: {e}"]
    try:
        problems = [str(row[0]) for row in conn.execute("PRAGMA integrity_check")]
        if problems == ["ok"]:
            problems = []
        for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check"):
            problems.append(f"{table} row {rowid}: no matching row in {parent}")
        return problems
    except sqlite3.Error as e:
        return [f"{path}: {e}"]
    finally:
        conn.close()
