"""The daemon's composition root: `mmctl daemon run` loads the config, builds the `Daemon` host and wires
its services: one exchange client per account, the bot manager with its stored definitions, their RPC
methods and health checks.

Only this module decides which adapter serves an account: paper accounts get the built-in paper
exchange, `binanceusdm` accounts the ccxt adapter (imported only when one is configured); an account
that cannot be opened (credentials, permissions, hedge mode...) is listed as unavailable with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable

import structlog

from mmctl.bots.events import Event, EventLog
from mmctl.clock import Clock, SystemClock
from mmctl.config.load import load_settings
from mmctl.config.schema import BinanceAccount, PaperAccount, Settings
from mmctl.daemon import logging as daemon_logging
from mmctl.daemon.bot_methods import register_bot_methods
from mmctl.daemon.checks import account_checks, bot_checks, market_data_checks
from mmctl.daemon.host import Daemon
from mmctl.daemon.methods import register_daemon_methods
from mmctl.errors import MmctlError, VenueUnavailable
from mmctl.exchange.base import Exchange
from mmctl.exchange.budget import AccountBudgets, RequestBudget
from mmctl.exchange.budgeted import BudgetedExchange
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.fleet.manager import BotManager
from mmctl.store.toml_files import TomlDefinitionStore

log = structlog.get_logger("mmctl.daemon")


async def start_bots(daemon: Daemon) -> Callable[[], Awaitable[None]]:
    """Service: open the accounts, load the bots; returns the stop function (stop bots, close clients)."""
    clock = SystemClock()
    accounts: dict[str, Exchange] = {}
    unavailable: dict[str, str] = {}
    clients: list[Exchange] = []  # closed at shutdown
    budgets: dict[str, AccountBudgets] = {}
    # Binance counts weight per IP: every account here shares one budget for it
    ip_budget = RequestBudget(clock, name="this IP's request weight")
    for name, settings in daemon.settings.accounts.items():
        # Binance's published limits: weight per IP (shared), orders per account
        own = RequestBudget(clock, name=f"account {name!r}")
        ex: Exchange
        if isinstance(settings, PaperAccount):
            paper = PaperExchange.from_settings(name, settings, clock)
            await paper.load_markets()
            await paper.start()
            ex = paper
        else:
            try:
                ex = await open_binance(name, settings, clock, ip_budget, own)
            except VenueUnavailable as e:
                log.error("account_unavailable", account=name, error=e.message)
                unavailable[name] = e.message
                continue
        clients.append(ex)
        budgets[name] = AccountBudgets(own, ip_budget)
        accounts[name] = BudgetedExchange(ex, own, ip_budget)
    events = EventLog(clock)
    events.listeners.append(log_event)
    manager = BotManager(
        accounts,
        TomlDefinitionStore(daemon.state_dir / "bots"),
        clock,
        events,
        unavailable=unavailable,
        risk=daemon.settings.risk,
        budgets=budgets,
    )
    daemon.reload_hooks.append(lambda settings: manager.fleet.monitor.update_settings(settings.risk))
    guard = asyncio.create_task(run_fleet_guard(manager, lambda: daemon.settings.risk.check_interval_s))
    for problem in manager.load():
        log.error("bot_definition_invalid", problem=problem)
    register_bot_methods(daemon.table, manager)
    daemon.check_providers.append(lambda: account_checks(accounts, unavailable, budgets))
    daemon.check_providers.append(lambda: market_data_checks(manager))
    daemon.check_providers.append(lambda: bot_checks(manager))
    log.info(
        "bots_loaded", bots=len(manager.bots), accounts=sorted(accounts), unavailable=sorted(unavailable)
    )

    async def stop() -> None:
        guard.cancel()
        for outcome in await manager.shutdown():
            if outcome.get("ok"):
                log.info(
                    "bot_stopped", bot=outcome["bot"], cancelled=outcome.get("cancelled"), open_orders_left=0
                )
            else:
                log.error(
                    "bot_stop_incomplete",
                    bot=outcome["bot"],
                    error=outcome.get("error"),
                    orders=(outcome.get("data") or {}).get("orders"),
                )
        for client in clients:
            await client.close()

    return stop


async def open_binance(
    name: str, settings: BinanceAccount, clock: Clock, ip_budget: RequestBudget, own: RequestBudget
) -> Exchange:
    """A started Binance account (ccxt is imported only here, and only when one is configured)."""
    from mmctl.exchange.binance.account import open_binance_account

    return await open_binance_account(name, settings, clock, ip_budget=ip_budget, account_budget=own)


LOGGED_KINDS = {"risk": "warning", "error": "error", "reject": "info"}


def log_event(event: Event) -> None:
    """Risk triggers, errors and rejections also go to the daemon's log, with their numbers."""
    level = LOGGED_KINDS.get(event.kind)
    if level is not None:
        getattr(log, level)(f"bot_{event.kind}", bot=event.bot, message=event.message, **event.data)


async def run_fleet_guard(manager: BotManager, interval_s: Callable[[], float]) -> None:
    while True:
        await asyncio.sleep(interval_s())
        try:
            await manager.fleet.check()
        except Exception:
            log.exception("fleet_risk_check_failed")


def run_daemon(config: str | None, socket_override: str | None) -> int:
    """Entry point of `mmctl daemon run`: load config, configure logging, run until stopped."""
    env = os.environ
    try:
        settings = load_settings(config, env)
    except MmctlError as e:
        daemon_logging.configure()
        log.error("config_invalid", error=str(e))
        return 1
    daemon_logging.configure(settings.log.level, settings.log.format)
    daemon = build_daemon(
        settings,
        config_path=config or env.get("MMCTL_CONFIG") or settings.source or None,
        socket_override=socket_override,
    )
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(daemon.run())
    return 0


def build_daemon(
    settings: Settings, *, config_path: str | None = None, socket_override: str | None = None
) -> Daemon:
    """Wire the daemon: its RPC methods and services."""
    daemon = Daemon(settings, config_path=config_path, socket_override=socket_override)
    register_daemon_methods(daemon)
    daemon.services.append(start_bots)
    return daemon
