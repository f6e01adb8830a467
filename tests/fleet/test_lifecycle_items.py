"""Manager lifecycle details from issue 9: idempotent `pause/resume --all`, loaded bots `stopped`, and
bots on an unavailable account kept in `list` in `error` with the reason."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from tests.support.rig import BTC, PaperFleet
from tests.support.rig import scenario as run_scenario

from mmctl.bots.bot import BotState
from mmctl.config.schema import PaperAccount
from mmctl.errors import InvalidState

SYMBOL = BTC


class Fleet(PaperFleet):
    """One paper account `a`, a manual clock, and a manager over a memory store."""

    def __init__(self) -> None:
        super().__init__(
            {"a": PaperAccount(symbols=("BTCUSDT",), balance=Decimal(1_000_000))}, {SYMBOL: 50000}
        )


def scenario(body: Callable[[Fleet], Awaitable[None]]) -> None:
    run_scenario(Fleet(), body)


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
        restarted = f.new_manager(f.exchanges, unavailable={"b": "credentials missing"})
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


def test_a_bot_whose_strategy_is_gone_stays_listed_in_error_with_the_reason() -> None:
    """After a restart where a bot's strategy is unknown (its plugin uninstalled or broken), the bot is
    listed in `error` with the reason and its stored account, symbol and strategy; starting it says why,
    and it can still be removed."""

    async def body(f: Fleet) -> None:
        await f.manager.create("ok1", "a", "BTCUSDT", "market_maker", {"levels": "1"})
        await f.manager.create("plug1", "a", "BTCUSDT", "market_maker", {"levels": "1"})
        raw = f.store.load_all()["plug1"]
        f.store.save("plug1", {**raw, "strategy": "uninstalled_plugin"})
        restarted = f.new_manager(f.exchanges)
        [problem] = restarted.load()
        assert problem.startswith("bot plug1: unknown strategy 'uninstalled_plugin'")
        rows = {row["name"]: row for row in restarted.rows()}
        assert rows["ok1"]["state"] == "stopped"
        plug = rows["plug1"]
        assert (plug["state"], plug["account"], plug["strategy"]) == ("error", "a", "uninstalled_plugin")
        assert plug["symbol"] == raw["symbol"]
        assert "unknown strategy 'uninstalled_plugin'" in plug["last_error"]
        with pytest.raises(InvalidState, match="not loaded: unknown strategy 'uninstalled_plugin'"):
            await restarted.start(["plug1"])
        assert restarted.remove("plug1") == {"bot": "plug1", "removed": True}
        assert [row["name"] for row in restarted.rows()] == ["ok1"]

    scenario(body)
