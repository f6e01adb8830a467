"""Safety under load: with the request budget saturated by reads and quotes, stop, pause and cancel-all are
admitted from the reserved share and confirm without waiting for a window to free; views cost the venue
at most one shared refresh per interval; requests that cannot get budget fail fast with the budget error.

Everything runs on a manual clock that the safety tests never advance: an operation that needed the
window to slide could not finish.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from tests.support.rig import BTC, PaperFleet
from tests.support.rig import scenario as run_scenario
from tests.support.settle import settle

from mmctl.bots.account import FIGURES_TTL_S, AccountShared
from mmctl.bots.bot import BotOptions, BotState
from mmctl.clock import ManualClock
from mmctl.config.schema import PaperAccount
from mmctl.errors import BudgetExhausted
from mmctl.exchange.base import Exchange
from mmctl.exchange.budget import AccountBudgets, BudgetLimits, RequestBudget
from mmctl.exchange.budgeted import BudgetedExchange
from mmctl.exchange.forwarding import ForwardingExchange
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.exchange.priority import Priority
from mmctl.exchange.weights import Cost
from mmctl.fleet import controls
from mmctl.fleet.manager import BotManager
from mmctl.model import Order

T = TypeVar("T")
FROZEN_TURNS = 200
"""Loop turns `frozen` gives an operation: five times the settle policy's, so "not done" means waiting."""
LIMITS = BudgetLimits(weight_per_min=100, orders_per_10s=40, orders_per_min=400, use_fraction=1.0)
WIDE = BudgetLimits(weight_per_min=500, orders_per_10s=40, orders_per_min=400, use_fraction=1.0)
"""The account tests' budget: its 100-weight safety reserve holds a stop, a pause and a cancel-all sweep
(the all-symbol open-orders and conditional-orders queries weigh 40 each; Binance's real reserve here
is 384)."""
OPTIONS = BotOptions(stop_timeout_s=2.0)


class Rig(PaperFleet):
    """Paper account `a` on BTC (book 49999.9/50000.1, republished every step) behind the `WIDE` request
    budget, and a manager sharing that budget."""

    def __init__(self) -> None:
        settings = PaperAccount(symbols=("BTCUSDT",), balance=Decimal(10_000_000))
        super().__init__(
            {"a": settings},
            {BTC: 50_000},
            books_every=1,
            half=Decimal("0.1"),
            options=OPTIONS,
            wrap=self._wrap,
        )

    def new_manager(self, accounts: Mapping[str, Exchange], **manager_kw: Any) -> BotManager:
        return super().new_manager(accounts, budgets={"a": AccountBudgets(self.budget)}, **manager_kw)

    def _wrap(self, name: str, paper: PaperExchange) -> Exchange:
        self.budget = RequestBudget(self.clock, WIDE, name=f"account {name!r}")
        return BudgetedExchange(paper, self.budget)

    async def saturate(self) -> None:
        """Fill every window up to what reads and quotes may use: only the safety reserve is left."""
        for cost in (Cost(weight=1), Cost(orders_10s=1), Cost(orders_1m=1)):
            while True:
                try:
                    await self.budget.acquire(cost, Priority.QUERY, deadline_s=0.0)
                except BudgetExhausted:
                    break


def scenario(body: Callable[[Rig], Awaitable[None]]) -> None:
    async def with_four_bots(r: Rig) -> None:
        for i in range(4):
            await r.manager.create(f"m{i}", "a", "BTCUSDT", "market_maker", {"levels": "2"})
        await r.manager.start([], all_bots=True)
        await r.run(0.5)
        await body(r)

    run_scenario(Rig(), with_four_bots)


async def frozen(operation: Awaitable[T]) -> T:
    """Run `operation` without advancing the clock; fail if it does not finish (it waited for budget)."""
    task = asyncio.ensure_future(operation)
    await settle(FROZEN_TURNS)
    assert task.done(), "the operation waited for the budget window to slide"
    return task.result()


def test_a_stop_is_admitted_and_confirmed_while_reads_and_quotes_saturate_the_budget() -> None:
    """With the windows full to the non-safety share, `stop` cancels and confirms at once."""

    async def body(r: Rig) -> None:
        assert len(r.orders("mm.m0.")) == 4
        await r.saturate()
        with pytest.raises(BudgetExhausted):  # a read is refused fast...
            await r.manager.exchange("a").balance()
        (out,) = await frozen(r.manager.stop(["m0"]))
        assert out["ok"]
        assert out["state"] == "stopped"
        assert r.orders("mm.m0.") == []

    scenario(body)


def test_pause_and_cancel_all_confirm_while_the_budget_is_saturated() -> None:
    """`pause` and `cancel-all --all` complete (orders gone on the venue) without the window freeing."""

    async def body(r: Rig) -> None:
        await r.saturate()
        (paused,) = await frozen(r.manager.pause(["m1"]))
        assert paused["ok"]
        assert r.manager.bot("m1").state is BotState.PAUSED
        assert r.orders("mm.m1.") == []
        results = await frozen(controls.cancel_everything(r.manager))
        assert results
        assert r.orders("mm.") == []

    scenario(body)


