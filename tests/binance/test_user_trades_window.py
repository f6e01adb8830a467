"""The adapter's `my_trades` from a start time is one GET /fapi/v1/userTrades answering one week, and the
`Exchange` port says so (`trade_window_ms`) through the wrappers the daemon puts around it."""

from __future__ import annotations

from decimal import Decimal

from mmctl.clock import SystemClock
from mmctl.exchange.budget import RequestBudget
from mmctl.exchange.budgeted import BudgetedExchange
from mmctl.exchange.forwarding import ForwardingExchange
from mmctl.model import OrderRequest, OrderType, Side

from .harness import Venue, VenueFactory

BTC = "BTC/USDT:USDT"
DAY_S = 86_400
WEEK_MS = 7 * DAY_S * 1000


async def taker(v: Venue, side: Side, cid: str) -> str:
    request = OrderRequest(BTC, side, Decimal("0.002"), None, cid, OrderType.MARKET)
    (result,) = await v.exchange.place_orders([request])
    assert result.order is not None, result.error
    return result.order.id


async def test_my_trades_from_a_start_answers_its_week_in_one_request(open_venue: VenueFactory) -> None:
    """Trades on day 0 and day 8: `my_trades` from day 0 sends one userTrades request and answers only the
    day-0 trade, from a week later only the day-8 one; the port (and its budgeted wrapper) reports the
    week as `trade_window_ms`."""
    async with open_venue() as v:
        ex = v.exchange
        await v.driver.set_book(BTC, Decimal("60000.0"), Decimal("60000.1"))
        start = v.fake.now_ms() - 1
        first = await taker(v, Side.BUY, "tw-1")
        await v.driver.advance(8 * DAY_S)
        second = await taker(v, Side.SELL, "tw-2")
        mark = len(v.fake.requests("/fapi/v1/userTrades"))

        week_one = await ex.my_trades(BTC, since_ms=start)
        week_two = await ex.my_trades(BTC, since_ms=start + WEEK_MS)

        asked = v.fake.requests("/fapi/v1/userTrades")[mark:]
        assert [r.params["startTime"] for r in asked] == [str(start), str(start + WEEK_MS)]
        assert "endTime" not in asked[0].params
        assert [t.order_id for t in week_one] == [first]
        assert [t.order_id for t in week_two] == [second]
        assert ex.trade_window_ms == WEEK_MS
        assert ForwardingExchange(ex).trade_window_ms == WEEK_MS
        assert BudgetedExchange(ex, RequestBudget(SystemClock())).trade_window_ms == WEEK_MS
