"""What the bot manager shows: the bot list, one bot's status and open orders, account totals.

Read-only views over a `BotManager`, called through it (`rows`, `durable_rows`, `status`) or by the RPC
methods (`orders`, `account_summary`). A view that counts fills first waits until every fill it may show
is committed (`shown_durable`): a fill shown is a fill stored. The operator's notice (a crash, say) goes
on every row and on each status.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mmctl.bots.status import detail, summary
from mmctl.pnl.income import iter_income

if TYPE_CHECKING:
    from mmctl.fleet.manager import BotManager


async def shown_durable(manager: BotManager, name: str | None = None) -> None:
    """Every fill of bot `name` (of every bot, with None) booked so far is committed: a view shows
    no fill that is not stored. Waits only while such a fill is queued (`DurableFills`)."""
    if manager.fills is not None:
        await manager.fills.wait(name)


def rows(manager: BotManager) -> list[dict[str, Any]]:
    rows = {n: summary(b) for n, b in manager.bots.items()}
    rows.update({n: u.row() for n, u in manager.unloaded.items()})
    notice = manager.notice()
    if notice is not None:
        for row in rows.values():
            row["notice"] = notice
    return [rows[n] for n in sorted(rows)]


async def durable_rows(manager: BotManager) -> list[dict[str, Any]]:
    """`rows` once every fill booked is durable: a fill counted in a row is a fill stored."""
    await shown_durable(manager)
    return rows(manager)


async def status(manager: BotManager, name: str) -> dict[str, Any]:
    """One bot in detail, once its fills are durable (a fill shown is a fill stored)."""
    bot = manager.bot(name)
    await shown_durable(manager, bot.name)
    doc = await detail(bot)
    notice = manager.notice()
    if notice is not None:
        doc["notice"] = notice
    return doc


def orders(manager: BotManager, name: str) -> list[dict[str, Any]]:
    return manager.bot(name).quoter.open_orders_view()


async def account_summary(manager: BotManager, account: str, since_ms: int) -> dict[str, Any]:
    """Balance and income totals by type since `since_ms` for one account."""
    exchange = manager.exchange(account)
    balance = await exchange.balance()
    totals: dict[str, Decimal] = {}
    async for row in iter_income(exchange, since_ms):
        totals[row.type.value] = totals.get(row.type.value, Decimal(0)) + row.amount
    return {
        "account": account,
        "since_ms": since_ms,
        "wallet_balance": str(balance.wallet),
        "available_balance": str(balance.available),
        "unrealized_pnl": str(balance.unrealized_pnl),
        "income": {k: str(v) for k, v in sorted(totals.items())},
    }
