"""The store-reading RPC methods (`fills.list`, `orders.history`, `events.list`, `db.*`) through the real
method table and RPC server on a real socket, against a real SQLite store in a temp dir."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mmctl.bots.events import EventLog
from mmctl.clock import ManualClock
from mmctl.config.schema import PaperAccount
from mmctl.daemon.record_methods import PAGE_BYTES, register_record_methods
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.fleet.manager import BotManager
from mmctl.model import Fill, Order, OrderRequest, OrderStatus, OrderType, Side
from mmctl.rpc import protocol as proto
from mmctl.rpc.registry import MethodTable
from mmctl.rpc.server import RpcServer
from mmctl.store.base import MemoryDefinitionStore
from mmctl.store.records import NewEvent, NewFill, OrderSnapshot, OrderStatusChange, OrderSubmitting
from mmctl.store.sqlite.store import SqliteStore
from mmctl.timefmt import iso_utc

SYMBOL = "BTC/USDT:USDT"
T0 = 1_764_568_741_000  # 2025-12-01T05:59:01Z
NOT_FOUND, INVALID_PARAMS, STORE_ERROR = 1003, -32602, 1200
UNWRITABLE = Path("/proc/mmctl-backup.sqlite")  # nobody, root included, can create a file there


def definition(name: str, account: str) -> dict[str, Any]:
    return {"version": 1, "name": name, "account": account, "symbol": SYMBOL, "strategy": "market_maker"}


@dataclass
class Rig:
    store: SqliteStore
    manager: BotManager
    socket: Path
    tmp: Path

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One JSON-RPC round trip on a fresh connection: the whole response object."""
        reader, writer = await asyncio.open_unix_connection(str(self.socket), limit=4 << 20)
        try:
            msg: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method}
            if params is not None:
                msg["params"] = params
            writer.write(json.dumps(msg).encode() + b"\n")
            await writer.drain()
            reply: dict[str, Any] = json.loads(await asyncio.wait_for(reader.readline(), 10))
            return reply
        finally:
            writer.close()

    async def ok(self, method: str, params: dict[str, Any] | None = None) -> Any:
        reply = await self.call(method, params)
        assert "result" in reply, reply
        return reply["result"]

    async def error(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = await self.call(method, params)
        assert "error" in reply, reply
        error: dict[str, Any] = reply["error"]
        return error


@contextlib.asynccontextmanager
async def rig(tmp: Path) -> AsyncIterator[Rig]:
    """A store, a manager knowing bot `b1` (loaded) and `lost` (its account unavailable), and a server."""
    clock = ManualClock(T0)
    store = SqliteStore.open(tmp / "state" / "mmctl.sqlite", clock, synchronous="NORMAL")
    paper = PaperExchange.from_settings("paper", PaperAccount(symbols=("BTCUSDT",)), clock)
    definitions = MemoryDefinitionStore()
    definitions.save("b1", definition("b1", "paper"))
    definitions.save("lost", definition("lost", "gone"))
    manager = BotManager(
        {"paper": paper}, definitions, clock, EventLog(clock), unavailable={"gone": "no API keys"}
    )
    manager.load()
    table = MethodTable()
    register_record_methods(table, store, manager)
    path = tmp / "rpc.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.setblocking(False)
    server = RpcServer(table)
    await server.start(sock)
    try:
        yield Rig(store, manager, path, tmp)
    finally:
        await server.close(1.0)
        sock.close()
        await store.close()


def run(tmp_path: Path, case: Callable[[Rig], Awaitable[None]]) -> None:
    async def main() -> None:
        async with rig(tmp_path) as r:
            await case(r)

    asyncio.run(main())


def fill(trade_id: str, ts_ms: int, *, bot_cid: str = "mm.b1.b0.1", side: Side = Side.BUY) -> Fill:
    return Fill(
        trade_id=trade_id,
        order_id="88001",
        client_order_id=bot_cid,
        symbol=SYMBOL,
        side=side,
        price=Decimal("37000.10"),
        qty=Decimal("0.010"),
        fee=Decimal("0.00740002"),
        fee_asset="USDT",
        maker=side is Side.BUY,
        realized_pnl=Decimal("-1.5E-7"),
        ts_ms=ts_ms,
    )


def order(cid: str, status: OrderStatus, filled: str, updated_ms: int) -> Order:
    return Order(
        id="88001",
        client_order_id=cid,
        symbol=SYMBOL,
        side=Side.BUY,
        type=OrderType.LIMIT,
        price=Decimal("36999.90"),
        qty=Decimal("0.010"),
        filled=Decimal(filled),
        avg_price=Decimal("36999.90") if Decimal(filled) else None,
        status=status,
        post_only=True,
        reduce_only=False,
        created_ms=T0,
        updated_ms=updated_ms,
    )


def request(cid: str) -> OrderRequest:
    return OrderRequest(
        symbol=SYMBOL, side=Side.BUY, qty=Decimal("0.010"), price=Decimal("36999.90"), client_order_id=cid
    )


# --- fills.list ------------------------------------------------------------------------------------------


def test_fills_list_returns_every_field_exactly_oldest_first(short_tmp: Path) -> None:
    """A bot's fills come back oldest first with exact decimal strings, ISO times and every field."""

    async def case(r: Rig) -> None:
        for i in (2, 1, 3):
            await r.store.write(NewFill("paper", "b1", fill(f"T{i}", T0 + i * 1000)))
        await r.store.write(NewFill("paper", "other", fill("T9", T0)))
        doc = await r.ok(proto.FILLS_LIST, {"bot": "b1"})
        assert doc["bot"] == "b1"
        assert doc["truncated"] is False
        assert [f["trade_id"] for f in doc["fills"]] == ["T1", "T2", "T3"]
        assert doc["fills"][0] == {
            "ts": iso_utc(T0 + 1000),
            "account": "paper",
            "bot": "b1",
            "symbol": SYMBOL,
            "trade_id": "T1",
            "order_id": "88001",
            "client_order_id": "mm.b1.b0.1",
            "side": "buy",
            "price": "37000.10",
            "qty": "0.010",
            "fee": "0.00740002",
            "fee_asset": "USDT",
            "maker": True,
            "realized_pnl": "-1.5E-7",
        }

    run(short_tmp, case)


def test_fills_list_since_until_and_limit_keep_the_newest(short_tmp: Path) -> None:
    """`since` is inclusive, `until` exclusive, and `limit` keeps the newest rows and says `truncated`."""

    async def case(r: Rig) -> None:
        for i in range(10):
            await r.store.write(NewFill("paper", "b1", fill(f"T{i}", T0 + i * 1000)))
        window = {"bot": "b1", "since": iso_utc(T0 + 2000), "until": iso_utc(T0 + 5000)}
        doc = await r.ok(proto.FILLS_LIST, window)
        assert [f["trade_id"] for f in doc["fills"]] == ["T2", "T3", "T4"]
        doc = await r.ok(proto.FILLS_LIST, {"bot": "b1", "limit": 3})
        assert [f["trade_id"] for f in doc["fills"]] == ["T7", "T8", "T9"]
        assert doc["truncated"] is True
        doc = await r.ok(proto.FILLS_LIST, {"bot": "b1", "limit": 10})
        assert len(doc["fills"]) == 10
        assert doc["truncated"] is False

    run(short_tmp, case)


def test_fills_queued_but_not_yet_committed_are_in_the_answer(short_tmp: Path) -> None:
    """Fills only queued (`submit_nowait`) before the call are flushed first: the newest one is listed."""

    async def case(r: Rig) -> None:
        for i in range(5000):
            r.store.submit_nowait(NewFill("paper", "b1", fill(f"Q{i}", T0 + i)))
        doc = await r.ok(proto.FILLS_LIST, {"bot": "b1", "limit": 1})
        assert [f["trade_id"] for f in doc["fills"]] == ["Q4999"]

    run(short_tmp, case)


def test_unknown_bot_is_not_found_but_a_removed_or_unloaded_bots_history_is_readable(short_tmp: Path) -> None:
    """A name neither the daemon nor the store knows is NotFound; a removed bot with rows, and a bot whose
    account is unavailable, are readable."""

    async def case(r: Rig) -> None:
        err = await r.error(proto.FILLS_LIST, {"bot": "ghost"})
        assert err["code"] == NOT_FOUND
        assert "no bot named 'ghost'" in err["message"]
        assert (await r.error(proto.ORDERS_HISTORY, {"bot": "ghost"}))["code"] == NOT_FOUND
        assert (await r.error(proto.EVENTS_LIST, {"bot": "ghost"}))["code"] == NOT_FOUND
        await r.store.write(NewFill("paper", "gone-bot", fill("T1", T0, bot_cid="mm.gone-bot.b0.1")))
        doc = await r.ok(proto.FILLS_LIST, {"bot": "gone-bot"})
        assert [f["trade_id"] for f in doc["fills"]] == ["T1"]
        # a since window without rows still finds the bot through its other rows
        assert (await r.ok(proto.FILLS_LIST, {"bot": "gone-bot", "since": iso_utc(T0 + 1)}))["fills"] == []
        assert (await r.ok(proto.ORDERS_HISTORY, {"bot": "gone-bot"}))["orders"] == []
        assert (await r.ok(proto.FILLS_LIST, {"bot": "lost"}))["fills"] == []
        assert (await r.ok(proto.FILLS_LIST, {"bot": "b1"}))["fills"] == []

    run(short_tmp, case)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bot": "b1", "since": "yesterday"}, "since"),
        ({"bot": "b1", "since": "2026-12-01T05:59:01"}, "since"),
        ({"bot": "b1", "until": "garbage"}, "until"),
        ({"bot": "b1", "since": iso_utc(T0), "until": iso_utc(T0)}, "until"),
        ({"bot": "b1", "limit": 0}, "limit"),
        ({"bot": "b1", "limit": -5}, "limit"),
        ({"bot": "b1", "limit": proto.MAX_PAGE + 1}, "limit"),
        ({"bot": "b1", "limit": "10"}, "limit"),
        ({"bot": 7}, "bot"),
        ({}, "bot"),
    ],
)
def test_fills_list_bad_params_are_invalid_params_naming_the_field(
    short_tmp: Path, params: dict[str, Any], field: str
) -> None:
    """Malformed times, a reversed window, out-of-range limits and wrong types are -32602 naming the field."""

    async def case(r: Rig) -> None:
        err = await r.error(proto.FILLS_LIST, params)
        assert err["code"] == INVALID_PARAMS, err
        assert err["data"]["field"] == field, err

    run(short_tmp, case)


