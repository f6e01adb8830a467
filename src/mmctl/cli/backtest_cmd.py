"""`mmctl backtest`: a strategy over recorded or synthetic market data on simulated time, in this process
(no daemon), with the daemon's own strategy, risk and matching code (`mmctl.backtest`). Prints the
figures (or `--json`), keeps the result under a run id for `mmctl create --from-backtest`, and writes an
HTML report with `--report`. `--set key=v1,v2,...` sweeps a grid in parallel processes."""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mmctl.cli.bots_cmd import parse_assignments
from mmctl.cli.context import JsonFlag, call, globals_of
from mmctl.cli.output import Output, fail
from mmctl.errors import MmctlError, ValidationError
from mmctl.rpc import protocol as proto

if TYPE_CHECKING:
    from mmctl.backtest.engine import Event

SYNTHETIC_START = "2025-01-01T00:00:00Z"
SYNTHETIC_SPAN_MS = 86_400_000  # a synthetic run without --to covers one day


def register(app: typer.Typer) -> None:
    """Add the `backtest` command to `app`."""
    app.command("backtest")(backtest)


def backtest(
    ctx: typer.Context,
    data: Annotated[
        str,
        typer.Option(
            "--data",
            help="A Binance bookTicker/aggTrades CSV or zip file, a directory of them (as `mmctl record` "
            "writes), or 'synthetic' for the paper venue's seeded market.",
            show_default=False,
        ),
    ],
    strategy: Annotated[str | None, typer.Option("--strategy", help="Strategy name.")] = None,
    symbol: Annotated[str, typer.Option("--symbol", help="The market (BTCUSDT).")] = "BTCUSDT",
    from_: Annotated[str | None, typer.Option("--from", help="Start (ISO 8601, 7d, ...).")] = None,
    to: Annotated[str | None, typer.Option("--to", help="End, exclusive.")] = None,
    settings: Annotated[
        list[str] | None,
        typer.Option("--set", help="Parameter as key=value; key=v1,v2,... sweeps; repeat as needed."),
    ] = None,
    from_bot: Annotated[
        str | None, typer.Option("--from-bot", help="Start from a bot's strategy and parameters (daemon).")
    ] = None,
    fees: Annotated[
        str | None, typer.Option("--fees", help="Maker,taker fees in bps (default 2,5; -1,5 = rebate).")
    ] = None,
    latency_ms: Annotated[int, typer.Option("--latency-ms", help="Decision to venue, ms.")] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of --data synthetic.")] = 1,
    report: Annotated[Path | None, typer.Option("--report", help="Write an HTML report here.")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Processes for a sweep.", min=1)] = None,
    json_flag: JsonFlag = False,
) -> None:
    """Backtest a strategy: net PnL with realized/commission/funding, volume, fills, maker share, max
    inventory, max drawdown, Sharpe of hourly returns, time in market. The result is kept under a run id
    (`mmctl create NAME --from-backtest ID`). Bad data (a corrupt row, no file for the symbol, a range
    outside the data) stops the run before it starts.

    \b
    Examples:
      mmctl backtest --strategy market_maker --data synthetic --report day.html
      mmctl backtest --strategy market_maker --data ~/rec --from 2026-11-20 --to 2026-11-21
      mmctl backtest --strategy market_maker --data ~/rec --set spread_bps=5,10,20
    """
    from mmctl.backtest.runs import RunTerms, parse_grid, run_document, save_run, sweep

    out = globals_of(ctx).output(json_flag)
    try:
        base_strategy, base_params = _bot_base(ctx, from_bot, json_flag) if from_bot else (None, {})
        terms = RunTerms(
            strategy=strategy or base_strategy or "market_maker",
            symbol=symbol.replace("/", "").split(":")[0].upper(),
            latency_ms=latency_ms,
            base_params=base_params,
            **_fees(fees),
        )
        grid = parse_grid(parse_assignments(settings or [], out))
        for values in grid:
            terms.spec(values)  # every combination is valid before any data is read
        if report is not None:
            from mmctl.backtest.report_html import check_report_path

            report = check_report_path(report)
            if len(grid) > 1:
                raise ValidationError(
                    "--report draws one run: not with a --set sweep", data={"field": "report"}
                )
        events = _events(data, terms.symbol, from_, to, seed)
        started = time.perf_counter()
        docs = (
            [run_document(terms.spec(grid[0]), events)]
            if len(grid) == 1
            else sweep(terms, grid, events, workers)
        )
        elapsed = time.perf_counter() - started
        paths = [save_run(doc) for doc in docs]
        if report is not None:
            from mmctl.backtest.report_html import write_report
            from mmctl.backtest.runs import report_data

            write_report(report_data(docs[0]), report)
    except MmctlError as e:
        fail(e, out)
    if len(docs) == 1:
        _print_run(out, docs[0], paths[0], report, elapsed)
    else:
        _print_sweep(out, docs, elapsed)


def _bot_base(ctx: typer.Context, name: str, json_flag: bool) -> tuple[str, dict[str, Any]]:
    doc = call(ctx, proto.BOT_EXPORT, {"name": name}, json_flag=json_flag)
    return str(doc["strategy"]), dict(doc.get("params") or {})


def _fees(text: str | None) -> dict[str, Decimal]:
    if text is None:
        return {}
    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) != 2:
            raise InvalidOperation
        maker, taker = (Decimal(p) for p in parts)
        if not (maker.is_finite() and taker.is_finite()):
            raise InvalidOperation
    except InvalidOperation:
        raise ValidationError(
            f"--fees: expected MAKER,TAKER in bps (e.g. 2,5), got {text!r}", data={"field": "fees"}
        ) from None
    return {"maker_fee_bps": maker, "taker_fee_bps": taker}


