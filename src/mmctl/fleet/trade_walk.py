"""Walking an account's own trades on one symbol (`Exchange.my_trades`) page by page and window by window,
without gaps or duplicates, for recovery at daemon start (`mmctl.fleet.recovery`).

`my_trades(symbol, since_ms=, limit=)` answers the first `limit` trades from `since_ms` on, and on a venue
with a `trade_window_ms` only those in `[since_ms, since_ms + window)` (Binance's userTrades with only
`startTime`: 7 days).

- A full page: the walk asks again from the last trade's millisecond (several trades can share it, and
  the next page may hold more of them) and skips the trades already read. A full page that starts and
  ends in one millisecond cannot move the start on, so the same query is asked again with a larger
  `limit`, up to the venue's largest page.
- A short page: the window is exhausted. Without a window (the paper venue) the walk is done; with one,
  it goes on from the window's end (a quiet week costs one query) until a window reaches past `now_ms`
  (plus `CLOCK_MARGIN_MS`, so a venue clock slightly ahead of the caller's loses nothing).
- On a windowed venue the walk never starts before `now_ms - TRADE_HISTORY_MS`: Binance answers only the
  last 6 months of trades, and a walk from further back would only ask for empty weeks. A venue without
  a window answers any start in one walk and is walked from where the caller asks (a paper replay runs on
  recorded time, which need not be near the caller's clock).

Query count on a windowed venue: one per window from the start to now, plus one per further page of
`page_size` trades. A walk from a recorded fill less than a window (less `CLOCK_MARGIN_MS`) old costs one
query. The worst case, a start at the floor, costs `ceil((TRADE_HISTORY_MS + CLOCK_MARGIN_MS) / window)`
queries, 26 on Binance (180 days and a minute, in weeks), plus the further pages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from mmctl.errors import ExchangeError
from mmctl.exchange.base import Exchange
from mmctl.model import Fill

PAGE = 1000  # the largest page of Binance's userTrades (and the paper venue's)

DAY_MS = 86_400_000
TRADE_HISTORY_MS = 180 * DAY_MS
"""How far back a windowed venue's trades can be read: Binance answers userTrades for the last 6 months
(180 days stays inside them whatever the months' lengths)."""

CLOCK_MARGIN_MS = 60_000
"""How far the venue's clock may be from the caller's (Binance refuses signed requests more than the
`recvWindow`, seconds, off): a window ending this close after now is walked past."""


async def iter_trades(
    exchange: Exchange,
    symbol: str,
    since_ms: int,
    *,
    now_ms: int,
    seen: Iterable[str] = (),
    page_size: int = PAGE,
) -> AsyncIterator[Fill]:
    """Every own trade on `symbol` with ts >= `since_ms` (on a windowed venue also >= `floor_ms(now_ms)`),
    oldest first, each once; trade ids in `seen` (already recorded) are skipped. `now_ms`: the caller's
    clock, where a windowed walk ends (a venue without a window is read until a short page).
    `page_size`: the `limit` of each request (1..1000).

    Raises `ExchangeError` when the history cannot be walked without loss: more than 1000 trades in one
    millisecond, or a venue answering trades from before the time asked for."""
    if not 1 <= page_size <= PAGE:
        raise ValueError(f"page_size must be 1..{PAGE}, got {page_size}")
    window = exchange.trade_window_ms
    known = set(seen)
    since = since_ms if window is None else max(since_ms, floor_ms(now_ms))
    limit = page_size
    while True:
        page = await exchange.my_trades(symbol, since_ms=since, limit=limit)
        for fill in page:
            if fill.trade_id not in known:
                known.add(fill.trade_id)
                yield fill
        if len(page) < limit:
            if window is None or since + window > now_ms + CLOCK_MARGIN_MS:
                return
            since, limit = since + window, page_size  # the window is exhausted: on to the next one
            continue
        first, last = page[0].ts_ms, page[-1].ts_ms
        if first == last:
            if limit >= PAGE:
                raise ExchangeError(
                    f"{exchange.name}: more than {PAGE} trades on {symbol} at one millisecond ({last}); "
                    "the trade history cannot be paged past it",
                    data={"symbol": symbol, "since_ms": since},
                )
            limit = min(PAGE, limit * 2)
        elif last <= since:
            raise ExchangeError(
                f"{exchange.name}: the venue answered trades on {symbol} from before {since}; stopping "
                "rather than missing trades",
                data={"symbol": symbol, "since_ms": since},
            )
        else:
            since, limit = last, page_size


def floor_ms(now_ms: int) -> int:
    """The earliest time a walk on a windowed venue asks from: `TRADE_HISTORY_MS` before `now_ms`."""
    return now_ms - TRADE_HISTORY_MS