# --- orders.history --------------------------------------------------------------------------------------


def test_orders_history_lists_each_order_with_every_status_change(short_tmp: Path) -> None:
    """An order's row has its latest state, times, and the statuses it went through, in order."""

    async def case(r: Rig) -> None:
        await r.store.write(OrderSubmitting("b1", "paper", request("mm.b1.b0.1"), T0))
        await r.store.write(OrderSnapshot("b1", "paper", order("mm.b1.b0.1", OrderStatus.NEW, "0", T0 + 10)))
        await r.store.write(
            OrderSnapshot("b1", "paper", order("mm.b1.b0.1", OrderStatus.FILLED, "0.010", T0 + 900))
        )
        await r.store.write(OrderSubmitting("b1", "paper", request("mm.b1.b0.2"), T0 + 5000))
        await r.store.write(OrderStatusChange("mm.b1.b0.2", "rejected", T0 + 5010, "would cross"))
        doc = await r.ok(proto.ORDERS_HISTORY, {"bot": "b1"})
        assert doc["bot"] == "b1"
        assert doc["truncated"] is False
        first, second = doc["orders"]
        assert first["client_order_id"] == "mm.b1.b0.1"
        assert (first["status"], first["filled"], first["avg_price"]) == ("filled", "0.010", "36999.90")
        assert first["price"] == "36999.90"
        assert first["venue_order_id"] == "88001"
        assert [c["status"] for c in first["changes"]] == ["submitting", "new", "filled"]
        assert first["created"] == iso_utc(T0)
        assert first["changes"][-1]["ts"] == iso_utc(T0 + 900)
        assert second["status"] == "rejected"
        assert second["changes"][-1] == {
            "status": "rejected",
            "ts": iso_utc(T0 + 5010),
            "detail": "would cross",
        }
        later = await r.ok(proto.ORDERS_HISTORY, {"bot": "b1", "since": iso_utc(T0 + 1)})
        assert [o["client_order_id"] for o in later["orders"]] == ["mm.b1.b0.2"]
        newest = await r.ok(proto.ORDERS_HISTORY, {"bot": "b1", "limit": 1})
        assert [o["client_order_id"] for o in newest["orders"]] == ["mm.b1.b0.2"]
        assert newest["truncated"]
        err = await r.error(proto.ORDERS_HISTORY, {"bot": "b1", "limit": -1})
        assert err["code"] == INVALID_PARAMS
        assert err["data"]["field"] == "limit"

    run(short_tmp, case)


