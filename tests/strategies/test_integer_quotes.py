"""The market_maker's integer quote path: equal to the Decimal quotes of before, and its book bands.

The oracle is `market_maker_oracle.quotes`, the Decimal implementation as it was before the integer path,
frozen verbatim. Books, parameters, positions and markets are random; each scenario quotes several books
with the same parameter and market objects, so the integer path's caches are exercised too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_UP, Decimal, localcontext

import market_maker_oracle as oracle
from hypothesis import given, settings
from hypothesis import strategies as st

from mmctl.bots.orders import LiveOrder, reconcile, tolerance_window, within_tolerance
from mmctl.model import BookTop, LeverageBracket, MarketRules, Side
from mmctl.strategies.base import BookBand, Quote, microprice
from mmctl.strategies.market_maker import (
    MAX_REF_TICKS,
    MarketMakerParams,
    quote_band,
    quote_bands,
    quotes,
    quotes_decimal,
    reference_price,
    sizing,
)
from mmctl.strategies.ticks import Grid

D = Decimal
EXAMPLES = settings(max_examples=300, deadline=None)
FAR = 10**9 * 1000  # "never" for order ages in these diffs
TWO, THREE = D(2), D(3)


def shown(qs: list[Quote]) -> list[tuple[str, int, str, str]]:
    """Quotes as the venue would read them: the exponent counts, not only the value."""
    return [(q.side.value, q.level, str(q.price), str(q.qty)) for q in qs]


@st.composite
def markets(draw: st.DrawFn) -> MarketRules:
    tick = D(draw(st.sampled_from(["0.1", "0.10", "0.01", "0.5", "0.25", "1", "5", "0.0001", "0.00001"])))
    step = D(draw(st.sampled_from(["0.001", "0.01", "0.1", "1", "0.5"])))
    min_qty = step * draw(st.integers(1, 5))
    if draw(st.booleans()):
        min_qty += step / 2  # off the step grid: the minimum size rounds up to it
    return MarketRules(
        symbol="X/USDT:USDT",
        id="XUSDT",
        base="X",
        quote="USDT",
        tick_size=tick,
        step_size=step,
        min_qty=min_qty,
        max_qty=D(draw(st.sampled_from(["1000", "100000", "10000000"]))),
        min_notional=D(draw(st.sampled_from(["0", "5", "20", "100", "7.3"]))),
        max_open_orders=200,
        brackets=(LeverageBracket(125, D(50_000), D("0.004")),),
        maker_fee=D("0.0002"),
        taker_fee=D("0.0005"),
    )


def book_at(
    rules: MarketRules, bid_ticks: int, spread_ticks: int, bid_qty: Decimal, ask_qty: Decimal
) -> BookTop:
    tick = rules.tick_size
    return BookTop(rules.symbol, bid_ticks * tick, bid_qty, (bid_ticks + spread_ticks) * tick, ask_qty, 0)


@st.composite
def books(draw: st.DrawFn, rules: MarketRules) -> BookTop:
    qty = st.decimals(min_value=0, max_value=1000, places=draw(st.integers(0, 4)))
    book = book_at(rules, draw(st.integers(1, 10**8)), draw(st.integers(1, 60)), draw(qty), draw(qty))
    if draw(st.integers(0, 9)) == 0:  # off the tick grid (a replayed or foreign feed)
        book = BookTop(book.symbol, book.bid + D("0.000007"), book.bid_qty, book.ask, book.ask_qty, 0)
    return book


@st.composite
def market_maker_params(draw: st.DrawFn) -> MarketMakerParams:
    places = draw(st.integers(0, 4))
    bps = st.decimals(min_value=0, max_value=400, places=places)
    order_size = draw(st.one_of(st.just(D(0)), st.decimals(min_value=D("0.0001"), max_value=5000, places=4)))
    max_position = draw(st.one_of(st.just(D(0)), st.decimals(min_value=0, max_value=20_000, places=3)))
    if order_size > 0 and max_position > 0:
        max_position += order_size
    return MarketMakerParams(
        spread_bps=draw(bps),
        levels=draw(st.integers(1, 10)),
        level_step_bps=draw(bps),
        order_size=order_size,
        size_step=draw(st.decimals(min_value=0, max_value=1, places=draw(st.integers(0, 3)))),
        reference=draw(st.sampled_from(["mid", "microprice"])),
        inventory_skew=draw(st.decimals(min_value=0, max_value=1, places=draw(st.integers(0, 3)))),
        max_position=max_position,
        min_spread_bps=draw(st.decimals(min_value=D("0.1"), max_value=100, places=1)),
        refresh_tolerance_bps=draw(st.decimals(min_value=0, max_value=30, places=1)),
    )


@st.composite
def positions(draw: st.DrawFn, rules: MarketRules, params: MarketMakerParams, book: BookTop) -> Decimal:
    limit = sizing(params, rules, reference_price(params, book)).max_position
    kind = draw(st.sampled_from(["steps", "thirds", "any"]))
    if kind == "steps":  # from fills: on the step grid, up to 3× the limit either way
        steps = max(int(limit / rules.step_size) * 3, 10)
        return draw(st.integers(-steps, steps)) * rules.step_size
    if kind == "thirds":  # position / limit does not terminate: the Decimal path rounds it
        return limit * draw(st.integers(-5, 5)) / 3
    return draw(st.decimals(min_value=-(10**6), max_value=10**6, places=draw(st.integers(0, 8))))


@dataclass(frozen=True)
class Scenario:
    rules: MarketRules
    params: MarketMakerParams
    books: list[BookTop]
    position: Decimal


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    rules = draw(markets())
    params = draw(market_maker_params())
    first = draw(books(rules))
    tick = rules.tick_size
    more = [  # the book moving a few ticks: same params and market objects, so the caches are used
        BookTop(first.symbol, first.bid + d * tick, first.bid_qty, first.ask + d * tick, first.ask_qty, 0)
        for d in draw(st.lists(st.integers(-40, 40), max_size=6))
        if first.bid + d * tick > 0
    ]
    return Scenario(rules, params, [first, *more], draw(positions(rules, params, first)))


@EXAMPLES
@given(scenarios())
def test_integer_quotes_equal_the_decimal_quotes_of_before(sc: Scenario) -> None:
    """For any market, book, parameters and inventory, `quotes` returns exactly the Decimal quotes the
    strategy returned before the integer path: the same levels, prices and sizes, exponents included."""
    for book in sc.books:
        expected = oracle.quotes(sc.params, book, sc.position, sc.rules)
        got = quotes(sc.params, book, sc.position, sc.rules)
        assert got == expected
        assert shown(got) == shown(expected)


@EXAMPLES
@given(scenarios())
def test_the_decimal_fallback_equals_the_quotes_of_before(sc: Scenario) -> None:
    """`quotes_decimal`, which serves references beyond the integer range, is the old math unchanged."""
    for book in sc.books:
        assert shown(quotes_decimal(sc.params, book, sc.position, sc.rules)) == shown(
            oracle.quotes(sc.params, book, sc.position, sc.rules)
        )


def test_a_reference_beyond_the_integer_range_takes_the_decimal_path_with_the_same_result() -> None:
    """A book priced beyond 10^24 ticks is quoted by the Decimal path, equal to the old quotes."""
    rules = oracle_rules(tick="0.01", step="0.001")
    bid = D(MAX_REF_TICKS) * 3 * rules.tick_size
    book = BookTop(rules.symbol, bid, D(1), bid + rules.tick_size, D(2), 0)
    params = MarketMakerParams(order_size=D("0.002"))
    got = quotes(params, book, D("0.001"), rules)
    assert got
    assert shown(got) == shown(oracle.quotes(params, book, D("0.001"), rules))
    assert all(q.ticks is None for q in got)  # not computed on the grid


def test_integer_quotes_do_not_depend_on_the_threads_decimal_context() -> None:
    """ccxt changes the thread's decimal context: the integer path's quotes are the same under a coarse,
    rounding-up one as under the default."""
    rules = oracle_rules(tick="0.1", step="0.001")
    params = MarketMakerParams(reference="microprice", order_size=D("0.0123"), size_step=D("0.37"))
    book = BookTop(rules.symbol, D("100000.0"), D("1.7"), D("100000.1"), D("0.3"), 0)
    expected = shown(oracle.quotes(params, book, D("0.031"), rules))
    with localcontext() as ctx:
        ctx.prec, ctx.rounding = 6, ROUND_UP
        assert shown(quotes(params, book, D("0.031"), rules)) == expected


def oracle_rules(tick: str, step: str) -> MarketRules:
    return MarketRules(
        symbol="X/USDT:USDT",
        id="XUSDT",
        base="X",
        quote="USDT",
        tick_size=D(tick),
        step_size=D(step),
        min_qty=D(step),
        max_qty=D(10**9),
        min_notional=D(5),
        max_open_orders=200,
        brackets=(LeverageBracket(125, D(50_000), D("0.004")),),
        maker_fee=D("0.0002"),
        taker_fee=D("0.0005"),
    )


# --- bands ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resting:
    """A scenario with live orders serving its quotes, each somewhere within the tolerance."""

    rules: MarketRules
    params: MarketMakerParams
    book: BookTop
    position: Decimal
    live: list[LiveOrder]
    grid: Grid

    def diff_is_empty(self, book: BookTop) -> bool:
        desired = quotes(self.params, book, self.position, self.rules)
        tolerance = self.params.refresh_tolerance_bps
        return reconcile(desired, self.live, tolerance_bps=tolerance, max_age_ms=FAR, now_ms=0).empty

    def band(self) -> BookBand | None:
        windows = {}
        for order in self.live:
            window = tolerance_window(order.price, self.grid, self.params.refresh_tolerance_bps)
            assert window is not None
            windows[(order.side, order.level)] = window
        return quote_band(self.params, self.book, self.position, self.rules, windows)

    def deepest(self, book: BookTop) -> int:
        """How many levels of the unskewed bid ladder are positive (the deepest sets the minimum size)."""
        first_bps = max(self.params.spread_bps, self.params.min_spread_bps)
        ref = reference_price(self.params, book)
        prices = oracle._level_prices(Side.BUY, first_bps, self.params, ref, self.rules.tick_size)
        return sum(1 for p in prices if p > 0)

    def inside(self, band: BookBand, book: BookTop) -> bool:
        bid, ask = self.grid.index(book.bid), self.grid.index(book.ask)
        if bid is None or ask is None or not band.admits(bid, ask):
            return False
        return not band.watches_micro or band.admits_micro(*self.grid.index_ratio(microprice(book)))

    def book_with(
        self, bid_ticks: int, spread_ticks: int, bid_qty: Decimal = THREE, ask_qty: Decimal = TWO
    ) -> BookTop:
        return book_at(self.rules, bid_ticks, spread_ticks, bid_qty, ask_qty)


@st.composite
def resting(draw: st.DrawFn) -> Resting:
    rules = draw(markets())
    params = draw(market_maker_params().filter(lambda p: p.levels <= 6))
    bid = draw(st.integers(100, 10**7))
    book = book_at(rules, bid, draw(st.integers(1, 20)), D(3), D(2))
    position = draw(st.integers(-30, 30)) * rules.step_size
    grid = Grid(rules.tick_size)
    live = []
    for i, q in enumerate(quotes(params, book, position, rules)):
        price = q.price + draw(st.integers(-3, 3)) * rules.tick_size
        if price <= 0 or not within_tolerance(price, q.price, params.refresh_tolerance_bps):
            price = q.price
        live.append(LiveOrder(f"o{i}", q.side, q.level, price, q.qty, 0, q.qty))
    return Resting(rules, params, book, position, live, grid)


@settings(max_examples=200, deadline=None)
@given(resting(), st.data())
def test_every_book_inside_the_band_leaves_the_diff_empty(r: Resting, data: st.DataObject) -> None:
    """The band holds the book it was computed at, and any book inside it gives quotes that the live
    orders still serve (same levels and sizes, every price within the tolerance): no re-quote."""
    band = r.band()
    if band is None:
        return
    assert r.inside(band, r.book)
    bid0 = r.grid.index(r.book.bid)
    assert bid0 is not None
    for _ in range(20):
        bid = data.draw(st.integers(max(1, bid0 - 3000), bid0 + 3000))
        sizes = [D(data.draw(st.integers(0, 9))) for _ in range(2)]
        book = r.book_with(bid, data.draw(st.integers(1, 30)), *sizes)
        if r.inside(band, book):
            assert r.diff_is_empty(book)


@settings(max_examples=200, deadline=None)
@given(resting().filter(lambda r: r.params.reference == "mid"))
def test_a_book_just_outside_a_mid_band_changes_the_diff(r: Resting) -> None:
    """The band is tight: a mid one half-tick beyond either end changes the diff, unless it changes what
    the minimum size is computed from instead (the sizing's edges are conservative)."""
    band = r.band()
    if band is None:
        return
    min_size = sizing(r.params, r.rules, reference_price(r.params, r.book)).min_size
    for mid2 in (band.mid2_lo - 1, band.mid2_hi + 1):
        if not 2 < mid2 < 10**20:
            continue
        spread = 1 if mid2 % 2 else 2
        book = r.book_with((mid2 - spread) // 2, spread)
        assert not r.inside(band, book)
        moved_size = sizing(r.params, r.rules, reference_price(r.params, book)).min_size != min_size
        assert moved_size or r.deepest(book) != r.deepest(r.book) or not r.diff_is_empty(book)


@settings(max_examples=150, deadline=None)
@given(resting(), st.data())
def test_bands_of_a_warm_model_equal_those_of_a_fresh_one(r: Resting, data: st.DataObject) -> None:
    """What the integer path remembers between calls (the last reference and ladders, the sizing range,
    each level's band per window) never changes an answer: after quotes and bands at other books and
    windows, the bands equal those a model that has seen nothing computes, level by level."""
    bid0 = r.grid.index(r.book.bid)
    assert bid0 is not None
    for _ in range(8):
        book = r.book_with(max(1, bid0 + data.draw(st.integers(-400, 400))), data.draw(st.integers(1, 9)))
        windows = {}
        for q in quotes(r.params, book, r.position, r.rules):  # the quotes first, as a tick asks for them
            ends = []
            for _ in range(2):  # each end of the window from its own nearby price
                price = max(q.price + data.draw(st.integers(-2, 2)) * r.rules.tick_size, r.rules.tick_size)
                window = tolerance_window(price, r.grid, r.params.refresh_tolerance_bps)
                assert window is not None
                ends.append(window)
            windows[(q.side, q.level)] = (ends[0][0], ends[1][1])
        warm = quote_bands(r.params, book, r.position, r.rules, windows)
        fresh = quote_bands(replace(r.params), book, r.position, r.rules, windows)  # another params object
        assert warm == fresh
