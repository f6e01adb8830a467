"""The `Exchange` port's contract, continued: Binance USDⓈ-M behaviours issue 9 found missing.

Lossless income paging, our own orders as part of the book (post-only and self-trade prevention),
reduce-only over-commitment, and the price filters measured against the mark price. Only the port and
the harness driver are used, so these pin every implementation in `harness.HARNESSES`.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from mmctl.errors import FilterRejected, PostOnlyWouldCross, ReduceOnlyRejected
from mmctl.exchange.base import Exchange
from mmctl.model import OrderStatus, Side, StpMode
from mmctl.pnl.income import iter_income

from .harness import Venue, VenueFactory
from .test_contract import BTC, QTY, limit, market, place_one, ready


async def test_income_rows_sharing_one_millisecond_are_all_walked(open_venue: VenueFactory) -> None:
    """Five fills in one instant (more rows than a page of 2) are all returned by numbered pages."""
    async with open_venue(balance=Decimal("1000000")) as v:
        ex = await ready(v)
        for i in range(5):
            await place_one(ex, limit(Side.SELL, "60000.1", f"ask-{i}"))
        await v.driver.trade(BTC, Side.BUY, Decimal("60000.1"), QTY * 5)
        pages = [await ex.income(0, limit=2, page=n) for n in (1, 2, 3, 4)]
        assert [len(p) for p in pages] == [2, 2, 1, 0]
        walked = [row async for row in iter_income(ex, 0, page_size=2)]
        assert walked == [row for page in pages for row in page]
        assert sum(r.amount for r in walked) == (await ex.balance()).wallet - Decimal("1000000")


async def test_post_only_crossing_our_own_order_is_rejected(open_venue: VenueFactory) -> None:
    """Our resting ask inside the spread is part of the book: a post-only bid at or above it is rejected."""
    async with open_venue() as v:
        ex = await wide_book(v)
        await place_one(ex, limit(Side.SELL, "60003.0", "own-ask"))
        with pytest.raises(PostOnlyWouldCross):
            await place_one(ex, limit(Side.BUY, "60005.0", "gtx-bid"))
        assert [o.client_order_id for o in await ex.open_orders(BTC)] == ["own-ask"]


async def test_expire_maker_clears_our_order_in_the_way(open_venue: VenueFactory) -> None:
    """A GTC bid meeting our own ask in EXPIRE_MAKER expires the ask and rests; nothing trades."""
    async with open_venue() as v:
        ex = await wide_book(v)
        await place_one(ex, limit(Side.SELL, "60003.0", "own-ask"))
        bid = limit(Side.BUY, "60006.0", "gtc-bid", post_only=False)
        assert bid.stp_mode is StpMode.EXPIRE_MAKER
        placed = await place_one(ex, bid)
        assert placed.status is OrderStatus.NEW
        assert (await ex.fetch_order(BTC, client_order_id="own-ask")).status is OrderStatus.EXPIRED
        assert (await ex.position(BTC)).qty == 0


async def test_open_reduce_only_orders_cannot_close_more_than_the_position(open_venue: VenueFactory) -> None:
    """With a long of QTY and a reduce-only sell of QTY open, another reduce-only sell is rejected."""
    async with open_venue() as v:
        ex = await ready(v)
        await place_one(ex, market(Side.BUY, QTY, "open-long"))
        await place_one(ex, limit(Side.SELL, "60010.0", "ro-1", reduce_only=True))
        with pytest.raises(ReduceOnlyRejected):
            await place_one(ex, limit(Side.SELL, "60010.0", "ro-2", reduce_only=True))


async def test_market_notional_and_limit_band_use_the_mark_price(open_venue: VenueFactory) -> None:
    """Book 47000/51000 (mark 49000): a market buy of 0.002 is 98 at the mark, under the 100 minimum; a
    sell far below the mark's floor is refused whatever the book."""
    async with open_venue() as v:
        await v.driver.set_book(BTC, Decimal("47000.0"), Decimal("51000.0"))
        ex = v.exchange
        with pytest.raises(FilterRejected) as info:
            await place_one(ex, market(Side.BUY, Decimal("0.002"), "mkt"))
        assert info.value.data["field"] == "notional"
        with pytest.raises(FilterRejected) as band:
            await place_one(ex, limit(Side.SELL, "1000.0", "dump", Decimal("0.2"), post_only=False))
        assert band.value.data["field"] == "price"
        assert await ex.open_orders() == []


async def wide_book(v: Venue) -> Exchange:
    """BTC at 60000.0 / 60010.0, room inside the spread for our own orders."""
    await v.driver.set_book(BTC, Decimal("60000.0"), Decimal("60010.0"))
    return v.exchange