# --- events.list -----------------------------------------------------------------------------------------


async def add_events(
    r: Rig, n: int, *, bot: str | None = "b1", kind: str = "state", data: Any = None
) -> None:
    for i in range(n):
        r.store.submit_nowait(NewEvent(T0 + i, bot, kind, f"event {i}", data or {"i": i}))


def test_events_list_without_after_gives_the_newest_and_the_store_last_seq(short_tmp: Path) -> None:
    """Without `after`: the newest `limit` events oldest first, and `last_seq` the store's newest."""

    async def case(r: Rig) -> None:
        await add_events(r, 5)
        await add_events(r, 2, bot=None, kind="risk")
        doc = await r.ok(proto.EVENTS_LIST, {"limit": 3})
        assert [e["seq"] for e in doc["events"]] == [5, 6, 7]
        assert doc["last_seq"] == 7
        event = doc["events"][0]
        assert event == {
            "seq": 5,
            "ts": iso_utc(T0 + 4),
            "bot": "b1",
            "kind": "state",
            "message": "event 4",
            "data": {"i": 4},
            "uid": None,
            "user": None,
        }
        mine = await r.ok(proto.EVENTS_LIST, {"bot": "b1"})
        assert [e["seq"] for e in mine["events"]] == [1, 2, 3, 4, 5]
        assert mine["last_seq"] == 7
        risk = await r.ok(proto.EVENTS_LIST, {"kind": "risk"})
        assert [e["seq"] for e in risk["events"]] == [6, 7]
        since = await r.ok(proto.EVENTS_LIST, {"since": iso_utc(T0 + 3)})
        assert [e["seq"] for e in since["events"]] == [4, 5]  # the risk events are at T0 and T0+1

    run(short_tmp, case)


