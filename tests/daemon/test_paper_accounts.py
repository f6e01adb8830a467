"""Paper accounts that outlive the daemon: restore after a restart, catch-up over the downtime, the
`paper.reset` method and `mmctl paper reset`, against a real SQLite store in a temp dir."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import sqlite3
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from mmctl.cli import paper_cmd
from mmctl.clock import ManualClock
from mmctl.config.schema import PaperAccount
from mmctl.daemon.paper_accounts import (
    open_paper_account,
    read_saved_venue,
    register_paper_methods,
)
from mmctl.errors import InvalidState, NotFound, VenueUnavailable
from mmctl.exchange.paper import PaperExchange
from mmctl.model import OrderRequest, OrderStatus, OrderType, OrderUpdate, Side
from mmctl.rpc.protocol import PAPER_RESET
from mmctl.rpc.registry import MethodTable
from mmctl.rpc.server import RpcServer
from mmctl.store.sqlite.store import SqliteStore

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
WALL = 1_764_568_741.0
# five taker trades a second: an order at the book's bid fills within seconds, one 4% away never does
BUSY = PaperAccount(symbols=("BTCUSDT", "ETHUSDT"), seed=5, trade_intensity=5.0)


def run(case: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(case())


def open_store(path: Path, clock: ManualClock) -> SqliteStore:
    return SqliteStore.open(path, clock, synchronous="NORMAL")


async def settled(exchange: PaperExchange) -> None:
    """Let the feed deliver its first books (the driver runs on the loop)."""
    for _ in range(20):
        if all(exchange.book(s) is not None for s in (BTC, ETH)):
            return
        await asyncio.sleep(0)
    raise AssertionError("no book from the paper feed")


def market(side: Side, qty: str, cid: str, symbol: str = BTC) -> OrderRequest:
    return OrderRequest(symbol, side, Decimal(qty), None, cid, type=OrderType.MARKET)


def limit(side: Side, price: Decimal, qty: str, cid: str, symbol: str = BTC) -> OrderRequest:
    return OrderRequest(symbol, side, Decimal(qty), price, cid, post_only=True)


def checker_view(db: Path, account: str) -> tuple[list[str], Decimal, Decimal]:
    """What paper_accounts.py's docstring tells a read-only checker to do: trade ids, wallet, and the
    epoch's start balance plus its income rows."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT trade_id FROM paper_trades WHERE account = ? ORDER BY seq", (account,)
            )
        ]
        state = json.loads(
            conn.execute("SELECT state FROM paper_state WHERE account = ?", (account,)).fetchone()[0]
        )
        amounts = conn.execute(
            "SELECT amount FROM income WHERE account = ? AND CAST(tran_id AS INTEGER) >= ?",
            (account, state["epoch"]["first_income_id"]),
        )
        expected = Decimal(state["epoch"]["start_balance"]) + sum(
            (Decimal(a) for (a,) in amounts), Decimal(0)
        )
        return ids, Decimal(state["venue"]["wallet"]), expected
    finally:
        conn.close()


def test_a_restart_restores_orders_positions_wallet_leverage_and_history(tmp_path: Path) -> None:
    """After close and reopen the account has the same wallet, positions, open orders, leverage, trades
    (`my_trades`), closed orders (`fetch_order`) and income, and the checker's SQL agrees with it."""

    async def case() -> None:
        clock = ManualClock(WALL)
        db = tmp_path / "mmctl.sqlite"
        store = open_store(db, clock)
        calm = PaperAccount(symbols=("BTCUSDT", "ETHUSDT"), seed=5)
        ex = await open_paper_account("paper", calm, clock, store)
        await settled(ex)
        top = ex.book(BTC)
        assert top is not None
        await ex.set_leverage(ETH, 9)
        await ex.place_orders(
            [market(Side.BUY, "0.0030", "m1"), limit(Side.BUY, top.bid - 100, "0.002", "l1")]
        )
        before = (await ex.balance(), await ex.positions(), await ex.open_orders(), await ex.income(0))
        trades = await ex.my_trades(BTC)
        await ex.close()
        await store.close()

        store = open_store(db, clock)
        again = await open_paper_account("paper", calm, clock, store)
        assert (
            await again.balance(),
            await again.positions(),
            await again.open_orders(),
            await again.income(0),
        ) == before
        assert str((await again.positions())[0].qty) == "0.0030"
        assert await again.leverage(ETH) == 9
        assert await again.my_trades(BTC) == trades
        assert (await again.fetch_order(BTC, client_order_id="m1")).status is OrderStatus.FILLED
        await again.close()
        await store.close()
        ids, wallet, expected = checker_view(db, "paper")
        assert ids == [f.trade_id for f in trades]
        assert wallet == before[0].wallet == expected
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            view = read_saved_venue(conn, "paper")
        assert (view.trade_ids, view.wallet, view.start_balance + view.income_total) == (ids, wallet, wallet)
        assert view.open_client_order_ids == ["l1"]
        assert view.positions == {BTC: Decimal("0.0030")}

    run(case)


