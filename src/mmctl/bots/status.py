"""Status documents of a bot: the `list` row (no venue calls) and the `status NAME` detail.

Money is rendered as strings; the account-level figures come from the venue and say so when it cannot
be reached.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mmctl.bots.bot import Bot
from mmctl.bots.state import BotState
from mmctl.clock import now_ms
from mmctl.errors import ExchangeError
from mmctl.strategies.params import params_to_dict


def summary(bot: Bot) -> dict[str, Any]:
    """The `mmctl list` row: no venue calls."""
    book = bot.exchange.book(bot.definition.symbol)
    mid = book.mid if book is not None else None
    inv = bot.inventory
    return {
        "name": bot.name,
        "state": bot.state.value,
        "account": bot.definition.account,
        "symbol": bot.definition.symbol,
        "strategy": bot.definition.strategy,
        "mid": _dec(mid),
        "position": str(inv.qty),
        "unrealized_pnl": str(inv.unrealized(mid)),
        "realized_pnl": str(inv.realized_pnl),
        "open_orders": len(bot.quoter.live),
        "last_error": bot.last_error,
    }


async def detail(bot: Bot) -> dict[str, Any]:
    """The `mmctl status NAME` document: the summary plus book, balances, leverage, counters, orders."""
    doc = summary(bot)
    book = bot.exchange.book(bot.definition.symbol)
    now = now_ms(bot.clock)
    inv = bot.inventory
    doc.update(
        {
            "best_bid": _dec(book.bid if book else None),
            "best_ask": _dec(book.ask if book else None),
            "entry_price": str(inv.entry_price) if inv.qty else None,
            "fills": inv.fills,
            "fees_paid": str(inv.fees),
            "volume": str(inv.volume),
            "uptime_s": round((now - bot.started_ms) / 1000, 1)
            if bot.started_ms is not None and bot.state in (BotState.RUNNING, BotState.PAUSED)
            else None,
            "last_tick_age_s": round((now - bot.last_tick_ms) / 1000, 3) if bot.last_tick_ms else None,
            "quotes": bot.quoter.stats.to_dict(),
            "params": params_to_dict(bot.params),
            "orders": bot.quoter.open_orders_view(),
        }
    )
    doc.update(await _venue_figures(bot))
    return doc


async def _venue_figures(bot: Bot) -> dict[str, Any]:
    """Account-level figures; the venue may be unreachable, which the document then says."""
    symbol = bot.definition.symbol
    try:
        balance = await bot.account.balance()
        position = await bot.account.position(symbol)
        leverage = await bot.account.leverage(symbol)
    except ExchangeError as e:
        return {"venue_error": e.message}
    return {
        "wallet_balance": str(balance.wallet),
        "available_balance": str(balance.available),
        "leverage": leverage,
        "account_position": str(position.qty),
        "account_entry_price": str(position.entry_price) if position.qty else None,
    }


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
