"""The daemon's garbage-collector tuning after start-up (`mmctl.tuning`): what survives a full collection
is frozen out of the next ones, and the periodic refreeze reclaims the cycles that died among frozen
objects."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from mmctl.clock import SystemClock
from mmctl.config.schema import Settings
from mmctl.daemon.compose import start_schedules
from mmctl.daemon.host import Daemon
from mmctl.store.sqlite.store import SqliteStore
from mmctl.tuning import REFREEZE_S, FullCollections, refreeze


class Node:
    """A tracked object that can sit in a reference cycle, and be watched through a weak reference."""

    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> tuple[Node, weakref.ref[Node]]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a, weakref.ref(a)


def scanned(obj: object) -> bool:
    """Whether a collection may scan `obj` (it is in one of the three generations, not frozen)."""
    return any(any(o is obj for o in gc.get_objects(generation)) for generation in range(3))


@pytest.fixture
def hook() -> Iterator[FullCollections]:
    full = FullCollections()
    full.install()
    try:
        yield full
    finally:
        full.uninstall()
        gc.unfreeze()


def test_what_survives_a_full_collection_is_frozen_and_garbage_is_not(hook: FullCollections) -> None:
    """After a full collection the survivors are out of every generation (frozen) while the cycles that
    were garbage are gone; a young collection freezes nothing."""
    alive, _ = cycle()
    dead, dead_ref = cycle()
    del dead
    gc.collect(0)
    assert hook.freezes == 0
    assert scanned(alive)
    gc.collect()
    assert hook.freezes == 1
    assert dead_ref() is None
    assert not scanned(alive)
    newer, _ = cycle()
    assert scanned(newer)  # built after the freeze: scanned as usual


def test_installing_twice_hooks_once_and_uninstall_removes_it(hook: FullCollections) -> None:
    """`install` is idempotent (and leaves the thresholds alone); `uninstall` leaves the collector as it
    was: no freeze afterwards."""
    thresholds = gc.get_threshold()
    hook.install()
    assert gc.get_threshold() == thresholds
    gc.collect()
    assert hook.freezes == 1
    hook.uninstall()
    gc.unfreeze()
    alive, _ = cycle()
    gc.collect()
    assert hook.freezes == 1
    assert scanned(alive)


def test_refreeze_reclaims_a_cycle_that_died_among_frozen_objects(hook: FullCollections) -> None:
    """A cycle frozen while alive and dropped later survives full collections, until `refreeze`."""
    node, ref = cycle()
    gc.collect()  # frozen now
    del node
    gc.collect()
    assert ref() is not None  # a dead cycle among frozen objects: never scanned
    refreeze()
    assert ref() is None
    kept, _ = cycle()
    refreeze()
    assert not scanned(kept)  # what is alive goes back to the permanent generation


def test_the_daemon_schedules_the_refreeze(tmp_path: Path) -> None:
    """The daemon's scheduler runs `gc_refreeze` every `REFREEZE_S`, the first one `REFREEZE_S` after
    start."""

    async def main() -> None:
        store = SqliteStore.open(tmp_path / "mmctl.sqlite", SystemClock(), synchronous="NORMAL")
        daemon = Daemon(Settings(), env={"MMCTL_STATE_DIR": str(tmp_path)})
        scheduler = start_schedules(daemon, store, SystemClock())
        try:
            next_run = scheduler.next_run_s("gc_refreeze")
            assert next_run is not None
            assert REFREEZE_S - 30 < next_run <= REFREEZE_S
        finally:
            scheduler.shutdown()
            await store.close()

    asyncio.run(main())