def test_catch_up_fills_a_resting_order_and_fires_an_armed_countdown_at_its_deadline(tmp_path: Path) -> None:
    """During the downtime the market goes on: a resting bid fills and an armed countdown cancels the
    other symbol's orders at its deadline, both stamped inside the downtime window."""

    async def case() -> None:
        clock = ManualClock(WALL)
        db = tmp_path / "mmctl.sqlite"
        store = open_store(db, clock)
        ex = await open_paper_account("paper", BUSY, clock, store)
        await settled(ex)
        btc, eth = ex.book(BTC), ex.book(ETH)
        assert btc is not None
        assert eth is not None
        far_bid = (eth.bid * Decimal("0.96")).quantize(Decimal("0.01"))
        placed = await ex.place_orders(
            [limit(Side.BUY, btc.bid, "0.002", "near"), limit(Side.BUY, far_bid, "0.1", "far", symbol=ETH)]
        )
        assert [p.error for p in placed] == [None, None]
        await ex.arm_countdown(ETH, 30)
        deadline = ex.venue.state(ETH).countdown_ms
        saved_ms = ex.venue.now_ms
        assert not await ex.my_trades(BTC)
        ex.on_close = None  # a crash: no last save at shutdown
        await ex.close()
        await store.close()

        clock.advance(120)  # two minutes down
        store = open_store(db, clock)
        again = await open_paper_account("paper", BUSY, clock, store)
        assert saved_ms + 120_000 <= again.venue.now_ms
        [fill, *_] = await again.my_trades(BTC)
        assert fill.client_order_id == "near"
        assert saved_ms < fill.ts_ms <= saved_ms + 120_000
        far = await again.fetch_order(ETH, client_order_id="far")
        assert far.status is OrderStatus.CANCELED
        assert far.updated_ms == deadline
        assert again.venue.state(ETH).countdown_ms is None
        await again.close()
        await store.close()
        ids, wallet, expected = checker_view(db, "paper")
        assert fill.trade_id in ids
        assert wallet == expected

    run(case)


def test_catch_up_is_capped_by_catch_up_s(tmp_path: Path) -> None:
    """A long downtime simulates only `catch_up_s` of market: venue time moves by the cap, and a
    countdown due after it stays armed."""

    async def case() -> None:
        clock = ManualClock(WALL)
        db = tmp_path / "mmctl.sqlite"
        capped = PaperAccount(symbols=("BTCUSDT", "ETHUSDT"), seed=5, catch_up_s=10)
        store = open_store(db, clock)
        ex = await open_paper_account("paper", capped, clock, store)
        await settled(ex)
        await ex.arm_countdown(ETH, 60)
        await ex.close()
        saved_ms = ex.venue.now_ms
        await store.close()

        clock.advance(3600)
        store = open_store(db, clock)
        again = await open_paper_account("paper", capped, clock, store)
        assert again.venue.now_ms == saved_ms + 10_000
        assert again.venue.state(ETH).countdown_ms == saved_ms + 60_000
        await again.close()
        await store.close()

    run(case)


def test_a_saved_state_that_does_not_fit_the_config_is_refused_and_reset_clears_it(tmp_path: Path) -> None:
    """Other symbols in the config refuse the account with one line naming `mmctl paper reset`; reset
    of the unopened account forgets the saved state and the next open starts afresh with new ids."""

    async def case() -> None:
        clock = ManualClock(WALL)
        db = tmp_path / "mmctl.sqlite"
        store = open_store(db, clock)
        ex = await open_paper_account("paper", BUSY, clock, store)
        await settled(ex)
        await ex.place_orders([market(Side.BUY, "0.002", "m1")])
        await ex.close()
        other = PaperAccount(symbols=("BTCUSDT",))
        with pytest.raises(
            VenueUnavailable, match=r"paper account 'paper'.*`mmctl paper reset paper`"
        ) as info:
            await open_paper_account("paper", other, clock, store)
        assert "\n" not in str(info.value)
        table = MethodTable()
        register_paper_methods(table, {}, store, lambda account: [])
        result = await call(table, {"account": "paper"})
        assert result["reset"] is True
        with pytest.raises(NotFound, match="no paper account 'nope'"):
            await call(table, {"account": "nope"})
        fresh = await open_paper_account("paper", other, clock, store)
        assert fresh.venue.wallet.balance == other.balance
        assert fresh.venue.last_trade_id == 1  # ids go on after the old epoch's trade "1"
        await fresh.close()
        await store.close()

    run(case)


async def call(table: MethodTable, params: dict[str, Any]) -> Any:
    method = table.get(PAPER_RESET)
    assert method is not None
    return await method.handler(**method.bind(params))