def test_a_stop_is_not_held_behind_a_tick_waiting_for_budget() -> None:
    """A bot whose tick waits for quote budget stops at once: the wait is cut, nothing is sent after."""

    async def body(r: Rig) -> None:
        await r.saturate()
        bot = r.manager.bot("m2")
        bot.update_definition(bot.definition)  # wake it: its re-quote now waits for (or is refused) budget
        await settle()
        (out,) = await frozen(r.manager.stop(["m2"]))
        assert out["ok"]
        assert r.orders("mm.m2.") == []

    scenario(body)


def test_a_thousand_status_views_cost_at_most_one_refresh_per_interval() -> None:
    """1,000 concurrent `status` calls on one account send at most one balance+positions refresh: they
    show the cached figures with their age at once, and the views after it the refreshed ones."""

    async def body(r: Rig) -> None:
        r.clock.advance(FIGURES_TTL_S + 1)  # whatever the start cached is stale now
        before = r.budget.admitted
        docs = await asyncio.gather(*(r.manager.status(f"m{i % 4}") for i in range(1000)))
        await settle()  # the one shared refresh answers
        assert r.budget.admitted - before <= 2  # one balance and one positions request
        assert all(d["figures_age_s"] is not None and d["figures_age_s"] > FIGURES_TTL_S for d in docs)
        assert (await r.manager.status("m0"))["figures_age_s"] <= FIGURES_TTL_S
        before = r.budget.admitted
        await asyncio.gather(*(r.manager.status("m0") for _ in range(1000)))
        assert r.budget.admitted == before  # fresh: no request at all

    scenario(body)


def test_a_status_with_stale_figures_never_waits_for_a_refresh_held_by_the_budget() -> None:
    """With reads' share of the budget used up, `status` answers at once with the cached figures and
    their age (the refresh waits for budget in the background), never the refresh's wait."""

    async def body(r: Rig) -> None:
        await r.saturate()
        r.clock.advance(FIGURES_TTL_S + 1)  # stale: a refresh is due, and cannot get budget now
        doc = await frozen(r.manager.status("m0"))
        assert isinstance(doc, dict)
        assert doc["figures_age_s"] > FIGURES_TTL_S
        assert doc["wallet_balance"] is not None

    scenario(body)


def test_a_query_that_cannot_get_budget_in_time_fails_with_the_budget_error() -> None:
    """A read past its deadline fails with "request budget exhausted on ...: retry in N s" (no hang)."""

    async def main() -> None:
        clock = ManualClock()
        budget = RequestBudget(clock, LIMITS, name="account 'a'")
        await budget.acquire(Cost(weight=80), Priority.QUERY)  # the reads' share of the minute is used
        with pytest.raises(BudgetExhausted, match=r"exhausted on account 'a': retry in 60 s"):
            await budget.acquire(Cost(weight=1), Priority.QUERY, deadline_s=5.0)  # at once: 60 s > 5 s
        clock.advance(57)  # the window frees in 3 s: within a 5 s deadline, so the read waits...
        waiting = asyncio.ensure_future(budget.acquire(Cost(weight=1), Priority.QUERY, deadline_s=5.0))
        await settle()
        assert not waiting.done()
        clock.advance(3)
        await settle()
        assert waiting.done()
        assert waiting.exception() is None
        await budget.acquire(Cost(weight=79), Priority.QUERY)
        safety = asyncio.ensure_future(budget.acquire(Cost(weight=1), Priority.SAFETY))
        await settle()
        assert safety.done()  # safety uses the reserve: 81 of 100
        ahead = asyncio.ensure_future(budget.acquire(Cost(weight=80), Priority.PLACE))  # frees in 60 s
        late = asyncio.ensure_future(budget.acquire(Cost(weight=1), Priority.QUERY, deadline_s=70.0))
        await settle()
        assert not late.done()  # could fit in 60 s: it waits, behind the quote
        clock.advance(60)
        await settle()
        assert ahead.done()
        assert not late.done()  # the quote took the room
        clock.advance(10)
        await settle()
        assert isinstance(late.exception(), BudgetExhausted)  # the deadline ended the wait
        assert budget.usage()["waiting"]["query"] == 0

    asyncio.run(main())


def test_starts_cannot_take_more_than_their_share_of_the_budget() -> None:
    """START-class requests stop at `start_share` of a window, leaving room for quotes and reads."""

    async def main() -> None:
        clock = ManualClock()
        budget = RequestBudget(clock, LIMITS)
        await budget.acquire(Cost(weight=50), Priority.START)  # half of 100: the starts' share is full
        starting = asyncio.ensure_future(budget.acquire(Cost(weight=1), Priority.START, deadline_s=120))
        await settle()
        assert not starting.done()  # waits for the next wave
        await budget.acquire(Cost(weight=30), Priority.PLACE, deadline_s=0)  # quotes still fit
        clock.advance(60)
        await settle()
        assert starting.done()
        assert starting.exception() is None

    asyncio.run(main())


