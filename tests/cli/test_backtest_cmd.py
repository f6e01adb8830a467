"""`mmctl backtest` on the real CLI entry point: deterministic results kept under a run id, sweeps sorted
by net PnL, the HTML report, bad input refused before anything is written, and `create --from-backtest`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.support.daemon import DaemonProc, run_cli

START_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
SHORT = ("--data", "synthetic", "--to", "2025-01-01T00:10:00Z")


def backtest(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    r = run_cli("backtest", *args, env={"MMCTL_BACKTESTS": str(tmp_path / "runs")})
    return r.returncode, r.stdout, r.stderr


def kept(tmp_path: Path) -> list[str]:
    runs = tmp_path / "runs"
    return sorted(p.name for p in runs.iterdir()) if runs.exists() else []


def write_market(directory: Path, rows: int = 600, corrupt_line: int | None = None) -> None:
    """A bookTicker and an aggTrades file of BTCUSDT, one book every 100 ms from START_MS."""
    directory.mkdir(parents=True, exist_ok=True)
    book = ["update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time"]
    trades = ["agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"]
    for i in range(rows):
        ts = START_MS + i * 100
        bid = 90_000 + (i % 50) - 25
        book.append(f"{i},{bid}.0,1.5,{bid}.1,2.0,{ts},{ts}")
        if i % 5 == 0:
            maker = "true" if i % 10 == 0 else "false"
            price = f"{bid - 3}.0" if maker == "true" else f"{bid + 3}.1"
            trades.append(f"{i},{price},0.050,{i},{i},{ts + 50},{maker}")
    if corrupt_line is not None:
        book[corrupt_line - 1] = "7,not-a-price,1,2,3,4,5"
    (directory / "BTCUSDT-bookTicker-2025-01-01.csv").write_text("\n".join(book) + "\n")
    (directory / "BTCUSDT-aggTrades-2025-01-01.csv").write_text("\n".join(trades) + "\n")


def test_the_same_data_and_parameters_give_byte_identical_json_and_one_run_id(tmp_path: Path) -> None:
    """Two runs of one synthetic backtest print the same JSON bytes, keep one result file named by the
    run id, and the document carries the PnL lines and figures."""
    code, first, err = backtest(tmp_path, *SHORT, "--json")
    assert code == 0, err
    code, second, _ = backtest(tmp_path, *SHORT, "--json")
    assert first == second
    doc = json.loads(first)
    assert kept(tmp_path) == [f"{doc['run_id']}.json"]
    pnl = doc["summary"]["pnl"]
    assert set(pnl) == {"net", "realized", "commission", "funding", "unrealized"}
    assert doc["spec"]["strategy"] == "market_maker"
    assert doc["summary"]["events"] > 5000


def test_a_sweep_runs_every_combination_and_sorts_by_net_pnl(tmp_path: Path) -> None:
    """`--set spread_bps=5,10 --set levels=1,2` runs four combinations, one row each, best net first."""
    code, out, err = backtest(tmp_path, *SHORT, "--set", "spread_bps=5,10", "--set", "levels=1,2", "--json")
    assert code == 0, err
    runs = json.loads(out)["runs"]
    combos = {(r["sweep"]["values"]["spread_bps"], r["sweep"]["values"]["levels"]) for r in runs}
    assert combos == {("5", "1"), ("5", "2"), ("10", "1"), ("10", "2")}
    nets = [float(r["summary"]["pnl"]["net"]) for r in runs]
    assert nets == sorted(nets, reverse=True)
    assert len(kept(tmp_path)) == 4


def test_recorded_files_run_and_the_report_is_written(tmp_path: Path) -> None:
    """A directory of bookTicker/aggTrades files backtests over the range asked, and `--report` writes a
    self-contained HTML file."""
    write_market(tmp_path / "data")
    report = tmp_path / "out.html"
    code, out, err = backtest(
        tmp_path, "--data", str(tmp_path / "data"), "--from", "2025-01-01T00:00:10Z", "--report", str(report),
        "--json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["spec"]["data"]["from"] == "2025-01-01T00:00:10.000Z"
    html = report.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<svg") == 4


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--strategy", "nope", *SHORT), 2, "unknown strategy 'nope'"),
        (("--set", "sprd=5", *SHORT), 2, "unknown parameter 'sprd'"),
        (("--set", "levels=99", *SHORT), 2, "levels: must be between 1 and 20, got 99"),
        (("--set", "levels=1,x", *SHORT), 2, "levels"),
        (("--fees", "2", *SHORT), 2, "--fees: expected MAKER,TAKER"),
        (("--symbol", "NOPEUSDT", *SHORT), 2, "NOPEUSDT"),
        (("--report", "/nonexistent-dir/r.html", *SHORT), 2, "cannot write the report to /nonexistent-dir"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_with_its_exit_code_and_keeps_nothing(
    tmp_path: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    """Each bad option is refused with one error line and its exit code before anything runs or is kept."""
    got, _, err = backtest(tmp_path, *args)
    assert got == code
    [line] = err.strip().splitlines()
    assert line.startswith("mmctl: error: ")
    assert message in line
    assert kept(tmp_path) == []


def test_bad_data_refuses_to_start(tmp_path: Path) -> None:
    """A corrupt row (named by file and line), a directory without the symbol's files, and a range outside
    the data each stop the run before it starts, with one line and nothing kept."""
    write_market(tmp_path / "bad", corrupt_line=42)
    code, _, err = backtest(tmp_path, "--data", str(tmp_path / "bad"))
    assert code == 1
    assert "BTCUSDT-bookTicker-2025-01-01.csv" in err
    assert "42" in err
    (tmp_path / "empty").mkdir()
    code, _, err = backtest(tmp_path, "--data", str(tmp_path / "empty"))
    assert code == 1
    assert "BTCUSDT-bookTicker" in err
    write_market(tmp_path / "good")
    code, _, err = backtest(tmp_path, "--data", str(tmp_path / "good"), "--from", "2026-01-01T00:00:00Z")
    assert code == 2
    assert "2025-01-01T00:00" in err
    assert len(err.strip().splitlines()) == 1
    assert kept(tmp_path) == []


def test_a_bot_is_created_from_a_backtest_run(daemon: DaemonProc, tmp_path: Path) -> None:
    """`mmctl create NAME --account paper --from-backtest ID` copies the run's strategy, symbol and
    parameters; an unknown id is one error line, exit 2."""
    code, out, err = backtest(tmp_path, *SHORT, "--set", "spread_bps=12", "--set", "levels=2", "--json")
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    env = {"MMCTL_BACKTESTS": str(tmp_path / "runs")}
    r = daemon.cli("create", "bt1", "--account", "paper", "--from-backtest", run_id, "--json", env=env)
    assert r.returncode == 0, r.stderr
    r = daemon.cli("export", "bt1", "--json")
    exported = json.loads(r.stdout)
    assert exported["symbol"] == "BTC/USDT:USDT" or exported["symbol"] == "BTCUSDT"
    assert exported["params"]["spread_bps"] == "12"
    assert exported["params"]["levels"] == 2
    r = daemon.cli("create", "bt2", "--account", "paper", "--from-backtest", "0123456789ab", env=env)
    assert r.returncode == 2
    assert "no backtest run 0123456789ab" in r.stderr
