"""Shared fixtures: a real daemon process on a real socket in a temp dir, and the real CLI entry point
(the helpers behind them live in tests/support/daemon.py)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.support.daemon import DaemonProc, make_daemon


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short temp dir (Unix socket paths are limited to ~107 bytes)."""
    d = Path(tempfile.mkdtemp(prefix="mm"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def daemon_factory(short_tmp: Path) -> Iterator[Callable[..., DaemonProc]]:
    """Make daemons in a temp dir; every one still running is stopped at the end."""
    made: list[DaemonProc] = []

    def factory(extra_config: str = "", name: str = "d") -> DaemonProc:
        d = make_daemon(short_tmp / name, extra_config)
        made.append(d)
        return d

    yield factory
    for d in made:
        if d.proc is not None and d.proc.poll() is None:
            d.proc.kill()
            d.proc.communicate()


@pytest.fixture
def daemon(daemon_factory: Callable[..., DaemonProc]) -> DaemonProc:
    """A running daemon with the default (paper) account."""
    return daemon_factory().start()


@pytest.fixture(scope="module")
def shared_daemon() -> Iterator[DaemonProc]:
    """One running daemon for a whole module of read-only tests."""
    root = Path(tempfile.mkdtemp(prefix="mm"))
    d = make_daemon(root)
    d.start()
    yield d
    if d.proc is not None and d.proc.poll() is None:
        d.proc.kill()
        d.proc.communicate()
    shutil.rmtree(root, ignore_errors=True)


DAEMON_FIXTURES = frozenset({"daemon", "daemon_factory", "shared_daemon"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that starts a real daemon process through these fixtures is an end-to-end test: mark it
    `slow` (CI runs them all; `-m "not slow"` skips them for a quick local loop)."""
    for item in items:
        if DAEMON_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