def _events(data: str, symbol: str, from_: str | None, to: str | None, seed: int) -> list[Event]:
    from mmctl.backtest.data import load_events, synthetic_events
    from mmctl.timeparse import parse_time

    now = int(time.time() * 1000)
    start = None if from_ is None else parse_time(from_, now_ms=now, field="from")
    end = None if to is None else parse_time(to, now_ms=now, field="to")
    if data.strip().lower() != "synthetic":
        path = Path(data).expanduser()
        return load_events(path, symbol, start, end)
    start = parse_time(SYNTHETIC_START, now_ms=now) if start is None else start
    end = start + SYNTHETIC_SPAN_MS if end is None else end
    if end <= start:
        raise ValidationError("--to must be after --from", data={"field": "to"})
    return synthetic_events(symbol, start, (end - start) / 1000, seed)


def _print_run(out: Output, doc: dict[str, Any], path: Path, report: Path | None, elapsed: float) -> None:
    if out.json:
        out.document(doc)
        return
    s, pnl = doc["summary"], doc["summary"]["pnl"]
    spec = doc["spec"]
    rows: list[tuple[str, Any]] = [
        ("run", doc["run_id"]),
        ("strategy", f"{spec['strategy']} on {spec['symbol']}"),
        ("data", f"{spec['data']['from']} .. {spec['data']['to']} ({s['events']} events, {elapsed:.1f} s)"),
        ("net", pnl["net"]),
        ("realized", pnl["realized"]),
        ("commission", pnl["commission"]),
        ("funding", pnl["funding"]),
        ("unrealized", pnl["unrealized"]),
        ("volume", s["volume"]),
        ("fills", f"{s['fills']} (maker {_pct(s['maker_share'])})"),
        ("max inventory", s["max_inventory"]),
        ("max drawdown", s["max_drawdown"]),
        ("sharpe", "-" if s["sharpe"] is None else f"{s['sharpe']:.2f}"),
        ("time in market", _pct(s["time_in_market"])),
    ]
    if doc.get("stop"):
        rows.append(("risk stop", f"{doc['stop']['ts']} {doc['stop']['reason']}"))
    rows.append(("result", str(path)))
    if report is not None:
        rows.append(("report", str(report)))
    out.fields(rows)


def _print_sweep(out: Output, docs: list[dict[str, Any]], elapsed: float) -> None:
    if out.json:
        out.document({"runs": docs})
        return
    keys = list(docs[0]["sweep"]["values"])
    out.table(
        [*keys, "net", "realized", "commission", "fills", "max_drawdown", "sharpe", "run"],
        [
            [
                *(d["sweep"]["values"][k] for k in keys),
                d["summary"]["pnl"]["net"],
                d["summary"]["pnl"]["realized"],
                d["summary"]["pnl"]["commission"],
                d["summary"]["fills"],
                d["summary"]["max_drawdown"],
                "-" if d["summary"]["sharpe"] is None else f"{d['summary']['sharpe']:.2f}",
                d["run_id"],
            ]
            for d in docs
        ],
    )
    if out.tty:
        typer.echo(f"{len(docs)} runs in {elapsed:.1f} s")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"
