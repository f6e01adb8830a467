"""Leverage above the symbol's bracket, through real ccxt against the fake server: Binance's -2027 when
the position plus the open orders exceed the new leverage's notional cap, as one line, and a bot asking
for that leverage is not started and leaves nothing on the venue."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mmctl.bots.bot import Bot, BotState
from mmctl.bots.definition import BotDefinition
from mmctl.bots.events import EventLog
from mmctl.clock import SystemClock
from mmctl.errors import LeverageRejected
from mmctl.model import OrderRequest, Side
from mmctl.strategies.market_maker import MarketMakerParams
from mmctl.strategies.params import parse_params

from .harness import binance_venue

BTC = "BTC/USDT:USDT"
BIG_BID = OrderRequest(BTC, Side.BUY, Decimal("0.6"), Decimal("89000.0"), "manual-1", post_only=True)
"""53 400 USDT of bids (below the fake's 90 000 mid): above the 50 000 USDT 125x allows on BTCUSDT."""


async def test_raising_leverage_past_the_bracket_of_open_orders_is_refused_in_one_line() -> None:
    """Binance answers -2027 when open bids exceed the 125x bracket's cap: a LeverageRejected on one line
    naming the cause, and the venue's leverage is unchanged."""
    async with binance_venue() as v:
        await v.exchange.set_leverage(BTC, 20)
        (placed,) = await v.exchange.place_orders([BIG_BID])
        assert placed.ok, placed.error
        with pytest.raises(LeverageRejected) as caught:
            await v.exchange.set_leverage(BTC, 125)
        message = caught.value.message
        assert "\n" not in message
        assert "-2027" in message
        assert "maximum allowable position" in message
        assert "lower leverage" in message  # the fix, not only the cause
        assert caught.value.data["code"] == -2027
        assert v.fake.leverage("BTCUSDT") == 20
        assert await v.exchange.set_leverage(BTC, 50) == 50  # a bracket that covers 53 400 USDT


async def test_a_bot_asking_for_leverage_past_the_bracket_is_not_started_and_places_nothing() -> None:
    """A bot whose leverage the venue refuses (-2027) ends its start in error with that one-line reason;
    it holds no order on the venue and armed no countdown."""
    async with binance_venue() as v:
        await v.exchange.set_leverage(BTC, 20)
        (placed,) = await v.exchange.place_orders([BIG_BID])
        assert placed.ok, placed.error
        clock = SystemClock()
        params = parse_params(MarketMakerParams, {"leverage": "125", "levels": "1"})
        bot = Bot(
            BotDefinition("hi-lev", "contract", BTC, "market_maker", params),
            v.exchange,
            clock,
            EventLog(clock),
        )
        with pytest.raises(LeverageRejected, match="-2027"):
            await bot.start()
        assert bot.state is BotState.ERROR
        assert bot.last_error is not None
        assert "maximum allowable position" in bot.last_error
        assert [o.client_order_id for o in v.fake.open_orders()] == ["manual-1"]
        assert v.fake.countdowns_left() == {}
        assert v.fake.leverage("BTCUSDT") == 20
