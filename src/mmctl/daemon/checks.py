"""Health checks of the trading services: accounts (reachable, request budget; for Binance also the
latency, clock offset, any IP ban with its end, the use Binance reports against its limits, market
data and user stream freshness, and the venue's countdowns), each account's countdown cancels
(refreshed on time, named by account and symbol), market data per symbol (fresh), order streams, and
bots (not in error, ticking, and no position left open by a risk stop: the operator must close it or
restart the bot), whether each running bot is really quoting and each account's balance covers its
bots' quotes (`mmctl.daemon.quoting_checks`), each account's clock offset, and the daemon's state
directory (disk space) and store (taking writes, or why not), and the strategy plugins (every one
loaded, or which not and why).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from mmctl.bots.account import CountdownState
from mmctl.bots.bot import Bot
from mmctl.bots.status import risk_stop_open
from mmctl.daemon.health import Check
from mmctl.daemon.quoting_checks import COUNTDOWN_SLACK_S, balance_checks, quoting_checks
from mmctl.exchange.base import Exchange
from mmctl.exchange.budget import AccountBudgets, BudgetLimits, RequestBudget
from mmctl.fleet.manager import BotManager
from mmctl.model import ExchangeHealth
from mmctl.store.base import Store
from mmctl.store.sqlite.store import SqliteStore
from mmctl.strategies import registry

STALE_BOOK_S = 15.0  # a subscribed symbol with no book update for this long fails health
STALE_TICK_S = 30.0  # a running bot that has not ticked for this long fails health
BUDGET_ALARM = 0.9  # share of a request budget's cap above which health fails
CLOCK_OFFSET_LIMIT_MS = 1000  # a system clock this far from the venue's fails health (NTP is off)
CLOCK_SYNC_STALE_S = 900.0  # a venue clock offset measured longer ago than this fails health
DISK_MIN_FREE_BYTES = 256 * 2**20  # free space under the state directory below which health fails


def account_checks(
    accounts: Mapping[str, Exchange], unavailable: Mapping[str, str], budgets: Mapping[str, AccountBudgets]
) -> list[Check]:
    checks = []
    ip_budget: RequestBudget | None = None
    for name, ex in sorted(accounts.items()):
        h = ex.health()
        budget = budgets.get(name)
        if h.detail.get("venue") == "binanceusdm":
            checks.extend(binance_checks(name, h, budget.account if budget is not None else None))
        else:
            age = f", market data {h.market_data_age_s:.1f} s old" if h.market_data_age_s is not None else ""
            checks.append(
                Check(f"account:{name}", h.connected, ("connected" if h.connected else "disconnected") + age)
            )
        checks.append(clock_check(name, h))
        if budget is not None:
            checks.append(budget_check(f"budget:{name}", budget.account))
            ip_budget = budget.ip or ip_budget
    if ip_budget is not None:
        checks.append(budget_check("budget:ip", ip_budget))
    for name, why in sorted(unavailable.items()):
        checks.append(Check(f"account:{name}", False, why))
    return checks


def clock_check(name: str, h: ExchangeHealth) -> Check:
    """`clock:ACCOUNT`: the offset between this machine's clock and the venue's. Binance requests are
    signed with the measured offset applied, but a clock off by more than `CLOCK_OFFSET_LIMIT_MS` means
    NTP is not doing its job (times in logs, reports and `--since` are off too); an offset not measured
    for `CLOCK_SYNC_STALE_S` fails as well. The paper venue runs on the daemon's own clock."""
    d = h.detail
    if d.get("venue") != "binanceusdm":
        return Check(f"clock:{name}", True, "the paper venue runs on the daemon's clock (no offset)")
    if "clock_offset_ms" not in d:
        return Check(f"clock:{name}", False, "clock offset not measured yet (Binance not reached)")
    offset = int(d["clock_offset_ms"])
    synced = float(d.get("clock_synced_s_ago", "0"))
    detail = f"offset {offset:+d} ms against Binance, measured {synced:.0f} s ago"
    problems = []
    if abs(offset) > CLOCK_OFFSET_LIMIT_MS:
        problems.append(
            f"this machine's clock is off by more than {CLOCK_OFFSET_LIMIT_MS} ms: check NTP "
            "(timedatectl status)"
        )
    if synced > CLOCK_SYNC_STALE_S:
        problems.append(f"not measured for over {CLOCK_SYNC_STALE_S:.0f} s")
    return Check(f"clock:{name}", not problems, "; ".join([detail, *problems]))


