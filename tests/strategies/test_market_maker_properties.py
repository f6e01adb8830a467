"""Invariants of the market_maker's quotes over random markets, books, positions and parameters."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from mmctl.model import BookTop, LeverageBracket, MarketRules, Side
from mmctl.strategies.base import Quote
from mmctl.strategies.market_maker import MarketMakerParams, quotes, reference_price, sizing

D = Decimal
EXACT = Context(prec=200)  # checks below compare exactly
EXAMPLES = settings(max_examples=150, deadline=None)


@dataclass(frozen=True)
class Scenario:
    rules: MarketRules
    book: BookTop
    params: MarketMakerParams
    limit: Decimal  # the effective max_position
    position: Decimal
    other_position: Decimal

    @property
    def ref(self) -> Decimal:
        return reference_price(self.params, self.book)

    def quotes(self, position: Decimal | None = None) -> list[Quote]:
        return quotes(self.params, self.book, self.position if position is None else position, self.rules)


@st.composite
def markets(draw: st.DrawFn) -> MarketRules:
    tick = draw(st.sampled_from(["0.1", "0.01", "0.5", "1", "0.0001", "0.00001"]))
    step = D(draw(st.sampled_from(["0.001", "0.01", "0.1", "1"])))
    return MarketRules(
        symbol="X/USDT:USDT",
        id="XUSDT",
        base="X",
        quote="USDT",
        tick_size=D(tick),
        step_size=step,
        min_qty=step * draw(st.integers(1, 5)),
        max_qty=D(draw(st.sampled_from(["1000", "100000", "10000000"]))),
        min_notional=D(draw(st.sampled_from(["5", "20", "100"]))),
        max_open_orders=200,
        brackets=(LeverageBracket(125, D(50_000), D("0.004")),),
        maker_fee=D("0.0002"),
        taker_fee=D("0.0005"),
    )


@st.composite
def books(draw: st.DrawFn, rules: MarketRules) -> BookTop:
    bid_ticks = draw(st.integers(1, 10**7))
    spread_ticks = draw(st.integers(1, 50))
    qty = st.decimals(min_value=0, max_value=1000, places=3)
    return BookTop(
        symbol=rules.symbol,
        bid=bid_ticks * rules.tick_size,
        bid_qty=draw(qty),
        ask=(bid_ticks + spread_ticks) * rules.tick_size,
        ask_qty=draw(qty),
        ts_ms=0,
    )


@st.composite
def market_maker_params(draw: st.DrawFn) -> MarketMakerParams:
    bps = st.decimals(min_value=0, max_value=300, places=2)
    order_size = draw(st.one_of(st.just(D(0)), st.decimals(min_value=D("0.0001"), max_value=5000, places=4)))
    max_position = draw(st.one_of(st.just(D(0)), st.decimals(min_value=0, max_value=20_000, places=3)))
    if order_size > 0 and max_position > 0:
        max_position += order_size
    return MarketMakerParams(
        spread_bps=draw(bps),
        levels=draw(st.integers(1, 8)),
        level_step_bps=draw(bps),
        order_size=order_size,
        size_step=draw(st.decimals(min_value=0, max_value=1, places=2)),
        reference=draw(st.sampled_from(["mid", "microprice"])),
        inventory_skew=draw(st.decimals(min_value=0, max_value=1, places=2)),
        max_position=max_position,
        min_spread_bps=draw(st.decimals(min_value=D("0.1"), max_value=100, places=1)),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    rules = draw(markets())
    book = draw(books(rules))
    params = draw(market_maker_params())
    limit = sizing(params, rules, reference_price(params, book)).max_position
    steps = max(int(limit / rules.step_size) * 3, 10)  # positions up to 3× the limit either way
    position, other = (draw(st.integers(-steps, steps)) * rules.step_size for _ in range(2))
    return Scenario(rules, book, params, limit, position, other)


def side(qs: list[Quote], s: Side) -> list[Quote]:
    return [q for q in qs if q.side is s]


@EXAMPLES
@given(scenarios())
def test_quotes_are_on_the_grids_and_above_the_minimums(sc: Scenario) -> None:
    """Every price is a positive multiple of the tick, every size of the step, and both minimums hold."""
    with localcontext(EXACT):
        for q in sc.quotes():
            assert q.price > 0
            assert q.price % sc.rules.tick_size == 0
            assert q.qty > 0
            assert q.qty % sc.rules.step_size == 0
            assert q.qty >= sc.rules.min_qty
            assert q.qty <= sc.rules.max_qty
            assert q.price * q.qty >= sc.rules.min_notional


@EXAMPLES
@given(scenarios())
def test_bids_are_below_asks_and_nothing_crosses_the_book(sc: Scenario) -> None:
    """Every bid is below every ask, bids below the book's ask and asks above its bid (post-only safe)."""
    qs = sc.quotes()
    bids, asks = side(qs, Side.BUY), side(qs, Side.SELL)
    if bids and asks:
        assert max(q.price for q in bids) < min(q.price for q in asks)
    assert all(q.price < sc.book.ask for q in bids)
    assert all(q.price > sc.book.bid for q in asks)


