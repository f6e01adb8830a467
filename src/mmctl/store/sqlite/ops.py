"""The SQL behind each write operation, run by the writer thread inside its batch transaction.

`run(conn, ops)` executes one batch's operations and returns their results in order. Orders, fills,
income rows and events go to the batched handlers in `bulk` (each kind as one group, in queue order);
every other operation runs one at a time, in queue order, through `SINGLE`. `segments` cuts a batch at
`Prune` and `Vacuum`, which run on their own (`Vacuum` outside any transaction: `exclusive`).

Besides the port's writes (`mmctl.store.records`) there are the store's own operations, defined here:
`Flush` (a no-op: once it commits, so has everything queued before it), `MarkClean`, `ImportBots`,
`Prune` and `Vacuum`. Decimals are written as `str(d)`; nothing does arithmetic on money in SQL.

`PutPaperState` (a single operation) also inserts into `income`, which the `NewIncome` group writes too:
both insert a row only if its key is new, so their order within a batch does not matter.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from mmctl.store.records import (
    FINAL_ORDER_STATES,
    BotRecord,
    DeleteBot,
    DeletePaperState,
    NewEvent,
    NewFill,
    NewIncome,
    NewSnapshot,
    OrderSnapshot,
    OrderStatusChange,
    OrderSubmitting,
    PruneResult,
    PutBot,
    PutPaperState,
    SetDesiredState,
    SetMeta,
    Write,
    to_json,
)
from mmctl.store.sqlite import bulk
from mmctl.store.sqlite.ledger import amount_units

DAY_MS = 86_400_000
UPSERT_META = (
    "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"
)


# --- the store's own operations ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Flush(Write[None]):
    """A no-op: once it commits, everything queued before it has committed too."""


@dataclass(frozen=True, slots=True)
class MarkClean(Write[None]):
    """Record a clean shutdown (the last write of a run)."""

    ts_ms: int


@dataclass(frozen=True, slots=True)
class ImportBots(Write[int]):
    """Import legacy definitions once: bots not yet stored are added; the import is noted in meta."""

    records: tuple[BotRecord, ...]
    ts_ms: int


@dataclass(frozen=True, slots=True)
class Prune(Write[PruneResult]):
    """Delete events older than `cutoff_ms`, and finished orders (with their status changes) created and
    last updated before it."""

    cutoff_ms: int


@dataclass(frozen=True, slots=True)
class Vacuum(Write[None]):
    """Rebuild the file to reclaim free pages (runs alone, outside any transaction)."""


# --- handlers -----------------------------------------------------------------------------------------


def _history(c: sqlite3.Connection, bot: str, ts_ms: int, params_json: str) -> None:
    c.execute(
        "INSERT INTO bot_params_history (bot, ts_ms, params) VALUES (?, ?, ?)", (bot, ts_ms, params_json)
    )


def _put_bot(c: sqlite3.Connection, op: PutBot) -> None:
    b = op.record
    row = c.execute("SELECT params FROM bots WHERE name = ?", (b.name,)).fetchone()
    if row is None:
        c.execute(
            "INSERT INTO bots (name, account, symbol, strategy, params, desired_state, created_ms, "
            "updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (b.name, b.account, b.symbol, b.strategy, op.params_json, b.desired_state.value, b.created_ms,
             b.updated_ms),
        )  # fmt: skip
        _history(c, b.name, b.updated_ms, op.params_json)
        return
    c.execute(
        "UPDATE bots SET account = ?, symbol = ?, strategy = ?, params = ?, updated_ms = ? WHERE name = ?",
        (b.account, b.symbol, b.strategy, op.params_json, b.updated_ms, b.name),
    )
    if row[0] != op.params_json:
        _history(c, b.name, b.updated_ms, op.params_json)


def _delete_bot(c: sqlite3.Connection, op: DeleteBot) -> bool:
    return c.execute("DELETE FROM bots WHERE name = ?", (op.name,)).rowcount == 1


def _set_desired_state(c: sqlite3.Connection, op: SetDesiredState) -> bool:
    cur = c.execute(
        "UPDATE bots SET desired_state = ?, updated_ms = ? WHERE name = ?",
        (op.state.value, op.ts_ms, op.name),
    )
    return cur.rowcount == 1


def _new_snapshot(c: sqlite3.Connection, op: NewSnapshot) -> None:
    s = op.snapshot
    c.execute(
        "INSERT INTO equity_snapshots (ts_ms, account, bot, wallet, equity, unrealized_pnl, realized_pnl, "
        "fees, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, bot, ts_ms) DO UPDATE SET "
        "wallet = excluded.wallet, equity = excluded.equity, unrealized_pnl = excluded.unrealized_pnl, "
        "realized_pnl = excluded.realized_pnl, fees = excluded.fees, data = excluded.data",
        (s.ts_ms, s.account, s.bot, str(s.wallet), str(s.equity), str(s.unrealized_pnl),
         str(s.realized_pnl), str(s.fees), op.data_json),
    )  # fmt: skip


PAPER_ORDERS_KEPT = 20_000  # closed paper orders kept per account, by id (the venue remembers 10,000)


def _put_paper_state(c: sqlite3.Connection, op: PutPaperState) -> None:
    """The venue's new income rows (once each: the daemon may record the same rows from `income()`),
    trades and closed orders, then its compact state."""
    if op.income:
        c.executemany(
            "INSERT INTO income (account, income_type, tran_id, symbol, asset, amount, amount_units, ts_ms, "
            "trade_id, info, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '{}', ?) "
            "ON CONFLICT (account, income_type, tran_id) DO NOTHING",
            [(op.account, r.venue_type, r.id, r.symbol, r.asset, str(r.amount), amount_units(r.amount),
              r.ts_ms, r.trade_id, r.type.value)
             for r in op.income],
        )  # fmt: skip
    if op.trades:
        c.executemany(
            "INSERT INTO paper_trades (account, seq, epoch, trade_id, symbol, order_id, client_order_id, "
            "side, price, qty, fee, fee_asset, maker, realized_pnl, ts_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, seq) DO NOTHING",
            [(op.account, int(f.trade_id), op.epoch, f.trade_id, f.symbol, f.order_id, f.client_order_id,
              f.side.value, str(f.price), str(f.qty), str(f.fee), f.fee_asset, int(f.maker),
              str(f.realized_pnl), f.ts_ms)
             for f in op.trades],
        )  # fmt: skip
    if op.closed_orders:
        c.executemany(
            "INSERT INTO paper_orders (account, seq, epoch, client_order_id, symbol, data) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, seq) DO UPDATE SET data = excluded.data",
            [(op.account, o.seq, op.epoch, o.client_order_id, o.symbol, o.data) for o in op.closed_orders],
        )
        newest = max(o.seq for o in op.closed_orders)
        c.execute(
            "DELETE FROM paper_orders WHERE account = ? AND seq <= ?",
            (op.account, newest - PAPER_ORDERS_KEPT),
        )
    c.execute(
        "INSERT INTO paper_state (account, state, updated_ms) VALUES (?, ?, ?) ON CONFLICT (account) "
        "DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms",
        (op.account, op.state, op.ts_ms),
    )


def _delete_paper_state(c: sqlite3.Connection, op: DeletePaperState) -> bool:
    return c.execute("DELETE FROM paper_state WHERE account = ?", (op.account,)).rowcount == 1


def _set_meta(c: sqlite3.Connection, op: SetMeta) -> None:
    c.execute(UPSERT_META, (op.key, op.value))


def _flush(c: sqlite3.Connection, op: Flush) -> None:
    return None


def _mark_clean(c: sqlite3.Connection, op: MarkClean) -> None:
    c.executemany(UPSERT_META, [("clean_shutdown", "1"), ("closed_ms", str(op.ts_ms))])


def _import_bots(c: sqlite3.Connection, op: ImportBots) -> int:
    if c.execute("SELECT 1 FROM meta WHERE key = 'imported_toml'").fetchone() is not None:
        return 0
    count = 0
    for record in op.records:
        if c.execute("SELECT 1 FROM bots WHERE name = ?", (record.name,)).fetchone() is None:
            _put_bot(c, PutBot(record))
            count += 1
    c.execute(UPSERT_META, ("imported_toml", to_json({"ts_ms": op.ts_ms, "count": count}, "meta")))
    return count


def _prune(c: sqlite3.Connection, op: Prune) -> PruneResult:
    events = c.execute("DELETE FROM events WHERE ts_ms < ?", (op.cutoff_ms,)).rowcount
    marks = ", ".join("?" * len(FINAL_ORDER_STATES))
    old_orders = (
        f"SELECT client_order_id FROM orders WHERE created_ms < ? AND updated_ms < ? AND status IN ({marks})"
    )
    params = (op.cutoff_ms, op.cutoff_ms, *FINAL_ORDER_STATES)
    changes = c.execute(
        f"SELECT count(*) FROM order_status_changes WHERE client_order_id IN ({old_orders})", params
    ).fetchone()[0]
    orders = c.execute(f"DELETE FROM orders WHERE client_order_id IN ({old_orders})", params).rowcount
    return PruneResult(events=events, order_changes=changes, orders=orders)  # changes go by cascade


def _vacuum(c: sqlite3.Connection, op: Vacuum) -> None:
    c.execute("VACUUM")


SINGLE: dict[type[Write[Any]], Callable[[sqlite3.Connection, Any], Any]] = {
    PutBot: _put_bot,
    DeleteBot: _delete_bot,
    SetDesiredState: _set_desired_state,
    NewSnapshot: _new_snapshot,
    SetMeta: _set_meta,
    PutPaperState: _put_paper_state,
    DeletePaperState: _delete_paper_state,
    Flush: _flush,
    MarkClean: _mark_clean,
    ImportBots: _import_bots,
    Prune: _prune,
    Vacuum: _vacuum,
}
BULK: dict[type[Write[Any]], Callable[[sqlite3.Connection, Any], list[Any]]] = {
    NewFill: bulk.fills,
    NewIncome: bulk.income,
    NewEvent: bulk.events,
    OrderSubmitting: bulk.orders,
    OrderSnapshot: bulk.orders,
    OrderStatusChange: bulk.orders,
}
KNOWN = frozenset(SINGLE) | frozenset(BULK)


def _singles(conn: sqlite3.Connection, ops: Sequence[Write[Any]]) -> list[Any]:
    return [SINGLE[type(op)](conn, op) for op in ops]


def segments(ops: Sequence[Write[Any]]) -> Iterator[tuple[list[Write[Any]], bool]]:
    """Cut a batch into runs of ordinary operations and lone `Prune`/`Vacuum`; yields (ops, exclusive)."""
    pending: list[Write[Any]] = []
    for op in ops:
        if isinstance(op, Prune | Vacuum):
            if pending:
                yield pending, False
                pending = []
            yield [op], isinstance(op, Vacuum)
        else:
            pending.append(op)
    if pending:
        yield pending, False


def run(conn: sqlite3.Connection, ops: Sequence[Write[Any]]) -> list[Any]:
    """Execute `ops` (one segment) and return their results in order.

    Each bulk kind runs as one group and the other operations as another, each group in queue order;
    groups are independent (no operation of one group reads what another group writes).
    """
    groups: dict[Callable[[sqlite3.Connection, Any], list[Any]], list[int]] = {}
    for i, op in enumerate(ops):
        groups.setdefault(BULK.get(type(op), _singles), []).append(i)
    results: list[Any] = [None] * len(ops)
    for handler, indexes in groups.items():
        for i, result in zip(indexes, handler(conn, [ops[i] for i in indexes]), strict=True):
            results[i] = result
    return results


def heartbeat(conn: sqlite3.Connection, now_ms: int) -> None:
    """Note the time of this commit: after a crash it tells when the last run was last seen alive."""
    conn.execute(UPSERT_META, ("last_commit_ms", str(now_ms)))