def binance_checks(name: str, h: ExchangeHealth, budget: RequestBudget | None) -> list[Check]:
    """A Binance account (`mmctl.exchange.binance.health`): reachable (latency, clock offset, any IP ban
    with its end), the use Binance itself reports against its limits, market data and user stream
    freshness, and each countdown cancel as the venue runs it (expired = Binance cancelled the orders)."""
    d = h.detail
    banned = d.get("banned_until")
    if banned is not None:
        reach = Check(
            f"account:{name}",
            False,
            f"IP banned by Binance until {banned}: all trading on the account stops until then",
        )
    elif d.get("reachable") != "yes":
        why = d.get("last_error") or "no answer yet"
        reach = Check(f"account:{name}", False, f"unreachable: {why}")
    else:
        parts = [f"reachable ({d.get('environment', 'live')})"]
        if h.latency_ms is not None:
            parts.append(f"latency {h.latency_ms:.0f} ms")
        if "clock_offset_ms" in d:
            synced = d.get("clock_synced_s_ago", "?")
            parts.append(f"clock offset {int(d['clock_offset_ms']):+d} ms (synced {synced} s ago)")
        reach = Check(f"account:{name}", True, ", ".join(parts))
    checks = [reach, venue_usage_check(name, d, budget)]
    user = d.get("user_stream", "stopped")
    age = d.get("user_stream_age_s")
    stream = f"user stream {user}" + (f", last event {age} s ago" if age is not None else "")
    stream += (
        f", {d.get('user_stream_drops', '0')} drop(s), {d.get('reconciliations', '0')} reconciliation(s)"
    )
    book_age = h.market_data_age_s
    books = "market data: none subscribed" if book_age is None else f"market data {book_age:.1f} s old"
    stale = book_age is not None and book_age > STALE_BOOK_S
    checks.append(
        Check(f"streams:{name}", user in ("connected", "stopped") and not stale, f"{books}; {stream}")
    )
    for key, value in sorted(d.items()):
        if key.startswith("countdown:"):
            symbol = key.removeprefix("countdown:")
            checks.append(Check(f"venue_countdown:{name}:{symbol}", "EXPIRED" not in value, value))
    return checks


def venue_usage_check(name: str, detail: Mapping[str, str], budget: RequestBudget | None) -> Check:
    """The request weight (per IP) and order counts (per account) Binance reported in its last answers'
    headers, against its published limits; fails above `BUDGET_ALARM` of a limit."""
    limits = budget.limits if budget is not None else BudgetLimits()
    parts, ok = [], True
    for key, label, limit in (
        ("weight_1m", "weight/min", limits.weight_per_min),
        ("orders_10s", "orders/10s", limits.orders_per_10s),
        ("orders_1m", "orders/min", limits.orders_per_min),
    ):
        used = detail.get(key)
        if used is None:
            continue
        ok = ok and int(used) < BUDGET_ALARM * limit
        parts.append(f"{label} {used}/{limit}")
    text = ", ".join(parts) if parts else "no usage reported yet"
    return Check(f"rate:{name}", ok, f"Binance reports {text}")


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
    return checks + quoting_checks(manager) + balance_checks(manager)


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
    """Ticking recently, and the venue's countdown armed while orders rest (its refreshes are checked
    per account and symbol: `countdown_checks`)."""
    problems = []
    tick_age = bot.tick_age_s()
    if tick_age is None or tick_age > STALE_TICK_S:
        problems.append("not ticking" if tick_age is None else f"last tick {tick_age:.0f} s ago")
    if bot.quoter.live and bot.countdown_age_s() is None:
        problems.append("orders rest with no countdown cancel armed")
    detail = f"running, {len(bot.quoter.live)} open order(s)"
    return Check(f"bot:{bot.name}", not problems, "; ".join([detail, *problems]))


