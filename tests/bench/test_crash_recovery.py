"""The crash soak of issue 10, short: the real daemon `kill -9`ed 5 times at random moments (anywhere,
while orders are being submitted, in the middle of a stop) and restarted; after every recovery nothing is
orphaned, lost, doubled or out of place (bench/crash_recovery.py)."""

from __future__ import annotations

import re

import pytest
from tests.bench.test_bench_scripts import NUMBER, run_bench


@pytest.mark.slow
def test_five_kills_leave_no_orphan_no_lost_or_doubled_fill_and_every_bot_where_it_was() -> None:
    """Five SIGKILLs with restarts end with every mismatch count 0 (the script exits 1 otherwise)."""
    line = run_bench("crash_recovery.py", "5", "--bots", "4", "--seed", "3")
    pattern = (
        r"kills=5 orphans=0 lost_fills=0 dup_fills=0 position_mismatch=0 state_mismatch=0 "
        rf"recovery_p50_ms={NUMBER} recovery_p99_ms={NUMBER}"
    )
    assert re.fullmatch(pattern, line), line
