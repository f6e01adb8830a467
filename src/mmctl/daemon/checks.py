"""Health checks of the trading services: accounts (reachable, request budget), market data per
symbol (fresh), order streams, and bots (not in error, ticking, countdown cancel refreshed on time, and
no position left open by a risk stop: the operator must close it or restart the bot), and the store
(taking writes, or why not).
"""

from __future__ import annotations

from collections.abc import Mapping

from mmctl.bots.bot import Bot
from mmctl.bots.status import risk_stop_open
from mmctl.daemon.health import Check
from mmctl.exchange.base import Exchange
from mmctl.exchange.budget import AccountBudgets, RequestBudget
from mmctl.fleet.manager import BotManager
from mmctl.store.base import Store

STALE_BOOK_S = 15.0  # a subscribed symbol with no book update for this long fails health
STALE_TICK_S = 30.0  # a running bot that has not ticked for this long fails health
BUDGET_ALARM = 0.9  # share of a request budget's cap above which health fails


def account_checks(
    accounts: Mapping[str, Exchange], unavailable: Mapping[str, str], budgets: Mapping[str, AccountBudgets]
) -> list[Check]:
    checks = []
    ip_budget: RequestBudget | None = None
    for name, ex in sorted(accounts.items()):
        h = ex.health()
        age = f", market data {h.market_data_age_s:.1f} s old" if h.market_data_age_s is not None else ""
        checks.append(
            Check(f"account:{name}", h.connected, ("connected" if h.connected else "disconnected") + age)
        )
        budget = budgets.get(name)
        if budget is not None:
            checks.append(budget_check(f"budget:{name}", budget.account))
            ip_budget = budget.ip or ip_budget
    if ip_budget is not None:
        checks.append(budget_check("budget:ip", ip_budget))
    for name, why in sorted(unavailable.items()):
        checks.append(Check(f"account:{name}", False, why))
    return checks


def bot_checks(manager: BotManager) -> list[Check]:
    checks = [
        Check(
            f"order_stream:{account}",
            router.healthy,
            "subscribed" if router.healthy else str(router.last_error),
        )
        for account, router in sorted(manager.routers.items())
    ]
    for bot in manager.bots.values():
        left = risk_stop_open(bot)
        if left is not None:
            detail = (
                f"{bot.state.value} by a risk stop with a position of {left['position']} open "
                f"(notional {left['notional']}): {left['reason']}"
            )
            checks.append(Check(f"bot:{bot.name}", False, detail))
        elif bot.state.value == "error":
            checks.append(Check(f"bot:{bot.name}", False, f"error: {bot.last_error}"))
        elif bot.state.value == "running":
            checks.append(running_bot_check(bot, manager.clock.monotonic()))
    return checks


def budget_check(name: str, budget: RequestBudget) -> Check:
    """Fails when any window of the budget is above the alarm share of its cap, or it is rate-limited."""
    use = budget.usage()
    caps = budget.limits
    shares = {
        "weight/min": use["weight_1m"] / caps.weight_cap,
        "orders/10s": use["orders_10s"] / caps.orders_10s_cap,
        "orders/min": use["orders_1m"] / caps.orders_1m_cap,
    }
    worst = max(shares, key=lambda k: shares[k])
    blocked = use["blocked_for_s"]
    ok = shares[worst] < BUDGET_ALARM and not blocked
    detail = ", ".join(f"{k} {v:.0%}" for k, v in shares.items())
    if blocked:
        detail += f"; rate-limited for {blocked:.1f} s more"
    return Check(name, ok, detail)


def market_data_checks(manager: BotManager) -> list[Check]:
    checks = []
    now = manager.clock.monotonic()
    for account, hub in sorted(manager.market_data.items()):
        for symbol in sorted(hub.subscriptions()):
            last = hub.last_update(symbol)
            age = None if last is None else now - last[1]
            ok = age is not None and age <= STALE_BOOK_S
            detail = "no book yet" if age is None else f"last book {age:.1f} s ago"
            checks.append(Check(f"market_data:{account}:{symbol}", ok, detail))
    return checks


def running_bot_check(bot: Bot, now: float) -> Check:
    """Ticking recently, and the venue's countdown refreshed on time while orders rest."""
    problems = []
    tick_age = bot.tick_age_s()
    if tick_age is None or tick_age > STALE_TICK_S:
        problems.append("not ticking" if tick_age is None else f"last tick {tick_age:.0f} s ago")
    countdown_age = bot.countdown_age_s()
    if bot.quoter.live and (countdown_age is None or countdown_age > 2 * bot.options.countdown_refresh_s):
        age = "never" if countdown_age is None else f"{countdown_age:.0f} s ago"
        problems.append(f"countdown cancel last refreshed {age}")
    detail = f"running, {len(bot.quoter.live)} open order(s)"
    return Check(f"bot:{bot.name}", not problems, "; ".join([detail, *problems]))


def store_checks(store: Store) -> list[Check]:
    """The store takes writes; after a failure, why (every bot was stopped, starts are refused)."""
    failed = store.failed
    if failed is not None:
        return [
            Check("store", False, f"failed: {failed}; every bot was stopped, restart the daemon once fixed")
        ]
    return [Check("store", True, "writable")]
