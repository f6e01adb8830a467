"""Fills recovered after an order-stream gap carry the venue's own trade record (fee, maker flag, trade id),
through the `Exchange.my_trades` port method on the paper venue and on Binance (userTrades)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tests.binance.harness import binance_venue

from mmctl.bots.events import EventLog
from mmctl.bots.quoting import Quoter
from mmctl.clock import ManualClock, now_ms
from mmctl.config.schema import PaperAccount
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.exchange.weights import cost
from mmctl.model import BookTop, OrderRequest, OrderType, Side, Trade
from mmctl.pnl.position import fee_for
from mmctl.strategies.base import Quote

BTC = "BTC/USDT:USDT"
BID = Decimal("49990.0")


def test_a_recovered_fill_takes_the_venues_fee_and_books_only_what_the_stream_missed() -> None:
    """An order filled 0.004 (booked from the stream) then 0.006 during a gap recovers exactly the 0.006
    trade, with the venue's maker fee (0.0002), not the rate the caller assumed (0.001)."""

    async def main() -> None:
        clock = ManualClock()
        paper = PaperExchange.from_settings("paper", PaperAccount(symbols=("BTCUSDT",)), clock)
        await paper.load_markets()
        paper.venue.on_book(BookTop(BTC, Decimal("49999.9"), Decimal(2), Decimal("50000.1"), Decimal(2), 0))
        quoter = Quoter("rf", BTC, paper, clock, EventLog(clock))
        await quoter.apply(
            [Quote(Side.BUY, 0, BID, Decimal("0.02"))], tolerance_bps=Decimal(1), max_age_ms=10**9
        )
        (cid,) = quoter.live
        paper.venue.on_trade(Trade(BTC, BID, Decimal("0.004"), Side.SELL, now_ms(clock)))
        seen = await paper.fetch_order(BTC, client_order_id=cid)
        assert quoter.unbooked(seen, Decimal("0.004")) == Decimal("0.004")  # the stream booked it
        paper.venue.on_trade(Trade(BTC, BID, Decimal("0.006"), Side.SELL, now_ms(clock)))  # missed
        (fill,) = await quoter.recover_fills(Decimal("0.001"))
        (_, venue_trade) = await paper.my_trades(BTC)
        assert fill.qty == Decimal("0.006")
        assert fill.fee == fee_for(BID, Decimal("0.006"), Decimal("0.0002")) == venue_trade.fee
        assert fill.maker is True
        assert fill.trade_id == venue_trade.trade_id
        assert fill.client_order_id == cid
        assert await quoter.recover_fills(Decimal("0.001")) == []  # nothing booked twice
        await paper.close()

    asyncio.run(main())


def test_paper_my_trades_pages_from_since_or_returns_the_latest() -> None:
    """`my_trades` is oldest first; with `since_ms` the first `limit` from then, else the last `limit`;
    a market order's fill is a taker fill at the taker rate."""

    async def main() -> None:
        clock = ManualClock()
        paper = PaperExchange.from_settings("paper", PaperAccount(symbols=("BTCUSDT", "ETHUSDT")), clock)
        await paper.load_markets()
        paper.venue.on_book(BookTop(BTC, Decimal("49999.9"), Decimal(2), Decimal("50000.1"), Decimal(2), 0))
        for i in range(3):
            clock.advance(1.0)
            paper.venue.advance_to(now_ms(clock))
            req = OrderRequest(BTC, Side.BUY, Decimal("0.003"), None, f"t-{i}", OrderType.MARKET)
            (result,) = await paper.place_orders([req])
            assert result.order is not None
        trades = await paper.my_trades(BTC)
        assert [t.client_order_id for t in trades] == ["t-0", "t-1", "t-2"]
        assert all(not t.maker for t in trades)
        assert trades[0].fee == fee_for(Decimal("50000.1"), Decimal("0.003"), Decimal("0.0005"))
        assert [t.client_order_id for t in await paper.my_trades(BTC, limit=2)] == ["t-1", "t-2"]
        since = trades[1].ts_ms
        assert [t.client_order_id for t in await paper.my_trades(BTC, since_ms=since, limit=1)] == ["t-1"]
        assert await paper.my_trades("ETHUSDT") == []
        await paper.close()

    asyncio.run(main())


def test_my_trades_costs_the_user_trades_weight() -> None:
    """The budget prices one `my_trades` call as Binance's GET /fapi/v1/userTrades: weight 5."""
    assert cost("my_trades").weight == 5


def test_binance_my_trades_reads_fee_and_maker_flag_from_user_trades() -> None:
    """Against the fake Binance, `my_trades` returns the maker fill of a resting order and the taker fill
    of a market order with the venue's commission, keyed by venue order id (userTrades has no client id)."""

    async def main() -> None:
        async with binance_venue() as v:
            ex = v.exchange
            await v.driver.set_book(BTC, Decimal("60000.0"), Decimal("60000.1"))
            since = v.fake.now_ms()
            rest = OrderRequest(BTC, Side.BUY, Decimal("0.01"), Decimal("59990.0"), "mt-1", post_only=True)
            (placed,) = await ex.place_orders([rest])
            await v.driver.trade(BTC, Side.SELL, Decimal("59990.0"), Decimal("0.01"))
            market = OrderRequest(BTC, Side.SELL, Decimal("0.01"), None, "mt-2", OrderType.MARKET)
            (sold,) = await ex.place_orders([market])
            trades = await ex.my_trades(BTC, since_ms=since)
            assert placed.order is not None
            assert sold.order is not None
            assert [(t.order_id, t.maker) for t in trades] == [
                (placed.order.id, True),
                (sold.order.id, False),
            ]
            assert all(t.fee > 0 for t in trades)
            assert trades[0].fee != trades[1].fee  # maker and taker rates differ
            assert {t.client_order_id for t in trades} == {""}

    asyncio.run(main())
