"""The market_maker's quotes in integer ticks: the hot path of every book update, and its book bands.

`quotes` returns exactly what `quotes_decimal` returns (the property tests pin it against the Decimal
quotes of before). What does not depend on the book (each level's price factor and size, for a position
and a minimum size) is built once with the Decimal functions of `mmctl.strategies.market_maker_decimal`
and cached per (params, rules) object; per book the work is in integer ticks (`mmctl.strategies.ladder`):
the reference in ticks as an exact fraction, each price floor(ref × factor) or ceil(ref × factor).
Directed rounding composes exactly: the Decimal path's floor (ceiling) of the product to 60 digits, then
to the tick, is the floor (ceiling) of the exact product whenever the tick multiples involved have at most
60 digits, so prices, sizes and their exponents are equal. A reference beyond `MAX_REF_TICKS` takes the
Decimal path.

`quote_band` inverts the same math: the books under which the quotes keep their levels and sizes with
every price inside given windows (`Strategy.quote_band`); each level's band is remembered per window
(`mmctl.strategies.ladder_bands`), and the reference and ladders of the quotes just computed for the
same book and position are reused. `LadderModel.side_ladders` builds the same ladder with level 0 at
distances set by another strategy (avellaneda_stoikov), so it quotes and bands on this path too.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from mmctl.model import BookTop, MarketRules, Side
from mmctl.strategies.base import UNBOUNDED, BookBand, PriceWindows, Quote, QuoteBands
from mmctl.strategies.ladder import (
    Level,
    RefBounds,
    SideLadder,
    chained_prices,
    price_at_least,
    price_at_most,
)
from mmctl.strategies.ladder_bands import Ends, LevelBands, LevelView
from mmctl.strategies.market_maker_decimal import (
    DOWN,
    UP,
    first_and_limit,
    first_distance,
    level_factor,
    position_terms,
    quotes_decimal,
    reference_price,
    side_sizes,
)
from mmctl.strategies.market_maker_params import MarketMakerParams
from mmctl.strategies.ticks import Grid, Ratio, ceil_div, ratio

MAX_REF_TICKS = 10**24  # a reference beyond this many ticks takes the Decimal path (see the docstring)
_PREC_28 = 10**28  # `NEAREST` keeps 28 digits: a mid with fewer is exact
_MODELS = 1024  # compiled (params, rules) pairs kept: one per running bot, and some
_LADDERS = 8  # ladders (and minimum sizes) kept per model: per (position, minimum size) seen lately

Ladders = tuple[SideLadder, SideLadder] | None  # bids, asks; None: nothing is quoted
_Sized = tuple[tuple[tuple[Decimal, int | None], ...], tuple[tuple[Decimal, int | None], ...], Decimal]


@dataclass(frozen=True, slots=True)
class _SizingRange:
    """The references (twice, in ticks; None: open) over which the minimum size is `size`, as a band."""

    low: int | None
    high: int | None
    size: Decimal
    band: BookBand

    def holds(self, ref: Ratio) -> bool:
        twice, den = 2 * ref[0], ref[1]
        return (self.low is None or twice >= self.low * den) and (
            self.high is None or twice <= self.high * den
        )


def quotes(params: MarketMakerParams, book: BookTop, position: Decimal, rules: MarketRules) -> list[Quote]:
    """The desired ladder for this book and position (empty for an empty or crossed book); equal to
    `quotes_decimal`, computed in integer ticks."""
    if book.bid <= 0 or book.ask <= book.bid:
        return []
    model = ladder_model(params, rules)
    ref, ladders = model.at(book, position)
    if ref is None:
        return quotes_decimal(params, book, position, rules)
    if ladders is None:
        return []
    bids, asks = ladders
    return [*bids.quotes(ref), *asks.quotes(ref)]


def quote_band(
    params: MarketMakerParams, book: BookTop, position: Decimal, rules: MarketRules, windows: PriceWindows
) -> BookBand | None:
    """The books under which `quotes` keeps its levels and sizes, every price inside its window (see
    `Strategy.quote_band`); None for a book the integer path does not cover."""
    bands = quote_bands(params, book, position, rules, windows)
    return None if bands is None else bands.band


def quote_bands(
    params: MarketMakerParams, book: BookTop, position: Decimal, rules: MarketRules, windows: PriceWindows
) -> QuoteBands | None:
    """`quote_band`, with the sizing band and each quoted level's own band (see `QuoteBands`)."""
    if book.bid <= 0 or book.ask <= book.bid:
        return None
    return ladder_model(params, rules).bands(book, position, windows)


