"""A bot's reaction to a book (mmctl.bots.reaction, mmctl.bots.stale): the orders a book made stale are
acted on first (amended to their level's new quote, or cancelled), and only orders the diff would replace
anyway; every mid still reaches the risk monitor, in order; the breaker test has no side effect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.bots.test_book_bands import QUIET, World, invalidated, started, stopped
from tests.support.markets import x_market

from mmctl.bots.bands import band_after_tick, resting_plan
from mmctl.bots.inventory import Inventory
from mmctl.bots.orders import LiveOrder, reconcile, within_tolerance
from mmctl.bots.reaction import stale_plan
from mmctl.bots.risk import BotRiskMonitor
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.model import (
    Amend,
    AmendResult,
    BookTop,
    CancelResult,
    MarketRules,
    OrderRequest,
    PlaceResult,
    Side,
)
from mmctl.strategies.base import Quote
from mmctl.strategies.market_maker import MarketMaker, MarketMakerParams
from mmctl.strategies.params import parse_params

D = Decimal
FAR = 10**12  # "never" for order ages


# --- the stale test against the diff (property) ----------------------------------------------------------


def rules_with(tick: str, step: str, min_notional: str) -> MarketRules:
    return x_market(tick, step, min_notional)


THREE = D(3)


def book_at(rules: MarketRules, bid: int, spread: int, bid_qty: Decimal = THREE) -> BookTop:
    tick = rules.tick_size
    return BookTop(rules.symbol, bid * tick, bid_qty, (bid + spread) * tick, D(2), 0)


@dataclass
class Case:
    rules: MarketRules
    params: MarketMakerParams
    book: BookTop
    position: Decimal
    live: list[LiveOrder]
    moves: list[tuple[int, int, Decimal]]  # new books: bid offset (ticks), spread (ticks), bid size
    stale_seen: list[int] = field(default_factory=list)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    rules = rules_with(
        draw(st.sampled_from(["0.1", "0.01", "0.5", "0.0001"])),
        draw(st.sampled_from(["0.001", "0.1", "1"])),
        draw(st.sampled_from(["0", "5", "100"])),
    )
    bps = st.decimals(min_value=1, max_value=200, places=1)
    params = MarketMakerParams(
        spread_bps=draw(bps),
        levels=draw(st.integers(1, 5)),
        level_step_bps=draw(st.decimals(min_value=0, max_value=50, places=1)),
        order_size=draw(st.sampled_from([D(0), D("0.5"), D(7)])),
        reference=draw(st.sampled_from(["mid", "microprice"])),
        inventory_skew=draw(st.sampled_from([D(0), D("0.5"), D(1)])),
        min_spread_bps=D("0.1"),
        refresh_tolerance_bps=draw(st.decimals(min_value=0, max_value=30, places=1)),
    )
    book = book_at(rules, draw(st.integers(100, 10**7)), draw(st.integers(1, 20)))
    position = draw(st.integers(-20, 20)) * rules.step_size
    live = []
    for i, q in enumerate(MarketMaker().quotes(params, book, position, rules)):
        price = q.price + draw(st.integers(-3, 3)) * rules.tick_size
        if price <= 0 or not within_tolerance(price, q.price, params.refresh_tolerance_bps):
            price = q.price
        live.append(LiveOrder(f"o{i}", q.side, q.level, price, q.qty, 0, q.qty))
    moves = draw(
        st.lists(
            st.tuples(st.integers(-300, 300), st.integers(1, 20), st.sampled_from([D(1), D(3), D(50)])),
            min_size=1,
            max_size=6,
        )
    )
    return Case(rules, params, book, position, live, moves)


@settings(max_examples=300, deadline=None)
@given(cases())
def test_an_order_named_stale_is_one_the_diff_cancels_and_none_within_tolerance_is_named(case: Case) -> None:
    """For random markets, parameters, positions, resting orders and later books, every order the stale
    test names is cancelled by the diff for that book, and its level's desired price is out of tolerance."""
    inventory = Inventory(qty=case.position)
    risk = BotRiskMonitor(case.params)
    desired = MarketMaker().quotes(case.params, case.book, case.position, case.rules)
    _, _, test = band_after_tick(
        MarketMaker(),
        case.params,
        case.book,
        case.rules,
        resting_plan(desired, case.live, case.params, 0),
        inventory,
        risk,
        now_ms=0,
        now_s=0,
    )
    if test is None:
        return
    bid0 = case.book.bid / case.rules.tick_size
    for offset, spread, bid_qty in case.moves:
        bid = int(bid0) + offset
        if bid <= 0:
            continue
        book = book_at(case.rules, bid, spread, bid_qty)
        stale = set(test.stale(book, case.live, case.params, case.position))
        wanted = MarketMaker().quotes(case.params, book, case.position, case.rules)
        plan = reconcile(
            wanted, case.live, tolerance_bps=case.params.refresh_tolerance_bps, max_age_ms=FAR, now_ms=0
        )
        assert stale <= {o.client_order_id for o in plan.cancels}
        by_key = {(q.side, q.level): q for q in wanted}
        for order in case.live:
            if order.client_order_id in stale:
                quote = by_key.get((order.side, order.level))
                assert quote is None or not within_tolerance(
                    order.price, quote.price, case.params.refresh_tolerance_bps
                )


