"""The daemon's composition root: `mmctl daemon run` loads the config, builds the `Daemon` host and wires
its services: the SQLite store, one exchange client per account, the bot manager with its stored
definitions, their RPC methods, health checks and periodic jobs, and the recovery at start.

Only this module decides which adapter serves an account: paper accounts get the built-in paper
exchange (its venue state kept in the store: `mmctl.daemon.paper_accounts`), `binanceusdm` accounts
the ccxt adapter (imported only when one is configured); an account that cannot be opened
(credentials, permissions, hedge mode...) is listed as unavailable with the reason.

Start, in order:
1. open the store `<state_dir>/mmctl.sqlite` before anything else. A store that cannot be used (locked
   by another process, read-only, full disk, corrupt, a newer schema) is one error line naming the file
   and what to do, and exit 1; nothing is overwritten;
2. import the legacy `<state_dir>/bots/*.toml` definitions the first time (a log line and an event say
   how many; never again); definitions then live in the store (`mmctl export` still writes TOML);
3. open the accounts, load the bots (stopped), serve RPC (`health` says "recovering");
4. recovery, before READY=1: reconcile each account with the venue (`mmctl.fleet.recovery`: one event
   and one log line of counts each), rebuild each bot's inventory from its recorded fills, then put
   each bot back where the operator left it (`[daemon] autostart`): running bots start, paused ones
   start paused (no orders on the venue), stopped ones stay stopped.
After an unclean end of the previous run (crash, `kill -9`, power loss) an event and a warning line say
so, and `health`, `status` and `list` show "recovered from an unclean shutdown at T" for an hour.

A failing store write while running stops every bot safely (orders cancelled and confirmed) and records
nothing more: one error line, `health` fails on the `store` check, and starts are refused.
Shutdown: stop the bots (cancel, confirm), make the store durable, close the clients, close the store
(marked clean).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from mmctl.bots.definition import BotDefinition
from mmctl.bots.events import Event, EventLog
from mmctl.bots.recorder import StoreRecorder
from mmctl.bots.state import BotOptions
from mmctl.clock import Clock, SystemClock
from mmctl.config.load import load_settings
from mmctl.config.schema import BinanceAccount, PaperAccount, Settings
from mmctl.daemon import logging as daemon_logging
from mmctl.daemon.audit import audit_controls
from mmctl.daemon.bot_methods import register_bot_methods
from mmctl.daemon.checks import (
    account_checks,
    bot_checks,
    countdown_checks,
    market_data_checks,
    store_checks,
    strategy_checks,
)
from mmctl.daemon.health import Check
from mmctl.daemon.host import Daemon
from mmctl.daemon.methods import register_daemon_methods
from mmctl.daemon.paper_accounts import open_paper_account, register_paper_methods
from mmctl.daemon.pnl_jobs import SYNC_EVERY_S, PnlJobs
from mmctl.daemon.pnl_methods import register_pnl_methods
from mmctl.daemon.record_methods import register_record_methods
from mmctl.daemon.systemd import EXIT_CONFIG, EXIT_FAILED, EXIT_OK
from mmctl.errors import MmctlError, StoreError, VenueUnavailable
from mmctl.exchange.base import Exchange
from mmctl.exchange.budget import AccountBudgets, RequestBudget
from mmctl.exchange.budgeted import BudgetedExchange
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.fleet import restart
from mmctl.fleet.manager import BotManager
from mmctl.fleet.recovery import RecoveryFailed, recover_account
from mmctl.fleet.recovery_report import LOG_EVENT
from mmctl.paths import resolve_state_dir
from mmctl.pnl.since import LedgerSince
from mmctl.store.records import DesiredState
from mmctl.store.sqlite.definitions import SqliteDefinitionStore
from mmctl.store.sqlite.store import DB_NAME, SqliteStore
from mmctl.strategies import registry
from mmctl.timefmt import iso_utc
from mmctl.tuning import REFREEZE_S, FullCollections, refreeze, tune_gc

if TYPE_CHECKING:
    from mmctl.daemon.scheduler import Scheduler

log = structlog.get_logger("mmctl.daemon")

UNCLEAN_NOTICE_S = 3600.0  # how long health, status and list say the last run ended uncleanly


async def start_bots(daemon: Daemon) -> Callable[[], Awaitable[None]]:
    """Service: open the store and the accounts, load the bots, queue the recovery; returns the stop
    function (stop bots, flush, close clients, close the store clean)."""
    clock = SystemClock()
    store = SqliteStore.open(daemon.state_dir / DB_NAME, clock)  # StoreError: one line, exit 1
    clients: list[Exchange] = []  # closed at shutdown
    try:
        return await _start(daemon, clock, store, clients)
    except BaseException:
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close()
        await store.close()
        raise


async def _start(
    daemon: Daemon, clock: Clock, store: SqliteStore, clients: list[Exchange]
) -> Callable[[], Awaitable[None]]:
    events = EventLog(clock, store=store, last_seq=await store.read(lambda r: r.last_event_seq()))
    events.listeners.append(log_event)
    notice = unclean_notice(store, events)
    await import_definitions(store, daemon.state_dir / "bots", events)
    accounts = await open_accounts(daemon.settings, clock, store, clients)
    recorder = StoreRecorder(store, clock)
    manager = BotManager(
        accounts.clients,
        SqliteDefinitionStore(store, clock),
        clock,
        events,
        unavailable=accounts.unavailable,
        account_options=account_options(daemon.settings),
        risk=daemon.settings.risk,
        budgets=accounts.budgets,
        records=store,
        recorder=recorder,
    )
    manager.notice = notice
    daemon.notices.append(notice)
    store.on_failure(lambda e: on_store_failure(manager, e))
    daemon.reload_hooks.append(lambda settings: manager.fleet.monitor.update_settings(settings.risk))
    for problem in manager.load():
        log.error("bot_definition_invalid", problem=problem)
    # PnL since each bot's start and since [reports] pnl_since, refreshed by the ledger sync job
    ledger = LedgerSince(store, manager, lambda: (daemon.settings.reports.pnl_since,
                                                  daemon.settings.reports.timezone), clock)  # fmt: skip
    register_bot_methods(daemon.table, manager, ledger)
    register_record_methods(daemon.table, store, manager)
    pnl = register_pnl_methods(daemon.table, store, manager, lambda: daemon.settings)
    register_paper_methods(daemon.table, accounts.papers, store, lambda a: active_bots(manager, a))
    audit_controls(daemon.table, events)  # every control command: an event with its caller
    daemon.check_providers.append(
        lambda: account_checks(accounts.clients, accounts.unavailable, accounts.budgets)
    )
    daemon.check_providers.append(lambda: countdown_checks(manager))
    daemon.check_providers.append(lambda: market_data_checks(manager))
    daemon.check_providers.append(lambda: bot_checks(manager))
    daemon.check_providers.append(lambda: store_checks(store))
    daemon.check_providers.append(strategy_checks)
    for plugin in registry().broken:
        log.warning(
            "strategy_plugin_broken", plugin=plugin.name, entry_point=plugin.value, reason=plugin.reason
        )
    log.info(
        "bots_loaded",
        bots=len(manager.bots),
        accounts=sorted(accounts.clients),
        unavailable=sorted(accounts.unavailable),
    )
    guards: list[asyncio.Task[None]] = []

    failed: dict[str, str] = {}
    daemon.check_providers.append(
        lambda: [Check(f"recovery:{a}", False, f"failed: {why}") for a, why in sorted(failed.items())]
    )

    schedules: list[Scheduler] = []
    full_collections = FullCollections()

    async def recover() -> None:
        failed.update(await recover_fleet(daemon, manager, store))
        guards.append(
            asyncio.create_task(run_fleet_guard(manager, lambda: daemon.settings.risk.check_interval_s))
        )
        # after the bots are back: apscheduler's import is no part of the time to quoting again
        schedules.append(
            start_schedules(
                daemon, store, clock, PnlJobs(pnl, store, manager, lambda: daemon.settings, clock, ledger)
            )
        )
        tune_gc()  # the long-lived objects of start-up are built: keep them out of every collection
        full_collections.install()  # and what each full collection leaves (bots started later)

    daemon.recoveries.append(recover)

    async def stop() -> None:
        for guard in guards:
            guard.cancel()
        for scheduler in schedules:
            scheduler.shutdown()
        full_collections.uninstall()
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
        await manager.durable()
        for client in clients:
            await client.close()
        await store.close()  # marks the run clean (unless a write failed)

    return stop


# --- start-up steps --------------------------------------------------------------------------------------


@dataclass
class Accounts:
    """The opened accounts: budgeted clients by name, the paper venues, the unavailable ones and why."""

    clients: dict[str, Exchange] = field(default_factory=dict)
    papers: dict[str, PaperExchange] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    budgets: dict[str, AccountBudgets] = field(default_factory=dict)


async def open_accounts(
    settings: Settings, clock: Clock, store: SqliteStore, clients: list[Exchange]
) -> Accounts:
    """Open every configured account (`clients` collects the raw clients to close at shutdown)."""
    out = Accounts()
    # Binance counts weight per IP: every account here shares one budget for it
    ip_budget = RequestBudget(clock, name="this IP's request weight")
    for name, account in settings.accounts.items():
        # Binance's published limits: weight per IP (shared), orders per account
        own = RequestBudget(clock, name=f"account {name!r}")
        ex: Exchange
        try:
            if isinstance(account, PaperAccount):
                paper = await open_paper_account(name, account, clock, store)
                out.papers[name] = paper
                ex = paper
            else:
                ex = await open_binance(name, account, clock, ip_budget, own)
        except VenueUnavailable as e:  # e.g. a saved paper state that does not fit its settings
            log.error("account_unavailable", account=name, error=e.message)
            out.unavailable[name] = e.message
            continue
        clients.append(ex)
        out.budgets[name] = AccountBudgets(own, ip_budget)
        out.clients[name] = BudgetedExchange(ex, own, ip_budget)
    return out


def start_schedules(
    daemon: Daemon, store: SqliteStore, clock: Clock, pnl: PnlJobs | None = None
) -> Scheduler:
    """The daemon's periodic jobs (`mmctl.daemon.scheduler`, imported here: after the bots are back):
    the store's prune and, with `pnl`, the ledger syncs, snapshots, daily report files and their
    catch-up at start (`mmctl.daemon.pnl_jobs`)."""
    from mmctl.daemon.scheduler import DAY_S, PRUNE_FIRST_S, Scheduler, prune_job

    scheduler = Scheduler()
    scheduler.every(
        "prune",
        DAY_S,
        prune_job(store, lambda: daemon.settings.store.retain_days, clock),
        first_in_s=PRUNE_FIRST_S,
    )
    scheduler.every("gc_refreeze", REFREEZE_S, refreeze_job, first_in_s=REFREEZE_S)
    if pnl is not None:
        scheduler.every("ledger_sync", SYNC_EVERY_S, pnl.sync_ledgers, first_in_s=SYNC_EVERY_S)
        scheduler.cron("snapshot", pnl.snapshot, zone=pnl.zone, minute=0)
        scheduler.cron("daily_report", pnl.daily_reports, zone=pnl.zone, minute=5)
        scheduler.once("pnl_catch_up", pnl.catch_up, in_s=0)
    scheduler.start()
    return scheduler


async def refreeze_job() -> None:
    """Reclaim the reference cycles that died among frozen objects (`mmctl.tuning.refreeze`)."""
    refreeze()


def account_options(settings: Settings) -> dict[str, BotOptions]:
    """Each account's bot options: its venue countdown (`countdown_s`, refreshed every
    `countdown_refresh_s`), the same for every bot of the account (the venue keeps one per symbol)."""
    return {
        name: BotOptions(countdown_s=account.countdown_s, countdown_refresh_s=account.countdown_refresh_s)
        for name, account in settings.accounts.items()
    }


def unclean_notice(store: SqliteStore, events: EventLog) -> Callable[[], str | None]:
    """Say that the previous run ended uncleanly (event + warning line); returns the notice that health,
    status and list show for `UNCLEAN_NOTICE_S` after this start (None otherwise)."""
    previous = store.previous_run
    if previous.clean:
        return lambda: None
    at = iso_utc(previous.ended_ms) if previous.ended_ms is not None else "an unknown time"
    text = f"recovered from an unclean shutdown at {at}"
    log.warning(
        "unclean_shutdown",
        last_seen=at,
        detail="the previous run did not stop cleanly (crash, kill -9, power loss); recovery reconciles "
        "every account with its venue",
    )
    events.add(None, "recovery", f"the previous run ended uncleanly (last seen alive at {at})", last_seen=at)
    until = time.monotonic() + UNCLEAN_NOTICE_S
    return lambda: text if time.monotonic() < until else None


async def import_definitions(store: SqliteStore, directory: Path, events: EventLog) -> None:
    """Import the legacy per-bot TOML files once (the store notes it and never imports again)."""
    try:
        count = await store.import_toml(directory, validate=lambda d: BotDefinition.from_dict(d).to_dict())
    except MmctlError as e:
        if isinstance(e, StoreError):
            raise
        log.error(
            "bot_definitions_not_imported",
            directory=str(directory),
            error=e.message,
            detail="nothing was imported; fix or move the file aside, then restart",
        )
        return
    if count:
        log.info("bot_definitions_imported", directory=str(directory), bots=count, detail="imported once")
        events.add(None, "info", f"imported {count} bot definition(s) from {directory} (once)", bots=count)


async def recover_fleet(daemon: Daemon, manager: BotManager, store: SqliteStore) -> dict[str, str]:
    """Reconcile every account, rebuild the bots' inventories, put the bots back (`daemon.recovering`
    says which step runs). Returns the accounts whose recovery failed, with why: their bots stay stopped
    (a bot must not quote on a venue the store does not match) and health fails until a restart."""
    autostart = daemon.settings.daemon.autostart
    desired = {b.name: b.desired_state for b in await store.read(lambda r: r.bots())}
    failed: dict[str, str] = {}

    def loaded(bot: str) -> bool:
        """A bot that will run must be loaded (its orders are adopted; other mmctl orders are cancelled)."""
        return bot in manager.bots

    daemon.recovering = "subscribing the accounts' order streams"
    await restart.open_order_streams(manager)  # from here on, every order event of every account is recorded
    for account, exchange in sorted(manager.accounts.items()):
        daemon.recovering = f"reconciling account {account} with its venue"
        try:
            report = await recover_account(
                account, exchange, store, manager.clock, autostart=autostart, will_run=loaded
            )
        except RecoveryFailed as e:
            failed[account] = e.message
            log.error("account_recovery_failed", account=account, error=e.message, bots="left stopped")
            manager.events.add(None, "error", f"account {account}: {e.message}; its bots stay stopped")
            continue
        log.info(LOG_EVENT, **report.to_log())
        event = report.to_event()
        manager.events.add(None, event.kind, event.message, **event.data)
    daemon.recovering = "rebuilding the bots' positions from their recorded fills"
    await restart.restore_inventories(manager)
    if not autostart:
        return failed
    daemon.recovering = "putting the bots back where the operator left them"
    back = [
        (bot, desired.get(name, DesiredState.STOPPED))
        for name, bot in sorted(manager.bots.items())
        if bot.definition.account not in failed
    ]
    outcomes = await asyncio.gather(
        *(restart.restore(bot, state) for bot, state in back if state is not DesiredState.STOPPED)
    )
    for outcome in outcomes:
        if outcome.get("ok"):
            log.info("bot_restored", bot=outcome["bot"], state=outcome["state"])
        else:
            log.error(
                "bot_restore_failed", bot=outcome["bot"], state=outcome["state"], error=outcome.get("error")
            )
    return failed


def active_bots(manager: BotManager, account: str) -> list[str]:
    """The bots on `account` that run or may hold orders (a paper reset is refused while any does)."""
    return sorted(
        b.name
        for b in manager.bots.values()
        if b.definition.account == account and (b.state.active or b.state.value == "error")
    )


def on_store_failure(manager: BotManager, error: StoreError) -> None:
    """A store write failed: one error line; every bot stops safely; nothing more is recorded."""
    log.error(
        "store_failed",
        error=str(error),
        action="stopping every bot (orders cancelled); starts are refused until the daemon is restarted",
    )
    manager.on_store_failure(error)


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


def run_daemon(
    config: str | None,
    socket_override: str | None,
    *,
    log_level: str | None = None,
    log_format: str | None = None,
) -> int:
    """Entry point of `mmctl daemon run`: load config, configure logging, run until stopped.

    `log_level`/`log_format` (the command line's) win over the config's `[log]`. A config that cannot
    be used (invalid, missing, a log file that cannot be opened) is one line at error priority with the
    reason and exit status `EXIT_CONFIG`, which the unit does not restart; an unexpected crash is a
    logged traceback and exit 1 (restarted)."""
    env = os.environ
    try:
        settings = load_settings(config, env)
    except MmctlError as e:
        daemon_logging.configure(log_level or "info", log_format or "auto")
        log.error("config_invalid", error=str(e), action="fix the config (mmctl config check), then start")
        return EXIT_CONFIG
    state_dir = resolve_state_dir(settings.daemon.state_dir, env)
    target = daemon_logging.target_for(settings.log, state_dir, env, level=log_level, fmt=log_format)
    try:
        daemon_logging.configure_target(target)
    except OSError as e:
        daemon_logging.configure(target.level, target.format)
        log.error(
            "log_file_unavailable",
            error=f"{e.filename}: {e.strerror}",
            action="fix [log] file in the config (or its directory's permissions), then start",
        )
        return EXIT_CONFIG
    daemon = build_daemon(
        settings,
        config_path=config or env.get("MMCTL_CONFIG") or settings.source or None,
        socket_override=socket_override,
    )
    daemon.log_level, daemon.log_format = log_level, log_format
    try:
        with contextlib.suppress(KeyboardInterrupt):
            return asyncio.run(daemon.run())
    except Exception:  # the process's last boundary: the traceback at error priority, not on stderr
        log.exception("daemon_crashed")
        return EXIT_FAILED
    return EXIT_OK


def build_daemon(
    settings: Settings, *, config_path: str | None = None, socket_override: str | None = None
) -> Daemon:
    """Wire the daemon: its RPC methods and services."""
    daemon = Daemon(settings, config_path=config_path, socket_override=socket_override)
    register_daemon_methods(daemon)
    daemon.services.append(start_bots)
    return daemon
