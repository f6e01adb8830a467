"""Bringing an account's income ledger in the store up to date with the venue's.

`sync_income` reads the venue's income rows from the newest one the store holds for the account (or,
for an account the store has no rows of, from `first_since_ms`: what the venue still keeps) up to the
venue's time when the sync began, and records each (`NewIncome`; the store keeps a row once by account,
type and id, so overlapping reads never double one). The walk goes in windows of at most seven days
(Binance answers one income query for at most that span) and within a window page by page through
`iter_income` (1000-row pages, crowded milliseconds included). What it returns says up to when the
store's ledger of the account is complete: every row the venue had before `complete_until_ms` is stored.

Application layer: the `Exchange` and `Store` ports only.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from mmctl.exchange.base import Exchange
from mmctl.model import IncomeRow
from mmctl.pnl.income import PAGE, iter_income
from mmctl.store.base import Store
from mmctl.store.records import NewIncome

WINDOW_MS = 7 * 86_400_000  # Binance's longest span between startTime and endTime
HISTORY_MS = 90 * 86_400_000  # what Binance (and the paper venue) keep of the ledger
WRITE_CHUNK = 1000  # rows queued at once before waiting for their results


@dataclass(frozen=True, slots=True)
class SyncResult:
    """One account's sync: rows read from the venue, how many were new to the store, and the time up to
    which the store's ledger is complete."""

    account: str
    rows_read: int
    rows_new: int
    complete_until_ms: int


def windows(since_ms: int, until_ms: int, span_ms: int = WINDOW_MS) -> list[tuple[int, int]]:
    """[since_ms, until_ms] (both inclusive, as the venue's startTime and endTime) in consecutive
    inclusive pieces of at most `span_ms`, none overlapping."""
    out: list[tuple[int, int]] = []
    start = since_ms
    while start <= until_ms:
        end = min(start + span_ms - 1, until_ms)
        out.append((start, end))
        start = end + 1
    return out


async def sync_income(
    exchange: Exchange,
    store: Store,
    account: str,
    *,
    first_since_ms: int | None = None,
    page_size: int = PAGE,
    window_ms: int = WINDOW_MS,
) -> SyncResult:
    """Record the venue's income rows of `account` the store lacks (see the module docstring). Raises
    the venue's `ExchangeError` or the store's `StoreError`; rows recorded before a failure stay."""
    venue_now = await exchange.server_time_ms()
    last = (await store.read(lambda r: r.last_income_ms())).get(account)
    if last is not None:
        since = last  # rows at that millisecond may be new too; the store drops the ones it has
    else:
        since = max(0, venue_now - HISTORY_MS) if first_since_ms is None else first_since_ms
    read = new = 0
    batch: list[IncomeRow] = []
    for start, end in windows(since, venue_now, window_ms):
        async for row in iter_income(exchange, start, end, page_size=page_size):
            read += 1
            batch.append(row)
            if len(batch) >= WRITE_CHUNK:
                new += await _write(store, account, batch)
                batch = []
    new += await _write(store, account, batch)
    return SyncResult(account, read, new, venue_now)


async def _write(store: Store, account: str, rows: list[IncomeRow]) -> int:
    if not rows:
        return 0
    results = await asyncio.gather(*(store.write(NewIncome(account, row)) for row in rows))
    return sum(1 for was_new in results if was_new)
