"""Manager lifecycle details from issue 9: idempotent `pause/resume --all`, loaded bots `stopped`, and
bots on an unavailable account kept in `list` in `error` with the reason."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest

from mmctl.bots.bot import BotOptions, BotState
from mmctl.bots.events import EventLog
from mmctl.clock import ManualClock, now_ms
from mmctl.config.schema import PaperAccount
from mmctl.errors import InvalidState
from mmctl.exchange.base import Exchange
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.fleet.manager import BotManager
from mmctl.model import BookTop
from mmctl.store.base import MemoryDefinitionStore

SYMBOL = "BTC/USDT:USDT"
OPTIONS = BotOptions(stop_timeout_s=2.0, max_failures=3, backoff_base_s=0.1, backoff_max_s=0.2)


class Fleet:
    """One paper account `a`, a manual clock, and a manager over a memory store."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.paper = PaperExchange.from_settings(
            "a", PaperAccount(symbols=("BTCUSDT",), balance=Decimal(1_000_000)), self.clock
        )
        self.store = MemoryDefinitionStore()
        self.manager = self.new_manager({"a": self.paper})

    def new_manager(
        self, accounts: dict[str, Exchange], unavailable: dict[str, str] | None = None
    ) -> BotManager:
        return BotManager(
            accounts, self.store, self.clock, EventLog(self.clock), options=OPTIONS, unavailable=unavailable
        )

    def book(self) -> None:
        mid, half = Decimal(50000), Decimal("0.05")
        self.paper.venue.on_book(
            BookTop(SYMBOL, mid - half, Decimal(9), mid + half, Decimal(9), now_ms(self.clock))
        )

    async def run(self, seconds: float) -> None:
        for _ in range(int(seconds / 0.05)):
            self.clock.advance(0.05)
            for _ in range(30):
                await asyncio.sleep(0)


def scenario(body: Callable[[Fleet], Awaitable[None]]) -> None:
    async def main() -> None:
        f = Fleet()
        await f.paper.load_markets()
        f.book()
        try:
            await body(f)
        finally:
            await f.manager.shutdown()
            await f.paper.close()

    asyncio.run(main())


def test_pause_all_and_resume_all_treat_bots_already_there_as_ok() -> None:
    """`pause --all` with one bot already paused and one stopped, and `resume --all` with one already
    running, report every row ok with a note instead of failing."""

    async def body(f: Fleet) -> None:
        m = f.manager
        for name in ("p1", "p2", "idle"):
            await m.create(name, "a", "BTCUSDT", "market_maker", {"levels": "1"})
        await m.start(["p1", "p2"])
        await f.run(0.3)
        await m.pause(["p1"])
        assert (await m.resume(["p2"]))[0]["ok"] is False  # a named running bot is still refused
        paused = await m.pause([], all_bots=True)
        assert all(row["ok"] for row in paused), paused
        by_bot = {row["bot"]: row for row in paused}
        assert by_bot["p1"]["note"] == "already paused"
        assert by_bot["idle"]["note"] == "not running"
        assert by_bot["p2"]["state"] == "paused"
        await m.resume(["p1"])
        resumed = await m.resume([], all_bots=True)
        assert all(row["ok"] for row in resumed), resumed
        by_bot = {row["bot"]: row for row in resumed}
        assert by_bot["p1"]["note"] == "already running"
        assert by_bot["p2"]["state"] == "running"
        assert by_bot["idle"]["state"] == "created"
        with pytest.raises(InvalidState):
            await m.bot("idle").pause()  # a named stopped bot is still refused by the bot itself

    scenario(body)


def test_bots_loaded_at_start_are_stopped_and_an_unavailable_account_keeps_its_bot_listed() -> None:
    """A daemon restart lists its stored bots as `stopped`; a bot whose account is unavailable is listed
    in `error` with the reason, refuses to start with it, and can still be removed."""

    async def body(f: Fleet) -> None:
        await f.manager.create("ok1", "a", "BTCUSDT", "market_maker", {"levels": "1"})
        await f.manager.create("gone1", "a", "BTCUSDT", "market_maker", {"levels": "1"})
        raw = f.store.load_all()["gone1"]
        f.store.save("gone1", {**raw, "account": "b"})
        restarted = f.new_manager({"a": f.paper}, unavailable={"b": "credentials missing"})
        problems = restarted.load()
        assert problems == ["bot gone1: account 'b' is not available: credentials missing"]
        rows = {row["name"]: row for row in restarted.rows()}
        assert rows["ok1"]["state"] == "stopped"
        assert rows["gone1"]["state"] == "error"
        assert "credentials missing" in rows["gone1"]["last_error"]
        assert restarted.bot("ok1").state is BotState.STOPPED
        with pytest.raises(InvalidState, match="credentials missing"):
            await restarted.start(["gone1"])
        assert restarted.remove("gone1") == {"bot": "gone1", "removed": True}
        assert "gone1" not in f.store.load_all()
        assert [row["name"] for row in restarted.rows()] == ["ok1"]

    scenario(body)
