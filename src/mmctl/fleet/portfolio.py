"""The portfolio view: every account's balances and net positions, every bot's figures, and totals.

Bot totals are the sums of the bots' own figures (their fills since their last start, and their shares
of funding, `mmctl.pnl.funding`); account income (realized PnL, commissions, funding) comes from the
venue's ledger since the daemon started and since 00:00 UTC today. Each account's `funding` block is the
funding attribution since the daemon started: `total` = `bots` + `unattributed`, exactly, where `bots`
counts every share a bot got whatever its restarts (so with no restart since the daemon started, the bot
rows' `funding` plus `unattributed` is the account's funding). Nothing here sends a request per view:
account figures come from each account's shared refreshes (`AccountShared`) and carry their age; a due
funding poll is started and waited for briefly. Every amount is written in plain notation
(`money_text`: `0.00000000`, never `0E-8`), on the wire and so in the CLI's tables.
Given the daemon's `LedgerSince`, the document also carries realized, commission, funding and net from
the store's ledger (the `mmctl pnl` arithmetic) since each bot's start and since `[reports] pnl_since`.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Any

from mmctl.bots.account import FIRST_WAIT_S, AccountFunding, AccountShared
from mmctl.bots.risk import EXACT, money_text
from mmctl.clock import now_ms
from mmctl.exchange.budget import AccountBudgets
from mmctl.model import ZERO

if TYPE_CHECKING:
    from mmctl.fleet.manager import BotManager
    from mmctl.pnl.since import LedgerSince

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
                "position": money_text(inv.qty),
                "notional": money_text(abs(inv.qty) * mid) if mid is not None else "0",
                "realized_pnl": money_text(inv.realized_pnl),
                "fees": money_text(inv.fees),
                "funding": money_text(inv.funding),
                "unrealized_pnl": money_text(unrealized),
                "net_pnl": money_text(inv.net(mid)),
            }
        )
    return rows


def totals(rows: list[dict[str, Any]]) -> dict[str, str]:
    keys = ("realized_pnl", "fees", "funding", "unrealized_pnl", "net_pnl", "notional")
    with localcontext(EXACT):
        sums = {k: sum((Decimal(r[k]) for r in rows), ZERO) for k in keys}
    return {k: money_text(v) for k, v in sums.items()}


async def account_figures(
    name: str, shared: AccountShared, budgets: AccountBudgets | None, since_ms: int, today_ms: int
) -> dict[str, Any]:
    """One account's figures from its shared refreshes: no request per view, each figure with its age."""
    figures = await shared.read_figures()
    since_start = await shared.income_totals(since_ms)
    today = await shared.income_totals(today_ms)
    doc: dict[str, Any] = {"account": name}
    errors = [s.error for s in (figures, since_start, today) if s.error is not None]
    if errors:
        doc["error"] = errors[0]
    if figures.value is not None:
        balance = figures.value.balance
        doc.update(
            {
                "wallet_balance": money_text(balance.wallet),
                "available_balance": money_text(balance.available),
                "margin_used": money_text(balance.margin_used),
                "unrealized_pnl": money_text(balance.unrealized_pnl),
                "positions": [
                    {
                        "symbol": p.symbol,
                        "qty": money_text(p.qty),
                        "notional": money_text(p.notional),
                        "entry_price": money_text(p.entry_price),
                    }
                    for p in figures.value.positions
                ],
            }
        )
    doc["figures_age_s"] = _age(figures.age_s)
    doc["income_since_start"] = _money_map(since_start.value)
    doc["income_today"] = _money_map(today.value)
    doc["income_age_s"] = _age(today.age_s)
    doc["budget"] = budgets.usage() if budgets is not None else None
    doc["funding"] = funding_figures(shared.funding, shared.clock.monotonic())
    return doc


def funding_figures(funding: AccountFunding, now_s: float) -> dict[str, Any]:
    """The account's funding since the daemon started, as attributed: total = bots + unattributed."""
    doc: dict[str, Any] = {
        "total": money_text(funding.sum_total()),
        "bots": money_text(funding.sum_bots()),
        "unattributed": money_text(funding.sum_unattributed()),
        "by_symbol": {
            symbol: {
                "total": money_text(total),
                "unattributed": money_text(funding.unattributed.get(symbol, ZERO)),
            }
            for symbol, total in sorted(funding.total.items())
        },
        "age_s": None if funding.polled_at is None else _age(max(0.0, now_s - funding.polled_at)),
    }
    if funding.error is not None:
        doc["error"] = funding.error
    return doc


async def refresh_funding(manager: BotManager) -> None:
    """Start every account's due funding poll and wait for them briefly (`FIRST_WAIT_S`)."""
    tasks = manager.fleet.poll_funding()
    if tasks:
        await asyncio.wait(tasks, timeout=FIRST_WAIT_S)


def _age(age_s: float | None) -> float | None:
    return None if age_s is None else round(age_s, 3)


def _money_map(sums: dict[str, Decimal] | None) -> dict[str, str] | None:
    return None if sums is None else {k: money_text(v) for k, v in sums.items()}


async def portfolio(
    manager: BotManager, started_ms: int, ledger: LedgerSince | None = None
) -> dict[str, Any]:
    """The `portfolio.get` document; with `ledger`, each bot's `pnl_since_start` and `pnl_since`, each
    account's `pnl_since` and the top-level `ledger_as_of` (`mmctl.pnl.since`: the `pnl` arithmetic)."""
    now = now_ms(manager.clock)
    await refresh_funding(manager)
    rows = bot_figures(manager)
    accounts = [
        await account_figures(
            name, manager.account(name), manager.budgets.get(name), started_ms, utc_midnight_ms(now)
        )
        for name in sorted(manager.accounts)
    ]
    sums = totals(rows)
    with localcontext(EXACT):
        unattributed = sum((Decimal(a["funding"]["unattributed"]) for a in accounts), ZERO)
    sums["unattributed_funding"] = money_text(unattributed)
    doc: dict[str, Any] = {"accounts": accounts, "bots": rows, "totals": sums}
    if ledger is not None:
        for row in rows:
            row.update({k: v for k, v in ledger.bot_doc(row["bot"]).items() if k != "ledger_as_of"})
        for account in accounts:
            account["pnl_since"] = ledger.account_doc(account["account"])["pnl_since"]
        doc["ledger_as_of"] = ledger.bot_doc("")["ledger_as_of"]
    return doc
