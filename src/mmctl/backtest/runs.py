"""Backtest runs as `mmctl backtest` makes them: the parameter grid, the market data, one run or a sweep
over processes, the stored result (its run id), and the HTML report of a stored result.

A run's id is the first 12 hex digits of the SHA-256 of its result document (`json.dumps(doc,
sort_keys=True)` without the id): the same data and parameters give the same id, byte-identical
results. Results are kept as `<runs dir>/<id>.json` (`runs_dir()`: `backtests/` under the user's state
directory) so `mmctl create NAME --from-backtest ID` can copy a run's strategy and parameters.

A sweep (`--set key=v1,v2,...`, several keys multiply) runs each combination in its own process (`fork`:
the workers share the loaded events without copying them through a pipe), at most one per CPU, and its
rows are sorted by net PnL, best first (ties: the grid order).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import os
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from mmctl.backtest.engine import BacktestSpec, Event, run_backtest
from mmctl.backtest.report_html import ReportData, ReportFill
from mmctl.errors import MmctlError, ValidationError
from mmctl.paths import default_state_dir
from mmctl.strategies import get_strategy
from mmctl.strategies.params import parse_params

RUN_ID = re.compile(r"[0-9a-f]{12}")
MAX_COMBINATIONS = 1000
SYNTHETIC = "synthetic"


@dataclass(frozen=True, slots=True)
class RunTerms:
    """What every run of one `mmctl backtest` shares: strategy, symbol, venue terms."""

    strategy: str
    symbol: str
    maker_fee_bps: Decimal | None = None
    taker_fee_bps: Decimal | None = None
    latency_ms: int = 0
    base_params: Mapping[str, object] = field(default_factory=dict)

    def spec(self, values: Mapping[str, object]) -> BacktestSpec:
        """The engine's spec for one combination of parameter values (validated: `ValidationError`)."""
        strategy = get_strategy(self.strategy)
        params = parse_params(strategy.params_cls, {**self.base_params, **values})
        fees: dict[str, Any] = {}
        if self.maker_fee_bps is not None:
            fees["maker_fee_bps"] = self.maker_fee_bps
        if self.taker_fee_bps is not None:
            fees["taker_fee_bps"] = self.taker_fee_bps
        return BacktestSpec(self.strategy, params, self.symbol, latency_ms=self.latency_ms, **fees)


def parse_grid(assignments: Mapping[str, str]) -> list[dict[str, str]]:
    """Every combination of `key=v1,v2,...` values, in grid order (the first key varies slowest)."""
    axes: list[tuple[str, list[str]]] = []
    for key, text in assignments.items():
        values = [v.strip() for v in text.split(",")]
        if any(not v for v in values):
            raise ValidationError(f"--set {key}: an empty value in {text!r}", data={"field": key})
        axes.append((key, values))
    count = 1
    for _, values in axes:
        count *= len(values)
    if count > MAX_COMBINATIONS:
        raise ValidationError(
            f"--set makes {count} combinations, more than {MAX_COMBINATIONS}; narrow the grid",
            data={"field": "set"},
        )
    keys = [k for k, _ in axes]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(v for _, v in axes))]


def run_document(spec: BacktestSpec, events: Sequence[Event]) -> dict[str, Any]:
    """One run's result document, with its run id."""
    doc = run_backtest(spec, events).to_json_dict()
    doc["run_id"] = run_id_of(doc)
    return doc


