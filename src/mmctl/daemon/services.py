"""The daemon's trading services, wired at the composition root: one exchange client per account, the
bot manager with its stored definitions, their RPC methods and health checks.

Only this module decides which adapter serves an account. Paper accounts get the built-in paper
exchange; `binanceusdm` accounts are listed as unavailable until the Binance adapter lands.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from mmctl.bots.events import EventLog
from mmctl.bots.manager import BotManager
from mmctl.clock import SystemClock
from mmctl.config.schema import PaperAccount
from mmctl.daemon.bot_methods import register_bot_methods
from mmctl.daemon.health import Check
from mmctl.daemon.main import Daemon
from mmctl.exchange.base import Exchange
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.store.toml_files import TomlDefinitionStore

log = structlog.get_logger("mmctl.daemon")

STALE_TICK_S = 30.0


async def start_bots(daemon: Daemon) -> Callable[[], Awaitable[None]]:
    """Service: open the accounts, load the bots; returns the stop function (stop bots, close clients)."""
    clock = SystemClock()
    accounts: dict[str, Exchange] = {}
    unavailable: dict[str, str] = {}
    paper: list[PaperExchange] = []
    for name, settings in daemon.settings.accounts.items():
        if isinstance(settings, PaperAccount):
            ex = PaperExchange.from_settings(name, settings, clock)
            await ex.load_markets()
            await ex.start()
            paper.append(ex)
            accounts[name] = ex
        else:
            unavailable[name] = "the Binance adapter is not in this version of mmctl yet"
    events = EventLog(clock)
    manager = BotManager(
        accounts, TomlDefinitionStore(daemon.state_dir / "bots"), clock, events, unavailable=unavailable
    )
    for problem in manager.load():
        log.error("bot_definition_invalid", problem=problem)
    register_bot_methods(daemon.table, manager)
    daemon.check_providers.append(lambda: account_checks(accounts, unavailable))
    daemon.check_providers.append(lambda: bot_checks(manager))
    daemon.manager = manager
    log.info(
        "bots_loaded", bots=len(manager.bots), accounts=sorted(accounts), unavailable=sorted(unavailable)
    )

    async def stop() -> None:
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
        for ex in accounts.values():
            await ex.close()

    return stop


def account_checks(accounts: dict[str, Exchange], unavailable: dict[str, str]) -> list[Check]:
    checks = []
    for name, ex in sorted(accounts.items()):
        h = ex.health()
        age = f", market data {h.market_data_age_s:.1f} s old" if h.market_data_age_s is not None else ""
        checks.append(
            Check(f"account:{name}", h.connected, ("connected" if h.connected else "disconnected") + age)
        )
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
        if bot.state.value == "error":
            checks.append(Check(f"bot:{bot.name}", False, f"error: {bot.last_error}"))
        elif bot.state.value == "running":
            detail = f"running, {len(bot.quoter.live)} open order(s)"
            checks.append(Check(f"bot:{bot.name}", True, detail))
    return checks
