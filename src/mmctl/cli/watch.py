"""`mmctl status [NAME] --watch`: a live view that fits the terminal, or plain snapshots.

On a terminal (and `TERM` not `dumb`) the view draws on the alternate screen, so nothing reaches the
scrollback, and each frame fits the terminal's current width and height: every row is cut to the width
(never wrapped), columns are dropped by priority when they do not fit, and bots beyond the height are
summarized on the last line. The header (time, daemon state, totals) is always the first lines; the
detail of one bot starts with its name and state. Numbers are right-aligned. When the daemon goes away
the header says "reconnecting" over the last data and the view carries on when it is back. Ctrl-C
restores the screen and exits 0.

Otherwise (piped, `TERM=dumb`, `--json`, `--output`) it prints a plain snapshot per interval: the
usual rendering after a time line, or one compact JSON document per line with `--json`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from mmctl.cli.context import Globals
from mmctl.cli.output import Output, cell, fail
from mmctl.cli.render import render_rows, render_status
from mmctl.errors import DaemonUnreachable, MmctlError, ShuttingDown, Timeout
from mmctl.rpc import protocol as proto
from mmctl.rpc.protocol import to_jsonable

RECONNECT = (DaemonUnreachable, Timeout, ShuttingDown)
"""Errors after which the view waits for the daemon instead of failing."""

ENTER, LEAVE = "\x1b[?1049h\x1b[?25l", "\x1b[?25h\x1b[?1049l"  # alternate screen, cursor hidden/shown


@dataclass(frozen=True, slots=True)
class Column:
    """A list column: header, document key, priority (lower is kept longer), width, numeric."""

    title: str
    key: str
    priority: int
    width: int
    numeric: bool = False


COLUMNS = (
    Column("NAME", "name", 0, 20),
    Column("STATE", "state", 1, 8),
    Column("SYMBOL", "symbol", 2, 13),
    Column("POSITION", "position", 3, 10, numeric=True),
    Column("UNREAL", "unrealized_pnl", 4, 10, numeric=True),
    Column("ORDERS", "open_orders", 5, 6, numeric=True),
    Column("REALIZED", "realized_pnl", 6, 10, numeric=True),
    Column("MID", "mid", 7, 11, numeric=True),
)
ERROR_COLUMN = Column("LAST ERROR", "last_error", 8, 0)  # takes whatever width is left
MIN_ERROR_WIDTH = 12


def full_screen(out: Output) -> bool:
    """Draw the full-screen view: stdout is a terminal that is not `dumb`, and no format is forced."""
    return out.terminal and out.fmt is None and not out.json and os.environ.get("TERM", "") != "dumb"


def watch(g: Globals, out: Output, name: str | None, interval: float) -> None:
    """Run the view until Ctrl-C."""
    fetch = _fetcher(g, name)
    if full_screen(out):
        _screen(out, name, interval, fetch)
    else:
        _snapshots(out, name, interval, fetch)


def _fetcher(g: Globals, name: str | None) -> Callable[[], Any]:
    """A call that fetches the view's document, keeping one connection while the daemon stays up."""
    from mmctl.rpc.client import Client

    held: list[Client] = []

    def fetch() -> Any:
        try:
            if not held:
                choice = g.socket_choice()
                held.append(Client(choice.path, timeout_s=min(g.timeout_s, 5.0), origin=choice.origin))
            if name is None:
                return held[0].call(proto.BOT_LIST)
            return held[0].call(proto.BOT_STATUS, {"name": name})
        except RECONNECT:
            for client in held:
                client.close()
            held.clear()
            raise

    return fetch


def _snapshots(out: Output, name: str | None, interval: float, fetch: Callable[[], Any]) -> None:
    away = False
    try:
        while True:
            try:
                doc = fetch()
            except RECONNECT as e:
                if not away:
                    sys.stderr.write(f"mmctl: {e.message}; reconnecting (Ctrl-C to stop)\n")
                away = True
                time.sleep(interval)
                continue
            except MmctlError as e:
                fail(e, out)
            if away:
                sys.stderr.write("mmctl: reconnected\n")
                away = False
            if out.json:
                out.write(json.dumps(doc, separators=(",", ":"), default=to_jsonable, ensure_ascii=False))
            else:
                out.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')}")
                render_rows(out, doc) if name is None else render_status(out, doc)
                out.write()
            out.stream.flush()
            time.sleep(interval)
    except KeyboardInterrupt:
        return


def _screen(out: Output, name: str | None, interval: float, fetch: Callable[[], Any]) -> None:
    stream = out.stream
    stream.write(ENTER)
    last: Any = None
    state = "connecting"
    try:
        while True:
            try:
                last, state = fetch(), "up"
            except RECONNECT as e:
                state = f"reconnecting ({e.message})"
            except MmctlError as e:
                state = f"error: {e.message}"
            size = shutil.get_terminal_size()
            lines = frame(name, last, state, size.columns, size.lines, time.strftime("%H:%M:%S"))
            stream.write(paint(lines, size.lines))
            stream.flush()
            time.sleep(interval)
    except KeyboardInterrupt:
        return
    finally:
        stream.write(LEAVE)
        stream.flush()


