"""`BudgetedExchange`: every request is charged its Binance cost, at its priority, then forwarded as is."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
from tests.support.settle import settle

from mmctl.clock import Clock, ManualClock, now_ms
from mmctl.config.schema import PaperAccount
from mmctl.errors import AuthError, BudgetExhausted, MmctlError, RateLimited, UnknownOrder
from mmctl.exchange.budget import BudgetLimits, Priority, RequestBudget
from mmctl.exchange.budgeted import BudgetedExchange
from mmctl.exchange.faults import FaultyExchange
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.exchange.weights import PLACE_BATCH, PLACE_SINGLE, Cost
from mmctl.model import BookTop, OrderRequest, Side

BTC = "BTC/USDT:USDT"


class RecordingBudget(RequestBudget):
    """A real budget that also records what it was asked for and in which order it admitted it."""

    def __init__(self, clock: Clock, limits: BudgetLimits | None = None) -> None:
        super().__init__(clock, limits)
        self.asked: list[tuple[Cost, Priority]] = []
        self.granted: list[tuple[Cost, Priority]] = []

    async def acquire(
        self, cost: Cost, priority: Priority = Priority.QUERY, deadline_s: float | None = None
    ) -> None:
        self.asked.append((cost, priority))
        await super().acquire(cost, priority, deadline_s)
        self.granted.append((cost, priority))


class Rig:
    def __init__(self, limits: BudgetLimits | None = None) -> None:
        self.clock = ManualClock()
        self.budget = RecordingBudget(self.clock, limits)
        self.paper = self.account("a")
        self.ex = BudgetedExchange(self.paper, self.budget)

    def account(self, name: str) -> PaperExchange:
        paper = PaperExchange.from_settings(name, PaperAccount(symbols=("BTCUSDT",)), self.clock)
        top = BookTop(BTC, Decimal("60000.0"), Decimal(1), Decimal("60000.1"), Decimal(1), now_ms(self.clock))
        paper.venue.on_book(top)
        return paper

    def charged(self) -> tuple[int, int, int]:
        usage = self.budget.usage()
        return usage["weight_1m"], usage["orders_10s"], usage["orders_1m"]


def scenario(body: Callable[[Rig], Awaitable[None]], limits: BudgetLimits | None = None) -> None:
    async def main() -> None:
        rig = Rig(limits)
        try:
            await body(rig)
        finally:
            await rig.ex.close()

    asyncio.run(main())


def bid(i: int, *, reduce_only: bool = False, side: Side = Side.BUY) -> OrderRequest:
    price = Decimal("59000.0") - i if side is Side.BUY else Decimal("61000.0") + i
    return OrderRequest(
        BTC, side, Decimal("0.01"), price, f"t-{side.value}-{i}", post_only=True, reduce_only=reduce_only
    )


# --- costs -------------------------------------------------------------------------------------------


def test_a_batch_of_five_places_costs_weight_5_and_5_orders_on_the_10s_counter() -> None:
    """A batch of five placements is one budget request costing weight 5, five orders on the 10 s counter and
    one on the minute counter."""

    async def body(rig: Rig) -> None:
        results = await rig.ex.place_orders([bid(i) for i in range(5)])
        assert all(r.ok for r in results)
        assert rig.charged() == (5, 5, 1)
        assert rig.budget.asked == [(PLACE_BATCH, Priority.PLACE)]

    scenario(body)


def test_a_single_place_costs_one_order_on_each_counter_and_no_weight() -> None:
    """A single placement costs one order on each order counter and no request weight."""

    async def body(rig: Rig) -> None:
        await rig.ex.place_orders([bid(0)])
        assert rig.charged() == (0, 1, 1)
        assert rig.budget.asked == [(PLACE_SINGLE, Priority.PLACE)]

    scenario(body)


CALLS: list[tuple[str, Callable[[BudgetedExchange], Awaitable[Any]], Cost, Priority]] = [
    ("cancel_order", lambda ex: ex.cancel_order(BTC, client_order_id="nope"), Cost(1), Priority.SAFETY),
    ("cancel_orders", lambda ex: ex.cancel_orders(BTC, ["a", "b", "c"]), Cost(1), Priority.SAFETY),
    ("cancel_all", lambda ex: ex.cancel_all(BTC), Cost(1), Priority.SAFETY),
    ("arm_countdown", lambda ex: ex.arm_countdown(BTC, 30), Cost(10), Priority.HEARTBEAT),
    ("disarm_countdown", lambda ex: ex.disarm_countdown(BTC), Cost(10), Priority.HEARTBEAT),
    ("fetch_order", lambda ex: ex.fetch_order(BTC, client_order_id="nope"), Cost(1), Priority.QUERY),
    ("open_orders(symbol)", lambda ex: ex.open_orders(BTC), Cost(1), Priority.QUERY),
    ("open_orders()", lambda ex: ex.open_orders(), Cost(40), Priority.QUERY),
    ("balance", lambda ex: ex.balance(), Cost(5), Priority.QUERY),
    ("positions", lambda ex: ex.positions(), Cost(5), Priority.QUERY),
    ("position", lambda ex: ex.position(BTC), Cost(5), Priority.QUERY),
    ("leverage", lambda ex: ex.leverage(BTC), Cost(5), Priority.QUERY),
    ("set_leverage", lambda ex: ex.set_leverage(BTC, 3), Cost(1), Priority.QUERY),
    ("income", lambda ex: ex.income(0), Cost(30), Priority.QUERY),
    ("server_time_ms", lambda ex: ex.server_time_ms(), Cost(1), Priority.QUERY),
    ("load_markets", lambda ex: ex.load_markets(), Cost(1), Priority.QUERY),
]


@pytest.mark.parametrize(("call", "expected", "priority"), [c[1:] for c in CALLS], ids=[c[0] for c in CALLS])
def test_each_request_is_charged_its_binance_cost_at_its_priority(
    call: Callable[[BudgetedExchange], Awaitable[Any]], expected: Cost, priority: Priority
) -> None:
    """Every venue call that sends a request is charged Binance's documented cost at its priority, even when
    the venue rejects it."""

    async def body(rig: Rig) -> None:
        with contextlib.suppress(MmctlError):  # a rejected request was still sent, and is still charged
            await call(rig.ex)
        assert rig.budget.asked == [(expected, priority)]
        assert rig.charged() == (expected.weight, expected.orders_10s, expected.orders_1m)

    scenario(body)


def test_calls_that_send_no_request_pass_through_uncharged() -> None:
    """Calls served without a request (cached markets and books, health, streams, an empty batch) pass through
    and charge nothing."""

    async def body(rig: Rig) -> None:
        assert rig.ex.name == "a"
        assert rig.ex.max_batch == rig.paper.max_batch
        assert rig.ex.market("BTCUSDT") == rig.paper.market(BTC)
        assert rig.ex.book(BTC) == rig.paper.book(BTC)
        assert rig.ex.health() == rig.paper.health()
        stream = rig.ex.watch_book(BTC)
        assert (await anext(stream)).bid == Decimal("60000.0")
        await stream.aclose()  # type: ignore[attr-defined]
        updates = rig.ex.order_updates()
        await updates.aclose()  # type: ignore[attr-defined]
        assert rig.budget.asked == []
        assert await rig.ex.place_orders([]) == []  # an empty batch sends nothing
        assert rig.charged() == (0, 0, 0)

    scenario(body)


def test_load_markets_is_charged_once_like_the_adapter_fetches_it_once() -> None:
    """Loading markets twice charges one exchange-info request, as the adapter fetches it only once."""

    async def body(rig: Rig) -> None:
        first = await rig.ex.load_markets()
        again = await rig.ex.load_markets()
        assert first == again
        assert rig.charged() == (1, 0, 0)

    scenario(body)


# --- priorities --------------------------------------------------------------------------------------


def test_a_batch_of_only_reduce_only_orders_is_charged_at_reduce_priority() -> None:
    """A batch of only reduce-only orders is charged at safety priority, one with any opening order at place
    priority."""

    async def body(rig: Rig) -> None:
        await rig.ex.place_orders([bid(0, reduce_only=True), bid(1, reduce_only=True)])
        await rig.ex.place_orders([bid(2, reduce_only=True), bid(3)])
        assert [p for _, p in rig.budget.asked] == [Priority.SAFETY, Priority.PLACE]

    scenario(body)


def test_reduce_only_orders_use_the_reserved_share_while_a_place_that_cannot_fit_soon_fails_fast() -> None:
    """With quotes at their share of the 10 s order counter, a further place is refused at once with the
    budget error (no hang) while a reduce-only batch is admitted from the safety reserve."""
    # places may fill 4 of 6 (a batch counts 5 on the 10 s counter: it fits only into an empty window)
    tight = BudgetLimits(orders_per_10s=6, use_fraction=1.0)

    async def body(rig: Rig) -> None:
        await rig.ex.place_orders([bid(i) for i in range(4)])  # the quotes' share is full
        with pytest.raises(BudgetExhausted, match="retry in 10 s"):
            await rig.ex.place_orders([bid(4)])
        await rig.ex.place_orders([bid(0, reduce_only=True, side=Side.SELL)])  # at once: reserved
        assert [p for _, p in rig.budget.granted] == [Priority.PLACE, Priority.SAFETY]

    scenario(body, tight)


# --- pass-through ------------------------------------------------------------------------------------


def test_results_pass_through_unchanged() -> None:
    """Placement, open-order and cancel results (per-order errors included) come back from the wrapper exactly
    as the venue gave them."""

    async def body(rig: Rig) -> None:
        placed = await rig.ex.place_orders([bid(0), bid(1)])
        assert [r.order.client_order_id for r in placed if r.order] == ["t-buy-0", "t-buy-1"]
        assert await rig.ex.open_orders(BTC) == await rig.paper.open_orders(BTC)
        cancelled = await rig.ex.cancel_orders(BTC, ["t-buy-0", "missing"])
        assert cancelled[0].order is not None
        assert cancelled[0].order.client_order_id == "t-buy-0"
        assert isinstance(cancelled[1].error, UnknownOrder)

    scenario(body)


def test_errors_pass_through_unchanged_and_the_request_stays_charged() -> None:
    """A venue error reaches the caller unchanged (message and data) and its request stays charged."""

    async def body(rig: Rig) -> None:
        faulty = FaultyExchange(rig.paper, rig.clock)
        faulty.fail("balance", error=AuthError("the API key was revoked", data={"where": "balance"}))
        ex = BudgetedExchange(faulty, rig.budget)
        with pytest.raises(AuthError) as caught:
            await ex.balance()
        assert caught.value.message == "the API key was revoked"
        assert caught.value.data == {"where": "balance"}
        assert rig.charged() == (5, 0, 0)
        with pytest.raises(UnknownOrder):
            await ex.cancel_order(BTC, order_id="12345")

    scenario(body)


def test_a_rate_limit_with_retry_after_pauses_every_client_sharing_the_budget() -> None:
    """A 429 with a retry-after of 12 s blocks the shared budget, so another client's request waits exactly
    until it has passed."""

    async def body(rig: Rig) -> None:
        faulty = FaultyExchange(rig.paper, rig.clock)
        faulty.fail("balance", error=RateLimited("429 too many requests", retry_after_s=12), times=1)
        first = BudgetedExchange(faulty, rig.budget)
        second = BudgetedExchange(rig.account("b"), rig.budget)
        with pytest.raises(RateLimited, match="429"):
            await first.balance()
        assert rig.budget.usage()["blocked_for_s"] == 12
        waiting = asyncio.create_task(second.cancel_all(BTC))
        rig.clock.advance(11.9)
        await settle()
        assert not waiting.done()
        rig.clock.advance(0.2)
        await settle()
        assert waiting.done()
        await second.close()

    scenario(body)


def test_a_rate_limit_without_retry_after_does_not_pause_the_budget() -> None:
    """A rate-limit error without a retry-after leaves the budget unblocked."""

    async def body(rig: Rig) -> None:
        faulty = FaultyExchange(rig.paper, rig.clock)
        faulty.fail("balance", error=RateLimited("-1003 too many requests"), times=1)
        with pytest.raises(RateLimited):
            await BudgetedExchange(faulty, rig.budget).balance()
        assert rig.budget.usage()["blocked_for_s"] == 0

    scenario(body)


def test_two_accounts_on_one_ip_draw_from_one_budget() -> None:
    """Two accounts wrapping one budget add their requests' weight and orders to the same counters."""

    async def body(rig: Rig) -> None:
        other = BudgetedExchange(rig.account("b"), rig.budget)
        await rig.ex.place_orders([bid(0), bid(1)])
        await other.place_orders([bid(0)])
        await other.balance()
        assert rig.charged() == (10, 6, 2)
        await other.close()

    scenario(body)
