"""The `bot.*`, `events.*` and `strategy.*` RPC methods: thin bindings of the bot manager."""

from __future__ import annotations

from typing import Any

from mmctl.fleet import controls
from mmctl.fleet.manager import BotManager
from mmctl.fleet.portfolio import portfolio
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

    async def pause(names: list[str] | None = None, all: bool = False) -> list[dict[str, Any]]:
        """Stop quoting (orders cancelled and confirmed) but keep watching."""
        return await manager.pause(names or [], all)

    async def resume(names: list[str] | None = None, all: bool = False) -> list[dict[str, Any]]:
        """Quote again after a pause."""
        return await manager.resume(names or [], all)

    async def leverage(name: str, leverage: int | None = None) -> dict[str, Any]:
        """Show the bot's symbol's leverage and maximum, or set it (validated against the brackets)."""
        if leverage is None:
            return await controls.leverage_info(manager, name)
        return await controls.set_leverage(manager, name, leverage)

    async def cancel_bots(names: list[str]) -> list[dict[str, Any]]:
        """Pause these bots and cancel their orders."""
        return await controls.cancel_bots(manager, names)

    async def cancel_symbol(account: str, symbol: str) -> dict[str, Any]:
        """Cancel every open order on a symbol of an account (manual ones too); pause its bots."""
        return await controls.cancel_symbol(manager, account, symbol)

    async def cancel_everything() -> list[dict[str, Any]]:
        """cancel.symbol for every account and symbol with orders or bots."""
        return await controls.cancel_everything(manager)

    async def portfolio_view() -> dict[str, Any]:
        """Balances and positions per account, figures per bot, and totals."""
        return await portfolio(manager, manager.started_ms)

    table.add("bot.pause", pause)
    table.add("bot.resume", resume)
    table.add("bot.leverage", leverage)
    table.add("cancel.bots", cancel_bots)
    table.add("cancel.symbol", cancel_symbol)
    table.add("cancel.all", cancel_everything)
    table.add("portfolio.get", portfolio_view)
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
