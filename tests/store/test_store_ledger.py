"""Schema v3's income amounts in units of 1e-8 and its summary tables: filled by the migration for old
rows and by the writer and triggers for new ones, exactly. Schema v4's venue income types: every type
kept apart and unique by (type, id), old rows migrated without being doubled when read again."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC
from decimal import Decimal
from pathlib import Path

import pytest
from tests.store.fixtures import make_fixtures as sample

from mmctl.model import IncomeRow, IncomeType
from mmctl.pnl.report import ReportRequest, build_report
from mmctl.store.records import NewIncome, PutPaperState
from mmctl.store.sqlite import SqliteStore
from mmctl.store.sqlite.ledger import MAX_UNITS, SUMMARIES, amount_units

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("0.1", 10_000_000),
        ("-0.0295999200", -2_959_992),
        ("1.5E-7", 15),
        ("-0E-8", 0),
        ("12", 1_200_000_000),
        ("0.000000001", None),
        ("1E+20", None),
        (str(Decimal(MAX_UNITS).scaleb(-8)), None),
        (str(Decimal(MAX_UNITS - 1).scaleb(-8)), MAX_UNITS - 1),
    ],
)
def test_amount_units_is_exact_or_none(text: str, units: int | None) -> None:
    """An amount becomes integer units of 1e-8 only when that is exact and below the size limit."""
    assert amount_units(Decimal(text)) == units


def summary_totals(path: Path) -> dict[str, tuple[int, int]]:
    conn = sqlite3.connect(path)
    try:
        query = "SELECT sum(units), sum(rows) FROM {}"
        return {s.table: conn.execute(query.format(s.table)).fetchone() for s in SUMMARIES}
    finally:
        conn.close()


async def test_the_v2_fixture_migrates_with_units_and_summaries(tmp_path: Path) -> None:
    """Old income rows get their units and both summaries count and sum them after the migration."""
    db = tmp_path / "mmctl.sqlite"
    shutil.copyfile(FIXTURES / "v2.sqlite", db)
    store = SqliteStore.open(db)
    await store.close()
    conn = sqlite3.connect(db)
    units = [u for (u,) in conn.execute("SELECT amount_units FROM income ORDER BY id")]
    conn.close()
    assert units == sample.INCOME_UNITS
    total = sum(sample.INCOME_UNITS)
    assert set(summary_totals(db).values()) == {(total, len(sample.INCOME))}


async def test_new_rows_from_both_writers_keep_the_summaries(tmp_path: Path) -> None:
    """Rows written by NewIncome and by a paper state save get units, and every summary counts them once."""
    db = tmp_path / "mmctl.sqlite"
    store = SqliteStore.open(db)
    rows = [
        IncomeRow("1", 1_700_000_000_000, "X", IncomeType.COMMISSION, Decimal("-0.5"), "USDT", "t1"),
        IncomeRow("2", 1_700_000_000_001, "Y", IncomeType.FUNDING_FEE, Decimal("0.000000001"), "USDT"),
    ]
    await store.write(NewIncome("a", rows[0]))
    await store.write(NewIncome("a", rows[0]))  # a duplicate: not counted again
    await store.write(PutPaperState("a", "{}", 1_700_000_000_002, income=(rows[1],)))
    await store.close()
    assert set(summary_totals(db).values()) == {(-50_000_000, 2)}


def income_row(tran_id: str, venue_type: str, kind: IncomeType, amount: str, ts_ms: int) -> IncomeRow:
    return IncomeRow(tran_id, ts_ms, "BTC/USDT:USDT", kind, Decimal(amount), "USDT", None, venue_type)


def summary_by_type(path: Path) -> dict[str, tuple[int, int]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT income_type, sum(units), sum(rows) FROM income_quarters GROUP BY 1")
        return {t: (units, count) for t, units, count in rows}
    finally:
        conn.close()


async def test_rows_keep_the_venues_type_and_are_unique_by_that_type_and_id(tmp_path: Path) -> None:
    """Rows of types mmctl folds together (INSURANCE_CLEAR and REALIZED_PNL, API_REBATE and COMMISSION)
    with one tranId are four rows, each once, read back with both types, and summed apart."""
    db = tmp_path / "mmctl.sqlite"
    store = SqliteStore.open(db)
    ts = 1_700_000_000_000
    rows = [
        income_row("7", "REALIZED_PNL", IncomeType.REALIZED_PNL, "1.25", ts),
        income_row("7", "INSURANCE_CLEAR", IncomeType.REALIZED_PNL, "-3", ts),
        income_row("7", "COMMISSION", IncomeType.COMMISSION, "-0.5", ts + 1),
        income_row("7", "API_REBATE", IncomeType.COMMISSION, "0.125", ts + 1),
    ]
    try:
        assert [await store.write(NewIncome("a", r)) for r in rows] == [True] * 4
        assert [await store.write(NewIncome("a", r)) for r in rows] == [False] * 4
        paper = IncomeRow("8", ts + 2, "", IncomeType.TRANSFER, Decimal("100"), "USDT")
        await store.write(PutPaperState("a", "{}", ts + 2, income=(paper,)))
        await store.write(PutPaperState("a", "{}", ts + 3, income=(paper,)))
        stored = await store.read(lambda r: r.income(account="a", limit=None))
        from_paper = await store.read(lambda r: r.paper_income("a", from_id=8))
    finally:
        await store.close()
    assert [s.row for s in stored] == [*rows, paper]
    assert paper.venue_type == "TRANSFER"
    assert from_paper == [paper]
    assert summary_by_type(db) == {
        "REALIZED_PNL": (125_000_000, 1),
        "INSURANCE_CLEAR": (-300_000_000, 1),
        "COMMISSION": (-50_000_000, 1),
        "API_REBATE": (12_500_000, 1),
        "TRANSFER": (10_000_000_000, 1),
    }


async def test_a_v3_database_migrates_and_a_folded_row_read_again_is_not_doubled(tmp_path: Path) -> None:
    """After the v4 migration old rows read with their stored type as the venue's; a row v3 recorded
    folded (an INSURANCE_CLEAR kept as REALIZED_PNL) read again with its own type is not recorded twice,
    while new rows of other types sharing an old row's tranId are recorded, and the report sums it all."""
    db = tmp_path / "mmctl.sqlite"
    shutil.copyfile(FIXTURES / "v3.sqlite", db)
    folded_ts = 1_700_000_350_000
    conn = sqlite3.connect(db)
    with conn:  # what v3 wrote for an INSURANCE_CLEAR row: its folded type, no venue type
        conn.execute(
            "INSERT INTO income (account, income_type, tran_id, symbol, asset, amount, ts_ms, trade_id, "
            "info, amount_units) VALUES ('paper', 'REALIZED_PNL', '9003', 'BTC/USDT:USDT', 'USDT', '-2.5', "
            "?, NULL, '{}', -250000000)",
            (folded_ts,),
        )
    conn.close()
    store = SqliteStore.open(db)
    try:
        assert store.version == 4
        old = await store.read(lambda r: r.income(account="paper", limit=None))
        assert sorted((s.row.venue_type, s.row.type.value, s.row.id) for s in old) == sorted(
            [(t, t, i) for _, t, i, *_ in sample.INCOME] + [("REALIZED_PNL", "REALIZED_PNL", "9003")]
        )
        again = income_row("9003", "INSURANCE_CLEAR", IncomeType.REALIZED_PNL, "-2.5", folded_ts)
        same_commission = IncomeRow(
            "9001", 1_700_000_200_500, "BTC/USDT:USDT", IncomeType.COMMISSION, Decimal("-0.0295999200"),
            "USDT", "T-1",
        )  # fmt: skip
        clear = income_row("9001", "INSURANCE_CLEAR", IncomeType.REALIZED_PNL, "-7", folded_ts + 1)
        rebate = income_row("9001", "API_REBATE", IncomeType.COMMISSION, "0.01", folded_ts + 2)
        written = [await store.write(NewIncome("paper", r)) for r in (again, same_commission, clear, rebate)]
        assert written == [False, False, True, True]
        request = ReportRequest(1_700_000_000_000, 1_700_001_000_000, UTC, "UTC", ("paper",), by="type")
        report = await build_report(store, request, complete_until_ms=request.until_ms)
    finally:
        await store.close()
    conn = sqlite3.connect(db)
    kinds = dict(conn.execute("SELECT tran_id || income_type, kind FROM income").fetchall())
    conn.close()
    assert kinds["9003REALIZED_PNL"] is None
    assert kinds["9001INSURANCE_CLEAR"] == "REALIZED_PNL"
    assert report.lines["realized"] == Decimal("1.5E-7") + Decimal("-2.5")
    assert report.lines["insurance_clear"] == Decimal(-7)
    assert report.lines["api_rebate"] == Decimal("0.01")
    assert [b.key for b in report.buckets] == [
        "API_REBATE", "COMMISSION", "FUNDING_FEE", "INSURANCE_CLEAR", "REALIZED_PNL",
    ]  # fmt: skip
    assert report.rows == len(sample.INCOME) + 3
