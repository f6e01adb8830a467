"""The portfolio view: every account's balances and net positions, every bot's figures, and totals.

Bot totals are the sums of the bots' own figures (their fills since their last start); account income
(realized PnL, commissions, funding) comes from the venue's ledger since the daemon started and since
00:00 UTC today.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mmctl.clock import now_ms
from mmctl.errors import ExchangeError
from mmctl.exchange.base import Exchange
from mmctl.exchange.budgeted import BudgetedExchange
from mmctl.model import ZERO
from mmctl.pnl.income import iter_income

if TYPE_CHECKING:
    from mmctl.fleet.manager import BotManager

DAY_MS = 86_400_000


def utc_midnight_ms(ts_ms: int) -> int:
    return ts_ms - ts_ms % DAY_MS


def bot_figures(manager: BotManager) -> list[dict[str, Any]]:
    rows = []
    for name in sorted(manager.bots):
        bot = manager.bots[name]
        book = bot.exchange.book(bot.definition.symbol)
        mid = book.mid if book is not None else None
        inv = bot.inventory
        unrealized = inv.unrealized(mid)
        rows.append(
            {
                "bot": name,
                "account": bot.definition.account,
                "symbol": bot.definition.symbol,
                "state": bot.state.value,
                "position": str(inv.qty),
                "notional": str(abs(inv.qty) * mid) if mid is not None else "0",
                "realized_pnl": str(inv.realized_pnl),
                "fees": str(inv.fees),
                "unrealized_pnl": str(unrealized),
                "net_pnl": str(inv.realized_pnl - inv.fees + unrealized),
            }
        )
    return rows


def totals(rows: list[dict[str, Any]]) -> dict[str, str]:
    keys = ("realized_pnl", "fees", "unrealized_pnl", "net_pnl", "notional")
    sums = {k: sum((Decimal(r[k]) for r in rows), ZERO) for k in keys}
    return {k: str(v) for k, v in sums.items()}


async def account_figures(name: str, ex: Exchange, since_ms: int, today_ms: int) -> dict[str, Any]:
    try:
        balance = await ex.balance()
        positions = await ex.positions()
        since_start = await _income_totals(ex, since_ms)
        today = await _income_totals(ex, today_ms)
    except ExchangeError as e:
        return {"account": name, "error": e.message}
    return {
        "account": name,
        "wallet_balance": str(balance.wallet),
        "available_balance": str(balance.available),
        "margin_used": str(balance.margin_used),
        "unrealized_pnl": str(balance.unrealized_pnl),
        "positions": [
            {
                "symbol": p.symbol,
                "qty": str(p.qty),
                "notional": str(p.notional),
                "entry_price": str(p.entry_price),
            }
            for p in positions
        ],
        "income_since_start": since_start,
        "income_today": today,
        "budget": _budget_use(ex),
    }


def _budget_use(ex: Exchange) -> dict[str, Any] | None:
    """The account's order budget and, when shared by the IP's accounts, the weight budget."""
    if not isinstance(ex, BudgetedExchange):
        return None
    use: dict[str, Any] = {"account": ex.budget.usage()}
    if ex.ip_budget is not None:
        use["ip"] = ex.ip_budget.usage()
    return use


async def _income_totals(ex: Exchange, since_ms: int) -> dict[str, str]:
    sums: dict[str, Decimal] = defaultdict(lambda: ZERO)
    async for row in iter_income(ex, since_ms):
        sums[row.type.value] += row.amount
    return {k: str(v) for k, v in sorted(sums.items())}


async def portfolio(manager: BotManager, started_ms: int) -> dict[str, Any]:
    now = now_ms(manager.clock)
    rows = bot_figures(manager)
    accounts = [
        await account_figures(name, ex, started_ms, utc_midnight_ms(now))
        for name, ex in sorted(manager.accounts.items())
    ]
    return {"accounts": accounts, "bots": rows, "totals": totals(rows)}
