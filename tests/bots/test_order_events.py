"""`mmctl events` shows a bot's orders: one event per order placed and per order cancelled."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tests.support.settle import advance

from mmctl.bots.bot import Bot, BotOptions
from mmctl.bots.definition import BotDefinition
from mmctl.bots.events import EventLog
from mmctl.clock import ManualClock, now_ms
from mmctl.config.schema import PaperAccount
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.model import BookTop
from mmctl.strategies.market_maker import MarketMakerParams
from mmctl.strategies.params import parse_params

SYMBOL = "BTC/USDT:USDT"


def test_placed_and_cancelled_orders_each_leave_one_event_with_their_figures() -> None:
    """Every order the bot places gives an `order` event and every order it cancels a `cancel` event,
    each with side, level, price, quantity and client id matching the venue's order."""

    async def main() -> None:
        clock = ManualClock()
        paper = PaperExchange.from_settings("paper", PaperAccount(symbols=("BTCUSDT",)), clock)
        await paper.load_markets()
        events = EventLog(clock)
        paper.venue.on_book(
            BookTop(SYMBOL, Decimal("49999.95"), Decimal(2), Decimal("50000.05"), Decimal(2), now_ms(clock))
        )
        params = parse_params(MarketMakerParams, {"levels": "2", "spread_bps": "10"})
        bot = Bot(
            BotDefinition("ev", "paper", SYMBOL, "market_maker", params), paper, clock, events, BotOptions()
        )
        await bot.start()
        await advance(clock, 0.5)
        venue = {o.client_order_id: o for o in paper.venue.open_orders(SYMBOL)}
        placed = [e for e in events.since(0, "ev") if e.kind == "order"]
        assert len(placed) == len(venue) == 4
        for e in placed:
            order = venue[e.data["client_order_id"]]
            assert e.data["side"] == order.side.value
            assert e.data["price"] == str(order.price)
            assert e.data["qty"] == str(order.qty)
            assert e.data["level"] in (0, 1)
        await bot.stop()
        cancelled = [e for e in events.since(0, "ev") if e.kind == "cancel"]
        assert sorted(e.data["client_order_id"] for e in cancelled) == sorted(venue)
        await paper.close()

    asyncio.run(main())
