"""The database schema as numbered migrations, and the code that applies them.

`PRAGMA user_version` holds the schema version; `MIGRATIONS[i]` takes a database from version i to i+1.
Migrations are append-only: never edit a released one, add the next (and a fixture database for the
version it leaves, made by tests/store/fixtures/make_fixtures.py). A migration is SQL text (statements
separated by `;`) or a function of the connection, for changes SQL alone cannot express. All pending
migrations run in the caller's transaction with foreign keys off (SQLite's table-rebuild recipe needs
that); `PRAGMA foreign_key_check` must then report nothing before the version is bumped.

`PRAGMA application_id` marks the file as mmctl's, so another program's SQLite file is never migrated.
Money and quantity columns are TEXT holding exact decimal strings: never REAL, never summed in SQL.

Indexes and CHECKs are few on purpose: each one costs every insert (bench/store_write.py). The JSON
columns of high-volume tables are written by `json.dumps` only, so they carry no `json_valid` check;
events by kind scan backwards by seq; order status changes are pruned with their order (ON DELETE
CASCADE); `orders_open` is partial, so an order leaves it when it ends.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mmctl.store.records import OPEN_ORDER_STATES
from mmctl.store.sqlite.ledger import migrate_v3

APPLICATION_ID = 0x6D6D6374  # "mmct"
# The partial index `orders_open` and the queries that use it must spell this condition identically.
OPEN_ORDERS_SQL = f"status IN ({', '.join(repr(s) for s in OPEN_ORDER_STATES)})"


@dataclass(frozen=True, slots=True)
class Migration:
    """Takes the schema from `version - 1` to `version`."""

    version: int
    summary: str
    apply: str | Callable[[sqlite3.Connection], None]


V1 = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE bots (
    name TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    symbol TEXT NOT NULL,
    strategy TEXT NOT NULL,
    params TEXT NOT NULL CHECK (json_valid(params)),
    desired_state TEXT NOT NULL CHECK (desired_state IN ('running', 'paused', 'stopped')),
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);

CREATE TABLE bot_params_history (
    id INTEGER PRIMARY KEY,
    bot TEXT NOT NULL REFERENCES bots(name) ON DELETE CASCADE,
    ts_ms INTEGER NOT NULL,
    params TEXT NOT NULL CHECK (json_valid(params))
);
CREATE INDEX bot_params_history_bot ON bot_params_history(bot, id);

CREATE TABLE orders (
    client_order_id TEXT PRIMARY KEY,
    bot TEXT,
    account TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    type TEXT NOT NULL,
    price TEXT,
    qty TEXT NOT NULL,
    filled TEXT NOT NULL,
    avg_price TEXT,
    venue_order_id TEXT,
    status TEXT NOT NULL,
    post_only INTEGER NOT NULL,
    reduce_only INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX orders_bot ON orders(bot, created_ms);
CREATE INDEX orders_created ON orders(created_ms);
CREATE INDEX orders_open ON orders(account) WHERE status IN ('submitting', 'new', 'partially_filled');

CREATE TABLE order_status_changes (
    id INTEGER PRIMARY KEY,
    client_order_id TEXT NOT NULL REFERENCES orders(client_order_id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX order_status_changes_order ON order_status_changes(client_order_id, id);

CREATE TABLE fills (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    symbol TEXT NOT NULL,
    trade_id TEXT NOT NULL,
    bot TEXT,
    order_id TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    price TEXT NOT NULL,
    qty TEXT NOT NULL,
    fee TEXT NOT NULL,
    fee_asset TEXT NOT NULL,
    maker INTEGER NOT NULL,
    realized_pnl TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    UNIQUE (account, symbol, trade_id)
);
CREATE INDEX fills_bot ON fills(bot, ts_ms);
CREATE INDEX fills_account ON fills(account, symbol, ts_ms);

CREATE TABLE income (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    income_type TEXT NOT NULL,
    tran_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    asset TEXT NOT NULL,
    amount TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    trade_id TEXT,
    info TEXT NOT NULL,
    UNIQUE (account, income_type, tran_id)
);
CREATE INDEX income_account_ts ON income(account, ts_ms);

CREATE TABLE equity_snapshots (
    id INTEGER PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    account TEXT NOT NULL,
    bot TEXT NOT NULL,
    wallet TEXT NOT NULL,
    equity TEXT NOT NULL,
    unrealized_pnl TEXT NOT NULL,
    realized_pnl TEXT NOT NULL,
    fees TEXT NOT NULL,
    data TEXT NOT NULL CHECK (json_valid(data)),
    UNIQUE (account, bot, ts_ms)
);

CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms INTEGER NOT NULL,
    bot TEXT,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    data TEXT NOT NULL,
    uid INTEGER,
    user TEXT
);
CREATE INDEX events_ts ON events(ts_ms);
CREATE INDEX events_bot ON events(bot, seq);

CREATE TABLE paper_state (
    account TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);
"""