class LadderModel:
    """One (params, rules) pair prepared for integer quoting: what depends on neither the book nor the
    position, and the side ladders per (position, minimum size), built by the Decimal functions."""

    def __init__(self, params: MarketMakerParams, rules: MarketRules) -> None:
        self.params, self.rules = params, rules
        self.grid = Grid.of(rules.tick_size)
        self.steps = Grid.of(rules.step_size)
        first_bps = max(params.spread_bps, params.min_spread_bps)
        self.unskewed = [ratio(level_factor(Side.BUY, first_bps, n, params)) for n in range(params.levels)]
        self.notional = ratio(rules.min_notional)
        coefficient = int("".join(map(str, rules.tick_size.as_tuple().digits)))
        self.max_mid2 = min((_PREC_28 - 1) // (5 * coefficient), 2 * MAX_REF_TICKS - 1)  # mid exact below
        self._min_sizes: dict[int, Decimal] = {}
        self._sizing: _SizingRange | None = None  # the last `min_size_at` range
        self._ladders: dict[tuple[Decimal, Decimal], tuple[SideLadder, SideLadder] | None] = {}
        self._last: tuple[BookTop, Decimal, Ratio | None, Ladders] | None = None  # the last `at`
        self._level_bands = LevelBands()
        self._distanced: dict[tuple[Decimal, Decimal, Decimal, Decimal], Ladders] = {}
        self._flat_sizes: dict[tuple[Decimal, Decimal], _Sized | None] = {}

    def at(self, book: BookTop, position: Decimal) -> tuple[Ratio | None, Ladders]:
        """The reference in ticks (None beyond range) and the ladders for `book` and `position`; the
        last answer is remembered, so the bands asked for right after the quotes reuse them."""
        last = self._last
        if last is not None and last[0] is book and last[1] == position:
            return last[2], last[3]
        ref = self.reference(book)
        ladders = None if ref is None else self.ladders(ref, position)
        self._last = (book, position, ref, ladders)
        return ref, ladders

    def bands(self, book: BookTop, position: Decimal, windows: PriceWindows) -> QuoteBands | None:
        """`quote_bands` for a book that is neither empty nor crossed."""
        ref, ladders = self.at(book, position)
        return None if ref is None else self.bands_for(book, ref, ladders, windows)

    def bands_for(
        self, book: BookTop, ref: Ratio, ladders: Ladders, windows: PriceWindows
    ) -> QuoteBands | None:
        """The bands of `ladders` quoted at `ref` (that of `book`): the references with the minimum size
        of `ref`, narrowed by each side (`LevelBands.constrain`), as a band `book` must be inside. For
        a caller whose ladders stay the same wherever the minimum size does."""
        sizing = self._sizing_at(ref)
        if sizing is None:
            return None
        bounds = RefBounds(2)  # on twice the reference: bid + ask, or twice the microprice
        bounds.low, bounds.high = sizing.low, sizing.high
        levels: dict[tuple[Side, int], Ends] = {}
        for ladder in ladders or ():
            if not self._level_bands.constrain(ladder, ref, windows, bounds, levels):
                return None
        band = self.book_band(bounds, book, ref)
        return None if band is None else QuoteBands(band, sizing.band, LevelView(levels, self.band_of))

    def _sizing_at(self, ref: Ratio) -> _SizingRange | None:
        """The references with the minimum size of `ref` (as `constrain_sizing` finds them: the range is
        the same from any reference inside it); None when it cannot tell."""
        sizing = self._sizing
        if sizing is None or not sizing.holds(ref):
            self.min_size_at(ref)
            sizing = self._sizing
        return sizing

    def reference(self, book: BookTop) -> Ratio | None:
        """The reference price in ticks, exactly as `reference_price` computes it (None beyond range)."""
        if self.params.reference == "mid":
            bid, ask = self.grid.index(book.bid), self.grid.index(book.ask)
            if bid is not None and ask is not None and bid + ask <= self.max_mid2:
                return bid + ask, 2
        num, den = self.grid.index_ratio(reference_price(self.params, book))
        return (num, den) if num < MAX_REF_TICKS * den else None

    def ladders(self, ref: Ratio, position: Decimal) -> tuple[SideLadder, SideLadder] | None:
        """Both sides' ladders at this reference (through the minimum size) and position; None when
        the first level's size is 0 (nothing is quoted)."""
        min_size = self.min_size_at(ref)
        key = (position, min_size)
        try:
            return self._ladders[key]
        except KeyError:
            pass
        if len(self._ladders) >= _LADDERS:
            self._ladders.clear()
        built = self._ladders[key] = self._build(position, min_size)
        return built

    def min_size_at(self, ref: Ratio) -> Decimal:
        """The minimum size at `ref`; remembers the references (twice, in ticks) over which it holds."""
        sizing = self._sizing
        if sizing is not None and sizing.holds(ref):
            return sizing.size
        size = self._min_size(self._deepest(ref)[1])
        bounds = RefBounds(2)
        self._sizing = (
            _SizingRange(bounds.low, bounds.high, size, self.to_band(bounds))
            if self.constrain_sizing(bounds, ref)
            else None
        )
        return size

    def constrain_sizing(self, bounds: RefBounds, ref: Ratio) -> bool:
        """Narrow `bounds` to references with the same minimum size as `ref` (False: cannot tell)."""
        if self.notional[0] == 0:
            return True  # no minimum notional: the minimum size is the minimum quantity at any price
        prices = chained_prices(Side.BUY, self.unskewed, ref)
        deepest, k = self._deepest(ref, prices)
        if deepest < 0:
            return False
        low, high = self._deepest_range(k)
        price_at_least(Side.BUY, self.unskewed, deepest, max(1, low), bounds)
        if high is not None:
            price_at_most(Side.BUY, self.unskewed, deepest, high, bounds)
        beyond = deepest + 1
        if beyond < len(self.unskewed) and all(f[0] > 0 for f in self.unskewed[: beyond + 1]):
            price_at_most(Side.BUY, self.unskewed, beyond, 0, bounds)  # the next level stays <= 0
        return True

    def to_band(self, bounds: RefBounds) -> BookBand:
        """`bounds` (on twice the reference) as a band of books (cut where the integer path ends)."""
        return self.band_of(bounds.low, bounds.high)

    def band_of(self, low: int | None, high: int | None) -> BookBand:
        """References (twice, in ticks) from `low` to `high` (None: open) as a band of books."""
        low = -UNBOUNDED if low is None else low
        high = self.max_mid2 if high is None else min(high, self.max_mid2)
        if self.params.reference == "mid":
            return BookBand(mid2_lo=low, mid2_hi=high)
        return BookBand(micro2_lo=low, micro2_hi=high)  # books whose microprice is inside

    def book_band(self, bounds: RefBounds, book: BookTop, ref: Ratio) -> BookBand | None:
        """`bounds` (on twice the reference) as a band of books; None unless `book` is inside it."""
        band = self.to_band(bounds)
        bid, ask = self.grid.index(book.bid), self.grid.index(book.ask)
        inside = bid is not None and ask is not None and band.admits(bid, ask)
        return band if inside and (not band.watches_micro or band.admits_micro(*ref)) else None

    def _deepest(self, ref: Ratio, prices: list[int] | None = None) -> tuple[int, int]:
        """The deepest positive level of the unskewed bid ladder (-1: none) and the steps of size the
        minimum notional needs at its price (at the reference when there is none)."""
        if prices is None:
            prices = chained_prices(Side.BUY, self.unskewed, ref)
        deepest = sum(1 for p in prices if p > 0) - 1  # prices fall level by level
        price = (prices[deepest], 1) if deepest >= 0 else ref
        nn, nd = self.notional
        tick, step = self.grid, self.steps
        k = ceil_div(nn * price[1] * tick.den * step.den, nd * price[0] * tick.num * step.num)
        return deepest, k

    def _deepest_range(self, k: int) -> tuple[int, int | None]:
        """The prices (ticks) of the deepest bid at which the minimum size stays what `k` steps give."""
        (nn, nd), (qn, qd) = self.notional, ratio(self._min_size(0))  # the minimum quantity, as sized
        tick, step = self.grid, self.steps
        if k * step.num * qd <= qn * step.den:  # the minimum quantity decides: k may fall freely
            k = (qn * step.den) // (qd * step.num)  # the most steps that still do not exceed it
            return ceil_div(nn * tick.den * step.den, nd * k * tick.num * step.num), None
        low = ceil_div(nn * tick.den * step.den, nd * k * tick.num * step.num)
        if k < 2:
            return low, None
        return low, ceil_div(nn * tick.den * step.den, nd * (k - 1) * tick.num * step.num) - 1

    def _min_size(self, k: int) -> Decimal:
        """What `sizing` resolves the minimum size to when the notional needs `k` steps."""
        found = self._min_sizes.get(k)
        if found is None:
            with localcontext(UP):
                found = max(self.rules.min_qty, self.steps.value(k)).quantize(self.rules.step_size)
            if len(self._min_sizes) >= _LADDERS:
                self._min_sizes.clear()
            self._min_sizes[k] = found
        return found

    def side_ladders(
        self, position: Decimal, min_size: Decimal, bid_bps: Decimal, ask_bps: Decimal
    ) -> Ladders:
        """Both sides' ladders with level 0 `bid_bps` and `ask_bps` from the reference instead of the
        params' skewed distances, and sizes without the inventory lean (for strategies that set their
        own distances on this ladder); None when the first level's size is 0. The sizes are kept per
        (position, minimum size): the distances change more often than they do."""
        key = (position, min_size, bid_bps, ask_bps)
        memo = self._distanced
        if key in memo:
            return memo[key]
        if len(memo) >= _LADDERS:
            memo.clear()
        sized_key = (position, min_size)
        if sized_key not in self._flat_sizes:
            if len(self._flat_sizes) >= _LADDERS:
                self._flat_sizes.clear()
            self._flat_sizes[sized_key] = self._sizes(position, min_size, flat=True)
        sized = self._flat_sizes[sized_key]
        built = memo[key] = (
            None
            if sized is None
            else (self._side(Side.BUY, bid_bps, sized[0]), self._side(Side.SELL, ask_bps, sized[1]))
        )
        return built

    def _build(self, position: Decimal, min_size: Decimal) -> Ladders:
        sized = self._sizes(position, min_size, flat=False)
        if sized is None:
            return None
        bids, asks, lean = sized
        params = self.params
        return (
            self._side(Side.BUY, first_distance(lean, params), bids),
            self._side(Side.SELL, first_distance(-lean, params), asks),
        )

    def _sizes(self, position: Decimal, min_size: Decimal, *, flat: bool) -> _Sized | None:
        """Each side's (size on the step, lowest price quoted) per level at `position`, leaning with the
        position unless `flat`, and the lean; None when the first level's size is 0."""
        params, rules = self.params, self.rules
        first, limit = first_and_limit(params, rules, min_size)
        if first <= 0:
            return None
        ratio_, full, bid_room, ask_room = position_terms(params, rules, position, first, limit)
        bid_lean, ask_lean = (Decimal(0), Decimal(0)) if flat else (ratio_, -ratio_)
        step = rules.step_size
        bids, asks = (
            tuple(
                (qty.quantize(step, context=DOWN), self._min_ticks(qty))
                for qty in side_sizes(params, rules, min_size, full, lean, room)
            )
            for lean, room in ((bid_lean, bid_room), (ask_lean, ask_room))
        )
        return bids, asks, ratio_

    def _side(
        self, side: Side, first_bps: Decimal, sized: tuple[tuple[Decimal, int | None], ...]
    ) -> SideLadder:
        params = self.params
        levels = tuple(
            Level(ratio(level_factor(side, first_bps, n, params)), qty, min_ticks)
            for n, (qty, min_ticks) in enumerate(sized)
        )
        return SideLadder(side, levels, self.grid)

    def _min_ticks(self, qty: Decimal) -> int | None:
        """The lowest price (ticks) at which a level of size `qty` is quoted (None: never)."""
        if qty <= 0 or qty < self.rules.min_qty:
            return None
        (nn, nd), (qn, qd) = self.notional, ratio(qty)
        return max(1, ceil_div(nn * self.grid.den * qd, nd * self.grid.num * qn))


_MODELS_KEPT: dict[tuple[int, int], LadderModel] = {}


def ladder_model(params: MarketMakerParams, rules: MarketRules) -> LadderModel:
    """The model of this exact params and rules object (the entry holds them, so their ids are not
    reused while it lives)."""
    key = (id(params), id(rules))
    found = _MODELS_KEPT.get(key)
    if found is None or found.params is not params or found.rules is not rules:
        if len(_MODELS_KEPT) >= _MODELS:
            _MODELS_KEPT.clear()
        found = _MODELS_KEPT[key] = LadderModel(params, rules)
    return found
