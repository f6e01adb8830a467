"""Bringing an account's income ledger in the store up to date with the venue's.

`sync_income` reads the venue's income rows from the newest one the store holds for the account (or,
for an account the store has no rows of, from `first_since_ms`: what the venue still keeps) up to the
venue's time when the sync began, and records each (`NewIncome`; the store keeps a row once by account,
the venue's own type and id, so overlapping reads never double one). The walk goes in windows of at
most seven days (Binance answers one income query for at most that span) and within a window page by
page through `iter_income` (1000-row pages, crowded milliseconds included). What it returns says up to
when the store's ledger of the account is complete: every row the venue had before `complete_until_ms`
is stored.

Application layer: the `Exchange` and `Store` ports only.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from mmctl.exchange.base import Exchange
from mmctl.model import IncomeRow
from mmctl.pnl.income import PAGE, iter_income
from mmctl.store.base import Store
from mmctl.store.records import NewIncome, SetMeta

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
    lookback_ms: int = HISTORY_MS,
    page_size: int = PAGE,
    window_ms: int = WINDOW_MS,
) -> SyncResult:
    """Record the venue's income rows of `account` the store lacks (see the module docstring). Raises
    the venue's `ExchangeError` or the store's `StoreError`; rows recorded before a failure stay.
    `first_since_ms`: the earliest row wanted (a report's start); without it, `lookback_ms` before now
    (a background sync of an account never read passes one window: it must not flood the venue's
    request budget at start; a report asking for earlier rows reads them then).

    The store remembers the span already read (`synced_key`), so a quiet account (no income for weeks)
    is not walked again from `first_since_ms` on every sync: only the part before the span (when an
    earlier start is asked for) and from the span's end (less `OVERLAP_MS`, for rows stamped a moment
    late) to now are read."""
    venue_now = await exchange.server_time_ms()
    last = (await store.read(lambda r: r.last_income_ms())).get(account)
    span = parse_span(await store.read(lambda r: r.meta(synced_key(account))))
    # from `first_since_ms` (never before what the venue keeps), else `lookback_ms` before now
    oldest = max(0, venue_now - HISTORY_MS)
    recent = venue_now - lookback_ms + 1  # the bounds are inclusive: exactly `lookback_ms` long
    want = max(oldest, recent) if first_since_ms is None else max(oldest, first_since_ms)
    if span is None and last is not None:  # rows from before spans were remembered: they are complete
        span = (want, last)
    pieces: list[tuple[int, int]] = []
    if span is None:
        pieces.append((want, venue_now))
    else:
        if want < span[0]:
            pieces.append((want, span[0]))
        pieces.append((max(span[0], span[1] - OVERLAP_MS), venue_now))
    read = new = 0
    batch: list[IncomeRow] = []
    for since, until in pieces:
        for start, end in windows(since, until, window_ms):
            async for row in iter_income(exchange, start, end, page_size=page_size):
                read += 1
                batch.append(row)
                if len(batch) >= WRITE_CHUNK:
                    new += await _write(store, account, batch)
                    batch = []
    new += await _write(store, account, batch)
    begun = min(want, span[0]) if span is not None else want
    await store.write(SetMeta(synced_key(account), f"{begun},{venue_now}"))
    return SyncResult(account, read, new, venue_now)


OVERLAP_MS = 60_000  # re-read the last minute of the span: a row may be stamped a moment before it shows


def synced_key(account: str) -> str:
    """The store meta key holding the span of `account`'s ledger already read ("from_ms,until_ms")."""
    return f"income_synced:{account}"


def parse_span(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        start, end = (int(part) for part in text.split(","))
    except ValueError:
        return None  # unreadable: walk again (the store keeps each row once)
    return start, end


async def _write(store: Store, account: str, rows: list[IncomeRow]) -> int:
    if not rows:
        return 0
    results = await asyncio.gather(*(store.write(NewIncome(account, row)) for row in rows))
    return sum(1 for was_new in results if was_new)
