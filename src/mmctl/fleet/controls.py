"""Operator controls across bots: leverage (show/set, validated against the symbol's brackets) and the
cancel-all panic button in its three forms (bots, one symbol of an account, everything).

Cancel-all pauses the bots concerned first, so nothing re-quotes behind it, then cancels on the venue,
including orders mmctl did not place, and reports every order it cancelled. The bots it pauses are
recorded `paused` (where the operator left them: a restart does not resume them), all of them by one
flush of the store, so they pause in the same loop turn and their cancels join (`BotManager.stop` does
the same). `cancel-all --all` works on every account and symbol at once, not one after the other.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mmctl.errors import LeverageRejected, UnknownSymbol, ValidationError
from mmctl.exchange.priority import Priority, request_class
from mmctl.fleet.batch import each, select
from mmctl.model import Order
from mmctl.store.records import DesiredState
from mmctl.strategies.params import update_params

if TYPE_CHECKING:
    from mmctl.bots.bot import Bot
    from mmctl.fleet.manager import BotManager

MAX_VENUE_LEVERAGE = 125
PAUSE_REASON = "paused by cancel-all"


def _shared(manager: BotManager, bot: Bot) -> list[str]:
    return sorted(
        b.name for b in manager.bots_on(bot.definition.account, bot.definition.symbol) if b is not bot
    )


async def leverage_info(manager: BotManager, name: str) -> dict[str, Any]:
    """The symbol's current leverage, the allowed maximum, the cap it implies and who shares it."""
    bot = manager.bot(name)
    ex, symbol = bot.exchange, bot.definition.symbol
    await ex.load_markets()
    rules = ex.market(symbol)
    current = await ex.leverage(symbol)
    position = await ex.position(symbol)
    shared = _shared(manager, bot)
    return {
        "bot": name,
        "account": bot.definition.account,
        "symbol": symbol,
        "leverage": current,
        "max_leverage": min(rules.max_leverage, MAX_VENUE_LEVERAGE),
        "notional_cap": str(rules.notional_cap(current)),
        "position_notional": str(position.notional),
        "shared_with": shared,
        "note": _share_note(bot, shared),
    }


def _share_note(bot: Bot, shared: list[str]) -> str | None:
    if not shared:
        return None
    return (
        f"leverage is set per symbol on the account: bots {', '.join(shared)} on {bot.definition.account} "
        f"{bot.definition.symbol} share it"
    )


async def set_leverage(manager: BotManager, name: str, leverage: int) -> dict[str, Any]:
    """Set the symbol's leverage on the venue, validated; bots sharing the symbol get it too."""
    bot = manager.bot(name)
    ex, symbol = bot.exchange, bot.definition.symbol
    await ex.load_markets()
    rules = ex.market(symbol)
    top = min(rules.max_leverage, MAX_VENUE_LEVERAGE)
    if not 1 <= leverage <= top:
        raise ValidationError(
            f"leverage must be between 1 and {top} for {symbol}, got {leverage}", data={"field": "leverage"}
        )
    position = await ex.position(symbol)
    cap = rules.notional_cap(leverage)
    if position.notional > cap:
        raise LeverageRejected(
            f"the {symbol} position's notional {position.notional:.2f} USDT exceeds the {cap} USDT cap at "
            f"{leverage}x; reduce the position or choose a lower leverage",
            data={"field": "leverage", "notional_cap": str(cap), "position_notional": str(position.notional)},
        )
    before = await ex.leverage(symbol)
    await ex.set_leverage(symbol, leverage)
    manager.account(bot.definition.account).note_leverage(symbol, leverage)
    for other in [bot, *(manager.bots[n] for n in _shared(manager, bot))]:
        _store_leverage(manager, other, leverage)
    manager.events.add(name, "info", f"leverage {before}x → {leverage}x on {bot.definition.account} {symbol}")
    return {**await leverage_info(manager, name), "previous": before}


def _store_leverage(manager: BotManager, bot: Bot, leverage: int) -> None:
    """Keep the definition in line, or the bot's next start would set its old leverage back."""
    if bot.params.leverage == leverage:
        return
    definition = replace(bot.definition, params=update_params(bot.params, {"leverage": leverage}))
    manager.store.save(bot.name, definition.to_dict())
    bot.update_definition(definition)


