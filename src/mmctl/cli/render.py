"""Rendering of bot documents: list rows, one bot's detail, per-bot outcomes, events."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from mmctl.cli.output import Output
from mmctl.errors import EXIT_FAILED

ROW_COLUMNS = [
    "name",
    "state",
    "symbol",
    "mid",
    "position",
    "unrealized_pnl",
    "realized_pnl",
    "open_orders",
    "last_error",
]


def render_rows(out: Output, rows: list[dict[str, Any]]) -> None:
    if out.json:
        out.document(rows)
        return
    if not rows and out.tty:
        out.write("no bots yet: create one with mmctl create NAME --account paper --symbol BTCUSDT")
        return
    notice = rows[0].get("notice") if rows else None
    if notice:
        print(f"note: {notice}", file=out.stream if out.tty else sys.stderr)
    out.table(ROW_COLUMNS, [[r.get(c) for c in ROW_COLUMNS] for r in rows])


def render_status(out: Output, doc: dict[str, Any]) -> None:
    if out.json:
        out.document(doc)
        return
    quotes = doc.get("quotes", {})
    pairs: list[tuple[str, Any]] = [
        ("name", doc["name"]),
        ("state", doc["state"]),
        ("account", doc["account"]),
        ("symbol", doc["symbol"]),
        ("strategy", doc["strategy"]),
        ("best bid / ask", f"{doc.get('best_bid') or '-'} / {doc.get('best_ask') or '-'}"),
        ("mid", doc.get("mid")),
        ("position", doc.get("position")),
        ("entry price", doc.get("entry_price")),
        ("unrealized pnl", doc.get("unrealized_pnl")),
        ("realized pnl", doc.get("realized_pnl")),
        ("fees paid", doc.get("fees_paid")),
        ("funding", doc.get("funding")),
        ("net pnl", doc.get("net_pnl")),
        ("fills", doc.get("fills")),
        (
            "quotes placed / amended / cancelled / rejected",
            f"{quotes.get('placed', 0)} / {quotes.get('amended', 0)} / {quotes.get('cancelled', 0)} / "
            f"{quotes.get('rejected', 0)}",
        ),
        ("wallet / available", f"{doc.get('wallet_balance', '-')} / {doc.get('available_balance', '-')}"),
        ("leverage", doc.get("leverage")),
        ("account position", doc.get("account_position")),
        ("uptime s", doc.get("uptime_s")),
        ("last tick age s", doc.get("last_tick_age_s")),
        ("last error", doc.get("last_error")),
    ]
    for key, label in (("pnl_since_start", "ledger pnl since start"), ("pnl_since", "ledger pnl since")):
        lines = doc.get(key)
        if lines:
            pairs.append((f"{label} {lines['since']}", ledger_lines(lines, doc.get("ledger_as_of"))))
    if doc.get("notice"):
        pairs.append(("notice", doc["notice"]))
    if doc.get("venue_error"):
        pairs.append(("venue", f"unreachable: {doc['venue_error']}"))
    left = doc.get("risk_stop_open")
    if left:
        pairs.append(("left open by risk stop", f"{left['position']} (notional {left['notional']})"))
    out.fields(pairs)
    orders = doc.get("orders", [])
    out.write()
    if not orders and out.tty:
        out.write("no open orders")
        return
    out.table(
        ["side", "level", "price", "qty", "age_s"],
        [[o["side"], o["level"], o["price"], o["qty"], o["age_s"]] for o in orders],
    )


def report_outcomes(out: Output, outcomes: list[dict[str, Any]]) -> None:
    """One row per bot of a batch command; exit 1 if any bot's action failed."""
    render_outcomes(out, outcomes)
    if any(not o.get("ok") for o in outcomes):
        raise typer.Exit(EXIT_FAILED)


def render_outcomes(out: Output, outcomes: list[dict[str, Any]]) -> None:
    if out.json:
        out.document(outcomes)
        return
    rows = []
    for o in outcomes:
        detail = o.get("error") or outcome_detail(o)
        rows.append([o.get("bot"), "ok" if o.get("ok") else "FAILED", o.get("state"), detail])
    out.table(["bot", "result", "state", "detail"], rows)


def outcome_detail(o: dict[str, Any]) -> str:
    """The detail column of a successful outcome: what was cancelled or flattened, and any note."""
    parts = []
    if "cancelled" in o:
        parts.append(f"{o['cancelled']} order(s) cancelled")
    flat = o.get("flatten")
    if isinstance(flat, dict):
        parts.append(
            f"flatten: closed {flat.get('closed')}" + (f" ({flat['note']})" if flat.get("note") else "")
        )
    if o.get("note"):
        parts.append(str(o["note"]))
    return "; ".join(parts)


def render_events(out: Output, events: list[dict[str, Any]], header: bool) -> None:
    if out.json:
        for e in events:
            out.write(json.dumps(e, separators=(",", ":")))
        return
    rows = [[e["ts"], e.get("bot") or "-", e["kind"], e["message"]] for e in events]
    if out.tty:
        for r in rows:
            out.write(f"{r[0]}  {r[1]:<20} {r[2]:<7} {r[3]}")
        return
    if header:
        out.write("time\tbot\tkind\tmessage")
    for r in rows:
        out.write("\t".join(str(v) for v in r))


def ledger_lines(lines: dict[str, Any], as_of: str | None) -> str:
    """`realized / commission / funding = net` of a `pnl_since*` document, with the ledger's time."""
    text = f"{lines['realized']} / {lines['commission']} / {lines['funding']} = net {lines['net']}"
    return f"{text} (realized / commission / funding; as of {as_of})" if as_of else text
