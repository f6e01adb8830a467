"""Walking the income ledger loses nothing: the venue's `page` parameter and `iter_income` over it.

The issue this pins: pages that restart at the last row's millisecond and drop ids already seen stop
early when more rows than a page share one millisecond (600 resting asks on 3 symbols filled at one
timestamp: 1,203 rows, 1,003 returned).
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from mmctl.clock import ManualClock
from mmctl.errors import ExchangeError, FilterRejected
from mmctl.exchange.paper import PaperExchange, PaperVenue
from mmctl.model import IncomeRow, IncomeType, OrderRequest, Side, Trade
from mmctl.pnl.income import iter_income

from .builders import BTC, ETH, book, make_venue

D = Decimal
SOL = "SOL/USDT:USDT"


def fill_asks_at_one_instant(venue: PaperVenue, symbol: str, price: str, qty: str, count: int) -> None:
    """Rest `count` asks at `price` and fill them all with one public buy, at the venue's current time."""
    for _ in range(count):
        venue.place(OrderRequest(symbol, Side.SELL, D(qty), D(price), "", post_only=True))
    venue.on_trade(Trade(symbol, D(price), D(qty) * count, Side.BUY, venue.now_ms))


def crowded_venue() -> PaperVenue:
    """1,200 resting asks on three symbols filled in one millisecond (the issue's scenario), then a later
    funding row: more rows share one millisecond than a page holds."""
    venue = make_venue("100000000")
    book(venue, "60000.0", "60000.5")
    book(venue, "3000.00", "3000.05", symbol=ETH)
    book(venue, "140.00", "140.05", symbol=SOL)
    for symbol, price, qty in ((BTC, "60000.3", "0.002"), (ETH, "3000.02", "0.01"), (SOL, "140.02", "1")):
        fill_asks_at_one_instant(venue, symbol, price, qty, 200)
        fill_asks_at_one_instant(venue, symbol, price, qty, 200)
    venue.advance_to(venue.now_ms + 9 * 3600 * 1000)  # one funding settlement per short
    return venue


async def walk(exchange: PaperExchange, since_ms: int = 0, page_size: int = 1000) -> list[IncomeRow]:
    return [row async for row in iter_income(exchange, since_ms, page_size=page_size)]


def test_more_rows_in_one_millisecond_than_a_page_are_all_walked() -> None:
    """iter_income returns every row once, in order, when 1,200 commission rows share one millisecond."""
    venue = crowded_venue()
    exchange = PaperExchange("paging", venue, ManualClock())
    rows = asyncio.run(walk(exchange))
    assert len(venue.wallet.rows) > 1200
    assert rows == venue.wallet.rows
    assert sum((r.amount for r in rows), D(0)) == venue.wallet.balance - D("100000000")


@pytest.mark.parametrize("page_size", [1, 2, 3, 7, 199, 1000])
def test_every_page_size_walks_the_ledger_exactly_once(page_size: int) -> None:
    """Whatever the page size, the walk yields each row once and in the ledger's order."""
    venue = make_venue("100000000")
    book(venue, "60000.0", "60000.5")
    fill_asks_at_one_instant(venue, BTC, "60000.3", "0.002", 9)
    venue.advance_to(venue.now_ms + 1)
    fill_asks_at_one_instant(venue, BTC, "60000.3", "0.002", 2)
    venue.advance_to(venue.now_ms + 5)
    fill_asks_at_one_instant(venue, BTC, "60000.3", "0.002", 4)
    exchange = PaperExchange("paging", venue, ManualClock())
    assert asyncio.run(walk(exchange, page_size=page_size)) == venue.wallet.rows


def test_walk_starts_at_since_and_includes_rows_at_that_millisecond() -> None:
    """Rows before `since_ms` are left out; rows at exactly `since_ms` are included."""
    venue = make_venue("100000000")
    book(venue, "60000.0", "60000.5")
    fill_asks_at_one_instant(venue, BTC, "60000.3", "0.002", 3)
    venue.advance_to(venue.now_ms + 10)
    later = venue.now_ms
    fill_asks_at_one_instant(venue, BTC, "60000.3", "0.002", 5)
    exchange = PaperExchange("paging", venue, ManualClock())
    rows = asyncio.run(walk(exchange, since_ms=later, page_size=2))
    assert rows == [r for r in venue.wallet.rows if r.ts_ms >= later]
    assert len(rows) == 5


def test_venue_pages_number_from_one_over_the_filtered_rows() -> None:
    """`page` n holds the filtered rows (n-1)*limit .. n*limit-1, oldest first, as Binance's income query."""
    venue = make_venue("100000000")
    book(venue, "60000.0", "60000.5")
    book(venue, "3000.00", "3000.05", symbol=ETH)
    fill_asks_at_one_instant(venue, BTC, "60000.3", "0.002", 5)
    fill_asks_at_one_instant(venue, ETH, "3000.02", "0.01", 4)
    btc = [r for r in venue.wallet.rows if r.symbol == BTC]
    pages = [venue.income(0, symbol=BTC, limit=2, page=n) for n in (1, 2, 3, 4)]
    assert pages == [btc[0:2], btc[2:4], btc[4:5], []]
    commission = venue.income(0, income_type=IncomeType.COMMISSION, limit=3, page=3)
    assert commission == [r for r in venue.wallet.rows if r.type is IncomeType.COMMISSION][6:9]


@pytest.mark.parametrize("page", [0, -1, True, 1.5])
def test_a_bad_page_number_is_rejected(page: object) -> None:
    """Pages are numbered from 1; anything else is refused with the field named."""
    venue = make_venue()
    with pytest.raises(FilterRejected) as info:
        venue.income(0, page=page)  # type: ignore[arg-type]
    assert info.value.data["field"] == "page"


class PageBlindExchange(PaperExchange):
    """A venue that ignores `page` (always answers the first page), as a misconfigured adapter would."""

    async def income(self, since_ms: int, **kwargs: object) -> list[IncomeRow]:
        kwargs.pop("page", None)
        return await super().income(since_ms, **kwargs)  # type: ignore[arg-type]


def test_a_venue_that_ignores_page_stops_the_walk_with_an_error() -> None:
    """Rather than skip rows, the walk raises when a further page repeats rows it has read."""
    venue = make_venue("100000000")
    book(venue, "60000.0", "60000.5")
    fill_asks_at_one_instant(venue, BTC, "60000.3", "0.002", 5)
    exchange = PageBlindExchange("blind", venue, ManualClock())
    with pytest.raises(ExchangeError, match="ignores `page`"):
        asyncio.run(walk(exchange, page_size=2))


def test_page_size_beyond_the_venue_limit_is_refused() -> None:
    """A page size the venue would cut (over 1000) is a caller error, not a silent early end."""
    exchange = PaperExchange("paging", make_venue(), ManualClock())
    with pytest.raises(ValueError, match="page_size"):
        asyncio.run(walk(exchange, page_size=1001))