def test_a_stops_cancels_go_before_queued_countdown_refreshes() -> None:
    """With the window full, cancels (SAFETY) queued after countdown refreshes (HEARTBEAT) are admitted
    first as room frees, and the refreshes follow from the same reserved share, ahead of quotes."""

    async def main() -> None:
        clock = ManualClock()
        budget = RequestBudget(clock, LIMITS)
        await budget.acquire(Cost(weight=100), Priority.SAFETY)  # the whole minute is used
        order: list[str] = []

        async def ask(name: str, priority: Priority, weight: int) -> None:
            await budget.acquire(Cost(weight=weight), priority)
            order.append(name)

        tasks = [
            asyncio.ensure_future(ask("refresh-1", Priority.HEARTBEAT, 10)),
            asyncio.ensure_future(ask("refresh-2", Priority.HEARTBEAT, 10)),
            asyncio.ensure_future(ask("quote", Priority.PLACE, 1)),
            asyncio.ensure_future(ask("cancel", Priority.SAFETY, 1)),
        ]
        await settle()
        assert order == []
        clock.advance(60)
        await settle()
        assert order == ["cancel", "refresh-1", "refresh-2", "quote"]
        for task in tasks:
            await task

    asyncio.run(main())


def test_a_mass_stop_sends_the_bots_cancels_together() -> None:
    """Stopping four bots of one symbol at once (16 orders) joins the cancels of the bots that reach their
    cancel in the same moment into shared batches of at most ten: fewer requests than one per bot, every
    order gone and every bot stopped."""

    async def body(r: Rig) -> None:
        assert len(r.orders()) == 16
        shared = r.manager.account("a").cancels
        before = shared.requests
        outcomes = await r.until_done(r.manager.stop([], all_bots=True))
        assert [o["ok"] for o in outcomes] == [True] * 4
        assert sum(o["cancelled"] for o in outcomes) == 16
        assert 2 <= shared.requests - before < 4
        assert r.orders() == []

    scenario(body)


def test_confirmations_join_a_query_still_waiting_for_budget() -> None:
    """Bots confirming at different moments while the symbol's open-orders query waits for the budget
    (the window full to its cap) share that one query: a request that has not left yet still shows the
    venue after each of them asked."""

    class Counting(ForwardingExchange):
        sent = 0

        async def open_orders(self, symbol: str | None = None) -> list[Order]:
            self.sent += 1
            return await self.inner.open_orders(symbol)

    async def body(r: Rig) -> None:
        budget = RequestBudget(r.clock, LIMITS)
        venue = Counting(r.paper)
        shared = AccountShared(BudgetedExchange(venue, budget), r.clock, "a", budgeted=True)
        await budget.acquire(Cost(weight=100), Priority.SAFETY)  # the whole window, the reserve included
        first = asyncio.ensure_future(shared.open_orders_fresh(BTC))
        await settle()
        second = asyncio.ensure_future(shared.open_orders_fresh(BTC))
        await settle()
        assert not first.done()
        assert not second.done()
        r.clock.advance(60)
        await settle()
        assert (await first) == (await second)
        assert venue.sent == 1

    scenario(body)


def test_bots_refused_by_their_request_budget_wait_and_keep_running() -> None:
    """While the budget admits nothing for two minutes (a 429's Retry-After), the bots' re-quotes are
    refused again and again (nothing is sent): they wait and tick again, never counting it as a failure,
    end in no error, note it at most once a minute, and quote again once the budget frees."""

    async def body(r: Rig) -> None:
        r.budget.penalize(120.0)
        for _ in range(12):  # the market moves 20 bps back and forth: every bot wants to re-quote
            r.books(BTC, "50100")
            await r.run(5, refresh_books=False)
            r.books(BTC, "50000")
            await r.run(5, refresh_books=False)
        bots = [r.manager.bot(f"m{i}") for i in range(4)]
        assert [b.state for b in bots] == [BotState.RUNNING] * 4
        for bot in bots:
            waits = [e for e in r.manager.events.since(0, bot.name) if "budget exhausted" in e.message]
            assert 1 <= len(waits) <= 3
        await r.run(10)
        assert len(r.orders()) == 16

    scenario(body)


def test_safety_may_go_past_the_cap_up_to_the_ceiling_and_no_further() -> None:
    """With the window full to our cap (80 % of the venue's limit), safety requests are still admitted
    at once up to 95 % of the venue's limit; beyond that they wait, and no other class gets past the cap."""

    async def main() -> None:
        clock = ManualClock()
        limits = BudgetLimits(weight_per_min=1000, orders_per_10s=100, orders_per_min=1000)  # cap 800
        budget = RequestBudget(clock, limits)
        await budget.acquire(Cost(weight=800), Priority.SAFETY)
        await budget.acquire(Cost(weight=150), Priority.SAFETY)  # 950: the ceiling, at once
        late = asyncio.ensure_future(budget.acquire(Cost(weight=1), Priority.SAFETY))
        heartbeat = asyncio.ensure_future(budget.acquire(Cost(weight=1), Priority.HEARTBEAT))
        await settle()
        assert not late.done()
        assert not heartbeat.done()
        clock.advance(60)
        await settle()
        assert late.done()
        assert heartbeat.done()

    asyncio.run(main())
