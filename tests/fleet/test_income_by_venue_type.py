"""The portfolio's income totals go by the venue's own income types, as `mmctl pnl` does."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from mmctl.bots.account import AccountShared
from mmctl.clock import ManualClock
from mmctl.config.schema import PaperAccount
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.model import IncomeRow, IncomeType

D = Decimal


class LedgerWithOtherTypes(PaperExchange):
    """The paper venue whose income ledger also holds rows of types Binance reports and the paper venue
    never writes (an insurance-fund clearance and an API rebate, each folded into one of mmctl's four)."""

    async def income(
        self,
        since_ms: int,
        *,
        until_ms: int | None = None,
        income_type: IncomeType | None = None,
        symbol: str | None = None,
        limit: int = 1000,
        page: int = 1,
    ) -> list[IncomeRow]:
        rows = await super().income(
            since_ms, until_ms=until_ms, income_type=income_type, symbol=symbol, limit=limit, page=page
        )
        if page > 1:
            return rows
        other = [
            IncomeRow(
                "7", 1_000, "BTCUSDT", IncomeType.REALIZED_PNL, D("-3.5"), "USDT", None, "INSURANCE_CLEAR"
            ),
            IncomeRow("8", 1_000, "", IncomeType.COMMISSION, D("0.25"), "USDT", None, "API_REBATE"),
            IncomeRow("9", 1_000, "BTCUSDT", IncomeType.REALIZED_PNL, D("12"), "USDT", None, "REALIZED_PNL"),
        ]
        return rows + other


def test_income_totals_keep_each_venue_type_apart() -> None:
    """An insurance clearance and an API rebate are their own entries in the account's income totals
    (the portfolio's `income_since_start` and `income_today`), not added to REALIZED_PNL or COMMISSION."""

    async def body() -> dict[str, Decimal]:
        clock = ManualClock()
        ex = LedgerWithOtherTypes.from_settings("acct", PaperAccount(balance=D(1000)), clock)
        shared = AccountShared(ex, clock, "acct")
        snapshot = await shared.income_totals(0)
        assert snapshot.value is not None
        return snapshot.value

    totals = asyncio.run(body())
    assert totals == {"API_REBATE": D("0.25"), "INSURANCE_CLEAR": D("-3.5"), "REALIZED_PNL": D("12")}
