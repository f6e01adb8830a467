"""Walking an account's own trades on one symbol (`Exchange.my_trades`) page by page, without gaps or
duplicates, for recovery at daemon start (`mmctl.fleet.recovery`).

`my_trades(symbol, since_ms=, limit=)` answers the first `limit` trades from `since_ms` on (Binance's
userTrades with `startTime`). After a full page the walk asks again from the last trade's millisecond
(several trades can share it, and the next page may hold more of them) and skips the trades already
read. A full page that starts and ends in one millisecond cannot move the start on, so the same query is
asked again with a larger `limit`, up to the venue's largest page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from mmctl.errors import ExchangeError
from mmctl.exchange.base import Exchange
from mmctl.model import Fill

PAGE = 1000  # the largest page of Binance's userTrades (and the paper venue's)


async def iter_trades(
    exchange: Exchange,
    symbol: str,
    since_ms: int,
    *,
    seen: Iterable[str] = (),
    page_size: int = PAGE,
) -> AsyncIterator[Fill]:
    """Every own trade on `symbol` with ts >= `since_ms`, oldest first, each once; trade ids in `seen`
    (already recorded) are skipped. `page_size`: the `limit` of each request (1..1000).

    Raises `ExchangeError` when the history cannot be walked without loss: more than 1000 trades in one
    millisecond, or a venue answering trades from before the time asked for."""
    if not 1 <= page_size <= PAGE:
        raise ValueError(f"page_size must be 1..{PAGE}, got {page_size}")
    known = set(seen)
    since, limit = since_ms, page_size
    while True:
        page = await exchange.my_trades(symbol, since_ms=since, limit=limit)
        for fill in page:
            if fill.trade_id not in known:
                known.add(fill.trade_id)
                yield fill
        if len(page) < limit:
            return
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