def test_events_list_after_pages_forward_without_gaps_or_repeats(short_tmp: Path) -> None:
    """With `after`: the first `limit` events after it; following `last_seq` reads each event once."""

    async def case(r: Rig) -> None:
        await add_events(r, 7)
        seen: list[int] = []
        after = 0
        for _ in range(10):
            doc = await r.ok(proto.EVENTS_LIST, {"after": after, "limit": 3})
            seen += [e["seq"] for e in doc["events"]]
            after = doc["last_seq"]
            if not doc["events"]:
                break
        assert seen == [1, 2, 3, 4, 5, 6, 7]
        assert after == 7
        await add_events(r, 2)
        doc = await r.ok(proto.EVENTS_LIST, {"after": after})
        assert [e["seq"] for e in doc["events"]] == [8, 9]
        assert doc["last_seq"] == 9

    run(short_tmp, case)


def test_a_filtered_follow_advances_past_events_it_does_not_match(short_tmp: Path) -> None:
    """Following one kind, `last_seq` still moves to the store's newest when nothing else matches."""

    async def case(r: Rig) -> None:
        await add_events(r, 4, kind="order")
        doc = await r.ok(proto.EVENTS_LIST, {"after": 0, "kind": "fill"})
        assert doc == {"events": [], "last_seq": 4}

    run(short_tmp, case)


def test_a_follower_ahead_of_the_store_is_brought_back_to_its_newest_event(short_tmp: Path) -> None:
    """`after` beyond the store's last seq (a replaced database) answers the store's last seq."""

    async def case(r: Rig) -> None:
        await add_events(r, 2)
        assert await r.ok(proto.EVENTS_LIST, {"after": 1000}) == {"events": [], "last_seq": 2}

    run(short_tmp, case)


def test_a_page_of_large_events_is_cut_to_fit_one_message_and_the_rest_follows(short_tmp: Path) -> None:
    """Events whose JSON exceeds the page budget come in several pages, none lost, each reply < 1 MiB."""

    async def case(r: Rig) -> None:
        big = {"blob": "x" * 20_000}
        count = PAGE_BYTES // 20_000 * 3
        await add_events(r, count, data=big)
        seen: list[int] = []
        after, pages = 0, 0
        while True:
            reply = await r.call(proto.EVENTS_LIST, {"after": after, "limit": proto.MAX_PAGE})
            assert len(json.dumps(reply)) < proto.MAX_MESSAGE_BYTES
            doc = reply["result"]
            if not doc["events"]:
                break
            pages += 1
            seen += [e["seq"] for e in doc["events"]]
            after = doc["last_seq"]
        assert seen == list(range(1, count + 1))
        assert pages >= 3
        newest = await r.ok(proto.EVENTS_LIST, {"limit": proto.MAX_PAGE})
        assert newest["events"][-1]["seq"] == count
        assert len(newest["events"]) < count

    run(short_tmp, case)


