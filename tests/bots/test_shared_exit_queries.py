"""Exit keepers confirming a mass stop share the account's open-conditionals query
(`AccountShared.open_conditionals_fresh`): one SAFETY-class listing per symbol that every keeper joins
until it leaves, instead of one per bot. Paper venue behind a real request budget on a manual clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

from tests.support.rig import BTC, PaperWorld
from tests.support.rig import scenario as run_scenario
from tests.support.settle import settle, until_done

from mmctl.bots.account import AccountShared
from mmctl.bots.events import EventLog
from mmctl.bots.held_exits import STOP_LEVEL, ExitKeeper
from mmctl.bots.ids import ClientIdGenerator, make_id
from mmctl.config.schema import PaperAccount
from mmctl.exchange.budget import BudgetLimits, RequestBudget
from mmctl.exchange.budgeted import BudgetedExchange
from mmctl.exchange.conditional import ConditionalKind, ConditionalRequest
from mmctl.exchange.faults import FaultyExchange
from mmctl.exchange.priority import Priority
from mmctl.exchange.weights import Cost
from mmctl.model import Side

BOTS = 6
LIMITS = BudgetLimits(weight_per_min=100, orders_per_10s=400, orders_per_min=4000, use_fraction=1.0)
WAIT_TURNS = 200  # loop turns that show a request waits for the window, not for the loop


class Rig(PaperWorld):
    """Paper account `a` on BTC behind a request budget (`venue` counts what reaches the venue), the
    account's shared state over it, and one exit keeper per bot `x0`..`x5` wired to the shared query."""

    def __init__(self) -> None:
        super().__init__({"a": PaperAccount(symbols=("BTCUSDT",))}, {BTC: 50_000}, half=Decimal("0.1"))
        self.venue = FaultyExchange(self.paper, self.clock)
        self.budget = RequestBudget(self.clock, LIMITS, name="account 'a'")
        exchange = BudgetedExchange(self.venue, self.budget)
        self.shared = AccountShared(exchange, self.clock, "a", budgeted=True)
        self.keepers = [
            ExitKeeper(
                f"x{i}", BTC, exchange, self.clock, EventLog(self.clock), ClientIdGenerator(f"x{i}", 0),
                fresh_conditionals=self.shared.open_conditionals_fresh,
            )
            for i in range(BOTS)
        ]  # fmt: skip

    async def held(self, client_id: str) -> None:
        """A stop held on the venue under `client_id` (as a run before this one left it)."""
        await self.paper.place_conditional(
            ConditionalRequest(
                symbol=BTC,
                side=Side.SELL,
                kind=ConditionalKind.STOP_MARKET,
                trigger_price=Decimal(45_000),
                qty=Decimal("0.002"),
                client_id=client_id,
            )
        )

    async def fill_window(self) -> None:
        """Use the whole minute's weight, the safety reserve included: the next request waits 60 s."""
        await self.budget.acquire(Cost(weight=LIMITS.weight_per_min), Priority.SAFETY)


def scenario(body: Callable[[Rig], Awaitable[None]]) -> None:
    run_scenario(Rig(), body)


def test_keepers_confirming_in_turn_while_the_budget_is_full_cost_one_open_conditionals_query() -> None:
    """Six keepers with nothing held that start confirming a few loop turns apart while the listing
    waits for the full window all take their answer from one open-conditionals request."""

    async def body(r: Rig) -> None:
        await r.fill_window()
        confirming = []
        for keeper in r.keepers:
            confirming.append(asyncio.ensure_future(keeper.cancel_and_confirm(5.0)))
            await settle()
        await settle(WAIT_TURNS)
        assert not any(t.done() for t in confirming)
        assert r.venue.calls["open_conditionals"] == 0
        r.clock.advance(60)
        await settle()
        assert [t.result() for t in confirming] == [0] * BOTS
        assert r.venue.calls["open_conditionals"] == 1

    scenario(body)


def test_keepers_cancel_every_exit_of_their_bot_with_one_listing_and_one_confirmation() -> None:
    """Six keepers whose bots each left a stop on the venue (unknown to the keeper) cancel exactly their
    own, leave another bot's alone, and confirm with two shared listings instead of twelve."""

    async def body(r: Rig) -> None:
        for i in range(BOTS):
            await r.held(make_id(f"x{i}", Side.SELL, STOP_LEVEL, 7))
        other = make_id("y", Side.SELL, STOP_LEVEL, 7)
        await r.held(other)
        await r.fill_window()
        confirming = asyncio.gather(*(k.cancel_and_confirm(5.0) for k in r.keepers))
        assert await until_done(r.clock, confirming) == [1] * BOTS
        assert [o.client_id for o in await r.paper.open_conditionals(BTC)] == [other]
        assert r.venue.calls["cancel_conditional"] == BOTS
        assert r.venue.calls["open_conditionals"] == 2

    scenario(body)


def test_a_keeper_without_the_shared_query_still_confirms_with_its_own_requests() -> None:
    """A keeper built with the exchange alone (no `fresh_conditionals`) cancels its bot's left-over exit
    and confirms with listings of its own."""

    async def body(r: Rig) -> None:
        mine = make_id("z", Side.SELL, STOP_LEVEL, 3)
        await r.held(mine)
        keeper = ExitKeeper("z", BTC, r.venue, r.clock, EventLog(r.clock), ClientIdGenerator("z", 0))
        assert await until_done(r.clock, keeper.cancel_and_confirm(5.0)) == 1
        assert await r.paper.open_conditionals(BTC) == []
        assert r.venue.calls["open_conditionals"] == 2

    scenario(body)
