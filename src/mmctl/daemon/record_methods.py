"""The RPC methods that read the store (`fills.list`, `orders.history`, `events.list`) and maintain it
(`db.backup`, `db.check`, `db.vacuum`), registered under the names in `mmctl.rpc.protocol`.

Every read first makes what was queued before the call durable (`Store.flush`), so a fill or event the
daemon has seen is in the answer; after a failed write the store can no longer flush, and reads then show
what was committed. Times come in and go out as ISO 8601 UTC strings (`mmctl.timefmt`); the CLI turns
`--since 24h` and friends into one (`mmctl.timeparse`).

Which bots can be read: any bot the daemon knows (loaded or not), and any name the store still has rows
for (a removed bot's fills, orders and events stay readable: history is never deleted with the bot).
Anything else is `NotFound` naming the known bots.

Pages: `limit` rows at most (1..`MAX_PAGE`), and never more than about half a megabyte of JSON, so an
answer always fits in one RPC message. `fills.list` and `orders.history` return the newest rows and say
`truncated` when older ones were left out. `events.list` without `after` returns the newest events; with
`after=N` it pages forward (the first events after N) and `last_seq` is where the next page starts, so
`mmctl events --follow` never skips or repeats an event, across daemon restarts too (sequence numbers
continue in the store). This relies on events committing in sequence order (the store's writes commit in
queue order and the event log numbers events in the order it queues them).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from mmctl.errors import InvalidParams
from mmctl.fleet.manager import BotManager
from mmctl.rpc import protocol as proto
from mmctl.rpc.protocol import (
    EVENT_KINDS,
    MAX_MESSAGE_BYTES,
    MAX_PAGE,
    BackupDoc,
    CheckDoc,
    EventDoc,
    EventsPageDoc,
    FillDoc,
    FillsPageDoc,
    OrderHistoryDoc,
    OrdersHistoryDoc,
    StatusChangeDoc,
    VacuumDoc,
    dumps,
)
from mmctl.rpc.registry import MethodTable
from mmctl.store.base import Store, StoreReads
from mmctl.store.records import EventRecord, OrderRecord, StatusChange, StoredFill
from mmctl.timefmt import iso_utc, parse_iso_utc

T = TypeVar("T")
PAGE_BYTES = MAX_MESSAGE_BYTES // 2
"""The most JSON one page of rows may take (the rest of the message is the envelope)."""


def register_record_methods(table: MethodTable, store: Store, manager: BotManager) -> None:
    async def settled() -> None:
        if store.failed is None:
            await store.flush()

    async def read_for_bot(bot: str, fn: Callable[[StoreReads], T], empty: Callable[[T], bool]) -> T:
        """`fn`'s result for `bot`; NotFound if neither the daemon nor the store knows the name."""
        known = bot in manager.bots or bot in manager.unloaded

        def query(r: StoreReads) -> tuple[T, bool]:
            result = fn(r)
            return result, known or not empty(result) or has_history(r, bot)

        await settled()
        result, found = await store.read(query)
        if not found:
            manager.bot(bot)  # raises NotFound naming the known bots
        return result

    async def fills_list(
        bot: str, since: str | None = None, until: str | None = None, limit: int = 100
    ) -> FillsPageDoc:
        """A bot's recorded fills (newest `limit`, oldest first), optionally between two ISO times."""
        since_ms, until_ms, n = wire_time(since, "since"), wire_time(until, "until"), page_limit(limit)
        if since_ms is not None and until_ms is not None and until_ms <= since_ms:
            raise InvalidParams("until must be after since", data={"field": "until"})
        rows = await read_for_bot(
            bot,
            lambda r: r.fills(bot=bot, since_ms=since_ms, until_ms=until_ms, limit=n + 1),
            lambda rows: not rows,
        )
        docs, cut = newest_that_fit([fill_doc(f) for f in rows], n)
        return {"bot": bot, "fills": docs, "truncated": cut}

    async def orders_history(bot: str, since: str | None = None, limit: int = 100) -> OrdersHistoryDoc:
        """A bot's recorded orders, every status each went through (newest `limit`, oldest first)."""
        since_ms, n = wire_time(since, "since"), page_limit(limit)

        def query(r: StoreReads) -> list[tuple[OrderRecord, list[StatusChange]]]:
            orders = r.orders(bot=bot, since_ms=since_ms, limit=n + 1)
            return [(o, r.order_changes(o.client_order_id)) for o in orders]

        rows = await read_for_bot(bot, query, lambda rows: not rows)
        docs, cut = newest_that_fit([order_doc(o, changes) for o, changes in rows], n)
        return {"bot": bot, "orders": docs, "truncated": cut}

    async def events_list(
        bot: str | None = None,
        after: int | None = None,
        since: str | None = None,
        kind: str | None = None,
        limit: int = 200,
    ) -> EventsPageDoc:
        """Events oldest first: the newest `limit`, or with `after` the first `limit` after that seq."""
        since_ms, n = wire_time(since, "since"), page_limit(limit)
        if after is not None and after < 0:
            raise InvalidParams(f"after must be 0 or more, got {after}", data={"field": "after"})
        if kind is not None and kind not in EVENT_KINDS:
            raise InvalidParams(
                f"unknown event kind {kind!r} (kinds: {', '.join(EVENT_KINDS)})", data={"field": "kind"}
            )

        def query(r: StoreReads) -> tuple[list[EventRecord], int]:
            events = r.events(after_seq=after, since_ms=since_ms, bot=bot, kind=kind, limit=n)
            return events, r.last_event_seq()

        if bot is None:
            await settled()
            events, last = await store.read(query)
        else:
            events, last = await read_for_bot(bot, query, lambda result: not result[0])
        docs = [event_doc(e) for e in events]
        if after is None:
            docs, _ = newest_that_fit(docs, n)
            return {"events": docs, "last_seq": last}
        page = first_that_fit(docs)
        more = len(page) < len(docs) or len(docs) >= n
        return {"events": page, "last_seq": page[-1]["seq"] if more and page else last}

    async def db_backup(path: str) -> BackupDoc:
        """Copy the database to the new file `path` (absolute), consistent while the daemon writes."""
        if "\0" in path or not os.path.isabs(path):
            raise InvalidParams(
                f"path must be an absolute file name, got {path!r} (the daemon's working directory is "
                "not yours)",
                data={"field": "path"},
            )
        target = Path(path)
        await store.backup(target)
        return {"path": str(target), "bytes": await asyncio.to_thread(os.path.getsize, target)}

    async def db_check() -> CheckDoc:
        """SQLite's integrity and foreign-key checks of the database; `ok` when they find nothing."""
        problems = await store.check()
        return {"ok": not problems, "problems": problems}

    async def db_vacuum() -> VacuumDoc:
        """Rebuild the database file to reclaim space (writes wait meanwhile)."""
        await store.vacuum()
        return {"vacuumed": True}

    table.add(proto.FILLS_LIST, fills_list)
    table.add(proto.ORDERS_HISTORY, orders_history)
    table.add(proto.EVENTS_LIST, events_list)
    table.add(proto.DB_BACKUP, db_backup)
    table.add(proto.DB_CHECK, db_check)
    table.add(proto.DB_VACUUM, db_vacuum)


