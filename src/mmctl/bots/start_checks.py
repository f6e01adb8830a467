"""What a bot's start checks before it quotes, beyond reachability and leverage: that its first quotes fit
the account's available margin (refused with the numbers, instead of the venue rejecting each order),
which needs the symbol's first book."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING

from mmctl.errors import InsufficientMargin, NoMarketData
from mmctl.exchange.margin import check_orders
from mmctl.model import BookTop

if TYPE_CHECKING:
    from mmctl.bots.bot import Bot

START_FIGURES_AGE_S = 5.0  # a balance this recent is good enough for the start's margin check
START_BOOK_WAIT_S = 5.0  # how long a start waits for the first book of its symbol


async def check_start_margin(bot: Bot, *, refresh: bool) -> None:
    """Refuse to start when the bot's first quotes do not fit the account's available margin (the venue
    would reject each one), with the numbers. `refresh`: leftovers were just cancelled, so the cached
    balance may understate what is available."""
    book = await first_book(bot)
    rules = bot.rules
    if rules is None:
        return
    quotes = bot.quotes_for(book, rules)
    if not quotes:
        return
    requests = [q.to_request(rules.symbol, f"margin-check-{i}") for i, q in enumerate(quotes)]
    figures = await bot.account.figures.fresh(0.0 if refresh else START_FIGURES_AGE_S)
    available = figures.balance.available
    if available.is_zero():
        available = Decimal(0)  # "0", not the venue's "0E-8", in the refusal
    check = check_orders(requests, bot.params.leverage, available, book.mid)
    if not check.fits:
        raise InsufficientMargin(
            f"bot {bot.name} cannot start: {check.describe()}",
            data={
                "required": str(check.required),
                "available": str(check.available),
                "leverage": check.leverage,
            },
        )


async def first_book(bot: Bot) -> BookTop:
    """The symbol's latest book, waiting (at most `START_BOOK_WAIT_S`) for the first one."""
    symbol = bot.definition.symbol
    book = bot.exchange.book(symbol)
    if book is not None:
        return book
    async with bot.market_data.subscribe(symbol) as books:
        try:
            return await asyncio.wait_for(anext(books), START_BOOK_WAIT_S)
        except (TimeoutError, StopAsyncIteration):
            raise NoMarketData(
                f"bot {bot.name}: no market data for {symbol} within {START_BOOK_WAIT_S:g} s",
                data={"symbol": symbol},
            ) from None
