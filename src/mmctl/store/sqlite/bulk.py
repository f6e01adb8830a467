"""Batched SQL for the high-volume writes: orders, fills, income rows and events.

The writer gives each function here every operation of its kind from one batch, in queue order, and
gets one result per operation. A batch costs a handful of statements whatever its size: one query for
the rows that already exist (folded into a single JSON row), then multi-row INSERTs. Why it matters:
the sqlite3 module releases the GIL around every statement step, and while the event loop is busy each
re-acquisition waits for it, so one statement per row made the writer several times slower under load
(bench/store_write.py). Multi-row statements use a few fixed sizes (powers of two) so that they stay in
the connection's statement cache.

Orders are simulated in Python: the touched orders are loaded, every operation is applied in order to
that copy (the same rules as one at a time), and the result is written back with one multi-row upsert
plus the status changes.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from mmctl.store.records import (
    FINAL_ORDER_STATES,
    OPEN_ORDER_STATES,
    SUBMITTING,
    NewEvent,
    NewFill,
    NewIncome,
    OrderSnapshot,
    OrderStatusChange,
    OrderSubmitting,
)
from mmctl.store.sqlite.ledger import amount_units

OrderOp = OrderSubmitting | OrderSnapshot | OrderStatusChange
MAX_ROWS = 256  # rows per statement at most (fewer if the variable limit requires)

ORDER_COLUMNS = (
    "client_order_id", "bot", "account", "symbol", "side", "type", "price", "qty", "filled", "avg_price",
    "venue_order_id", "status", "post_only", "reduce_only", "created_ms", "updated_ms",
)  # fmt: skip
_ORDER_MUTABLE = ("venue_order_id", "price", "qty", "filled", "avg_price", "status", "updated_ms")
_FILL_COLUMNS = (
    "account, symbol, trade_id, bot, order_id, client_order_id, side, price, qty, fee, fee_asset, maker, "
    "realized_pnl, ts_ms"
)
# income_type: the venue's own type (`IncomeRow.venue_type`); kind: mmctl's (`IncomeRow.type`)
_INCOME_COLUMNS = (
    "account, income_type, tran_id, symbol, asset, amount, amount_units, ts_ms, trade_id, info, kind"
)
_EVENT_COLUMNS = "ts_ms, bot, kind, message, data, uid, user"
_EVENT_WIDTH = 7


# --- multi-row statements -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _values(width: int, rows: int) -> str:
    row = f"({', '.join('?' * width)})"
    return ", ".join([row] * rows)


def _sizes(conn: sqlite3.Connection, width: int, total: int) -> list[int]:
    """Split `total` rows into powers of two no larger than the statement limit allows."""
    limit = min(MAX_ROWS, max(1, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))
    largest = 1 << (limit.bit_length() - 1)
    sizes = []
    while total:
        size = min(largest, 1 << (total.bit_length() - 1))
        sizes.append(size)
        total -= size
    return sizes


def insert_rows(conn: sqlite3.Connection, head: str, rows: Sequence[tuple[Any, ...]], tail: str = "") -> int:
    """Run `head VALUES (...), (...) tail` over `rows` in a few statements; returns the rows changed."""
    if not rows:
        return 0
    width, changed, start = len(rows[0]), 0, 0
    for size in _sizes(conn, width, len(rows)):
        params = [value for row in rows[start : start + size] for value in row]
        changed += conn.execute(f"{head} VALUES {_values(width, size)}{tail}", params).rowcount
        start += size
    return changed


def select_json(conn: sqlite3.Connection, sql: str, keys: Sequence[tuple[Any, ...]]) -> list[Any]:
    """Run `sql` (a `SELECT json_group_array(...)` with `{keys}` where a VALUES list goes) over `keys`;
    returns the concatenated JSON arrays (one row per statement, so one step each)."""
    out: list[Any] = []
    if not keys:
        return out
    width, start = len(keys[0]), 0
    for size in _sizes(conn, width, len(keys)):
        params = [value for key in keys[start : start + size] for value in key]
        out.extend(json.loads(conn.execute(sql.format(keys=_values(width, size)), params).fetchone()[0]))
        start += size
    return out


# --- fills, income, events ----------------------------------------------------------------------------


def _new_keys(conn: sqlite3.Connection, sql: str, keys: list[tuple[str, str, str]]) -> list[bool]:
    """For each key in order: True the first time it is seen in neither the table nor this batch."""
    seen = {tuple(row) for row in select_json(conn, sql, list(dict.fromkeys(keys)))}
    out = []
    for key in keys:
        out.append(key not in seen)
        seen.add(key)
    return out


def fills(conn: sqlite3.Connection, ops: Sequence[NewFill]) -> list[bool]:
    keys = [(op.account, op.fill.symbol, op.fill.trade_id) for op in ops]
    new = _new_keys(
        conn,
        "SELECT json_group_array(json_array(f.account, f.symbol, f.trade_id)) FROM (VALUES {keys}) AS k "
        "CROSS JOIN fills AS f ON f.account = k.column1 AND f.symbol = k.column2 AND f.trade_id = k.column3",
        keys,
    )
    rows = [
        (
            op.account, f.symbol, f.trade_id, op.bot, f.order_id, f.client_order_id, f.side.value,
            str(f.price), str(f.qty), str(f.fee), f.fee_asset, int(f.maker), str(f.realized_pnl), f.ts_ms,
        )
        for op, is_new in zip(ops, new, strict=True)
        if is_new
        for f in (op.fill,)
    ]  # fmt: skip
    insert_rows(conn, f"INSERT INTO fills ({_FILL_COLUMNS})", rows)
    return new


def income(conn: sqlite3.Connection, ops: Sequence[NewIncome]) -> list[bool]:
    keys = [(op.account, op.row.venue_type, op.row.id) for op in ops]
    new = _new_keys(
        conn,
        "SELECT json_group_array(json_array(i.account, i.income_type, i.tran_id)) FROM (VALUES {keys}) AS k "
        "CROSS JOIN income AS i ON i.account = k.column1 AND i.income_type = k.column2 "
        "AND i.tran_id = k.column3",
        keys,
    )
    new = [is_new and not _recorded_folded(conn, op) for op, is_new in zip(ops, new, strict=True)]
    rows = [
        (
            op.account,
            r.venue_type,
            r.id,
            r.symbol,
            r.asset,
            str(r.amount),
            amount_units(r.amount),
            r.ts_ms,
            r.trade_id,
            op.info_json,
            r.type.value,
        )
        for op, is_new in zip(ops, new, strict=True)
        if is_new
        for r in (op.row,)
    ]
    insert_rows(conn, f"INSERT INTO income ({_INCOME_COLUMNS})", rows)
    return new


def _recorded_folded(conn: sqlite3.Connection, op: NewIncome) -> bool:
    """True if a row of a type mmctl folds (`venue_type` other than its `type`, e.g. INSURANCE_CLEAR as
    REALIZED_PNL) was recorded before schema v4 under its folded type: the same account, folded type,
    id, time and amount in a row without `kind` (schema.V4). Such rows are rare: one indexed query each."""
    r = op.row
    if r.venue_type == r.type.value:
        return False
    found = conn.execute(
        "SELECT 1 FROM income WHERE account = ? AND income_type = ? AND tran_id = ? AND kind IS NULL "
        "AND ts_ms = ? AND amount = ?",
        (op.account, r.type.value, r.id, r.ts_ms, str(r.amount)),
    ).fetchone()
    return found is not None


def events(conn: sqlite3.Connection, ops: Sequence[NewEvent]) -> list[int]:
    """Append events in order; each gets its requested `seq` if free, else the next one."""
    seqs: list[int] = []
    auto: list[NewEvent] = []  # a run of events taking the next seqs, inserted together
    for op in ops:
        if op.seq is None:
            auto.append(op)
            continue
        seqs.extend(_append(conn, auto))
        auto = []
        seqs.append(op.seq if _event_at(conn, op) else _append(conn, [op])[0])
    seqs.extend(_append(conn, auto))
    return seqs


def _append(conn: sqlite3.Connection, ops: Sequence[NewEvent]) -> list[int]:
    """Insert events at the next seqs. One statement inserts its rows in order with consecutive seqs
    (AUTOINCREMENT, and this is the only writer), so they follow from the last row's seq."""
    rows = [(o.ts_ms, o.bot, o.kind, o.message, o.data_json, o.uid, o.user) for o in ops]
    seqs: list[int] = []
    start = 0
    for size in _sizes(conn, _EVENT_WIDTH, len(rows)):
        params = [value for row in rows[start : start + size] for value in row]
        cur = conn.execute(
            f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES {_values(_EVENT_WIDTH, size)}", params
        )
        assert cur.lastrowid is not None
        seqs.extend(range(cur.lastrowid - size + 1, cur.lastrowid + 1))
        start += size
    return seqs


