"""Schema versions: a new database starts at the latest version, every released version's fixture
migrates to it with its rows intact, and a failing migration changes nothing."""

from __future__ import annotations

import os
import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from tests.store.fixtures import make_fixtures as sample

from mmctl.errors import StoreError
from mmctl.store.records import DesiredState
from mmctl.store.sqlite import LATEST_VERSION, SqliteStore
from mmctl.store.sqlite.opening import open_database
from mmctl.store.sqlite.schema import APPLICATION_ID, MIGRATIONS, OPEN_ORDERS_SQL, Migration

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_FILES = sorted(FIXTURES.glob("v*.sqlite"))


def pragma(path: Path, name: str) -> object:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def test_every_released_schema_version_has_a_fixture_database() -> None:
    """There is a fixture database for each schema version from 1 to the latest."""
    versions = sorted(int(p.stem[1:]) for p in FIXTURE_FILES)
    assert versions == list(range(1, LATEST_VERSION + 1))
    assert sorted(sample.MAKERS) == versions


async def test_a_new_database_starts_at_the_latest_version_in_wal_mode(db: Path) -> None:
    """Opening a path that does not exist creates an mmctl database at the latest schema, in WAL mode."""
    store = SqliteStore.open(db)
    assert store.version == LATEST_VERSION
    assert store.previous_run.clean
    assert store.previous_run.ended_ms is None
    await store.close()
    assert pragma(db, "user_version") == LATEST_VERSION
    assert pragma(db, "application_id") == APPLICATION_ID
    assert pragma(db, "journal_mode") == "wal"


@pytest.mark.parametrize("fixture", FIXTURE_FILES, ids=lambda p: p.stem)
async def test_each_fixture_migrates_to_the_latest_version_and_reads_back_exactly(
    fixture: Path, tmp_path: Path
) -> None:
    """A database left by any released version opens, migrates, and every sample row reads back exactly."""
    db = tmp_path / "mmctl.sqlite"
    shutil.copyfile(fixture, db)
    store = SqliteStore.open(db)
    try:
        assert store.version == LATEST_VERSION
        assert store.previous_run.clean
        assert store.previous_run.ended_ms == 1_700_000_400_000
        bot, history, orders, changes, fills, income, events, snaps, paper = await store.read(
            lambda r: (
                r.bot("btc-mm"),
                r.params_history("btc-mm"),
                r.orders(bot="btc-mm"),
                r.order_changes("mm.btc-mm.b0.1"),
                r.fills(bot="btc-mm"),
                r.income(account="paper"),
                r.events(),
                r.snapshots(account="paper"),
                r.paper_state("paper"),
            )
        )
        assert bot is not None
        assert (bot.name, bot.account, bot.symbol, bot.strategy) == (
            "btc-mm",
            "paper",
            "BTC/USDT:USDT",
            "market_maker",
        )
        assert dict(bot.params) == sample.BOT["params"]
        assert bot.desired_state is DesiredState.RUNNING
        assert [(h.ts_ms, dict(h.params)) for h in history] == sample.PARAMS_HISTORY
        [o] = orders
        assert (o.client_order_id, o.status, o.venue_order_id, str(o.price), str(o.qty)) == (
            "mm.btc-mm.b0.1", "filled", "8886774", "36999.90", "0.010",
        )  # fmt: skip
        assert [(c.status, c.ts_ms, c.detail) for c in changes] == sample.ORDER_CHANGES
        assert [
            (f.fill.trade_id, str(f.fill.price), str(f.fill.qty), str(f.fill.fee), str(f.fill.realized_pnl))
            for f in fills
        ] == [(row[2], row[7], row[8], row[9], row[12]) for row in sample.FILLS]
        assert sorted((i.row.type.value, i.row.id, i.row.amount.as_tuple()) for i in income) == sorted(
            (row[1], row[2], Decimal(row[5]).as_tuple()) for row in sample.INCOME
        )
        [e] = events
        assert (e.seq, e.ts_ms, e.bot, e.kind, e.message, dict(e.data), e.uid, e.user) == sample.EVENT
        [s] = snaps
        assert (s.wallet, s.equity, s.fees) == (
            Decimal("10000.00"),
            Decimal("10001.25"),
            Decimal("0.07399980"),
        )
        assert paper is not None
        assert paper.state == sample.PAPER_STATE[1]
        trades, closed = await store.read(lambda r: (r.paper_trades("paper"), r.paper_orders("paper")))
        if int(fixture.stem[1:]) >= 2:
            assert [
                (t.epoch, t.fill.trade_id, str(t.fill.fee), str(t.fill.realized_pnl)) for t in trades
            ] == [(row[2], row[3], row[10], row[13]) for row in sample.PAPER_TRADES]
            assert closed == [row[5] for row in sample.PAPER_ORDERS]
        else:
            assert (trades, closed) == ([], [])
        assert await store.import_toml(tmp_path / "bots") == 0  # the fixture records its import as done
    finally:
        await store.close()


