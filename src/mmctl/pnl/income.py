"""Walking a venue's income ledger page by page, without gaps or duplicates."""

from __future__ import annotations

from collections.abc import AsyncIterator

from mmctl.exchange.base import Exchange
from mmctl.model import IncomeRow

PAGE = 1000


async def iter_income(
    exchange: Exchange, since_ms: int, until_ms: int | None = None
) -> AsyncIterator[IncomeRow]:
    """Every income row with since_ms <= ts (<= until_ms), oldest first. Pages restart at the last
    row's timestamp (rows sharing it may straddle pages) and skip ids already seen."""
    seen: set[str] = set()
    cursor = since_ms
    while True:
        page = await exchange.income(cursor, until_ms=until_ms, limit=PAGE)
        fresh = [r for r in page if r.id not in seen]
        for row in fresh:
            seen.add(row.id)
            yield row
        if len(page) < PAGE or not fresh:
            return
        cursor = page[-1].ts_ms