def test_reset_is_refused_while_bots_run_and_otherwise_starts_the_same_object_afresh(tmp_path: Path) -> None:
    """`paper.reset` names the running bots and changes nothing; once they stop it gives the same
    exchange a fresh wallet and market, keeps its subscribers, and keeps the old rows as history."""

    async def case() -> None:
        clock = ManualClock(WALL)
        db = tmp_path / "mmctl.sqlite"
        store = open_store(db, clock)
        ex = await open_paper_account("paper", BUSY, clock, store)
        await settled(ex)
        top = ex.book(BTC)
        assert top is not None
        await ex.place_orders(
            [market(Side.BUY, "0.002", "m1"), limit(Side.BUY, top.bid - 500, "0.002", "l1")]
        )
        running = ["b2", "b1"]
        table = MethodTable()
        register_paper_methods(table, {"paper": ex}, store, lambda account: list(running))
        with pytest.raises(InvalidState, match="b1, b2") as info:
            await call(table, {"account": "paper"})
        assert info.value.data["bots"] == ["b1", "b2"]
        assert len(await ex.open_orders()) == 1
        updates = ex.order_updates()
        running.clear()
        result = await call(table, {"account": "paper"})
        assert (result["epoch"], result["cancelled"]) == (2, 1)
        assert (await ex.balance()).wallet == BUSY.balance
        assert await ex.positions() == []
        assert await ex.open_orders() == []
        assert await ex.my_trades(BTC) == []
        assert await ex.income(0) == []
        cancelled: OrderUpdate = await asyncio.wait_for(updates.__anext__(), 5)
        assert cancelled.order.client_order_id == "l1"
        await settled(ex)
        await ex.place_orders([market(Side.SELL, "0.002", "m2")])
        new: OrderUpdate = await asyncio.wait_for(updates.__anext__(), 5)  # the new venue publishes to it
        assert new.order.client_order_id == "m2"
        [trade] = await ex.my_trades(BTC)
        assert int(trade.trade_id) == result["first_trade_id"] > 1
        await ex.close()
        await store.close()
        ids, wallet, expected = checker_view(db, "paper")
        assert ids == ["1", trade.trade_id]  # the old epoch's trade stays as history
        assert wallet == expected

    run(case)


# --- the CLI ---------------------------------------------------------------------------------------


class ServedTable:
    """A method table served by the real RPC server on a real socket, from a thread's event loop."""

    def __init__(self, path: Path, register: Callable[[MethodTable], None]) -> None:
        self.path = path
        self.table = MethodTable()
        register(self.table)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.path))
        sock.setblocking(False)
        self.server = RpcServer(self.table)
        self.loop.run_until_complete(self.server.start(sock))
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.server.close(1.0))
        sock.close()

    def __enter__(self) -> ServedTable:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.path.unlink(missing_ok=True)


def registered_with(bots: list[str]) -> Callable[[MethodTable], None]:
    def register(table: MethodTable) -> None:
        async def reset(account: str) -> dict[str, Any]:
            if account != "paper":
                raise NotFound(f"no paper account {account!r} (paper accounts: paper)")
            if bots:
                raise InvalidState(f"paper account {account!r} has bots running on it: {', '.join(bots)}")
            return {"account": account, "reset": True, "epoch": 2, "balance": Decimal(10000), "cancelled": 0}

        async def version() -> dict[str, Any]:
            from mmctl import API_VERSION, __version__

            return {"version": __version__, "api": API_VERSION}

        table.add(PAPER_RESET, reset)
        table.add("daemon.version", version)

    return register


@pytest.fixture
def cli_socket() -> Iterator[Path]:
    """A short socket path (Unix socket paths are limited to ~107 bytes)."""
    d = Path(tempfile.mkdtemp(prefix="mmp"))
    yield d / "s.sock"
    shutil.rmtree(d, ignore_errors=True)


def invoke(sock: Path, *args: str) -> Any:
    root = typer.Typer()

    @root.callback()
    def main() -> None:
        """mmctl"""

    paper_cmd.register(root)
    return CliRunner().invoke(root, ["paper", *args], env={"MMCTL_SOCKET": str(sock)})


def test_cli_paper_reset_bad_input_gives_one_clear_line_and_the_exit_code(cli_socket: Path) -> None:
    """Unknown account and running bots exit 1 with the daemon's line, an empty name exits 2, a missing
    daemon exits 3, and a good reset prints the result (or its JSON)."""
    with ServedTable(cli_socket, registered_with([])):
        r = invoke(cli_socket, "reset", "nope", "--yes")
        assert r.exit_code == 1
        assert "no paper account 'nope'" in r.output
        r = invoke(cli_socket, "reset", " ", "--yes")
        assert r.exit_code == 2
        r = invoke(cli_socket, "reset", "paper", "--yes", "--json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["epoch"] == 2
        r = invoke(cli_socket, "reset", "paper", "--yes")
        assert r.exit_code == 0
        assert "epoch" in r.output
    with ServedTable(cli_socket, registered_with(["b1"])):
        r = invoke(cli_socket, "reset", "paper", "--yes")
        assert r.exit_code == 1
        assert "bots running on it: b1" in r.output
    r = invoke(cli_socket, "reset", "paper", "--yes")
    assert r.exit_code == 3
