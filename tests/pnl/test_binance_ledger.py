"""The ledger sync reads a Binance income history of more than 1000 rows over more than 7 days completely,
each row once, through the real adapter and ccxt against the fake Binance server; every income type is
kept with Binance's own type and reported on its own line."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from pathlib import Path

from tests.binance.harness import HISTORY_SHIFT_MS, binance_venue

from mmctl.clock import ManualClock
from mmctl.pnl.lines import exact_sum
from mmctl.pnl.report import ReportRequest, build_report
from mmctl.pnl.sync import WINDOW_MS, sync_income
from mmctl.store.sqlite import SqliteStore

DAY_MS = 86_400_000
ROWS = 1_500
SPAN_MS = 10 * DAY_MS


async def test_more_than_1000_rows_over_more_than_7_days_are_read_once(tmp_path: Path) -> None:
    """1,500 funding rows over 10 days end up in the store exactly once, read in windows of at most 7 days."""
    async with binance_venue() as venue:
        fake = venue.fake
        for i in range(ROWS):
            fake.clock_offset_ms = HISTORY_SHIFT_MS - SPAN_MS + i * (SPAN_MS // ROWS)
            fake.add_income("FUNDING_FEE", Decimal(i + 1) / 10**8, "BTCUSDT")
        fake.clock_offset_ms = HISTORY_SHIFT_MS
        ledger = fake.income_rows(income_type="FUNDING_FEE")
        assert len(ledger) == ROWS
        store = SqliteStore.open(tmp_path / "m.sqlite", ManualClock(), synchronous="OFF")
        try:
            now = fake.now_ms()
            result = await sync_income(
                venue.exchange, store, "contract", first_since_ms=now - SPAN_MS - DAY_MS
            )
            again = await sync_income(venue.exchange, store, "contract")
            stored = await store.read(lambda r: r.income(account="contract", limit=None))
        finally:
            await store.close()
        funding = [s.row for s in stored if s.row.type.value == "FUNDING_FEE"]
        assert len(funding) == ROWS
        assert len({r.id for r in funding}) == ROWS
        assert exact_sum(r.amount for r in funding) == exact_sum(r.income for r in ledger)
        assert result.rows_new == len(stored)
        assert again.rows_new == 0
        income_requests = fake.requests("/fapi/v1/income")
        for req in income_requests:
            start, end = int(req.params["startTime"]), int(req.params["endTime"])
            assert end - start < WINDOW_MS
        assert result.rows_read <= ROWS + len(income_requests)  # a page restart re-reads at most its last ms


async def test_every_binance_income_type_is_stored_once_and_reported_on_its_line(tmp_path: Path) -> None:
    """Rows of types mmctl folds together sharing one tranId in one millisecond, read in 2-row pages, are
    each stored once with Binance's own type; the report has a line per other type in net and the
    transfer kinds outside it."""
    async with binance_venue() as venue:
        fake = venue.fake
        ledger = [
            ("REALIZED_PNL", "1.5", "BTCUSDT"),
            ("INSURANCE_CLEAR", "-0.5", "BTCUSDT"),
            ("COMMISSION", "-0.25", "BTCUSDT"),
            ("API_REBATE", "0.05", "BTCUSDT"),
            ("WELCOME_BONUS", "10", ""),
            ("INTERNAL_TRANSFER", "-3", ""),
        ]
        for kind, amount, symbol in ledger:
            fake.add_income(kind, Decimal(amount), symbol, tran_id=555)
        store = SqliteStore.open(tmp_path / "m.sqlite", ManualClock(), synchronous="OFF")
        try:
            now = fake.now_ms()
            result = await sync_income(
                venue.exchange, store, "contract", first_since_ms=now - DAY_MS, page_size=2
            )
            stored = await store.read(lambda r: r.income(account="contract", limit=None))
            request = ReportRequest(now - DAY_MS, result.complete_until_ms + 1, UTC, "UTC", ("contract",))
            report = await build_report(store, request, complete_until_ms=result.complete_until_ms)
        finally:
            await store.close()
    assert sorted((s.row.venue_type, s.row.id) for s in stored) == sorted((k, "555") for k, *_ in ledger)
    assert report.lines == {
        "realized": Decimal("1.5"),
        "commission": Decimal("-0.25"),
        "funding": Decimal(0),
        "api_rebate": Decimal("0.05"),
        "insurance_clear": Decimal("-0.5"),
        "welcome_bonus": Decimal(10),
        "transfers": Decimal(-3),
        "net": Decimal("10.8"),
    }