def paint(lines: list[str], height: int) -> str:
    """Escape sequences drawing `lines` from the top: each row cleared then written (never past the
    last column, so nothing wraps), the rows below cleared."""
    parts = [f"\x1b[{i};1H\x1b[2K{line}" for i, line in enumerate(lines[:height], start=1)]
    if len(lines) < height:
        parts.append(f"\x1b[{len(lines) + 1};1H\x1b[J")
    return "".join(parts)


def frame(name: str | None, doc: Any, state: str, width: int, height: int, clock: str) -> list[str]:
    """The view's rows, each at most `width` characters, at most `height` of them."""
    width, height = max(width, 10), max(height, 2)
    if name is None:
        rows = doc if isinstance(doc, list) else []
        body = _list_lines(rows, width, height - 2)
        header = [_fit(f"mmctl {clock}  daemon: {state}", width), _fit(_totals(rows), width)]
    else:
        header = [_fit(f"mmctl {clock}  daemon: {state}", width)]
        body = _detail_lines(name, doc if isinstance(doc, dict) else None, width, height - 1)
    return [*header, *body][:height]


def _fit(text: str, width: int) -> str:
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text if len(text) <= width else text[: width - 1] + "…"


def _totals(rows: list[dict[str, Any]]) -> str:
    states: dict[str, int] = {}
    for r in rows:
        states[str(r.get("state"))] = states.get(str(r.get("state")), 0) + 1
    counts = ", ".join(f"{n} {s}" for s, n in sorted(states.items(), key=lambda kv: -kv[1]))
    orders = sum(int(r.get("open_orders") or 0) for r in rows)
    unreal, real = _sum(rows, "unrealized_pnl"), _sum(rows, "realized_pnl")
    return f"bots: {len(rows)} ({counts or 'none'})  orders: {orders}  unrealized: {unreal}  realized: {real}"


def _sum(rows: list[dict[str, Any]], key: str) -> str:
    total = Decimal(0)
    for r in rows:
        try:
            total += Decimal(str(r.get(key) or 0))
        except InvalidOperation:
            continue
    return cell(total.normalize() if total else Decimal(0))


def choose_columns(width: int) -> tuple[list[Column], int]:
    """The columns that fit `width` (dropped from the lowest priority), and the width left for the last
    error (0: no room for it)."""
    kept = sorted(COLUMNS, key=lambda c: c.priority)
    while kept and sum(c.width for c in kept) + 2 * (len(kept) - 1) > width:
        kept.pop()
    used = sum(c.width for c in kept) + 2 * len(kept)
    left = width - used
    kept.sort(key=lambda c: COLUMNS.index(c))
    return kept, left if left >= MIN_ERROR_WIDTH else 0


def _list_lines(rows: list[dict[str, Any]], width: int, room: int) -> list[str]:
    if room <= 0:
        return []
    if not rows:
        return [_fit("no bots yet: mmctl create NAME --account paper --symbol BTCUSDT", width)]
    columns, error_width = choose_columns(width)
    head = "  ".join(_align(c.title, c.width, c.numeric) for c in columns)
    if error_width:
        head += "  " + ERROR_COLUMN.title
    lines = [_fit(head, width)]
    shown = rows if len(rows) <= room - 1 else rows[: max(0, room - 2)]
    for r in shown:
        text = "  ".join(_align(_short(cell(r.get(c.key)), c.width), c.width, c.numeric) for c in columns)
        if error_width and r.get("last_error"):
            text += "  " + str(r.get("last_error"))
        lines.append(_fit(text, width))
    if len(shown) < len(rows):
        lines.append(_fit(f"… {len(rows) - len(shown)} more bot(s): a taller terminal shows them", width))
    return lines[:room]


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _align(text: str, width: int, numeric: bool) -> str:
    return text.rjust(width) if numeric else text.ljust(width)


DETAIL_FIELDS = (
    ("account", "account"),
    ("symbol", "symbol"),
    ("mid", "mid"),
    ("position", "position"),
    ("unrealized pnl", "unrealized_pnl"),
    ("realized pnl", "realized_pnl"),
    ("net pnl", "net_pnl"),
    ("fills", "fills"),
    ("leverage", "leverage"),
    ("last error", "last_error"),
)


def _detail_lines(name: str, doc: dict[str, Any] | None, width: int, room: int) -> list[str]:
    if room <= 0:
        return []
    if doc is None:
        return [_fit(f"{name}  (no status yet)", width)]
    lines = [_fit(f"{doc.get('name', name)}  {str(doc.get('state', '?')).upper()}", width)]
    values = [(label, cell(doc.get(key))) for label, key in DETAIL_FIELDS]
    number_width = max(len(v) for _, v in values)
    for label, value in values:
        lines.append(_fit(f"{label + ':':<16}{value.rjust(number_width)}", width))
    orders = doc.get("orders") or []
    lines.append("")
    lines.append(_fit(f"{'SIDE':<5} {'LVL':>3} {'PRICE':>14} {'QTY':>12} {'AGE S':>7}", width))
    for o in orders:
        row = f"{o['side']:<5} {o['level']:>3} {o['price']:>14} {o['qty']:>12} {cell(o.get('age_s')):>7}"
        lines.append(_fit(row, width))
    if len(lines) > room:
        hidden = len(lines) - room + 1
        lines = [*lines[: room - 1], _fit(f"… {hidden} more line(s)", width)]
    return lines
