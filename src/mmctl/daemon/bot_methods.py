"""The `bot.*`, `cancel.*`, `portfolio.*`, `account.*` and `strategy.*` RPC methods: thin
bindings of the bot manager, registered under the names in `mmctl.rpc.protocol`. Points in time go out
as ISO 8601 UTC strings (`mmctl.timefmt`). The methods that read the store (`events.list`, `fills.list`,
`orders.history`) and maintain it (`db.*`) are in `mmctl.daemon.record_methods`."""

from __future__ import annotations

from typing import Any, cast

from mmctl.errors import InvalidParams
from mmctl.fleet import controls, views
from mmctl.fleet.manager import BotManager
from mmctl.fleet.portfolio import portfolio
from mmctl.pnl.since import LedgerSince
from mmctl.rpc import protocol as proto
from mmctl.rpc.protocol import (
    START_ANSWER_S,
    AccountSummaryDoc,
    BotRowDoc,
    BotStatusDoc,
    DefinitionDoc,
    OutcomeDoc,
    PortfolioDoc,
)
from mmctl.rpc.registry import MethodTable
from mmctl.strategies import get_strategy
from mmctl.strategies.params import describe
from mmctl.timefmt import iso_utc, parse_iso_utc


def register_bot_methods(table: MethodTable, manager: BotManager, ledger: LedgerSince | None = None) -> None:
    """`ledger`: PnL since each bot's start and since `[reports] pnl_since` for `status` and `portfolio`."""

    async def create(
        name: str,
        account: str,
        symbol: str,
        strategy: str = "market_maker",
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create a bot (validated against the strategy's schema and the market's rules)."""
        return await manager.create(name, account, symbol, strategy, params or {})

    async def start(names: list[str] | None = None, all: bool = False) -> list[OutcomeDoc]:
        """Start bots by name, or all stopped bots; one outcome per bot."""
        return cast(list[OutcomeDoc], await manager.start(names or [], all))

    async def stop(
        names: list[str] | None = None,
        all: bool = False,
        flatten: bool = False,
    ) -> list[OutcomeDoc]:
        """Stop bots (orders cancelled and confirmed); flatten also closes the bot's position."""
        return cast(list[OutcomeDoc], await manager.stop(names or [], all, flatten))

    async def list_bots() -> list[BotRowDoc]:
        """One row per bot (every fill it counts made durable first)."""
        return cast(list[BotRowDoc], await manager.durable_rows())

    async def status(name: str) -> BotStatusDoc:
        """One bot in detail, with its open orders."""
        doc = await manager.status(name)
        if ledger is not None:
            doc.update(ledger.bot_doc(name))
        return cast(BotStatusDoc, doc)

    async def orders(name: str) -> list[dict[str, Any]]:
        """A bot's open orders."""
        return views.orders(manager, name)

    async def set_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
        """Change parameters (validated); a running bot applies them at its next tick."""
        return await manager.set_params(name, params)

    async def export(name: str) -> DefinitionDoc:
        """A bot's definition, as `mmctl export` writes it (`created` as ISO 8601 UTC)."""
        return manager.bot(name).definition.to_document()

    async def remove(name: str) -> dict[str, Any]:
        """Delete a stopped bot."""
        return manager.remove(name)

    async def strategy_params(strategy: str = "market_maker") -> list[dict[str, Any]]:
        """A strategy's parameters with types, defaults, bounds and docs."""
        return [vars_of(p) for p in describe(get_strategy(strategy).params_cls)]

    async def account_summary(account: str, since: str | None = None) -> AccountSummaryDoc:
        """An account's balance and income totals by type since an ISO 8601 time (default: ever)."""
        since_ms = 0 if since is None else _parse_since(since)
        doc = await views.account_summary(manager, account, since_ms)
        doc.pop("since_ms", None)
        return cast(AccountSummaryDoc, {**doc, "since": iso_utc(since_ms)})

    async def pause(names: list[str] | None = None, all: bool = False) -> list[OutcomeDoc]:
        """Stop quoting (orders cancelled and confirmed) but keep watching."""
        return cast(list[OutcomeDoc], await manager.pause(names or [], all))

    async def resume(names: list[str] | None = None, all: bool = False) -> list[OutcomeDoc]:
        """Quote again after a pause."""
        return cast(list[OutcomeDoc], await manager.resume(names or [], all))

    async def leverage(name: str, leverage: int | None = None) -> dict[str, Any]:
        """Show the bot's symbol's leverage and maximum, or set it (validated against the brackets)."""
        if leverage is None:
            return await controls.leverage_info(manager, name)
        return await controls.set_leverage(manager, name, leverage)

    async def cancel_bots(names: list[str]) -> list[OutcomeDoc]:
        """Pause these bots and cancel their orders."""
        return cast(list[OutcomeDoc], await controls.cancel_bots(manager, names))

    async def cancel_symbol(account: str, symbol: str) -> dict[str, Any]:
        """Cancel every open order on a symbol of an account (manual ones too); pause its bots."""
        return await controls.cancel_symbol(manager, account, symbol)

    async def cancel_everything() -> list[dict[str, Any]]:
        """cancel.symbol for every account and symbol with orders or bots."""
        return await controls.cancel_everything(manager)

    async def portfolio_view() -> PortfolioDoc:
        """Balances and positions per account, figures per bot, and totals."""
        return cast(PortfolioDoc, await portfolio(manager, manager.started_ms, ledger))

    table.add(proto.BOT_PAUSE, pause)
    table.add(proto.BOT_RESUME, resume)
    table.add(proto.BOT_LEVERAGE, leverage)
    table.add(proto.CANCEL_BOTS, cancel_bots)
    table.add(proto.CANCEL_SYMBOL, cancel_symbol)
    table.add(proto.CANCEL_ALL, cancel_everything)
    table.add(proto.PORTFOLIO_GET, portfolio_view)
    table.add(proto.ACCOUNT_SUMMARY, account_summary)
    table.add(proto.BOT_CREATE, create)
    table.add(proto.BOT_START, start, min_timeout_s=START_ANSWER_S)
    table.add(proto.BOT_STOP, stop)
    table.add(proto.BOT_LIST, list_bots)
    table.add(proto.BOT_STATUS, status)
    table.add(proto.BOT_ORDERS, orders)
    table.add(proto.BOT_SET, set_params)
    table.add(proto.BOT_EXPORT, export)
    table.add(proto.BOT_REMOVE, remove)
    table.add(proto.STRATEGY_PARAMS, strategy_params)


def vars_of(info: Any) -> dict[str, Any]:
    return {k: getattr(info, k) for k in ("name", "type", "default", "min", "max", "doc")}


def _parse_since(since: str) -> int:
    try:
        return parse_iso_utc(since)
    except (ValueError, OverflowError) as e:
        raise InvalidParams(
            f"since must be an ISO 8601 time with an offset, e.g. 2026-12-01T05:59:01.123Z: {e}",
            data={"field": "since"},
        ) from e
