"""The `bot.*`, `events.*` and `strategy.*` RPC methods: thin bindings of the bot manager."""

from __future__ import annotations

from typing import Any

from mmctl.bots.manager import BotManager
from mmctl.rpc.registry import MethodTable
from mmctl.strategies import get_strategy
from mmctl.strategies.params import describe


def register_bot_methods(table: MethodTable, manager: BotManager) -> None:
    async def create(
        name: str,
        account: str,
        symbol: str,
        strategy: str = "market_maker",
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create a bot (validated against the strategy's schema and the market's rules)."""
        return await manager.create(name, account, symbol, strategy, params or {})

    async def start(names: list[str] | None = None, all: bool = False) -> list[dict[str, Any]]:
        """Start bots by name, or all stopped bots; one outcome per bot."""
        return await manager.start(names or [], all)

    async def stop(
        names: list[str] | None = None,
        all: bool = False,
        flatten: bool = False,
    ) -> list[dict[str, Any]]:
        """Stop bots (orders cancelled and confirmed); flatten also closes the bot's position."""
        return await manager.stop(names or [], all, flatten)

    async def list_bots() -> list[dict[str, Any]]:
        """One row per bot."""
        return manager.rows()

    async def status(name: str) -> dict[str, Any]:
        """One bot in detail, with its open orders."""
        return await manager.status(name)

    async def orders(name: str) -> list[dict[str, Any]]:
        """A bot's open orders."""
        return manager.orders(name)

    async def set_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
        """Change parameters (validated); a running bot applies them at its next tick."""
        return await manager.set_params(name, params)

    async def export(name: str) -> dict[str, Any]:
        """A bot's definition, as stored."""
        return manager.export(name)

    async def remove(name: str) -> dict[str, Any]:
        """Delete a stopped bot."""
        return manager.remove(name)

    async def events(bot: str | None = None, after: int = 0, limit: int = 200) -> dict[str, Any]:
        """Events after sequence number `after` (optionally one bot's), oldest first."""
        return manager.event_list(bot, after, limit)

    async def strategy_params(strategy: str = "market_maker") -> list[dict[str, Any]]:
        """A strategy's parameters with types, defaults, bounds and docs."""
        return [vars_of(p) for p in describe(get_strategy(strategy).params_cls)]

    async def account_summary(account: str, since_ms: int = 0) -> dict[str, Any]:
        """An account's balance and income totals by type since a time (ms)."""
        return await manager.account_summary(account, since_ms)

    table.add("account.summary", account_summary)
    table.add("bot.create", create)
    table.add("bot.start", start)
    table.add("bot.stop", stop)
    table.add("bot.list", list_bots)
    table.add("bot.status", status)
    table.add("bot.orders", orders)
    table.add("bot.set", set_params)
    table.add("bot.export", export)
    table.add("bot.remove", remove)
    table.add("events.list", events)
    table.add("strategy.params", strategy_params)


def vars_of(info: Any) -> dict[str, Any]:
    return {k: getattr(info, k) for k in ("name", "type", "default", "min", "max", "doc")}
