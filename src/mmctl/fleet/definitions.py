"""Editing bot definitions: create, set parameters and remove, on a `BotManager`'s registry.

Each change is validated (the bot's name, the strategy's parameter schema, the market's rules at the
current price: `reference_price` waits at most `BOOK_WAIT_S` for a first book) and persisted through the
manager's `DefinitionStore`. Create records `stopped` (a new bot's desired state) and set keeps the
parameter history, both durable before the command answers; remove deletes the bot (queued, committed
within milliseconds), and refuses while it runs or holds orders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mmctl.bots.definition import BotDefinition
from mmctl.bots.ids import validate_bot_name
from mmctl.bots.status import summary
from mmctl.clock import now_ms
from mmctl.errors import AlreadyExists, InvalidState, NoMarketData, UnknownSymbol, ValidationError
from mmctl.exchange.base import Exchange
from mmctl.strategies import get_strategy
from mmctl.strategies.params import parse_params, update_params

if TYPE_CHECKING:
    from mmctl.fleet.manager import BotManager

BOOK_WAIT_S = 5.0


async def create(
    manager: BotManager, name: str, account: str, symbol: str, strategy: str, params: Mapping[str, Any]
) -> dict[str, Any]:
    validate_bot_name(name)
    if name in manager.bots or name in manager.unloaded:
        raise AlreadyExists(f"a bot named {name!r} already exists", data={"field": "name"})
    exchange = manager.exchange(account)
    strat = get_strategy(strategy)
    parsed = parse_params(strat.params_cls, params)
    await exchange.load_markets()
    try:
        rules = exchange.market(symbol)
    except UnknownSymbol as e:
        raise ValidationError(f"{e.message} on account {account!r}", data={"field": "symbol"}) from None
    strat.check_against_market(parsed, rules, await reference_price(exchange, rules.symbol))
    if name in manager.bots:  # created concurrently while we waited for the book
        raise AlreadyExists(f"a bot named {name!r} already exists", data={"field": "name"})
    definition = BotDefinition(name, account, rules.symbol, strategy, parsed, now_ms(manager.clock))
    manager.store.save(name, definition.to_dict())  # a new bot's desired state is `stopped`
    manager.bots[name] = manager.new_bot(definition)
    manager.events.add(name, "state", f"created on {account} {rules.symbol} ({strategy})", state="created")
    await manager.durable()
    return summary(manager.bots[name])


async def reference_price(exchange: Exchange, symbol: str) -> Decimal:
    book = exchange.book(symbol)
    if book is None:
        stream = exchange.watch_book(symbol)
        try:
            book = await asyncio.wait_for(anext(stream), BOOK_WAIT_S)
        except TimeoutError:
            raise NoMarketData(
                f"no market data for {symbol} within {BOOK_WAIT_S:g} s", data={"symbol": symbol}
            ) from None
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
    return book.mid


async def set_params(manager: BotManager, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    bot = manager.bot(name)
    if not changes:
        raise ValidationError("nothing to set: give key=value pairs", data={"field": "params"})
    params = update_params(bot.params, changes)
    exchange = bot.exchange
    rules = exchange.market(bot.definition.symbol)
    bot.strategy.check_against_market(params, rules, await reference_price(exchange, rules.symbol))
    if "leverage" in changes and bot.state.active:
        raise InvalidState(
            "leverage is applied at start: stop the bot, set it, start again", data={"field": "leverage"}
        )
    definition = _replace_params(bot.definition, params)
    manager.store.save(name, definition.to_dict())
    bot.update_definition(definition)
    manager.events.add(
        name, "info", "parameters changed: " + ", ".join(f"{k}={v}" for k, v in changes.items())
    )
    await manager.durable()  # the store keeps the parameter history
    return {"bot": name, "params": definition.to_dict()["params"], "applies": "at the next tick"}


def remove(manager: BotManager, name: str) -> dict[str, Any]:
    if name in manager.unloaded:  # never loaded: it holds no orders of this daemon's
        manager.store.delete(name)
        del manager.unloaded[name]
        manager.events.add(name, "state", "removed", state="removed")
        return {"bot": name, "removed": True}
    bot = manager.bot(name)
    if bot.state.active:
        raise InvalidState(f"bot {name} is {bot.state.value}: stop it before removing it")
    if bot.quoter.live:
        raise InvalidState(f"bot {name} still has open orders: stop it first")
    manager.store.delete(name)
    del manager.bots[name]
    manager.events.add(name, "state", "removed", state="removed")
    return {"bot": name, "removed": True}


def _replace_params(definition: BotDefinition, params: Any) -> BotDefinition:
    return replace(definition, params=params)