# v2: the paper venue's own records, written incrementally beside its compact state (`paper_state`):
# its trades (what `my_trades` answers after a restart; every epoch kept, never pruned) and its recently
# closed orders (what `fetch_order` finds after a restart; the newest `PAPER_ORDERS_KEPT` ids per account).
# `seq` is the venue's integer id; ids are never reused within an account, across resets (epochs) too.
V2 = """
CREATE TABLE paper_trades (
    account TEXT NOT NULL,
    seq INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    trade_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    order_id TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    price TEXT NOT NULL,
    qty TEXT NOT NULL,
    fee TEXT NOT NULL,
    fee_asset TEXT NOT NULL,
    maker INTEGER NOT NULL,
    realized_pnl TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    PRIMARY KEY (account, seq)
) WITHOUT ROWID;

CREATE TABLE paper_orders (
    account TEXT NOT NULL,
    seq INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    client_order_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (account, seq)
) WITHOUT ROWID;
"""

# v4: an income row keeps the venue's own type. `income_type` holds it verbatim from v4 on (Binance's
# `incomeType`: INSURANCE_CLEAR, API_REBATE, ...; before, those were folded into mmctl's four), so the
# unique key (account, income_type, tran_id) is Binance's (tranId is unique only within a type) and the
# summaries, keyed by `income_type`, keep every type apart. The new `kind` is mmctl's `IncomeType` of
# the row (`IncomeRow.type`). Old rows keep their `income_type` as their venue type and get no `kind`:
# NULL marks a row recorded before v4 (its `income_type` is mmctl's type, which `kind` reads as), so the
# same row read again with its true type is known (`bulk.income`). Instant: no row is rewritten.
V4 = """
ALTER TABLE income ADD COLUMN kind TEXT;
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", V1),
    Migration(2, "paper venue trades and closed orders", V2),
    # v3: income amounts as exact integers of 1e-8, their quarter-hour summary (`sqlite.ledger`)
    Migration(3, "income amount units and quarter-hour income summary", migrate_v3),
    Migration(4, "income rows keep the venue's own type", V4),
)
LATEST_VERSION = MIGRATIONS[-1].version


def statements(script: str) -> list[str]:
    """Split SQL text into complete statements (`sqlite3.complete_statement` handles triggers)."""
    out: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            out.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement at the end of a migration: {pending.strip()[:80]!r}")
    return out


def migrate(conn: sqlite3.Connection, current: int, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Apply every migration above `current` inside the caller's open transaction; returns the new version.

    The caller checked that `current` is not newer than the last migration. Foreign keys must be off.
    """
    for i, migration in enumerate(migrations, start=1):
        if migration.version != i:
            raise ValueError(f"migration {i} is numbered {migration.version}: migrations must be 1, 2, ...")
    version = current
    for migration in migrations[current:]:
        if isinstance(migration.apply, str):
            for statement in statements(migration.apply):
                conn.execute(statement)
        else:
            migration.apply(conn)
        version = migration.version
    if version != current:
        problems = conn.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise sqlite3.IntegrityError(f"migration to v{version} breaks foreign keys: {problems[:5]}")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {version}")
    return version