@EXAMPLES
@given(scenarios())
def test_no_quote_is_nearer_the_reference_than_min_spread(sc: Scenario) -> None:
    """Whatever the skew, every level is at least min_spread_bps from the reference price."""
    ref, gap = sc.ref, sc.params.min_spread_bps
    with localcontext(EXACT):
        for q in sc.quotes():
            assert abs(q.price - ref) * 10_000 >= gap * ref


@EXAMPLES
@given(scenarios())
def test_levels_are_unique_and_move_away_from_the_reference(sc: Scenario) -> None:
    """Each side has at most one quote per level, below `levels`, each deeper level strictly further out."""
    for s in Side:
        ladder = side(sc.quotes(), s)
        levels = [q.level for q in ladder]
        assert levels == sorted(set(levels))
        assert all(0 <= lv < sc.params.levels for lv in levels)
        prices = [q.price * s.sign for q in ladder]  # bids fall, asks rise: both signed prices fall
        assert all(a > b for a, b in itertools.pairwise(prices))


@EXAMPLES
@given(scenarios())
def test_a_sides_total_never_takes_the_position_past_the_limit(sc: Scenario) -> None:
    """Bids total at most limit - position and asks at most limit + position, so no fill breaches it."""
    qs = sc.quotes()
    with localcontext(EXACT):
        assert sc.position + sum(q.qty for q in side(qs, Side.BUY)) <= max(sc.limit, sc.position)
        assert sc.position - sum(q.qty for q in side(qs, Side.SELL)) >= min(-sc.limit, sc.position)


@EXAMPLES
@given(scenarios())
def test_at_or_beyond_the_limit_nothing_adds_to_the_position(sc: Scenario) -> None:
    """At +limit or beyond there are no bids; at -limit or beyond there are no asks."""
    qs = sc.quotes()
    if sc.position >= sc.limit:
        assert not side(qs, Side.BUY)
    if sc.position <= -sc.limit:
        assert not side(qs, Side.SELL)


@EXAMPLES
@given(scenarios())
def test_more_long_inventory_never_raises_bid_prices_or_sizes(sc: Scenario) -> None:
    """With a larger position, every bid level that remains has a price and size no larger than before."""
    low, high = sorted((sc.position, sc.other_position))
    before = {q.level: q for q in side(sc.quotes(low), Side.BUY)}
    for q in side(sc.quotes(high), Side.BUY):
        assert q.level in before
        assert q.price <= before[q.level].price
        assert q.qty <= before[q.level].qty


@EXAMPLES
@given(scenarios())
def test_more_long_inventory_never_raises_ask_prices(sc: Scenario) -> None:
    """With a larger position, every ask level quoted at both positions is priced no higher."""
    low, high = sorted((sc.position, sc.other_position))
    before = {q.level: q for q in side(sc.quotes(low), Side.SELL)}
    for q in side(sc.quotes(high), Side.SELL):
        if q.level in before:
            assert q.price <= before[q.level].price


@settings(max_examples=60, deadline=None)
@given(scenarios())
def test_flat_book_quotes_every_level_with_the_automatic_size(sc: Scenario) -> None:
    """Flat, with order_size 0 and a spread of at least a tick, every level of both sides is quoted."""
    params = MarketMakerParams(
        spread_bps=sc.params.spread_bps + 50,
        levels=sc.params.levels,
        level_step_bps=sc.params.level_step_bps,
        reference=sc.params.reference,
        inventory_skew=sc.params.inventory_skew,
    )
    qs = quotes(params, sc.book, D(0), sc.rules)
    ref = reference_price(params, sc.book)
    deepest_bid = ref * (1 - (params.spread_bps + (params.levels - 1) * params.level_step_bps) / 10_000)
    if (
        deepest_bid > sc.rules.tick_size * params.levels
        and sizing(params, sc.rules, ref).min_size <= sc.rules.max_qty
    ):
        assert len(side(qs, Side.BUY)) == params.levels
        assert len(side(qs, Side.SELL)) == params.levels