# --- cancel-all --------------------------------------------------------------------------------------------


def order_row(order: Order) -> dict[str, Any]:
    return {
        "symbol": order.symbol,
        "client_order_id": order.client_order_id,
        "side": order.side.value,
        "price": None if order.price is None else str(order.price),
        "qty": str(order.remaining),
    }


async def cancel_bots(manager: BotManager, names: list[str]) -> list[dict[str, Any]]:
    """Pause these bots (their orders cancelled and confirmed); stopped bots get any leftovers cancelled."""
    bots = select(manager, names, False)
    pausing = {b.name for b in bots if b.state.value in ("running", "paused")}
    await manager.desire_all(sorted(pausing), DesiredState.PAUSED)

    async def one(bot: Bot) -> dict[str, Any]:
        if bot.name in pausing:
            return await bot.pause(PAUSE_REASON)
        return {"cancelled": await bot.cancel_own_orders()}

    return await each(bots, one)


async def _pause(manager: BotManager, bots: list[Bot]) -> list[dict[str, Any]]:
    """Pause bots for cancel-all, all recorded `paused` first (one flush)."""
    await manager.desire_all([b.name for b in bots], DesiredState.PAUSED)
    return await each(bots, lambda bot: bot.pause(PAUSE_REASON))


async def cancel_symbol(manager: BotManager, account: str, symbol: str) -> dict[str, Any]:
    """Pause every bot quoting `symbol` on `account`, then cancel every open order there and every
    conditional order held on the venue (every request of the SAFETY class: it never waits behind
    quotes, reads or starts)."""
    with request_class(Priority.SAFETY):
        return await _cancel_symbol(manager, account, symbol)


async def _cancel_symbol(manager: BotManager, account: str, symbol: str) -> dict[str, Any]:
    ex = manager.exchange(account)
    await ex.load_markets()
    try:
        rules = ex.market(symbol)
    except UnknownSymbol as e:
        raise ValidationError(f"{e.message} on account {account!r}", data={"field": "symbol"}) from None
    quoting = [b for b in manager.bots_on(account, rules.symbol) if b.state.value == "running"]
    before = {o.client_order_id: o for o in await ex.open_orders(rules.symbol)}
    paused = await _pause(manager, quoting)
    swept = {o.client_order_id: o for o in await ex.cancel_all(rules.symbol)}
    held = await ex.cancel_all_conditionals(rules.symbol)  # exits held on the venue: cancel_all spares them
    left = await ex.open_orders(rules.symbol)
    gone = {**{cid: o for cid, o in before.items() if cid not in {x.client_order_id for x in left}}, **swept}
    manager.events.add(
        None,
        "cancel",
        f"cancel-all on {account} {rules.symbol}: {len(gone)} order(s), {len(held)} held exit(s)",
    )
    return {
        "account": account,
        "symbol": rules.symbol,
        "cancelled": [order_row(o) for o in gone.values()],
        "remaining": [order_row(o) for o in left],
        "conditionals_cancelled": len(held),
        "paused": [p["bot"] for p in paused if p["ok"]],
        "failed": [p for p in paused if not p["ok"]],
    }


async def cancel_everything(manager: BotManager) -> list[dict[str, Any]]:
    """cancel_symbol for every account and every symbol with an active bot or open orders: the bots'
    symbols first (cheap, per symbol), then one sweep per account for manual orders elsewhere. Accounts
    and symbols are worked on concurrently; the results come in account, then symbol order."""

    async def sweep(account: str) -> list[dict[str, Any]]:
        ex = manager.accounts[account]
        quoted = {
            b.definition.symbol
            for b in manager.bots.values()
            if b.definition.account == account and b.state.active
        }
        results = await asyncio.gather(*(cancel_symbol(manager, account, s) for s in sorted(quoted)))
        with request_class(Priority.SAFETY):
            others = {o.symbol for o in await ex.open_orders()} - quoted
            others |= {c.symbol for c in await ex.open_conditionals()} - quoted
        results += await asyncio.gather(*(cancel_symbol(manager, account, s) for s in sorted(others)))
        return results

    swept = await asyncio.gather(*(sweep(account) for account in sorted(manager.accounts)))
    return [result for results in swept for result in results]
