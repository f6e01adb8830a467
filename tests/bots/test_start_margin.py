"""`start` refuses a bot whose first quotes do not fit the account's available margin, with the numbers."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from mmctl.bots.bot import Bot, BotOptions, BotState
from mmctl.bots.definition import BotDefinition
from mmctl.bots.events import EventLog
from mmctl.clock import ManualClock, now_ms
from mmctl.config.schema import PaperAccount
from mmctl.errors import InsufficientMargin
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.model import BookTop
from mmctl.strategies.market_maker import MarketMakerParams
from mmctl.strategies.params import parse_params

SYMBOL = "BTC/USDT:USDT"


async def start_with_balance(balance: str) -> tuple[Bot, PaperExchange, InsufficientMargin | None]:
    clock = ManualClock()
    paper = PaperExchange.from_settings(
        "paper", PaperAccount(symbols=("BTCUSDT",), balance=Decimal(balance)), clock
    )
    await paper.load_markets()
    paper.venue.on_book(
        BookTop(SYMBOL, Decimal("49999.95"), Decimal(2), Decimal("50000.05"), Decimal(2), now_ms(clock))
    )
    params = parse_params(
        MarketMakerParams, {"levels": "2", "spread_bps": "10", "order_size": "0.01", "leverage": "5"}
    )
    bot = Bot(
        BotDefinition("m", "paper", SYMBOL, "market_maker", params),
        paper,
        clock,
        EventLog(clock),
        BotOptions(),
    )
    try:
        await bot.start()
    except InsufficientMargin as e:
        return bot, paper, e
    return bot, paper, None


def test_a_zero_balance_account_refuses_the_start_with_the_margin_figures() -> None:
    """With no balance the start fails with `InsufficientMargin` naming required and available margin
    (two levels of 0.01 BTC at ~50000 on one side at 5x need about 200 USDT), and places no order."""

    async def main() -> None:
        bot, paper, error = await start_with_balance("0")
        assert error is not None
        assert "0 USDT available" in error.message
        assert "at 5x" in error.message
        assert Decimal(200) < Decimal(error.data["required"]) < Decimal(201)
        assert error.data["available"] == "0"
        assert bot.state is BotState.ERROR
        assert paper.venue.open_orders(SYMBOL) == []
        await paper.close()

    asyncio.run(main())


def test_an_account_that_carries_the_quotes_starts() -> None:
    """A balance above the first quotes' initial margin lets the bot start as before."""

    async def main() -> None:
        bot, paper, error = await start_with_balance("1000")
        assert error is None
        assert bot.state is BotState.RUNNING
        await bot.stop()
        await paper.close()

    asyncio.run(main())


def test_margin_check_in_a_refusal_is_one_line_with_the_shortfall() -> None:
    """The refusal says how much margin is missing."""

    async def main() -> None:
        _, paper, error = await start_with_balance("150")
        assert error is not None
        assert "short by 50." in error.message
        assert "\n" not in error.message
        await paper.close()

    asyncio.run(main())


def test_error_state_keeps_the_reason() -> None:
    """After the refusal the bot's last error is the margin line, for `list` and `status`."""

    async def main() -> None:
        bot, paper, error = await start_with_balance("0")
        assert error is not None
        assert bot.last_error is not None
        assert "initial margin" in bot.last_error
        await paper.close()

    asyncio.run(main())
