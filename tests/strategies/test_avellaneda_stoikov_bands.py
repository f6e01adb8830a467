"""The avellaneda_stoikov strategy on market_maker's integer path: its quotes equal the Decimal
specification (`quotes_decimal`), and its book bands hold (every book inside keeps the levels, sizes and
every price inside its window) and are tight (a book just outside moves a quote out of its window).

Markets, parameters, books and positions are random; each scenario quotes several books with the same
parameter and market objects, so the caches of the integer path are exercised too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.markets import x_market

from mmctl.bots.orders import LiveOrder, reconcile, tolerance_window, within_tolerance
from mmctl.model import BookTop, MarketRules
from mmctl.strategies.avellaneda_stoikov import (
    AvellanedaStoikov,
    AvellanedaStoikovParams,
    AvellanedaStoikovSignals,
    ladder_params,
    quote_bands,
    quotes,
    quotes_decimal,
)
from mmctl.strategies.base import BookBand, PriceWindows, Quote, QuoteBands, microprice
from mmctl.strategies.market_maker import MAX_REF_TICKS
from mmctl.strategies.market_maker_decimal import reference_price, sizing
from mmctl.strategies.ticks import Grid

D = Decimal
FAR = 10**12  # "never" for order ages in these diffs
TWO, THREE = D(2), D(3)


def shown(qs: list[Quote]) -> list[tuple[str, int, str, str]]:
    """Quotes as the venue would read them: the exponent counts, not only the value."""
    return [(q.side.value, q.level, str(q.price), str(q.qty)) for q in qs]


def market(tick: str, step: str, min_qty: str, min_notional: str) -> MarketRules:
    return x_market(tick, step, min_notional, min_qty)


@st.composite
def markets(draw: st.DrawFn) -> MarketRules:
    step = draw(st.sampled_from(["0.001", "0.01", "0.1", "1", "0.5"]))
    return market(
        draw(st.sampled_from(["0.1", "0.10", "0.01", "0.5", "1", "5", "0.0001", "0.00001"])),
        step,
        str(D(step) * draw(st.integers(1, 5))),
        draw(st.sampled_from(["0", "5", "20", "100", "7.3"])),
    )


@st.composite
def params(draw: st.DrawFn, horizons: tuple[int, ...] = (0, 0, 60, 86_400)) -> AvellanedaStoikovParams:
    bps = st.decimals(min_value=D("0.1"), max_value=300, places=draw(st.integers(0, 2)))
    low, high = sorted((draw(bps), draw(bps)))
    order_size = draw(st.one_of(st.just(D(0)), st.decimals(min_value=D("0.001"), max_value=500, places=3)))
    max_position = draw(st.one_of(st.just(D(0)), st.decimals(min_value=0, max_value=5000, places=3)))
    if order_size > 0 and max_position > 0:
        max_position += order_size
    return AvellanedaStoikovParams(
        gamma=draw(st.decimals(min_value=D("0.0001"), max_value=10, places=4)),
        sigma=draw(st.decimals(min_value=D("0.001"), max_value=5, places=3)),
        k=draw(st.decimals(min_value=D("0.001"), max_value=5, places=3)),
        horizon_s=draw(st.sampled_from(horizons)),
        tau_s=D(draw(st.integers(1, 600))),
        min_spread_bps=low,
        max_spread_bps=high,
        levels=draw(st.integers(1, 6)),
        level_step_bps=draw(st.decimals(min_value=0, max_value=50, places=1)),
        order_size=order_size,
        size_step=draw(st.decimals(min_value=0, max_value=1, places=2)),
        max_position=max_position,
        reference=draw(st.sampled_from(["mid", "microprice"])),
        refresh_tolerance_bps=draw(st.decimals(min_value=0, max_value=30, places=1)),
    )


def book_at(
    rules: MarketRules, bid: int, spread: int, bid_qty: Decimal = THREE, ask_qty: Decimal = TWO
) -> BookTop:
    tick = rules.tick_size
    return BookTop(rules.symbol, bid * tick, bid_qty, (bid + spread) * tick, ask_qty, 1_767_225_600_000 + bid)


@dataclass(frozen=True)
class Scenario:
    rules: MarketRules
    params: AvellanedaStoikovParams
    books: list[BookTop]
    position: Decimal


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    rules = draw(markets())
    p = draw(params())
    bid = draw(st.integers(1, 10**8))
    first = book_at(
        rules, bid, draw(st.integers(1, 40)), D(draw(st.integers(0, 99))), D(draw(st.integers(0, 99)))
    )
    more = [
        book_at(rules, bid + d, s)
        for d, s in draw(st.lists(st.tuples(st.integers(-60, 60), st.integers(1, 9)), max_size=6))
        if bid + d > 0
    ]
    limit = sizing(ladder_params(p), rules, reference_price(ladder_params(p), first)).max_position
    steps = max(int(limit / rules.step_size) * 3, 10)
    position = draw(st.integers(-steps, steps)) * rules.step_size
    return Scenario(rules, p, [first, *more], position)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_integer_quotes_equal_the_decimal_specification(sc: Scenario) -> None:
    """For any market, books, parameters (horizons included) and inventory, `quotes` returns exactly
    `quotes_decimal`: the same levels, prices and sizes, exponents included, each on the tick grid."""
    for book in sc.books:
        got = quotes(sc.params, book, sc.position, sc.rules)
        assert shown(got) == shown(quotes_decimal(sc.params, book, sc.position, sc.rules))
        assert all(q.ticks is not None for q in got)


def test_a_reference_beyond_the_integer_range_takes_the_decimal_path() -> None:
    """A book priced beyond 10^24 ticks is quoted by `quotes_decimal`, and has no band."""
    rules = market("0.01", "0.001", "0.001", "5")
    bid = D(MAX_REF_TICKS) * 3 * rules.tick_size
    book = BookTop(rules.symbol, bid, D(1), bid + rules.tick_size, D(2), 0)
    p = AvellanedaStoikovParams(sigma=D(1), k=D("0.5"), order_size=D("0.002"))
    got = quotes(p, book, D("0.001"), rules)
    assert got
    assert shown(got) == shown(quotes_decimal(p, book, D("0.001"), rules))
    assert all(q.ticks is None for q in got)
    assert quote_bands(p, book, D(0), rules, {}) is None


# --- bands -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resting:
    """Live orders serving a scenario's quotes, each somewhere within the tolerance."""

    rules: MarketRules
    params: AvellanedaStoikovParams
    book: BookTop
    position: Decimal
    live: list[LiveOrder]

    @property
    def grid(self) -> Grid:
        return Grid(self.rules.tick_size)

    def windows(self) -> PriceWindows:
        out = {}
        for order in self.live:
            window = tolerance_window(order.price, self.grid, self.params.refresh_tolerance_bps)
            assert window is not None
            out[(order.side, order.level)] = window
        return out

    def bands(self) -> QuoteBands | None:
        return quote_bands(self.params, self.book, self.position, self.rules, self.windows())

    def inside(self, band: BookBand, book: BookTop) -> bool:
        bid, ask = self.grid.index(book.bid), self.grid.index(book.ask)
        if bid is None or ask is None or not band.admits(bid, ask):
            return False
        return not band.watches_micro or band.admits_micro(*self.grid.index_ratio(microprice(book)))

    def served(self, book: BookTop) -> bool:
        """The quotes for `book` keep the live orders' levels and sizes, each price inside its window."""
        qs = quotes(self.params, book, self.position, self.rules)
        if sorted((q.side.value, q.level, q.qty) for q in qs) != sorted(
            (o.side.value, o.level, o.remaining) for o in self.live
        ):
            return False
        windows = self.windows()
        return all(
            windows[(q.side, q.level)][0] <= q.ticks <= windows[(q.side, q.level)][1] for q in qs if q.ticks
        )

    def diff_is_empty(self, book: BookTop) -> bool:
        desired = quotes(self.params, book, self.position, self.rules)
        tolerance = self.params.refresh_tolerance_bps
        return reconcile(desired, self.live, tolerance_bps=tolerance, max_age_ms=FAR, now_ms=0).empty

    def min_size(self, book: BookTop) -> Decimal:
        ladder = ladder_params(self.params)
        return sizing(ladder, self.rules, reference_price(ladder, book)).min_size


