"""Walking a venue's income ledger page by page, without gaps or duplicates.

`Exchange.income` pages like Binance's `GET /fapi/v1/income`: one query (`since_ms`, `until_ms`) read in
numbered pages of `limit` rows, oldest first. More rows than a page can share one millisecond (hundreds
of resting orders filled by one trade), so a walk cannot just restart at the last row's millisecond: it
reads further pages of the same query while a whole page shares one millisecond, and otherwise restarts
at the last row's millisecond (keeping page numbers small) and skips the rows there it already yielded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from mmctl.errors import ExchangeError
from mmctl.exchange.base import Exchange
from mmctl.model import IncomeRow

PAGE = 1000  # Binance's largest income page

RowKey = tuple[str, str]


def _key(row: IncomeRow) -> RowKey:
    """Binance's tranId is unique per income type (the venue's own: two types mmctl folds together may
    share one), not across types."""
    return (row.venue_type, row.id)


async def iter_income(
    exchange: Exchange, since_ms: int, until_ms: int | None = None, *, page_size: int = PAGE
) -> AsyncIterator[IncomeRow]:
    """Every income row with since_ms <= ts (<= until_ms), oldest first, each exactly once.

    `page_size` is the `limit` of each request (1..1000, Binance's range: a larger one would be cut by
    the venue and end the walk early). Raises `ExchangeError` if the venue answers a further page of a
    millisecond with rows already seen (it ignores `page`): rows would be skipped otherwise."""
    if not 1 <= page_size <= PAGE:
        raise ValueError(f"page_size must be 1..{PAGE}, got {page_size}")
    cursor, page = since_ms, 1
    seen: set[RowKey] = set()  # rows yielded at the cursor's millisecond
    while True:
        rows = await exchange.income(cursor, until_ms=until_ms, limit=page_size, page=page)
        fresh = 0
        for row in rows:
            if _key(row) not in seen:
                fresh += 1
                yield row
        if len(rows) < page_size:
            return
        first, last = rows[0].ts_ms, rows[-1].ts_ms
        if first == last:  # the whole page shares one millisecond: read that millisecond's next page
            if last != cursor:
                cursor, page, seen = last, 1, set()
            elif not fresh:
                raise ExchangeError(
                    f"{exchange.name}: income page {page} at {cursor} repeated rows already read "
                    "(the venue ignores `page`); stopping rather than skipping rows",
                    data={"since_ms": cursor, "page": page},
                )
            seen.update(_key(row) for row in rows)
            page += 1
        else:  # restart at the last millisecond; its rows read so far are skipped
            cursor, page = last, 1
            seen = {_key(row) for row in rows if row.ts_ms == last}