@settings(max_examples=300, deadline=None)
@given(cases(), st.data())
def test_the_reactions_plan_for_stale_orders_is_the_diffs_plan_for_them(
    case: Case, data: st.DataObject
) -> None:
    """For random markets, parameters, positions, resting orders (partly filled, of unknown size, with
    other flags, two at one level) and later books, the cancels and amends the reaction sends for the
    orders the stale test names are exactly the diff's (with amends) for those orders, in its order."""
    live = list(case.live)
    for i, order in enumerate(live):
        if order.qty is None:
            continue
        variant = data.draw(st.sampled_from(["as is", "partly filled", "size unknown", "not post-only"]))
        if variant == "partly filled" and order.qty > case.rules.step_size:
            live[i] = replace(order, remaining=order.qty - case.rules.step_size)
        elif variant == "size unknown":
            live[i] = replace(order, qty=None)
        elif variant == "not post-only":
            live[i] = replace(order, post_only=False)
    if live and data.draw(st.booleans()):  # a second order at a level (the diff keeps the first keepable)
        twin = data.draw(st.sampled_from(live))
        live.insert(data.draw(st.integers(0, len(live))), replace(twin, client_order_id="twin"))
    desired = MarketMaker().quotes(case.params, case.book, case.position, case.rules)
    _, _, test = band_after_tick(
        MarketMaker(),
        case.params,
        case.book,
        case.rules,
        resting_plan(desired, live, case.params, 0),
        Inventory(qty=case.position),
        BotRiskMonitor(case.params),
        now_ms=0,
        now_s=0,
    )
    if test is None:
        return
    by_id = {o.client_order_id: o for o in live}
    bid0 = int(case.book.bid / case.rules.tick_size)
    for offset, spread, bid_qty in case.moves:
        if bid0 + offset <= 0:
            continue
        book = book_at(case.rules, bid0 + offset, spread, bid_qty)
        stale = test.stale(book, live, case.params, case.position)
        wanted = MarketMaker().quotes(case.params, book, case.position, case.rules)
        plan = reconcile(
            wanted,
            list(by_id.values()),
            tolerance_bps=case.params.refresh_tolerance_bps,
            max_age_ms=FAR,
            now_ms=0,
            amend=True,
        )
        ids = set(stale)
        cancels, amends = stale_plan(wanted, by_id, stale, case.params, 0)
        assert cancels == [o.client_order_id for o in plan.cancels if o.client_order_id in ids]
        assert amends == [a for a in plan.amends if a.order.client_order_id in ids]