@pytest.mark.parametrize(
    ("params", "field", "text"),
    [
        ({"kind": "nonsense"}, "kind", "kinds: state, order, cancel, fill"),
        ({"after": -1}, "after", "after must be 0 or more"),
        ({"since": "24h"}, "since", "ISO 8601"),
        ({"limit": 0}, "limit", "limit must be 1.."),
    ],
)
def test_events_list_bad_params_name_the_field(
    short_tmp: Path, params: dict[str, Any], field: str, text: str
) -> None:
    """An unknown kind lists the kinds; a negative `after`, a non-ISO `since` or a zero limit are -32602."""

    async def case(r: Rig) -> None:
        err = await r.error(proto.EVENTS_LIST, params)
        assert err["code"] == INVALID_PARAMS
        assert err["data"]["field"] == field
        assert text in err["message"]

    run(short_tmp, case)


# --- db.* -------------------------------------------------------------------------------------------------


def test_db_backup_writes_a_consistent_copy_with_the_queued_rows(short_tmp: Path) -> None:
    """A backup is a new SQLite file holding what was committed, and reports its size."""

    async def case(r: Rig) -> None:
        await r.store.write(NewFill("paper", "b1", fill("T1", T0)))
        target = r.tmp / "copy.sqlite"
        doc = await r.ok(proto.DB_BACKUP, {"path": str(target)})
        assert doc == {"path": str(target), "bytes": target.stat().st_size}
        with contextlib.closing(sqlite3.connect(target)) as conn:
            assert conn.execute("SELECT trade_id, price FROM fills").fetchall() == [("T1", "37000.10")]

    run(short_tmp, case)


def test_db_backup_refuses_an_existing_file_and_changes_nothing(short_tmp: Path) -> None:
    """A backup onto an existing file is a store error naming it, and the file keeps its content."""

    async def case(r: Rig) -> None:
        target = r.tmp / "keep.txt"
        target.write_text("precious")
        err = await r.error(proto.DB_BACKUP, {"path": str(target)})
        assert err["code"] == STORE_ERROR
        assert "already exists" in err["message"]
        assert target.read_text() == "precious"
        assert sorted(p.name for p in r.tmp.iterdir() if p.name.startswith(".keep")) == []

    run(short_tmp, case)


def test_db_backup_refuses_a_missing_or_unwritable_directory_and_creates_nothing(short_tmp: Path) -> None:
    """A target in a missing directory, or one nobody can create files in, is refused; nothing appears."""

    async def case(r: Rig) -> None:
        missing = r.tmp / "no" / "such" / "b.sqlite"
        err = await r.error(proto.DB_BACKUP, {"path": str(missing)})
        assert err["code"] == STORE_ERROR
        assert "does not exist" in err["message"]
        assert not (r.tmp / "no").exists()
        err = await r.error(proto.DB_BACKUP, {"path": str(UNWRITABLE)})  # even root cannot
        assert err["code"] == STORE_ERROR
        assert str(UNWRITABLE) in err["message"]

    run(short_tmp, case)
    assert not UNWRITABLE.exists()


@pytest.mark.parametrize("path", ["relative.sqlite", "", "/tmp/a\x00b"])
def test_db_backup_needs_an_absolute_path(short_tmp: Path, path: str) -> None:
    """A relative or empty path, or one with a NUL byte, is -32602 on `path` (the daemon's cwd differs)."""

    async def case(r: Rig) -> None:
        err = await r.error(proto.DB_BACKUP, {"path": path})
        assert err["code"] == INVALID_PARAMS
        assert err["data"]["field"] == "path"

    run(short_tmp, case)


def test_db_check_reports_a_sound_database_then_a_broken_reference(short_tmp: Path) -> None:
    """`db.check` is ok on a sound file and lists a row whose foreign key points nowhere."""

    async def case(r: Rig) -> None:
        assert await r.ok(proto.DB_CHECK) == {"ok": True, "problems": []}
        with contextlib.closing(sqlite3.connect(r.store.path, isolation_level=None)) as conn:
            conn.execute("PRAGMA foreign_keys = OFF")
            conn.execute(
                "INSERT INTO order_status_changes (client_order_id, status, ts_ms, detail) "
                "VALUES ('nowhere', 'new', 1, '')"
            )
        doc = await r.ok(proto.DB_CHECK)
        assert doc["ok"] is False
        assert any("order_status_changes" in p for p in doc["problems"])

    run(short_tmp, case)


def test_db_vacuum_keeps_every_row(short_tmp: Path) -> None:
    """Vacuum answers `vacuumed` and the rows are all still there."""

    async def case(r: Rig) -> None:
        for i in range(20):
            await r.store.write(NewFill("paper", "b1", fill(f"T{i}", T0 + i)))
        assert await r.ok(proto.DB_VACUUM) == {"vacuumed": True}
        assert len((await r.ok(proto.FILLS_LIST, {"bot": "b1"}))["fills"]) == 20

    run(short_tmp, case)