def _close(opened: object) -> None:
    for conn in (opened.writer, opened.reader):  # type: ignore[attr-defined]
        conn.close()
    os.close(opened.lock_fd)  # type: ignore[attr-defined]


def test_a_later_migration_applies_on_top_of_the_oldest_fixture(tmp_path: Path) -> None:
    """A migration appended to the list runs once on an old database and keeps its rows."""
    db = tmp_path / "mmctl.sqlite"
    shutil.copyfile(FIXTURE_FILES[0], db)
    extra = Migration(LATEST_VERSION + 1, "fills get a note", "ALTER TABLE fills ADD COLUMN note TEXT;\n")
    opened = open_database(
        db,
        synchronous="NORMAL",
        busy_timeout_ms=1000,
        lock_timeout_ms=100,
        now_ms=0,
        migrations=(*MIGRATIONS, extra),
    )
    try:
        assert opened.version == LATEST_VERSION + 1
        assert opened.reader.execute("SELECT count(*) FROM fills WHERE note IS NULL").fetchone()[0] == 2
    finally:
        _close(opened)
    assert pragma(db, "user_version") == LATEST_VERSION + 1


def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    """A migration that fails is rolled back whole: the version and the rows stay as they were."""
    db = tmp_path / "mmctl.sqlite"
    shutil.copyfile(FIXTURE_FILES[-1], db)
    before = db.read_bytes()
    broken = (
        Migration(LATEST_VERSION + 1, "ok part", "CREATE TABLE extra (x TEXT);\n"),
        Migration(LATEST_VERSION + 2, "broken", "ALTER TABLE no_such_table ADD COLUMN y TEXT;\n"),
    )
    with pytest.raises(StoreError, match=r"upgrading its schema from version \d+ to \d+ failed") as info:
        open_database(
            db,
            synchronous="NORMAL",
            busy_timeout_ms=1000,
            lock_timeout_ms=100,
            now_ms=0,
            migrations=(*MIGRATIONS, *broken),
        )
    assert str(db) in str(info.value)
    assert db.read_bytes() == before


async def test_open_order_queries_use_the_partial_index(db: Path) -> None:
    """The open-orders query spells the partial index's condition exactly, so SQLite uses the index."""
    store = SqliteStore.open(db)
    await store.close()
    conn = sqlite3.connect(db)
    try:
        (index_sql,) = conn.execute("SELECT sql FROM sqlite_schema WHERE name = 'orders_open'").fetchone()
        plan = conn.execute(
            f"EXPLAIN QUERY PLAN SELECT * FROM orders WHERE account = ? AND {OPEN_ORDERS_SQL}", ("paper",)
        ).fetchall()
    finally:
        conn.close()
    assert index_sql.endswith(f"WHERE {OPEN_ORDERS_SQL}")
    assert any("orders_open" in row[3] for row in plan)
