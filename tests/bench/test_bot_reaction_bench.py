"""Smoke test of bench/bot_reaction.py: it runs end to end in a tiny configuration and ends with its
figure line in the documented format. Timings are never asserted (README.md, Development)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bot_reaction.py"
NUMBER = r"\d+\.\d+"


@pytest.mark.slow
def test_bot_reaction_prints_its_figure_line() -> None:
    """With 6 bots and 20 samples per case it ends with `reaction_p99_ms_100bots=… reaction_p99_ms_1bot=…
    floor_ms=… samples=<n>`, each case having collected its samples."""
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--samples", "20", "--bots", "6", "--max-seconds", "60"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    pattern = (
        rf"reaction_p99_ms_100bots={NUMBER} reaction_p99_ms_1bot={NUMBER} floor_ms={NUMBER} samples=(\d+)"
    )
    match = re.fullmatch(pattern, lines[-1])
    assert match, lines[-1]
    assert int(match.group(1)) >= 20