def test_the_stale_test_names_the_orders_a_move_beyond_the_tolerance_leaves_behind() -> None:
    """A move beyond the tolerance names every resting order (the diff replaces them all); a move within
    it, a changed position or changed parameters name none."""
    rules = rules_with("0.1", "0.001", "5")
    params = parse_params(
        MarketMakerParams, {"levels": "3", "spread_bps": "20", "refresh_tolerance_bps": "5"}
    )
    book = book_at(rules, 500_000, 1)
    desired = MarketMaker().quotes(params, book, D(0), rules)
    live = [LiveOrder(f"o{i}", q.side, q.level, q.price, q.qty, 0, q.qty) for i, q in enumerate(desired)]
    _, _, test = band_after_tick(
        MarketMaker(),
        params,
        book,
        rules,
        resting_plan(desired, live, params, 0),
        Inventory(),
        BotRiskMonitor(params),
        now_ms=0,
        now_s=0,
    )
    assert test is not None
    far, near = book_at(rules, 500_000 + 500, 1), book_at(rules, 500_000 + 20, 1)  # 10 bps, 0.4 bps
    assert sorted(test.stale(far, live, params, D(0))) == sorted(o.client_order_id for o in live)
    assert test.stale(near, live, params, D(0)) == []
    assert test.stale(far, live, params, D("0.001")) == []
    other = parse_params(MarketMakerParams, {"levels": "3", "spread_bps": "20", "refresh_tolerance_bps": "5"})
    assert test.stale(far, live, other, D(0)) == []


# --- the bot: cancels first ------------------------------------------------------------------------------


class CountingStrategy:
    """The market_maker strategy, counting how many times the bot asked it for quotes."""

    def __init__(self) -> None:
        self.inner = MarketMaker()
        self.name, self.params_cls = self.inner.name, self.inner.params_cls
        self.quotes_built = 0

        self.description = self.inner.description

    def needs(self, params: Any) -> Any:
        return self.inner.needs(params)

    def signals(self, params: Any, rules: MarketRules) -> Any:
        return self.inner.signals(params, rules)

    def check_against_market(self, params: Any, rules: MarketRules, reference_price: Decimal) -> None:
        self.inner.check_against_market(params, rules, reference_price)

    def quotes(
        self, params: Any, book: BookTop, position: Decimal, rules: MarketRules, signals: Any = None
    ) -> list[Quote]:
        self.quotes_built += 1
        return self.inner.quotes(params, book, position, rules)

    def quote_bands(
        self,
        params: Any,
        book: BookTop,
        position: Decimal,
        rules: MarketRules,
        windows: Any,
        signals: Any = None,
    ) -> Any:
        return self.inner.quote_bands(params, book, position, rules, windows)


class RecordingPaper(PaperExchange):
    """The paper exchange, noting each request as it leaves: its kind, ids, and quotes built by then."""

    strategy: CountingStrategy | None = None
    sent: list[tuple[str, list[str], int]]

    def _note(self, kind: str, ids: list[str]) -> None:
        built = -1 if self.strategy is None else self.strategy.quotes_built
        self.sent.append((kind, ids, built))

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
        self._note("place", [r.client_order_id for r in requests])
        return await super().place_orders(requests)

    async def cancel_orders(self, symbol: str, client_order_ids: Sequence[str]) -> list[CancelResult]:
        self._note("cancel", list(client_order_ids))
        return await super().cancel_orders(symbol, client_order_ids)

    async def amend_orders(self, symbol: str, amends: Sequence[Amend]) -> list[AmendResult]:
        self._note("amend", [a.client_order_id for a in amends])
        return await super().amend_orders(symbol, amends)


