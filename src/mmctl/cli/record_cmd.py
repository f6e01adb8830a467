"""`mmctl record SYMBOL... --out DIR [--for 24h]`: record Binance's public book tops and trades into daily
CSV files that `mmctl backtest` and paper replays read (`mmctl.backtest.record`). No daemon, no keys.

The recorder (and with it ccxt) is imported only when the command runs. Register with
`record_cmd.register(app)`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mmctl.cli.context import JsonFlag, globals_of
from mmctl.cli.output import fail
from mmctl.errors import MmctlError, ValidationError
from mmctl.timeparse import parse_time

if TYPE_CHECKING:
    from mmctl.model import MarketRules

DURATION_FORMS = "a duration like 90m, 24h, 7d or 2w"


def register(app: typer.Typer) -> None:
    """Add the `record` command to `app`."""
    app.command("record")(record)


def record(
    ctx: typer.Context,
    symbols: Annotated[
        list[str],
        typer.Argument(help="Markets to record (BTCUSDT or BTC/USDT:USDT).", show_default=False),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Directory of the daily files (created if missing).",
            metavar="DIR",
            show_default=False,
        ),
    ],
    duration: Annotated[
        str | None,
        typer.Option(
            "--for",
            help=f"Stop after this long ({DURATION_FORMS}); default: until stopped.",
            metavar="DURATION",
            show_default=False,
        ),
    ] = None,
    rest_url: Annotated[
        str,
        typer.Option(
            "--rest-url", help="Another source of Binance's REST API (e.g. a local mirror).", metavar="URL"
        ),
    ] = "",
    ws_url: Annotated[
        str,
        typer.Option(
            "--ws-url",
            help="Another source of Binance's futures WebSocket (e.g. a local mirror).",
            metavar="URL",
        ),
    ] = "",
    json_flag: JsonFlag = False,
) -> None:
    """Record live book tops (bookTicker) and trades (aggTrades) of Binance USD-M perpetuals into
    <SYMBOL>-bookTicker-<YYYY-MM-DD>.csv and <SYMBOL>-aggTrades-<YYYY-MM-DD>.csv in DIR, in Binance's
    historical data format, a new file each day at 00:00 UTC. A restarted recording appends to the day's
    files. Ctrl-C or SIGTERM stops it; it then prints the rows written per file. Public data: no API
    keys needed.

    \b
    Examples:
      mmctl record BTCUSDT ETHUSDT --out ~/data --for 24h
      mmctl backtest --strategy market_maker --symbol BTCUSDT --data ~/data
    """
    out_fmt = globals_of(ctx).output(json_flag)
    try:
        markets = _markets(symbols)
        duration_s = _duration_s(duration) if duration is not None else None
        _check_url(rest_url, "--rest-url", ("http", "https"), "http://127.0.0.1:8765")
        _check_url(ws_url, "--ws-url", ("ws", "wss"), "ws://127.0.0.1:8765/ws")
        from mmctl.backtest.record import run

        result = run(
            markets,
            out,
            duration_s=duration_s,
            rest_url=rest_url,
            ws_url=ws_url,
            notice=_notice,
        )
    except MmctlError as e:
        fail(e, out_fmt)
    except KeyboardInterrupt:  # before the recording's own signal handling was in place
        sys.stderr.write("mmctl: error: interrupted before recording started\n")
        raise typer.Exit(130) from None
    if out_fmt.json:
        out_fmt.document(result.document())
    else:
        out_fmt.write(result.summary())


def _notice(line: str) -> None:
    sys.stderr.write(f"mmctl: {line}\n")


def _markets(symbols: list[str]) -> list[MarketRules]:
    """The built-in markets named (each once, in the order given)."""
    from mmctl.backtest.data import market_rules

    chosen: dict[str, MarketRules] = {}
    for name in symbols:
        rules = market_rules(name.strip())
        chosen.setdefault(rules.id, rules)
    return list(chosen.values())


def _duration_s(text: str) -> float:
    """`--for` in seconds: the relative forms of `mmctl.timeparse` (90m, 24h, 7d, 2w)."""
    word = text.strip().lower()
    if not (word[:-1].isdigit() and word[-1:] in ("m", "h", "d", "w")):
        raise ValidationError(f"--for: expected {DURATION_FORMS}, got {text[:40]!r}", data={"field": "for"})
    now_ms = int(time.time() * 1000)
    seconds = (now_ms - parse_time(word, now_ms=now_ms, field="for")) / 1000
    if seconds <= 0:
        raise ValidationError(f"--for: the duration must be positive, got {text!r}", data={"field": "for"})
    return seconds


def _check_url(url: str, option: str, schemes: tuple[str, ...], example: str) -> None:
    scheme, sep, rest = url.partition("://")
    if url and (scheme not in schemes or not sep or not rest or rest.startswith("/") or "?" in rest):
        raise ValidationError(
            f"{option}: expected a URL like {example!r}, got {url[:60]!r}", data={"field": option[2:]}
        )
