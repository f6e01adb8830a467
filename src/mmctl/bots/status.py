"""Status documents of a bot: the `list` row (no venue calls) and the `status NAME` detail.

Money is rendered as strings. Neither view sends a request of its own: the account-level figures come
from the account's shared refresh, with their age (`figures_age_s`), and say so when the venue could not
be reached. `status` never waits for that refresh once it has figures to show: stale ones are shown
with their age while the refresh runs (with the request budget saturated a refresh may wait seconds
for it, and the status RPC's p99 budget is 50 ms); only the very first read waits for them. The bot's
funding (its share of the account's funding payments, `mmctl.pnl.funding`) sits beside its realized PnL
and fees, and its net PnL includes it. A bot that a risk guard (its own or a
daemon-wide one) stopped with its position still open says so: `risk_stop_open`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mmctl.bots.bot import Bot
from mmctl.bots.risk import money_text
from mmctl.bots.state import BotState
from mmctl.clock import now_ms
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
            "funding": str(inv.funding),
            "net_pnl": str(inv.net(_mid(bot))),
            "risk_stop_open": risk_stop_open(bot),
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
    """Account-level figures from the account's shared refresh (no request of its own), with their age;
    when the last refresh failed the document says so."""
    symbol = bot.definition.symbol
    snap = await bot.account.read_figures(stale_wait_s=0.0)
    doc: dict[str, Any] = {
        "leverage": bot.account.known_leverage(symbol),
        "figures_age_s": None if snap.age_s is None else round(snap.age_s, 3),
    }
    if snap.error is not None:
        doc["venue_error"] = snap.error
    if snap.value is None:
        return doc
    balance = snap.value.balance
    position = snap.value.position(symbol) or bot.account.flat(symbol)
    doc.update(
        {
            "wallet_balance": str(balance.wallet),
            "available_balance": str(balance.available),
            "account_position": str(position.qty),
            "account_entry_price": str(position.entry_price) if position.qty else None,
        }
    )
    return doc


def risk_stop_open(bot: Bot) -> dict[str, str] | None:
    """The position a risk stop left open (size, notional at the mid, the stop's reason), or None when
    the bot is active, was not stopped by a risk guard, or is flat."""
    reason = bot.last_error or ""
    qty = bot.inventory.qty
    if bot.state.active or not reason.startswith("risk: ") or not qty:
        return None
    mid = _mid(bot)
    notional = money_text(abs(qty) * mid) if mid is not None else None
    return {"position": str(qty), "notional": notional or "unknown", "reason": reason}


def _mid(bot: Bot) -> Decimal | None:
    book = bot.exchange.book(bot.definition.symbol)
    return book.mid if book is not None else None


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