def test_a_woken_bot_amends_its_stale_orders_first_and_ends_on_the_diffs_plan() -> None:
    """After a move beyond the tolerance, the bot's first request amends exactly the orders the diff
    would replace, after building the new book's quotes once (the tick reuses them); nothing is cancelled
    or placed and the diff is left with nothing to do."""

    async def main() -> None:
        world = World(QUIET)
        world.paper = RecordingPaper("paper", world.paper.venue, world.clock)
        world.paper.sent = []
        world.shared = type(world.shared)(world.paper, world.clock)
        await world.paper.load_markets()
        world.publish()
        try:
            bot = world.bot("a", spread_bps="60", refresh_tolerance_bps="5")
            counting = CountingStrategy()
            bot.strategy = counting
            world.paper.strategy = counting
            await started(world, bot)
            target = world.move_bps(20)
            assert invalidated(world, [bot], world.book_at(target)) == {"a"}
            assert bot.rules is not None
            wanted = counting.inner.quotes(bot.params, world.book_at(target), bot.inventory.qty, bot.rules)
            plan = reconcile(
                wanted,
                list(bot.quoter.live.values()),
                tolerance_bps=bot.params.refresh_tolerance_bps,
                max_age_ms=FAR,
                now_ms=0,
                amend=True,
            )
            expected = sorted(a.order.client_order_id for a in plan.amends)
            assert expected
            assert not plan.cancels
            assert not plan.places
            built, world.paper.sent = counting.quotes_built, []
            world.publish(target)
            await world.run(0.5)
            kind, _, built_then = world.paper.sent[0]
            assert (kind, built_then) == ("amend", built + 1)  # the new book's quotes, built once
            amended = sorted(i for k, batch, _ in world.paper.sent if k == "amend" for i in batch)
            assert amended == expected
            assert [k for k, _, _ in world.paper.sent if k != "amend"] == []
            assert counting.quotes_built == built + 1
            assert not invalidated(world, [bot], world.book_at(target))
            await stopped(world, bot)
        finally:
            await world.paper.close()

    asyncio.run(main())


def test_a_move_within_the_tolerance_sends_no_request() -> None:
    """A book that leaves every order within its tolerance cancels nothing, early or late."""

    async def main() -> None:
        world = World(QUIET)
        world.paper = RecordingPaper("paper", world.paper.venue, world.clock)
        world.paper.sent = []
        world.shared = type(world.shared)(world.paper, world.clock)
        await world.paper.load_markets()
        world.publish()
        try:
            bot = world.bot("a", spread_bps="60", refresh_tolerance_bps="20")
            await started(world, bot)
            world.paper.sent = []
            for bps in (3, -4, 6):
                target = world.move_bps(bps)
                assert not invalidated(world, [bot], world.book_at(target))
                world.publish(target)
                await world.run(0.3)
            assert world.paper.sent == []
            await stopped(world, bot)
        finally:
            await world.paper.close()

    asyncio.run(main())


def test_a_bot_with_no_stale_test_lets_the_bots_woken_with_it_send_their_stale_requests_first() -> None:
    """Of two bots woken by one book, the one with no stale test sends its first request after the other
    bot's stale amend, though it was woken first."""

    async def main() -> None:
        world = World(QUIET)
        world.paper = RecordingPaper("paper", world.paper.venue, world.clock)
        world.paper.sent = []
        world.shared = type(world.shared)(world.paper, world.clock)
        await world.paper.load_markets()
        world.publish()
        try:
            first, second = (
                world.bot("a", refresh_tolerance_bps="5"),
                world.bot("b", refresh_tolerance_bps="5"),
            )
            await started(world, first, second)
            target = world.move_bps(20)
            assert invalidated(world, [first, second], world.book_at(target)) == {"a", "b"}
            assert second.reaction.stale is not None
            first.reaction.stale = None  # as after a fill: no test for its new position
            world.paper.sent = []
            world.publish(target)  # wakes "a" first: it subscribed first
            await world.run(0.5)
            owners = [ids[0].split(".")[1] for _, ids, _ in world.paper.sent]
            assert world.paper.sent[0][0] == "amend"
            assert owners.index("b") < owners.index("a")
            assert not invalidated(world, [first, second], world.book_at(target))
            await stopped(world, first, second)
        finally:
            await world.paper.close()

    asyncio.run(main())


