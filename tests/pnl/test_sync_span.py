"""The ledger sync remembers the span it has read: a quiet account is not walked again from 90 days back on
every sync, a background sync of a never-read account reads one window, and a report asking for an
earlier start reads just the part before the span."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.exchange.builders import make_venue
from tests.pnl.paper_ledger import ACCOUNT, open_store

from mmctl.clock import ManualClock
from mmctl.exchange.forwarding import ForwardingExchange
from mmctl.exchange.paper import PaperExchange
from mmctl.model import IncomeRow
from mmctl.pnl.sync import HISTORY_MS, WINDOW_MS, sync_income

DAY_MS = 86_400_000


class CountingExchange(ForwardingExchange):
    """Counts the income queries (one per window or page) sent to the venue."""

    def __init__(self, inner: PaperExchange) -> None:
        super().__init__(inner)
        self.income_calls = 0

    async def income(self, since_ms: int, **kw: Any) -> list[IncomeRow]:
        self.income_calls += 1
        return await super().income(since_ms, **kw)


def test_a_quiet_account_is_read_once_then_only_from_where_the_last_sync_ended(tmp_path: Path) -> None:
    """A venue with no income at all: the first background sync reads one window, the next ones one
    query each; a report from 30 days back reads the missing 30 days once, never again."""
    venue = make_venue("1000")
    venue.advance_to(venue.now_ms + 200 * DAY_MS)
    exchange = CountingExchange(PaperExchange(ACCOUNT, venue, ManualClock()))
    store = open_store(tmp_path)

    async def body() -> None:
        try:
            await sync_income(exchange, store, ACCOUNT, lookback_ms=WINDOW_MS)
            assert exchange.income_calls == 1
            for _ in range(3):
                await sync_income(exchange, store, ACCOUNT, lookback_ms=WINDOW_MS)
            assert exchange.income_calls == 4
            exchange.income_calls = 0
            await sync_income(exchange, store, ACCOUNT, first_since_ms=venue.now_ms - 30 * DAY_MS)
            assert exchange.income_calls == 5  # 23 days before the span (4 windows) and the tail (1)
            exchange.income_calls = 0
            await sync_income(exchange, store, ACCOUNT, first_since_ms=venue.now_ms - 30 * DAY_MS)
            assert exchange.income_calls == 1
            exchange.income_calls = 0
            await sync_income(exchange, store, ACCOUNT, first_since_ms=0)  # capped at what the venue keeps
            assert exchange.income_calls == -(-(HISTORY_MS - 30 * DAY_MS) // WINDOW_MS) + 1
        finally:
            await store.close()

    asyncio.run(body())