def run_id_of(doc: Mapping[str, Any]) -> str:
    """The id of a result document: a digest of its content (without any `run_id`)."""
    body = {k: v for k, v in doc.items() if k != "run_id"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def net_pnl(doc: Mapping[str, Any]) -> Decimal:
    """A result document's net PnL."""
    return Decimal(doc["summary"]["pnl"]["net"])


# --- sweeps -----------------------------------------------------------------------------------------

_shared: tuple[RunTerms, Sequence[Event]] | None = None  # what forked workers read (set before forking)


def _run_combination(values: dict[str, str]) -> dict[str, Any]:
    assert _shared is not None
    terms, events = _shared
    return run_document(terms.spec(values), events)


def sweep(
    terms: RunTerms, grid: Sequence[dict[str, str]], events: Sequence[Event], workers: int | None = None
) -> list[dict[str, Any]]:
    """Each combination's result document (with `sweep.values`), best net PnL first. Every combination is
    validated before any runs. One process per combination at a time, at most `workers` (default: CPUs)."""
    global _shared
    for values in grid:
        terms.spec(values)  # a bad value fails the whole sweep before it starts
    count = min(len(grid), workers or os.cpu_count() or 1)
    _shared = (terms, events)
    try:
        if count <= 1:
            docs = [_run_combination(v) for v in grid]
        else:
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
                docs = list(pool.map(_run_combination, grid))
    finally:
        _shared = None
    for values, doc in zip(grid, docs, strict=True):
        doc["sweep"] = {"values": values}
    order = sorted(range(len(docs)), key=lambda i: (-net_pnl(docs[i]), i))
    return [docs[i] for i in order]


# --- stored runs -------------------------------------------------------------------------------------


def runs_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where results are kept: `$MMCTL_BACKTESTS`, else `backtests/` under the user's state directory."""
    env = os.environ if env is None else env
    explicit = env.get("MMCTL_BACKTESTS")
    return Path(explicit) if explicit else default_state_dir(env) / "backtests"


def save_run(doc: Mapping[str, Any], directory: Path | None = None) -> Path:
    """Write a result document as `<id>.json` (atomically); its path."""
    directory = directory or runs_dir()
    target = directory / f"{doc['run_id']}.json"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(target)
    except OSError as e:
        raise MmctlError(f"cannot keep the backtest result in {directory}: {e.strerror}") from e
    return target


def load_run(run_id: str, directory: Path | None = None) -> dict[str, Any]:
    """A stored result document by id (`ValidationError` naming the id when there is none)."""
    directory = directory or runs_dir()
    if not RUN_ID.fullmatch(run_id):
        raise ValidationError(
            f"{run_id!r} is not a backtest run id (12 hex digits, as mmctl backtest prints)",
            data={"field": "from_backtest"},
        )
    path = directory / f"{run_id}.json"
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValidationError(
            f"no backtest run {run_id} in {directory} (runs are kept by the user who ran them)",
            data={"field": "from_backtest"},
        ) from None
    except (OSError, ValueError) as e:
        raise MmctlError(f"cannot read backtest run {path}: {e}") from e
    return doc


# --- the report ---------------------------------------------------------------------------------------


def report_data(doc: Mapping[str, Any]) -> ReportData:
    """The HTML report's content for a result document."""
    from mmctl.timeparse import parse_time

    spec, summary = doc["spec"], doc["summary"]

    def ms(text: str) -> int:
        return parse_time(text, now_ms=0, field="ts")

    pnl = summary["pnl"]
    rows = [
        ("net PnL", pnl["net"]),
        ("realized", pnl["realized"]),
        ("commission", pnl["commission"]),
        ("funding", pnl["funding"]),
        ("unrealized", pnl["unrealized"]),
        ("volume", summary["volume"]),
        (
            "fills (maker / taker)",
            f"{summary['fills']} ({summary['maker_fills']} / {summary['taker_fills']})",
        ),
        ("max inventory", summary["max_inventory"]),
        ("max drawdown", summary["max_drawdown"]),
        ("Sharpe (hourly returns, annualised)", _ratio(summary["sharpe"])),
        ("time in market", _percent(summary["time_in_market"])),
        ("events", str(summary["events"])),
        ("run id", str(doc.get("run_id", ""))),
    ]
    series = doc["series"]
    data = spec["data"]
    return ReportData(
        title=f"Backtest: {spec['strategy']} on {spec['symbol']}",
        subtitle=f"{data['from']} to {data['to']} · latency {spec['latency_ms']} ms · fees maker "
        f"{spec['fees']['maker_bps']} / taker {spec['fees']['taker_bps']} bps",
        summary=rows,
        params=[(k, str(v)) for k, v in sorted(spec["params"].items())],
        equity=[(ms(s["ts"]), Decimal(s["equity"])) for s in series],
        mid=[(ms(s["ts"]), Decimal(s["mid"])) for s in series],
        inventory=[(ms(s["ts"]), Decimal(s["inventory"])) for s in series],
        fills=[
            ReportFill(ms(f["ts"]), Decimal(f["price"]), f["side"].upper(), Decimal(f["qty"]), f["maker"])
            for f in doc["fills"]
        ],
        quote_asset="USDT",
        base_asset=spec["symbol"].removesuffix("USDT"),
    )


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"
