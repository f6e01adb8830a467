"""Smoke tests of the benchmarks (issues 8 and 11): each script runs end to end against a real daemon
process in a tiny configuration, cleans up after itself and ends with its figure line in the documented
format.

They check the format only: timings are never asserted in tests (README.md, Development).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
NUMBER = r"(-?\d+(?:\.\d+)?|nan)"


def run_bench(script: str, *args: str) -> str:
    """Run a bench script; its last stdout line, after checking it exited 0 and removed its temp dir."""
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    temp_dirs = re.findall(r"temp dir (\S+)", proc.stderr)
    assert temp_dirs, proc.stderr[-3000:]
    assert not any(Path(d).exists() for d in temp_dirs), f"left behind: {temp_dirs}"
    lines = proc.stdout.strip().splitlines()
    assert lines, proc.stderr[-3000:]
    return lines[-1]


@pytest.mark.slow
def test_fleet_prints_its_figure_line() -> None:
    """fleet.py with 6 bots on 2 accounts for 2 s ends with `bots=6 cpu_pct=… … errors=<int>`."""
    line = run_bench("fleet.py", "--bots", "6", "--bots-per-account", "3", "--seconds", "2")
    pattern = rf"bots=6 cpu_pct={NUMBER} rss_mb={NUMBER} per_bot_kb={NUMBER} rpc_p99_ms={NUMBER} errors=\d+"
    assert re.fullmatch(pattern, line), line


@pytest.mark.slow
def test_safety_under_load_prints_its_figure_line() -> None:
    """safety_under_load.py with 4 bots, a burst of 2 and one reader ends with
    `stop_p99_ms=… cancel_all_ms=… status_p99_ms=… budget_saturated=<0|1>`."""
    line = run_bench(
        "safety_under_load.py",
        *("--bots", "4", "--burst", "2", "--readers", "1", "--stops", "2", "--pauses", "1"),
        *("--op-timeout", "5", "--status-timeout", "3", "--saturate-wait", "2"),
    )
    pattern = rf"stop_p99_ms={NUMBER} cancel_all_ms={NUMBER} status_p99_ms={NUMBER} budget_saturated=[01]"
    assert re.fullmatch(pattern, line), line


@pytest.mark.slow
def test_binance_budget_prints_its_figure_line() -> None:
    """binance_budget.py with 4 bots on 2 symbols of the fake Binance server for 4 s ends with
    `bots=4 peak_weight_1m=<n> peak_orders_10s=<n> bots_per_ip=<n> bots_per_account=<n>`."""
    line = run_bench("binance_budget.py", "--bots", "4", "--symbols", "2", "--seconds", "4")
    pattern = r"bots=4 peak_weight_1m=\d+ peak_orders_10s=\d+ bots_per_ip=\d+ bots_per_account=\d+"
    assert re.fullmatch(pattern, line), line


@pytest.mark.slow
def test_pnl_report_prints_its_figure_line() -> None:
    """pnl_report.py on 50,000 income rows ends with `pnl_rows=50000 report_ms=… sync_rows_per_s=…`."""
    line = run_bench("pnl_report.py", "--rows", "50000", "--sync-rows", "3000", "--repeat", "3")
    assert re.fullmatch(rf"pnl_rows=50000 report_ms={NUMBER} sync_rows_per_s={NUMBER}", line), line


def test_backtest_speed_prints_its_figure_line() -> None:
    """backtest_speed.py on 2,000 synthetic book tops ends with `backtest_events_per_s=<n> day_s=<n>`
    (no daemon, no temp dir: the backtest runs in the script's own process)."""
    proc = subprocess.run(
        [sys.executable, str(BENCH / "backtest_speed.py"), "--updates", "2000"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines, proc.stderr[-3000:]
    assert re.fullmatch(rf"backtest_events_per_s=\d+ day_s={NUMBER}", lines[-1]), lines[-1]
    assert re.match(r"events=\d+ books=2000 trades=\d+", lines[0]), lines[0]