def has_history(r: StoreReads, bot: str) -> bool:
    """Whether the store has a definition, fill, order or event of `bot` (e.g. after it was removed)."""
    return bool(
        r.bot(bot) is not None
        or r.fills(bot=bot, limit=1)
        or r.orders(bot=bot, limit=1)
        or r.events(bot=bot, limit=1)
    )


def wire_time(text: str | None, field: str) -> int | None:
    """An ISO 8601 time with an offset from the wire as epoch ms (None stays None)."""
    if text is None:
        return None
    try:
        return parse_iso_utc(text)
    except (ValueError, OverflowError) as e:
        raise InvalidParams(
            f"{field} must be an ISO 8601 time with an offset, e.g. 2026-12-01T05:59:01.123Z: {e}",
            data={"field": field},
        ) from e


def page_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidParams(f"limit must be 1..{MAX_PAGE}, got {limit}", data={"field": "limit"})
    return limit


def newest_that_fit(docs: list[T], limit: int) -> tuple[list[T], bool]:
    """The newest `limit` of `docs` (oldest first) within `PAGE_BYTES`; True if any were left out."""
    kept = docs[-limit:]
    total = 0
    for i in range(len(kept) - 1, -1, -1):
        total += len(dumps(kept[i])) + 1
        if total > PAGE_BYTES:
            return kept[i + 1 :], True
    return kept, len(kept) < len(docs)


def first_that_fit(docs: list[T]) -> list[T]:
    """The oldest of `docs` that fit within `PAGE_BYTES` (at least one)."""
    total = 0
    for i, doc in enumerate(docs):
        total += len(dumps(doc)) + 1
        if total > PAGE_BYTES and i > 0:
            return docs[:i]
    return docs


def fill_doc(stored: StoredFill) -> FillDoc:
    f = stored.fill
    return {
        "ts": iso_utc(f.ts_ms),
        "account": stored.account,
        "bot": stored.bot,
        "symbol": f.symbol,
        "trade_id": f.trade_id,
        "order_id": f.order_id,
        "client_order_id": f.client_order_id,
        "side": f.side.value,
        "price": str(f.price),
        "qty": str(f.qty),
        "fee": str(f.fee),
        "fee_asset": f.fee_asset,
        "maker": f.maker,
        "realized_pnl": str(f.realized_pnl),
    }


def order_doc(o: OrderRecord, changes: list[StatusChange]) -> OrderHistoryDoc:
    return {
        "client_order_id": o.client_order_id,
        "venue_order_id": o.venue_order_id,
        "bot": o.bot,
        "account": o.account,
        "symbol": o.symbol,
        "side": o.side,
        "type": o.type,
        "price": _money(o.price),
        "qty": str(o.qty),
        "filled": str(o.filled),
        "avg_price": _money(o.avg_price),
        "status": o.status,
        "post_only": o.post_only,
        "reduce_only": o.reduce_only,
        "created": iso_utc(o.created_ms),
        "updated": iso_utc(o.updated_ms),
        "changes": [change_doc(c) for c in changes],
    }


def change_doc(c: StatusChange) -> StatusChangeDoc:
    return {"status": c.status, "ts": iso_utc(c.ts_ms), "detail": c.detail}


def event_doc(e: EventRecord) -> EventDoc:
    data: dict[str, Any] = dict(e.data)
    return {
        "seq": e.seq,
        "ts": iso_utc(e.ts_ms),
        "bot": e.bot,
        "kind": e.kind,
        "message": e.message,
        "data": data,
        "uid": e.uid,
        "user": e.user,
    }


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