def resting_at(
    rules: MarketRules, p: AvellanedaStoikovParams, book: BookTop, position: Decimal, shifts: list[int]
) -> Resting:
    live = []
    for i, q in enumerate(quotes(p, book, position, rules)):
        price = q.price + shifts[i % len(shifts)] * rules.tick_size
        if price <= 0 or not within_tolerance(price, q.price, p.refresh_tolerance_bps):
            price = q.price
        live.append(LiveOrder(f"o{i}", q.side, q.level, price, q.qty, 0, q.qty))
    return Resting(rules, p, book, position, live)


@st.composite
def resting(draw: st.DrawFn) -> Resting:
    sc = draw(scenarios().filter(lambda sc: sc.params.horizon_s == 0))
    shifts = draw(st.lists(st.integers(-3, 3), min_size=1, max_size=12))
    return resting_at(sc.rules, sc.params, sc.books[0], sc.position, shifts)


@settings(max_examples=300, deadline=None)
@given(resting(), st.data())
def test_every_book_inside_the_band_keeps_the_levels_sizes_and_windows(
    r: Resting, data: st.DataObject
) -> None:
    """The band holds the book it was computed at, and any book inside it gives quotes with the live
    orders' levels and sizes, each price inside its order's window: the diff stays empty."""
    bands = r.bands()
    if bands is None:
        return
    assert r.inside(bands.band, r.book)
    bid0 = r.grid.index(r.book.bid)
    assert bid0 is not None
    for _ in range(20):
        bid = data.draw(st.integers(max(1, bid0 - 3000), bid0 + 3000))
        sizes = [D(data.draw(st.integers(0, 9))) for _ in range(2)]
        book = book_at(r.rules, bid, data.draw(st.integers(1, 30)), *sizes)
        if r.inside(bands.band, book):
            assert r.served(book)
            assert r.diff_is_empty(book)


