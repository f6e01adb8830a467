"""`mmctl pnl`: profit and loss since any time, from the venue's income ledger (the daemon's `pnl.report`).

The daemon parses `--since`/`--until` (defaults: the config's `[reports] pnl_since`, else today; now) in
`--tz` (default `[reports] timezone`), brings the ledger up to date and answers; this module only prints:
`--json` one document (docs/json.md, "pnl"; a field per line: realized, commission, funding, each other
income type the report has rows of, transfers, net), `--csv` a header and one row per bucket plus
`total`, on a terminal the lines, the buckets and for `--by day|week|month` a bar chart of net PnL per
bucket drawn with Unicode blocks, and when piped the same rows as tab-separated text with a header (no
chart). Nothing here depends on the locale, the terminal or `PATH`, so cron can run it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer

from mmctl.cli.context import JsonFlag, call, globals_of
from mmctl.cli.output import Output, fail
from mmctl.errors import ValidationError
from mmctl.pnl.export import csv_rows, csv_text, line_names
from mmctl.rpc import protocol as proto

GROUPINGS = ("day", "week", "month", "symbol", "bot", "type")
CHARTED = ("day", "week", "month")
BAR_WIDTH = 30
_EIGHTHS = " ▏▎▍▌▋▊▉"

TIME_FORMS = (
    "ISO 8601 with an offset, a date or date-time in --tz, 90m/24h/7d/2w, now, today, yesterday, "
    "this-week, this-month"
)


def register(app: typer.Typer) -> None:
    @app.command()
    def pnl(
        ctx: typer.Context,
        since: Annotated[
            str | None,
            typer.Option(
                "--since",
                help=f"From ({TIME_FORMS}); default [reports] pnl_since, else today.",
                show_default=False,
            ),
        ] = None,
        until: Annotated[
            str | None,
            typer.Option("--until", help="Before this time (same forms); default now.", show_default=False),
        ] = None,
        account: Annotated[
            str | None, typer.Option("--account", help="Only this account.", show_default=False)
        ] = None,
        symbol: Annotated[
            str | None, typer.Option("--symbol", help="Only this symbol.", show_default=False)
        ] = None,
        bot: Annotated[
            str | None, typer.Option("--bot", help="Only this bot's share.", show_default=False)
        ] = None,
        by: Annotated[
            str | None,
            typer.Option(
                "--by",
                help=f"Buckets: {'|'.join(GROUPINGS)} (type: the venue's income type).",
                show_default=False,
            ),
        ] = None,
        tz: Annotated[
            str | None,
            typer.Option(
                "--tz",
                help="Zone of wall times and day buckets (IANA name); default [reports] timezone.",
                show_default=False,
            ),
        ] = None,
        json_flag: JsonFlag = False,
        csv_flag: Annotated[
            bool, typer.Option("--csv", help="CSV with a header: one row per bucket and total.")
        ] = False,
    ) -> None:
        """Realized PnL, commission, funding, other income, net and unrealized, with transfers apart.

        \b
        Examples:
          mmctl pnl --since yesterday --by symbol
          mmctl pnl --since "2025-11-20 11:00" --tz America/New_York --by day --csv
        """
        out = globals_of(ctx).output(json_flag)
        if out.json and csv_flag:
            fail(ValidationError("give --json or --csv, not both", data={"field": "csv"}), out)
        if bot is not None and symbol is not None:
            fail(ValidationError("give --bot or --symbol, not both (a bot trades one symbol)",
                                 data={"field": "bot"}), out)  # fmt: skip
        if by is not None and by not in GROUPINGS:
            fail(ValidationError(f"--by must be one of {', '.join(GROUPINGS)}, got {by!r}",
                                 data={"field": "by"}), out)  # fmt: skip
        params = {
            k: v
            for k, v in {"since": since, "until": until, "tz": tz, "account": account, "symbol": symbol,
                         "bot": bot, "by": by}.items()
            if v is not None
        }  # fmt: skip
        doc = call(ctx, proto.PNL_REPORT, params, json_flag=json_flag)
        if out.json:
            out.document(doc)
        elif csv_flag:
            out.stream.write(csv_text(doc))
        else:
            render(doc, out)


def render(doc: dict[str, Any], out: Output) -> None:
    if not out.tty:
        out.table(*csv_rows(doc))
        return
    names = line_names(doc)
    scope = doc.get("bot") or doc.get("symbol") or ", ".join(doc.get("accounts") or []) or "no accounts"
    pairs: list[tuple[str, Any]] = [
        ("period", f"{doc['since']} to {doc['until']} ({doc['timezone']})"),
        ("of", scope),
    ]
    pairs += [(n, doc[n]) for n in names if n not in ("transfers", "net")]
    pairs += [("net", doc["net"]), ("unrealized (at the mark, now)", doc.get("unrealized")),
              ("transfers (not in net)", doc.get("transfers"))]  # fmt: skip
    pairs.append(
        ("complete until", doc["complete_until"] + ("" if doc.get("complete") else "  (INCOMPLETE)"))
    )
    out.fields(pairs)
    for s in doc.get("sync", []):
        if s.get("error"):
            out.write(f"warning: {s['account']}: ledger not brought up to date: {s['error']}")
    buckets = doc.get("buckets")
    if not buckets:
        return
    out.write()
    columns, rows = csv_rows(doc)
    out.table(columns[:-1], [r[:-1] for r in rows[:-1]])
    if doc.get("by") in CHARTED:
        out.write()
        for line in bar_chart([(b["key"], b["net"]) for b in buckets]):
            out.write(line)


def bar_chart(items: list[tuple[str, str]], width: int = BAR_WIDTH) -> list[str]:
    """Net PnL per bucket as horizontal bars around an axis: losses to the left, gains to the right."""
    values = []
    for key, text in items:
        try:
            values.append((key, Decimal(text), text))
        except InvalidOperation:
            values.append((key, Decimal(0), text))
    top = max((abs(v) for _, v, _ in values), default=Decimal(0))
    key_width = max((len(k) for k, _, _ in values), default=0)
    lines = []
    for key, value, text in values:
        eighths = 0 if top == 0 else int(abs(value) / top * width * 8)
        if value >= 0:
            bar = "█" * (eighths // 8) + (_EIGHTHS[eighths % 8] if eighths % 8 else "")
            left, right = " " * width, bar.ljust(width)
        else:
            left, right = ("█" * round(eighths / 8)).rjust(width), " " * width
        lines.append(f"{key.ljust(key_width)} {left}│{right} {text}")
    return lines
