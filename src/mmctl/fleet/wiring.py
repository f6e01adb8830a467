"""Per-account wiring of a `BotManager`: each account's client, shared state and order stream.

Every account has one `Exchange` client (given by the composition root; `exchange` names the accounts
configured or unavailable when asked for another), one `AccountShared` (order router, book hub,
leverage, countdowns), made on first use (`account_shared`), and its bots' runtime options
(`options_for`). The router records every order event and routes a loaded bot's events even while it is
not registered (stopped, starting), so a fill on a leftover order is still booked (what the daemon's
start does with them is in `mmctl.fleet.restart`). A venue countdown no active bot needs any more is
disarmed (`disarm_idle_countdowns`).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from mmctl.bots.account import AccountShared
from mmctl.bots.router import Route
from mmctl.bots.state import BotOptions, BotState
from mmctl.errors import InvalidState, MmctlError, ValidationError
from mmctl.exchange.base import Exchange

if TYPE_CHECKING:
    from mmctl.fleet.manager import BotManager


def exchange(manager: BotManager, account: str) -> Exchange:
    if account in manager.accounts:
        return manager.accounts[account]
    if account in manager.unavailable:
        raise InvalidState(f"account {account!r} is not available: {manager.unavailable[account]}")
    known = ", ".join(sorted([*manager.accounts, *manager.unavailable])) or "none"
    raise ValidationError(f"no account named {account!r} (configured: {known})", data={"field": "account"})


def options_for(manager: BotManager, account: str) -> BotOptions:
    """The runtime options of the bots on `account` (the account's countdown settings)."""
    return manager.account_options.get(account, manager.options)


def account_shared(manager: BotManager, account: str) -> AccountShared:
    shared = manager.shared.get(account)
    if shared is None:
        budgeted = account in manager.budgets
        shared = manager.shared[account] = AccountShared(
            exchange(manager, account), manager.clock, account, budgeted=budgeted
        )
        if manager.recorder is not None:
            shared.router.record_to(manager.recorder, account)
        shared.router.fallback = lambda name: _route_of(manager, account, name)
    return shared


def _route_of(manager: BotManager, account: str, name: str) -> Route | None:
    """The order-event route of a loaded bot of `account` that is not registered with the router
    (stopped, starting): a fill on one of its leftover orders is still booked into its inventory."""
    bot = manager.bots.get(name)
    if bot is None or bot.definition.account != account:
        return None
    return Route(bot.fills.on_update, bot.fills.on_gap)


async def disarm_idle_countdowns(manager: BotManager, pairs: set[tuple[str, str]]) -> None:
    """Disarm the venue's countdown on every (account, symbol) no active bot quotes any more, so it
    cannot later cancel orders an operator places by hand. A bot in `error` may have left orders it
    could not confirm cancelled: then the countdown stays armed, so the venue removes them."""
    for account, symbol in sorted(pairs):
        bots = manager.bots_on(account, symbol)
        if any(b.state.active or b.state is BotState.ERROR for b in bots):
            continue
        with contextlib.suppress(MmctlError):
            await account_shared(manager, account).disarm_countdown(symbol)