def test_a_book_just_outside_a_mid_band_moves_a_quote_out() -> None:
    """The band is tight: a mid one half-tick beyond either end changes the diff unless it changes the
    minimum size (the sizing's edges are conservative), and for most ladders it is a quote leaving its
    window (or its level) that ends the band."""
    rng = random.Random(5)
    quote_edges = edges = 0
    while edges < 200:
        rules = market(
            rng.choice(["0.1", "0.01", "1"]),
            rng.choice(["0.001", "0.1"]),
            "0.001",
            rng.choice(["0", "5", "100"]),
        )
        p = AvellanedaStoikovParams(
            gamma=D(rng.randint(1, 1000)) / 1000,
            sigma=D(rng.randint(1, 3000)) / 1000,
            k=D(rng.randint(1, 3000)) / 1000,
            min_spread_bps=D(rng.randint(1, 50)) / 10,
            max_spread_bps=D(rng.randint(50, 500)) / 10,
            levels=rng.randint(1, 4),
            level_step_bps=D(rng.randint(0, 200)) / 10,
            refresh_tolerance_bps=D(rng.randint(0, 100)) / 10,
        )
        book = book_at(rules, rng.randint(10**3, 10**7), rng.randint(1, 5))
        position = rng.randint(-30, 30) * rules.step_size
        r = resting_at(rules, p, book, position, [rng.randint(-3, 3) for _ in range(8)])
        bands = r.bands()
        if bands is None or not r.live:
            continue
        band = bands.band
        for mid2 in (band.mid2_lo - 1, band.mid2_hi + 1):
            if not 2 < mid2 < 10**20:
                continue
            spread = 1 if mid2 % 2 else 2
            outside = book_at(rules, (mid2 - spread) // 2, spread)
            assert not r.inside(band, outside)
            edges += 1
            if r.min_size(outside) == r.min_size(book):
                assert not r.served(outside)
                assert not r.diff_is_empty(outside)
                quote_edges += 1
    assert quote_edges > edges // 2


def test_a_horizon_or_a_crossed_book_has_no_band() -> None:
    """With a finite horizon the quotes follow the book's time: no band; nor for a crossed book."""
    rules = market("0.1", "0.001", "0.001", "5")
    book = book_at(rules, 1_000_000, 1)
    p = AvellanedaStoikovParams(sigma=D(1), k=D("0.5"), horizon_s=3600)
    r = resting_at(rules, p, book, D(0), [0])
    assert r.live
    assert r.bands() is None
    fixed = AvellanedaStoikovParams(sigma=D(1), k=D("0.5"))
    crossed = BookTop(rules.symbol, D("100000.1"), D(1), D("100000.0"), D(1), 0)
    assert quote_bands(fixed, crossed, D(0), rules, {}) is None
    assert resting_at(rules, fixed, book, D(0), [0]).bands() is not None


def test_bands_follow_the_published_estimates_and_cover_every_book_while_warming_up() -> None:
    """While an estimate is unpublished nothing is quoted whatever the book, and the band is every book;
    once published, the band is that of the quotes with those estimates (books inside keep them)."""
    rules = market("0.01", "0.001", "0.001", "5")
    strategy = AvellanedaStoikov()
    p = AvellanedaStoikovParams(k=D("0.5"), sigma_window_s=60, min_spread_bps=D(1))
    signals = strategy.signals(p, rules)
    assert isinstance(signals, AvellanedaStoikovSignals)
    rng, bid, t = random.Random(3), 5_000_000, 1_767_225_600_000
    while not signals.ready:
        book = BookTop(rules.symbol, bid * rules.tick_size, D(1), (bid + 1) * rules.tick_size, D(1), t)
        signals.on_book(book)
        if not signals.ready:
            assert strategy.quotes(p, book, D(0), rules, signals) == []
            bands = strategy.quote_bands(p, book, D(0), rules, {}, signals)
            assert bands is not None
            assert bands.band.admits(1, 2)
            assert bands.band.admits(bid - 10**6, bid + 10**6)
        bid += rng.randint(-3, 3)
        t += 250
    qs = strategy.quotes(p, book, D(0), rules, signals)
    assert qs
    grid = Grid(rules.tick_size)
    windows = {(q.side, q.level): tolerance_window(q.price, grid, p.refresh_tolerance_bps) for q in qs}
    bands = strategy.quote_bands(p, book, D(0), rules, windows, signals)  # type: ignore[arg-type]
    assert bands is not None
    band = bands.band
    assert band.mid2_lo < 2 * bid < band.mid2_hi < 10**20
    inside = BookTop(rules.symbol, book.bid + rules.tick_size, D(1), book.ask + rules.tick_size, D(1), t)
    assert strategy.quotes(p, inside, D(0), rules, signals) != []
    beyond = (band.mid2_hi + 1) // 2 + 1
    far = BookTop(rules.symbol, (beyond - 1) * rules.tick_size, D(1), beyond * rules.tick_size, D(1), t)
    moved = strategy.quotes(p, far, D(0), rules, signals)
    assert any(not w[0] <= q.ticks <= w[1] for q in moved for w in [windows[(q.side, q.level)]] if q.ticks)  # type: ignore[index]