def _event_at(conn: sqlite3.Connection, op: NewEvent) -> bool:
    cur = conn.execute(
        f"INSERT INTO events (seq, {_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (seq) DO NOTHING",
        (op.seq, op.ts_ms, op.bot, op.kind, op.message, op.data_json, op.uid, op.user),
    )
    return cur.rowcount == 1


# --- orders -------------------------------------------------------------------------------------------


def _allowed(old: str, new: str) -> bool:
    """A final status is never replaced by an open one (a late ack must not resurrect a filled order)."""
    return not (old in FINAL_ORDER_STATES and new in OPEN_ORDER_STATES)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class _Orders:
    """The touched orders as column dicts, the operations applied to them in order, and what to write."""

    def __init__(self, conn: sqlite3.Connection, ids: list[str]) -> None:
        sql = (
            f"SELECT json_group_array(json_array({', '.join('o.' + c for c in ORDER_COLUMNS)})) "
            "FROM (VALUES {keys}) AS k CROSS JOIN orders AS o ON o.client_order_id = k.column1"
        )
        loaded = select_json(conn, sql, [(i,) for i in dict.fromkeys(ids)])
        self.rows: dict[str, dict[str, Any]] = {
            r[0]: dict(zip(ORDER_COLUMNS, r, strict=True)) for r in loaded
        }
        self.touched: dict[str, None] = {}
        self.changes: list[tuple[str, str, int, str]] = []

    def _set_status(self, row: dict[str, Any], status: str, ts_ms: int, detail: str) -> None:
        row["status"] = status
        self.changes.append((row["client_order_id"], status, ts_ms, detail))

    def submitting(self, op: OrderSubmitting) -> bool:
        q = op.request
        if q.client_order_id in self.rows:
            return False
        row = dict(zip(ORDER_COLUMNS, (
            q.client_order_id, op.bot, op.account, q.symbol, q.side.value, q.type.value, _text(q.price),
            str(q.qty), "0", None, None, SUBMITTING, int(q.post_only), int(q.reduce_only), op.ts_ms, op.ts_ms,
        ), strict=True))  # fmt: skip
        self.rows[q.client_order_id] = row
        self.touched[q.client_order_id] = None
        self.changes.append((q.client_order_id, SUBMITTING, op.ts_ms, ""))
        return True

    def snapshot(self, op: OrderSnapshot) -> bool:
        o = op.order
        row = self.rows.get(o.client_order_id)
        self.touched[o.client_order_id] = None
        if row is None:
            self.rows[o.client_order_id] = dict(zip(ORDER_COLUMNS, (
                o.client_order_id, op.bot, op.account, o.symbol, o.side.value, o.type.value, _text(o.price),
                str(o.qty), str(o.filled), _text(o.avg_price), o.id, o.status.value, int(o.post_only),
                int(o.reduce_only), o.created_ms, o.updated_ms,
            ), strict=True))  # fmt: skip
            self.changes.append((o.client_order_id, o.status.value, o.updated_ms, op.detail))
            return True
        if not _allowed(row["status"], o.status.value):  # stale: keep the final state, learn the venue id
            row["venue_order_id"] = row["venue_order_id"] or o.id
            return False
        old_filled = Decimal(row["filled"])
        row.update(
            venue_order_id=o.id,
            price=_text(o.price),
            qty=str(o.qty),
            filled=str(o.filled if o.filled >= old_filled else old_filled),
            avg_price=_text(o.avg_price),
            updated_ms=max(row["updated_ms"], o.updated_ms),
        )
        if row["status"] == o.status.value:
            return False
        self._set_status(row, o.status.value, o.updated_ms, op.detail)
        return True

    def status_change(self, op: OrderStatusChange) -> bool:
        row = self.rows.get(op.client_order_id)
        if row is None or row["status"] == op.status or not _allowed(row["status"], op.status):
            return False
        self.touched[op.client_order_id] = None
        row["updated_ms"] = max(row["updated_ms"], op.ts_ms)
        self._set_status(row, op.status, op.ts_ms, op.detail)
        return True

    def write(self, conn: sqlite3.Connection) -> None:
        rows = [tuple(self.rows[i][c] for c in ORDER_COLUMNS) for i in self.touched]
        update = ", ".join(f"{c} = excluded.{c}" for c in _ORDER_MUTABLE)
        insert_rows(
            conn,
            f"INSERT INTO orders ({', '.join(ORDER_COLUMNS)})",
            rows,
            f" ON CONFLICT (client_order_id) DO UPDATE SET {update}",
        )
        insert_rows(
            conn, "INSERT INTO order_status_changes (client_order_id, status, ts_ms, detail)", self.changes
        )


def orders(conn: sqlite3.Connection, ops: Sequence[OrderOp]) -> list[bool]:
    """Apply order operations in order; each result says whether the order was new or changed status."""
    state = _Orders(conn, [_client_id(op) for op in ops])
    results = []
    for op in ops:
        if isinstance(op, OrderSubmitting):
            results.append(state.submitting(op))
        elif isinstance(op, OrderSnapshot):
            results.append(state.snapshot(op))
        else:
            results.append(state.status_change(op))
    state.write(conn)
    return results


def _client_id(op: OrderOp) -> str:
    if isinstance(op, OrderSubmitting):
        return op.request.client_order_id
    return op.order.client_order_id if isinstance(op, OrderSnapshot) else op.client_order_id
