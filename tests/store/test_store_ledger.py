"""Schema v3's income amounts in units of 1e-8 and its summary tables: filled by the migration for old
rows and by the writer and triggers for new ones, exactly."""

from __future__ import annotations

import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from tests.store.fixtures import make_fixtures as sample

from mmctl.model import IncomeRow, IncomeType
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