def test_a_microprice_just_inside_a_levels_true_edge_names_no_order() -> None:
    """With the microprice as reference, a book whose microprice lies between a level band's integer edge
    and the true (fractional) edge of its condition names no order: the diff keeps that order."""
    rules = rules_with("0.1", "0.001", "0")
    params = parse_params(
        MarketMakerParams,
        {
            "refresh_tolerance_bps": "1.2",
            "spread_bps": "1",
            "levels": "1",
            "level_step_bps": "0",
            "reference": "microprice",
            "inventory_skew": "0",
            "min_spread_bps": "0.1",
        },
    )
    book = book_at(rules, 26667, 1)  # bid 2666.7 x 3, ask 2666.8 x 2
    one = D("0.001")
    live = [
        LiveOrder("o0", Side.BUY, 0, D("2666.4"), one, 0, one),
        LiveOrder("o1", Side.SELL, 0, D("2667.4"), one, 0, one),
    ]
    desired = MarketMaker().quotes(params, book, D(0), rules)
    _, _, test = band_after_tick(
        MarketMaker(),
        params,
        book,
        rules,
        resting_plan(desired, live, params, 0),
        Inventory(),
        BotRiskMonitor(params),
        now_ms=0,
        now_s=0,
    )
    assert test is not None
    later = book_at(rules, 26667, 1, D(1))  # the microprice falls to 2666.7333...
    wanted = MarketMaker().quotes(params, later, D(0), rules)
    plan = reconcile(wanted, live, tolerance_bps=params.refresh_tolerance_bps, max_age_ms=FAR, now_ms=0)
    assert plan.cancels == ()  # the sell at 2667.4 is within 1.2 bps of the desired 2667.1
    assert test.stale(later, live, params, D(0)) == []


# --- the risk monitor still sees every mid ---------------------------------------------------------------


def test_mids_of_woken_books_reach_the_risk_monitor_in_order_before_the_next_quiet_book() -> None:
    """Mids noted by `on_book` reach the monitor at `take_books`, or ahead of a quiet book's mid, oldest
    first, so the circuit breaker sees the whole path."""

    async def main() -> None:
        world = World(QUIET)
        await world.paper.load_markets()
        bot = world.bot("a", max_move_bps="50", move_window_s="60")
        reaction = bot.reaction
        top = world.book_at(world.mid2)
        reaction.on_book(top, D(100), 1.0)
        reaction.on_book(top, D(101), 2.0)
        assert bot.risk.window.extremes() is None  # noted, not yet handed over
        reaction.on_quiet(top, D(100), 3.0)
        assert bot.risk.window.extremes() == (D(101), D(100))
        assert bot.risk.move_tripped()  # 100 bps > 50
        reaction.on_book(top, D(99), 4.0)
        reaction.take_books()
        assert bot.risk.window.extremes() == (D(101), D(99))
        await world.paper.close()

    asyncio.run(main())


def test_move_tripped_reports_the_breaker_rule_without_tripping_it() -> None:
    """`move_tripped` answers the breaker's rule for the mids held and changes nothing: the next `check`
    still trips and pauses."""
    params = parse_params(MarketMakerParams, {"max_move_bps": "10", "move_window_s": "60", "cooldown_s": "5"})
    risk = BotRiskMonitor(params)
    risk.reset(0.0)
    risk.on_book(D(1000), 1.0)
    assert not risk.move_tripped()
    risk.on_book(D(1001), 2.0)  # exactly 10 bps: not beyond
    assert not risk.move_tripped()
    risk.on_book(D("1001.01"), 3.0)
    assert risk.move_tripped()
    assert risk.move_tripped()  # asking twice changes nothing
    assert risk.paused_until is None
    verdict = risk.check(3.0, D(0))
    assert verdict.until_s == 8.0
    assert not risk.move_tripped()  # the trip restarted the window