def countdown_checks(manager: BotManager) -> list[Check]:
    """Each account's countdown cancels (`countdown:ACCOUNT:SYMBOL`): refreshed within its interval plus
    `COUNTDOWN_SLACK_S`, or left to lapse because no bot quotes the symbol any more."""
    checks = []
    for account, shared in sorted(manager.shared.items()):
        for cd in shared.countdowns():
            checks.append(countdown_check(account, cd))
    return checks


def countdown_check(account: str, cd: CountdownState) -> Check:
    name = f"countdown:{account}:{cd.symbol}"
    every = f"{cd.timeout_s:g} s countdown refreshed every {cd.refresh_s:g} s"
    if cd.age_s is None:
        return Check(name, False, f"{every}: never armed" + (f" ({cd.error})" if cd.error else ""))
    if cd.lapsed:
        left = max(0.0, cd.timeout_s - cd.age_s)
        detail = f"no bot quotes {cd.symbol}: not refreshed since {cd.age_s:.0f} s"
        return Check(name, True, detail + (f", the venue cancels in {left:.0f} s" if left else ""))
    late = cd.age_s > cd.refresh_s + COUNTDOWN_SLACK_S
    detail = f"{every}, last {cd.age_s:.0f} s ago"
    if late:
        detail = f"refresh missed on account {account}, {cd.symbol}: {detail}"
        if cd.age_s >= cd.timeout_s:
            detail += "; the countdown has run out: the venue cancelled the symbol's orders"
    if cd.error:
        detail += f"; last refresh failed: {cd.error}"
    return Check(name, not late, detail)


def strategy_checks() -> list[Check]:
    """`strategies`: every plugin of the `mmctl.strategies` entry point group loaded, or which not and why
    (a broken plugin never stops the daemon; bots of its strategy cannot load until it is fixed)."""
    reg = registry()
    plugins = f", plugins: {', '.join(sorted(reg.plugins))}" if reg.plugins else ""
    detail = f"{len(reg.strategies)} strategies{plugins}"
    if not reg.broken:
        return [Check("strategies", True, detail)]
    broken = "; ".join(f"plugin {b.name} ({b.value}) not loaded: {b.reason}" for b in reg.broken)
    return [Check("strategies", False, f"{detail}; {broken}")]


def store_checks(store: Store, min_free_bytes: int = DISK_MIN_FREE_BYTES) -> list[Check]:
    """The store takes writes (after a failure, why: every bot was stopped, starts are refused; before
    one, whether its file and directory can still be written), and the disk space left under the state
    directory (`disk`)."""
    path = store.path if isinstance(store, SqliteStore) else None
    failed = store.failed
    if failed is not None:
        check = Check(
            "store", False, f"failed: {failed}; every bot was stopped, restart the daemon once fixed"
        )
    else:
        check = Check("store", True, "writable") if path is None else writable_check(path)
    return [check] if path is None else [check, disk_check(path.parent, min_free_bytes)]


def writable_check(db: Path) -> Check:
    """`store`: the database file and its directory (SQLite writes its journal there) can be written,
    on a file system that is not mounted read-only."""
    try:
        read_only = bool(os.statvfs(db.parent).f_flag & os.ST_RDONLY)
    except OSError as e:
        return Check("store", False, f"cannot inspect {db.parent}: {e.strerror}")
    if read_only:
        return Check("store", False, f"{db.parent} is on a read-only file system: no write will succeed")
    for target in (db, db.parent):
        if target.exists() and not os.access(target, os.W_OK):
            return Check("store", False, f"{target} is not writable by the daemon's user")
    return Check("store", True, f"writable ({db})")


def disk_check(state_dir: Path, min_free_bytes: int = DISK_MIN_FREE_BYTES) -> Check:
    """`disk`: free space on the file system of the state directory; fails below `min_free_bytes`."""
    try:
        usage = shutil.disk_usage(state_dir)
    except OSError as e:
        return Check("disk", False, f"cannot read the free space of {state_dir}: {e.strerror}")
    share = usage.free / usage.total if usage.total else 0.0
    detail = f"{_size(usage.free)} free of {_size(usage.total)} ({share:.0%}) in {state_dir}"
    if usage.free < min_free_bytes:
        detail += f": below {_size(min_free_bytes)}, the store's writes will soon fail"
        return Check("disk", False, detail)
    return Check("disk", True, detail)


def _size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n / 2**10:.0f} KiB"
