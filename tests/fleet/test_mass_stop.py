"""A mass stop (or cancel-all) records every bot's desired state with one flush of the real store, so the
bots start their stops in the same loop turn and their cancels and confirming queries join per account
and symbol (`stop --all` with 400 bots: 6.7 s waiting for the IP weight window when they did not, 0.4 s
joined)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from tests.support.rig import BTC, PaperFleet
from tests.support.rig import scenario as run_scenario

from mmctl.bots.events import Event, EventLog
from mmctl.config.schema import PaperAccount
from mmctl.exchange.base import Exchange
from mmctl.exchange.forwarding import ForwardingExchange
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.fleet import controls
from mmctl.fleet.manager import BotManager
from mmctl.model import CancelResult, Order
from mmctl.store.records import DesiredState
from mmctl.store.sqlite.definitions import SqliteDefinitionStore
from mmctl.store.sqlite.store import SqliteStore

BOTS = 24  # three times the store writer's settle chunk (8 futures per loop turn)
T = TypeVar("T")


class CountingExchange(ForwardingExchange):
    """Counts the cancel and open-orders requests that reach the venue."""

    def __init__(self, inner: Exchange) -> None:
        super().__init__(inner)
        self.cancel_requests = 0
        self.open_orders_requests = 0

    async def cancel_orders(self, symbol: str, client_order_ids: Sequence[str]) -> list[CancelResult]:
        self.cancel_requests += 1
        return await super().cancel_orders(symbol, client_order_ids)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        self.open_orders_requests += 1
        return await super().open_orders(symbol)


class LoopTurns:
    """Counts the event loop's turns (`now`), by a task that yields once per turn."""

    def __init__(self) -> None:
        self.now = 0
        self._task = asyncio.ensure_future(self._count())

    async def _count(self) -> None:
        while True:
            self.now += 1
            await asyncio.sleep(0)

    def close(self) -> None:
        self._task.cancel()


class StoredFleet(PaperFleet):
    """Paper account `a` (BTC, books republished every step, requests counted) and a manager keeping
    definitions and desired states in a real SQLite store."""

    def __init__(self, tmp_path: Path) -> None:
        settings = PaperAccount(symbols=("BTCUSDT",), balance=Decimal(10_000_000))
        super().__init__({"a": settings}, {BTC: 50_000}, books_every=1, wrap=self._count)
        self.db = SqliteStore.open(tmp_path / "mmctl.sqlite", self.clock, synchronous="NORMAL")
        self.manager = BotManager(
            self.exchanges,
            SqliteDefinitionStore(self.db, self.clock),
            self.clock,
            EventLog(self.clock),
            options=self.options,
            records=self.db,
        )

    def _count(self, name: str, paper: PaperExchange) -> Exchange:
        self.venue = CountingExchange(paper)
        return self.venue

    async def quoting(self) -> int:
        """Create and start `BOTS` bots of one level on BTC; the number of their open orders."""
        for i in range(BOTS):
            await self.manager.create(f"m{i}", "a", "BTCUSDT", "market_maker", {"levels": "1"})
        await self.manager.start([], all_bots=True)
        await self.run(0.5)
        live = sum(len(b.quoter.live) for b in self.manager.bots.values())
        assert live == 2 * BOTS
        return live

    async def act(self, operation: Awaitable[T], state: str) -> tuple[T, set[int]]:
        """Run `operation` (which records desired states, then moves every bot to `state`): the simulated
        clock stands still until the first bot reaches `state` (the records commit on the store's writer
        thread meanwhile; books stay fresh, so no bot pulls its quotes on its own), then runs until it is
        done. Returns its result and the loop turns in which the bots reached `state`."""
        turns = LoopTurns()
        reached: list[int] = []
        began = asyncio.Event()

        def on_event(event: Event) -> None:
            if event.kind == "state" and event.data.get("state") == state:
                reached.append(turns.now)
                began.set()

        self.manager.events.listeners.append(on_event)
        task = asyncio.ensure_future(operation)
        cancels = self.venue.cancel_requests
        await asyncio.wait_for(began.wait(), timeout=30.0)
        assert self.venue.cancel_requests == cancels  # nothing cancelled before the records were made
        try:
            result = await self.until_done(task)
        finally:
            turns.close()
            self.manager.events.listeners.remove(on_event)
        assert len(reached) == BOTS
        return result, set(reached)

    async def desired(self) -> list[DesiredState]:
        return [row.desired_state for row in await self.db.read(lambda reads: reads.bots())]


def scenario(tmp_path: Path, body: Callable[[StoredFleet], Awaitable[None]]) -> None:
    rig = StoredFleet(tmp_path)
    try:
        run_scenario(rig, body)
    finally:
        asyncio.run(rig.db.close())


def test_stop_all_records_every_bot_first_then_cancels_joined_per_symbol(tmp_path: Path) -> None:
    """`stop --all` of 24 quoting bots on one account and symbol, with the desired states in a real
    SQLite store: every bot is recorded `stopped` and begins its stop in the same loop turn, every order
    is gone, and the venue saw about one cancel per ten orders and one confirming query, not one of
    each per bot."""

    async def body(r: StoredFleet) -> None:
        live = await r.quoting()
        cancels, queries = r.venue.cancel_requests, r.venue.open_orders_requests
        outcomes, turns = await r.act(r.manager.stop([], all_bots=True), "stopping")
        assert all(o["ok"] and o["state"] == "stopped" for o in outcomes)
        assert r.orders("mm.", "a") == []
        assert len(turns) == 1  # all in one loop turn, after the one flush
        assert r.venue.cancel_requests - cancels <= math.ceil(live / 10) + 1  # a tick in flight may lag
        assert r.venue.open_orders_requests - queries <= 2
        assert await r.desired() == [DesiredState.STOPPED] * BOTS

    scenario(tmp_path, body)


def test_cancel_all_pauses_every_bot_in_one_turn_after_recording_them(tmp_path: Path) -> None:
    """`cancel-all --all --yes` over 24 quoting bots: all recorded `paused` by one flush, all paused in
    the same loop turn, no order left on the venue."""

    async def body(r: StoredFleet) -> None:
        await r.quoting()
        (result,), turns = await r.act(controls.cancel_everything(r.manager), "paused")
        assert sorted(result["paused"]) == sorted(f"m{i}" for i in range(BOTS))
        assert result["failed"] == []
        assert len(turns) == 1
        assert r.orders("mm.", "a") == []
        assert await r.desired() == [DesiredState.PAUSED] * BOTS

    scenario(tmp_path, body)
