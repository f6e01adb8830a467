"""The daemon's garbage-collector tuning (mmctl.tuning): what start-up built leaves the collector's scans."""

from __future__ import annotations

import gc

from mmctl.tuning import tune_gc


def test_tune_gc_freezes_what_is_alive_and_leaves_the_thresholds_alone() -> None:
    """After `tune_gc` every object alive at the call is in the permanent generation (no generation the
    collector scans holds it), later objects are collected as usual, and the thresholds are CPython's."""
    thresholds = gc.get_threshold()
    before = [[n] for n in range(1000)]  # tracked containers alive at the call
    try:
        tune_gc()
        frozen = gc.get_freeze_count()
        assert frozen >= len(before)
        scanned = {id(o) for generation in range(3) for o in gc.get_objects(generation)}
        assert not any(id(o) in scanned for o in before)
        after = [[n] for n in range(10)]
        scanned = {id(o) for generation in range(3) for o in gc.get_objects(generation)}
        assert all(id(o) in scanned for o in after)
        assert gc.get_threshold() == thresholds
    finally:
        gc.unfreeze()
