"""The `pnl.report` RPC method: `mmctl pnl`'s report, from the venue's income ledger.

The daemon parses the times (`mmctl.timeparse`: the config's `[reports] pnl_since` and `[reports]
timezone` are the defaults, "" meaning today), checks every input before anything happens (a bad time,
zone, account, bot or grouping is a `ValidationError`, exit 2, and nothing is synced), brings each
requested account's ledger in the store up to date with its venue (`mmctl.pnl.sync`, one sync per
account at a time), then answers from the store (`mmctl.pnl.report`).

Unrealized PnL is a point-in-time figure: it is given only when the report runs up to now (no
`until`), from the account's net positions at the mark (the shared, cached figures refresh: no extra
venue request per report), and for `--bot` from that bot's own inventory at the position's mark.
Accounts that are configured but could not be opened, and accounts the store still has rows of, are
reported from the store with the time their ledger is complete up to (their newest row).

`register_pnl_methods` returns a `PnlService`: the same report and sync for the daemon's scheduled jobs
(`mmctl.daemon.pnl_jobs`), so a daily report file is the document `pnl.report` answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mmctl.clock import now_ms
from mmctl.config.schema import Settings
from mmctl.errors import ExchangeError, UnknownSymbol, ValidationError
from mmctl.fleet.manager import BotManager
from mmctl.pnl.buckets import GROUPINGS
from mmctl.pnl.lines import exact_sum
from mmctl.pnl.report import ReportRequest, build_report, pnl_doc
from mmctl.pnl.sync import WINDOW_MS, sync_income
from mmctl.rpc import protocol as proto
from mmctl.rpc.registry import MethodTable
from mmctl.store.base import Store, StoreReads
from mmctl.timefmt import iso_utc
from mmctl.timeparse import parse_time, zone_of

DAY_MS = 86_400_000
MAX_BUCKETS = {"day": (1000, DAY_MS), "week": (1000, 7 * DAY_MS), "month": (1000, 28 * DAY_MS)}
"""The most time buckets one report may have (and the shortest such bucket): keeps the answer in one
RPC message (1 MiB)."""


def _bad(message: str, field: str) -> ValidationError:
    return ValidationError(message, data={"field": field})


@dataclass(frozen=True, slots=True)
class PnlService:
    """`report(since=..., until=..., tz=..., by=...)`: what `pnl.report` answers (the same checks);
    `sync(account, since_ms)`: bring one account's ledger up to date (one sync per account at a time),
    a document with `complete_until_ms` and `error` (None, or why it could not sync)."""

    report: Callable[..., Awaitable[proto.PnlDoc]]
    sync: Callable[[str, int], Awaitable[dict[str, Any]]]


def register_pnl_methods(
    table: MethodTable, store: Store, manager: BotManager, settings_getter: Callable[[], Settings]
) -> PnlService:
    locks: dict[str, asyncio.Lock] = {}

    def stored_names(r: StoreReads) -> tuple[set[str], dict[str, str]]:
        accounts = set(r.last_income_ms())
        bots = {b.name: b.account for b in r.bots()}
        return accounts, bots

    async def bot_account(bot: str, stored_bots: dict[str, str]) -> str:
        if bot in manager.bots:
            return manager.bots[bot].definition.account
        if bot in manager.unloaded:
            return manager.unloaded[bot].account
        if bot in stored_bots:
            return stored_bots[bot]
        fills = await store.read(lambda r: r.fills(bot=bot, limit=1))
        if fills:
            return fills[0].account
        known = ", ".join(sorted({*manager.bots, *manager.unloaded, *stored_bots})) or "none"
        raise _bad(f"bot: no bot named {bot!r} (known: {known})", "bot")

    def unified(symbol: str, accounts: list[str]) -> str:
        for account in accounts:
            exchange = manager.accounts.get(account)
            if exchange is None:
                continue
            try:
                return exchange.market(symbol).symbol
            except UnknownSymbol:
                continue
        raise _bad(f"symbol: {symbol!r} is not a market of {', '.join(accounts) or 'any account'}", "symbol")

    async def sync(account: str, since_ms: int) -> dict[str, Any]:
        exchange = manager.accounts.get(account)
        if exchange is None:
            last = (await store.read(lambda r: r.last_income_ms())).get(account, 0)
            why = manager.unavailable.get(account, "not configured")
            return {"account": account, "rows_read": 0, "rows_new": 0, "complete_until_ms": last,
                    "error": f"account not open: {why}"}  # fmt: skip
        async with locks.setdefault(account, asyncio.Lock()):
            try:
                # a report reads back to its start; a background sync (since 0) of an account never
                # read takes one window, so start-up does not flood the request budget
                first = since_ms if since_ms > 0 else None
                done = await sync_income(
                    exchange, store, account, first_since_ms=first, lookback_ms=WINDOW_MS
                )
            except ExchangeError as e:
                last = (await store.read(lambda r: r.last_income_ms())).get(account, since_ms)
                return {"account": account, "rows_read": 0, "rows_new": 0, "complete_until_ms": last,
                        "error": e.message}  # fmt: skip
        return {"account": account, "rows_read": done.rows_read, "rows_new": done.rows_new,
                "complete_until_ms": done.complete_until_ms, "error": None}  # fmt: skip

    async def unrealized_of(accounts: list[str], symbol: str | None, bot: str | None) -> Decimal | None:
        values: list[Decimal] = []
        for account in accounts:
            if account not in manager.accounts:
                continue
            try:
                figures = (await manager.account(account).read_figures()).value
            except ExchangeError:
                return None
            if figures is None:
                return None
            if bot is not None:
                loaded = manager.bots.get(bot)
                if loaded is None:
                    return None
                position = figures.position(loaded.definition.symbol)
                values.append(loaded.inventory.unrealized(None if position is None else position.mark_price))
                continue
            values.extend(p.unrealized_pnl for p in figures.positions if symbol in (None, p.symbol))
        return exact_sum(values)

    async def pnl_report(
        since: str | None = None,
        until: str | None = None,
        tz: str | None = None,
        account: str | None = None,
        symbol: str | None = None,
        bot: str | None = None,
        by: str | None = None,
    ) -> proto.PnlDoc:
        """Realized PnL, commission, funding, other income and transfers (apart) over a time range,
        from the venue's ledger brought up to date first; per bucket with `by`."""
        reports = settings_getter().reports
        zone_name = (tz if tz is not None else reports.timezone).strip() or "UTC"
        zone = zone_of(zone_name)
        now = now_ms(manager.clock)
        since_ms = parse_time(since or reports.pnl_since or "today", now_ms=now, tz=zone, field="since")
        # until is exclusive: without one, the report includes this very millisecond
        until_ms = now + 1 if until is None else parse_time(until, now_ms=now, tz=zone, field="until")
        for name, value, text in (("since", since_ms, since), ("until", until_ms, until)):
            if text is not None and value > now:
                raise _bad(f"{name}: {text!r} is in the future ({iso_utc(value)})", name)
        if since_ms >= until_ms:
            raise _bad(f"since ({iso_utc(since_ms)}) must be before until ({iso_utc(until_ms)})", "since")
        if by is not None and by not in GROUPINGS:
            raise _bad(f"by: {by!r} is not one of {', '.join(GROUPINGS)}", "by")
        if (
            by is not None
            and by in MAX_BUCKETS
            and (until_ms - since_ms) // MAX_BUCKETS[by][1] > MAX_BUCKETS[by][0]
        ):
            most, _ = MAX_BUCKETS[by]
            raise _bad(f"by: more than {most} {by} buckets; use a shorter time or a longer bucket", "by")
        if bot is not None and symbol is not None:
            raise _bad("give --bot or --symbol, not both (a bot trades one symbol)", "bot")
        stored_accounts, stored_bots = await store.read(stored_names)
        known = sorted({*manager.accounts, *manager.unavailable, *stored_accounts})
        if account is not None and account not in known:
            raise _bad(
                f"account: no account named {account!r} (known: {', '.join(known) or 'none'})", "account"
            )
        accounts = [account] if account is not None else known
        if bot is not None:
            of_bot = await bot_account(bot, stored_bots)
            if account is not None and account != of_bot:
                raise _bad(f"bot {bot!r} trades on account {of_bot!r}, not {account!r}", "bot")
            accounts = [of_bot]
        if symbol is not None:
            symbol = unified(symbol, accounts)
        synced = [await sync(a, since_ms) for a in accounts]
        if until is None:  # up to now on every venue: a paper market faster than wall time runs ahead
            until_ms = max([until_ms, *(s["complete_until_ms"] + 1 for s in synced)])
        complete = min((s["complete_until_ms"] for s in synced), default=until_ms)
        request = ReportRequest(since_ms, until_ms, zone, zone_name if zone_name.upper() not in ("Z", "UTC")
                                else "UTC", tuple(accounts), symbol, bot, by)  # fmt: skip
        unrealized = await unrealized_of(accounts, symbol, bot) if until is None else None
        sync_docs = [
            {**{k: v for k, v in s.items() if k != "complete_until_ms"},
             "complete_until": iso_utc(s["complete_until_ms"])}
            for s in synced
        ]  # fmt: skip
        report = await build_report(
            store, request, complete_until_ms=complete, unrealized=unrealized, sync=sync_docs
        )
        return pnl_doc(report)

    table.add(proto.PNL_REPORT, pnl_report)
    return PnlService(pnl_report, sync)
