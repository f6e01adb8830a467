"""The store's quarter-hour income summary gives the same exact day buckets as adding every row, in any
zone (half- and quarter-hour offsets, DST changes), for any amount, any report range and any of the
venue's income types (each on its own line, transfers of every kind together)."""

from __future__ import annotations

import asyncio
import tempfile
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmctl.clock import ManualClock
from mmctl.exchange.binance.convert import INCOME_TYPES
from mmctl.model import IncomeRow, IncomeType
from mmctl.pnl.lines import exact_sum, line_of
from mmctl.pnl.report import PnlReport, ReportRequest, build_report
from mmctl.store.records import NewIncome
from mmctl.store.sqlite import SqliteStore

ACCOUNT = "main"
START_MS = int(datetime(2026, 3, 7, tzinfo=UTC).timestamp() * 1000)  # New York moves on 2026-03-08
SPAN_MS = 3 * 86_400_000
ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Pacific/Chatham"]
TYPES = ["REALIZED_PNL", "COMMISSION", "FUNDING_FEE", "TRANSFER", "INSURANCE_CLEAR", "API_REBATE",
         "INTERNAL_TRANSFER"]  # fmt: skip

amounts = st.one_of(
    st.decimals(min_value=-1000, max_value=1000, places=8, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=-1, max_value=1, places=12, allow_nan=False, allow_infinity=False),
    st.builds(lambda n, e: Decimal(n).scaleb(e), st.integers(-(10**12), 10**12), st.integers(-10, 3)),
)
rows = st.lists(
    st.tuples(st.integers(0, SPAN_MS - 1), st.sampled_from(TYPES), st.sampled_from(["X", "Y"]), amounts),
    max_size=40,
)


def income(i: int, ts: int, venue_type: str, symbol: str, amount: Decimal) -> NewIncome:
    kind = INCOME_TYPES.get(venue_type, IncomeType.TRANSFER)
    row = IncomeRow(str(i), START_MS + ts, symbol, kind, amount, "USDT", venue_type=str(venue_type))
    return NewIncome(ACCOUNT, row)


async def day_report(store: SqliteStore, since: int, until: int, zone: str, **kw: str) -> PnlReport:
    request = ReportRequest(START_MS + since, START_MS + until, ZoneInfo(zone), zone, (ACCOUNT,), **kw)
    return await build_report(store, request, complete_until_ms=START_MS + until)


def expected_days(
    written: list[tuple[int, str, str, Decimal]], since: int, until: int, zone: str
) -> dict[str, dict[str, Decimal]]:
    out: dict[str, dict[str, list[Decimal]]] = defaultdict(lambda: defaultdict(list))
    for ts, kind, _, amount in written:
        if since <= ts < until:
            day = datetime.fromtimestamp((START_MS + ts) / 1000, ZoneInfo(zone)).date().isoformat()
            out[day][line_of(kind)].append(amount)
    return {day: {line: exact_sum(v) for line, v in lines.items()} for day, lines in out.items()}


async def check(
    written: list[tuple[int, str, str, Decimal]], since: int, until: int, zone: str, tmp: Path
) -> None:
    store = SqliteStore.open(tmp / "mmctl.sqlite", ManualClock(), synchronous="OFF")
    try:
        for i, (ts, kind, symbol, amount) in enumerate(written):
            await store.write(income(i, ts, kind, symbol, amount))
        report = await day_report(store, since, until, zone, by="day")
        expected = expected_days(written, since, until, zone)
        for bucket in report.buckets:
            for line, value in bucket.lines.items():
                if line != "net":
                    assert value == expected.get(bucket.key, {}).get(line, Decimal(0)), (bucket.key, line)
        assert report.rows == sum(1 for ts, *_ in written if since <= ts < until)
        by_rows = await day_report(store, since, until, zone, by="bot")  # attributed: read row by row
        assert by_rows.lines == report.lines
        only_x = await day_report(store, since, until, zone, by="day", symbol="X")
        xs = [w for w in written if w[2] == "X"]
        assert only_x.lines["realized"] == expected_line(xs, since, until, "realized")
    finally:
        await store.close()


def expected_line(written: list[tuple[int, str, str, Decimal]], since: int, until: int, line: str) -> Decimal:
    return exact_sum(a for ts, kind, _, a in written if since <= ts < until and line_of(kind) == line)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows,
    st.integers(0, SPAN_MS // 2),
    st.integers(SPAN_MS // 2 + 1, SPAN_MS),
    st.sampled_from(ZONES),
)
def test_day_buckets_from_the_summary_equal_the_rows_exactly(
    written: list[tuple[int, str, str, Decimal]], since: int, until: int, zone: str
) -> None:
    """Every day bucket's lines equal the exact sum of that local day's rows, whatever the range and zone."""
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(check(written, since, until, zone, Path(tmp)))


def test_sums_past_two_to_the_63_units_stay_exact(tmp_path: Path) -> None:
    """A quarter-hour and a day whose integer sums would pass 2**63 units are still added exactly."""
    big = Decimal("9000000000.5")  # 9e17 units: one row fits, twelve in one quarter-hour do not
    written = [(1_000 + i, IncomeType.REALIZED_PNL, "X", big) for i in range(12)]
    written += [(3_600_000 * h, IncomeType.COMMISSION, "X", -big) for h in range(1, 20)]
    written += [(7_200_000, IncomeType.FUNDING_FEE, "X", Decimal("0.000000001"))]
    asyncio.run(check(written, 0, SPAN_MS, "UTC", tmp_path))
