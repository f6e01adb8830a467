"""The PnL report equals the paper venue's own ledger exactly, whatever the fills, fees and funding."""

from __future__ import annotations

import asyncio
import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmctl.model import IncomeType, Side
from mmctl.pnl.buckets import GROUPINGS
from mmctl.pnl.lines import exact_sum, line_of

from .paper_ledger import BTC, ETH, Step, drive, open_store, record, report

trades = st.builds(
    Step,
    who=st.sampled_from(["a", "b", None]),
    side=st.sampled_from([Side.BUY, Side.SELL]),
    qty=st.sampled_from(["0.002", "0.003", "0.017", "0.25"]),
    symbol=st.sampled_from([BTC, ETH]),
    mid=st.integers(55_000, 65_000),
)
waits = st.builds(Step, hours=st.integers(1, 30))
steps = st.lists(st.one_of(trades, trades, waits), min_size=1, max_size=25)


def by_line(rows: list, kinds: tuple[IncomeType, ...] | None = None) -> dict[str, Decimal]:
    out: dict[str, list[Decimal]] = {}
    for row in rows:
        out.setdefault(line_of(row.type), []).append(row.amount)
    return {k: exact_sum(v) for k, v in out.items()}


async def check(steps_: list[Step], directory: Path) -> None:
    venue = drive(steps_)
    store = open_store(directory)
    try:
        until = await record(venue, store) + 1
        ledger = by_line(venue.wallet.rows)
        whole = await report(store, until)
        for line in ("realized", "commission", "funding", "transfers"):
            assert whole.lines[line] == ledger.get(line, Decimal(0)), line
        assert whole.lines["net"] == exact_sum(v for k, v in ledger.items() if k != "transfers")
        assert whole.rows == len(venue.wallet.rows)
        for by in GROUPINGS:
            grouped = await report(store, until, by=by)
            assert grouped.lines == whole.lines
            for line in whole.lines:
                assert exact_sum(b.lines[line] for b in grouped.buckets) == whole.lines[line], (by, line)
        per_bot = await report(store, until, by="bot")
        singles = [await report(store, until, bot=b.key) for b in per_bot.buckets]
        for line in whole.lines:
            assert exact_sum(r.lines[line] for r in singles) == whole.lines[line], line
        trades_of_a = [f for f in venue.trades if f.client_order_id.startswith("mm.a.")]
        a = await report(store, until, bot="a")
        assert a.lines["commission"] == -exact_sum(f.fee for f in trades_of_a)
        assert a.lines["realized"] == exact_sum(f.realized_pnl for f in trades_of_a)
    finally:
        await store.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_report_equals_the_paper_ledger_and_every_grouping_sums_to_it(steps_: list[Step]) -> None:
    """Totals equal the venue ledger by type; every --by grouping and the per-bot split sum to them."""
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(check(steps_, Path(tmp)))
