"""The `market_maker` strategy: a ladder of post-only quotes on both sides that leans against inventory.

Quote math (all distances in bps of the reference price `ref`, the book's mid or microprice):
- The first level sits `first = max(spread_bps, min_spread_bps)` from `ref`; level n adds
  `n × level_step_bps`, and each level is at least one tick beyond the previous one on its side.
- Inventory: `r = clamp(position / max_position, -1, 1)`. The side that would add to the position moves
  away from `ref` and the other side moves in: the bid's first distance is
  `max(min_spread_bps, first × (1 + inventory_skew × r))`, the ask's `max(min_spread_bps,
  first × (1 - inventory_skew × r))`. At `max_position` with `inventory_skew = 1` the bid is twice as far
  and the ask sits at `min_spread_bps`.
- Sizes: level n's full size is `order_size × (1 + size_step)^n` rounded down to the step. The side that
  would add to the position shrinks by `(1 - inventory_skew × |r|)`, but never below the minimum size
  (defined with `order_size = 0` below), so minimum-size quotes keep their size; the reducing side keeps
  full sizes.
- Position limit: a side's total size never takes the position past `max_position` the other way: bids
  total at most `max_position - position`, asks at most `max_position + position` (so at or beyond the
  limit the adding side is empty, and the reducing side may at most carry the position to the opposite
  limit). Level n may use only what the full sizes of levels 0..n-1 leave; a level that no longer fits is
  cut down to the remainder.
- Rounding: bids down, asks up to the tick; sizes down to the step; a quote below the venue's minimum
  quantity or notional is dropped, never enlarged. Prices and sizes carry the tick's and step's exponent
  (`0.010`, not `1E-2`), so they print as the venue expects. Every bid is strictly below `ref` and every ask
  strictly above, so post-only quotes never cross the book.

`order_size = 0` means the minimum size: the smallest on-step size that meets the venue's minimum quantity
and notional at every level of the unskewed bid ladder at the current price, so `mmctl create` works on
any symbol without `--set`. `max_position = 0` means 10 × the first level's size. Decimal arithmetic runs
in explicit contexts rounding toward the safe side, whatever the thread's context is.

Two implementations, one result. `quotes_decimal` is the math above in Decimal, step by step: the
specification. `quotes`, the hot path of every book update, computes what does not depend on the book
(each level's price factor and size, for a position and minimum size) once with that same Decimal code
and caches it; per book it works in integer ticks (`mmctl.strategies.ladder`): the reference in ticks as an
exact fraction, each price floor(ref × factor) or ceil(ref × factor). Directed rounding composes exactly
(the Decimal path's intermediate floor/ceiling to 60 digits followed by floor/ceiling to the tick gives
the floor/ceiling of the exact product whenever the tick multiples involved have at most 60 digits), so
the quotes are equal, Decimal for Decimal and exponent for exponent; a reference beyond 10^24 ticks takes
the Decimal path. `quote_band` inverts the same integer math: the range of books under which the quotes
stay inside given price windows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal, localcontext
from typing import ClassVar, Literal

from mmctl.errors import ValidationError
from mmctl.exchange.rules import ceil_to, meets_minimums, min_qty_for, round_price, round_qty
from mmctl.model import BookTop, MarketRules, Side
from mmctl.strategies.base import NEAREST, BookBand, PriceWindows, Quote
from mmctl.strategies.ladder import (
    Level,
    RefBounds,
    SideLadder,
    chained_prices,
    price_at_least,
    price_at_most,
)
from mmctl.strategies.params import StrategyParams, spec
from mmctl.strategies.ticks import Grid, Ratio, ceil_div, ratio

BPS = Decimal(10_000)
DEFAULT_LIMIT_MULTIPLE = 10  # max_position = 0 means this many first-level sizes
MAX_QUANTITY = Decimal(10) ** 12  # sanity bound on sizes (keeps every computation exact)

_NEAREST = NEAREST  # the reference price, as everyone computes it
_DOWN = Context(prec=60, rounding=ROUND_FLOOR)  # bid prices, sizes, capacities: never too much
_UP = Context(prec=60, rounding=ROUND_CEILING)  # ask prices, minimum sizes: never too little

Reference = Literal["mid", "microprice"]


@dataclass(frozen=True, slots=True)
class MarketMakerParams(StrategyParams):
    """Parameters of the `market_maker` strategy (see the module docstring for the quote math)."""

    strategy: ClassVar[str] = "market_maker"

    spread_bps: Decimal = field(
        default=Decimal(10),
        metadata=spec(
            "distance of the first level from the reference price", min=Decimal(0), max=Decimal(5000)
        ),
    )
    levels: int = field(default=3, metadata=spec("price levels quoted on each side", min=1, max=20))
    level_step_bps: Decimal = field(
        default=Decimal(10),
        metadata=spec("extra distance of each further level, in bps", min=Decimal(0), max=Decimal(5000)),
    )
    order_size: Decimal = field(
        default=Decimal(0),
        metadata=spec(
            "first level's size in base units; 0 = the market's minimum size at the price", min=Decimal(0)
        ),
    )
    size_step: Decimal = field(
        default=Decimal(0),
        metadata=spec(
            "size growth per level: level n is order_size × (1 + size_step)^n (0 = equal sizes)",
            min=Decimal(0),
            max=Decimal(1),
        ),
    )
    reference: Reference = field(
        default="mid", metadata=spec("reference price: mid, or microprice (the size-weighted mid)")
    )
    inventory_skew: Decimal = field(
        default=Decimal("0.5"),
        metadata=spec(
            "0..1: how strongly prices and sizes lean against the position, relative to max_position",
            min=Decimal(0),
            max=Decimal(1),
        ),
    )
    max_position: Decimal = field(
        default=Decimal(0),
        metadata=spec(
            "largest absolute position in base units; 0 = 10 × the first level's size", min=Decimal(0)
        ),
    )
    min_spread_bps: Decimal = field(
        default=Decimal(2),
        metadata=spec(
            "no quote is ever closer than this to the reference price, whatever the skew",
            min=Decimal("0.1"),
            max=Decimal(5000),
        ),
    )

    def check(self) -> None:
        if 0 < self.max_position < self.order_size:
            raise ValidationError(
                f"max_position: {self.max_position} is smaller than order_size {self.order_size}",
                data={"field": "max_position"},
            )


@dataclass(frozen=True, slots=True)
class Sizing:
    """Effective sizes at a reference price: what `order_size = 0` and `max_position = 0` resolve to."""

    min_size: Decimal  # smallest size valid at every unskewed bid level, i.e. at `min_size_price`
    min_size_price: Decimal  # the deepest positive bid of the unskewed ladder
    first_size: Decimal  # level 0's full size, on the step grid
    max_position: Decimal


def reference_price(params: MarketMakerParams, book: BookTop) -> Decimal:
    """The price the ladder is built around: the book's mid or microprice."""
    with localcontext(_NEAREST):
        return book.microprice if params.reference == "microprice" else book.mid


def sizing(params: MarketMakerParams, rules: MarketRules, reference: Decimal) -> Sizing:
    """Resolve the minimum size, the first level's size and the position limit at `reference`."""
    first_bps = max(params.spread_bps, params.min_spread_bps)
    bids = [p for p in _level_prices(Side.BUY, first_bps, params, reference, rules.tick_size) if p > 0]
    deepest = bids[-1] if bids else reference
    with localcontext(_UP):
        min_size = min_qty_for(deepest, rules).quantize(rules.step_size)
    first, limit = _first_and_limit(params, rules, min_size)
    return Sizing(min_size=min_size, min_size_price=deepest, first_size=first, max_position=limit)


def _first_and_limit(
    params: MarketMakerParams, rules: MarketRules, min_size: Decimal
) -> tuple[Decimal, Decimal]:
    """The first level's size and the position limit, given the minimum size."""
    with localcontext(_DOWN):
        first = round_qty(params.order_size, rules.step_size).quantize(rules.step_size)
        first = first if params.order_size > 0 else min_size
        limit = params.max_position if params.max_position > 0 else DEFAULT_LIMIT_MULTIPLE * first
    return first, limit


def quotes_decimal(
    params: MarketMakerParams, book: BookTop, position: Decimal, rules: MarketRules
) -> list[Quote]:
    """The desired ladder for this book and position (empty for an empty or crossed book), in Decimal:
    the specification `quotes` is equal to, and its fallback beyond the integer path's range."""
    if book.bid <= 0 or book.ask <= book.bid:
        return []
    ref = reference_price(params, book)
    size = sizing(params, rules, ref)
    if size.first_size <= 0:
        return []
    ratio_, full, bid_room, ask_room = _position_terms(
        params, rules, position, size.first_size, size.max_position
    )
    ladder = _Ladder(params, rules, ref, size.min_size, full)
    return [*ladder.side(Side.BUY, ratio_, bid_room), *ladder.side(Side.SELL, -ratio_, ask_room)]


def _position_terms(
    params: MarketMakerParams, rules: MarketRules, position: Decimal, first: Decimal, limit: Decimal
) -> tuple[Decimal, list[Decimal], Decimal, Decimal]:
    """The inventory ratio, each level's full size, and the room each side has before the limit."""
    with localcontext(_DOWN):
        ratio_ = min(max(position / limit, Decimal(-1)), Decimal(1))
        growth = 1 + params.size_step
        full = [round_qty(first * growth**level, rules.step_size) for level in range(params.levels)]
        bid_room, ask_room = limit - position, limit + position
    return ratio_, full, bid_room, ask_room


@dataclass(frozen=True, slots=True)
class _Ladder:
    """What both sides of one `quotes_decimal` call share."""

    params: MarketMakerParams
    rules: MarketRules
    ref: Decimal
    min_size: Decimal
    full: list[Decimal]  # each level's full size, on the step grid

    def side(self, side: Side, lean: Decimal, room: Decimal) -> list[Quote]:
        """One side's quotes; `lean` > 0 when a fill on this side would add to the position, `room` is
        how much this side may fill before the position passes the limit."""
        params, rules, step = self.params, self.rules, self.rules.step_size
        prices = _level_prices(side, _first_distance(lean, params), params, self.ref, rules.tick_size)
        sizes = _side_sizes(params, rules, self.min_size, self.full, lean, room)
        out: list[Quote] = []
        with localcontext(_DOWN):
            for level, (price, qty) in enumerate(zip(prices, sizes, strict=True)):
                if price > 0 and qty > 0 and meets_minimums(price, qty, rules):
                    out.append(Quote(side, level, price.quantize(rules.tick_size), qty.quantize(step)))
        return out


def _side_sizes(
    params: MarketMakerParams,
    rules: MarketRules,
    min_size: Decimal,
    full: list[Decimal],
    lean: Decimal,
    room: Decimal,
) -> list[Decimal]:
    """Each level's size on one side (before the price filters): shrunk by the lean but not below the
    minimum size, and cut to what the levels before it leave of `room`."""
    step = rules.step_size
    out: list[Decimal] = []
    with localcontext(_DOWN):
        shrink = 1 - params.inventory_skew * max(lean, Decimal(0))
        used = Decimal(0)
        for level_full in full:
            wanted = min(level_full, max(round_qty(level_full * shrink, step), min_size))
            out.append(round_qty(min(wanted, room - used, rules.max_qty), step))
            used += level_full
    return out


def _first_distance(lean: Decimal, params: MarketMakerParams) -> Decimal:
    """The first level's distance from the reference in bps, skewed by inventory (never < min spread)."""
    first = max(params.spread_bps, params.min_spread_bps)
    with localcontext(_DOWN):
        return max(params.min_spread_bps, first * (1 + params.inventory_skew * lean))


def _level_factor(side: Side, first_bps: Decimal, level: int, params: MarketMakerParams) -> Decimal:
    """`1 ∓ distance / 10000` of `level`, rounded toward the safe side as its price is."""
    with localcontext(_DOWN if side is Side.BUY else _UP):
        distance = first_bps + level * params.level_step_bps
        return 1 - side.sign * distance / BPS


def _level_prices(
    side: Side, first_bps: Decimal, params: MarketMakerParams, ref: Decimal, tick: Decimal
) -> list[Decimal]:
    """Prices of every level, rounded away from the reference, each at least a tick beyond the last."""
    prices: list[Decimal] = []
    with localcontext(_DOWN if side is Side.BUY else _UP):
        for level in range(params.levels):
            price = round_price(ref * _level_factor(side, first_bps, level, params), side, tick)
            if prices:
                price = min(price, prices[-1] - tick) if side is Side.BUY else max(price, prices[-1] + tick)
            prices.append(price)
    return prices


# --- the integer path ---------------------------------------------------------------------------------

MAX_REF_TICKS = 10**24  # a reference beyond this many ticks takes the Decimal path (see the docstring)
_PREC_28 = 10**28  # `_NEAREST` keeps 28 digits: a mid with fewer is exact
_CACHE_SIZE = 512


def quotes(params: MarketMakerParams, book: BookTop, position: Decimal, rules: MarketRules) -> list[Quote]:
    """The desired ladder for this book and position (empty for an empty or crossed book); equal to
    `quotes_decimal`, computed in integer ticks."""
    if book.bid <= 0 or book.ask <= book.bid:
        return []
    model = _compiled(params, rules)
    ref = model.reference(book)
    if ref is None:
        return quotes_decimal(params, book, position, rules)
    ladders = model.ladders(ref, position)
    if ladders is None:
        return []
    bids, asks = ladders
    return [*bids.quotes(ref), *asks.quotes(ref)]


def quote_band(
    params: MarketMakerParams, book: BookTop, position: Decimal, rules: MarketRules, windows: PriceWindows
) -> BookBand | None:
    """The books under which `quotes` keeps its levels and sizes, every price inside its window (see
    `Strategy.quote_band`); None for a book the integer path does not cover."""
    if book.bid <= 0 or book.ask <= book.bid:
        return None
    model = _compiled(params, rules)
    ref = model.reference(book)
    if ref is None:
        return None
    bounds = RefBounds(2)  # on twice the reference: bid + ask, or twice the microprice
    if not model.constrain_sizing(bounds, ref):
        return None
    for ladder in model.ladders(ref, position) or ():
        side_windows = {level: w for (side, level), w in windows.items() if side is ladder.side}
        if not ladder.constrain(bounds, ref, side_windows):
            return None
    return model.book_band(bounds, book, ref)


class _Compiled:
    """One (params, rules) pair prepared for integer quoting: what depends on neither the book nor the
    position, and the side ladders per (position, minimum size), built by the Decimal code above."""

    def __init__(self, params: MarketMakerParams, rules: MarketRules) -> None:
        self.params, self.rules = params, rules
        self.grid = Grid(rules.tick_size)
        self.steps = Grid(rules.step_size)
        first_bps = max(params.spread_bps, params.min_spread_bps)
        self.unskewed = [ratio(_level_factor(Side.BUY, first_bps, n, params)) for n in range(params.levels)]
        self.notional = ratio(rules.min_notional)
        coefficient = int("".join(map(str, rules.tick_size.as_tuple().digits)))
        self.max_mid2 = min((_PREC_28 - 1) // (5 * coefficient), 2 * MAX_REF_TICKS - 1)  # mid exact below
        self._min_sizes: dict[int, Decimal] = {}
        self._sizing: tuple[int | None, int | None, Decimal] | None = None  # last `_min_size_at` range
        self._ladders: dict[tuple[Decimal, Decimal], tuple[SideLadder, SideLadder] | None] = {}

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
        min_size = self._min_size_at(ref)
        key = (position, min_size)
        try:
            return self._ladders[key]
        except KeyError:
            pass
        if len(self._ladders) >= _CACHE_SIZE:
            self._ladders.clear()
        built = self._ladders[key] = self._build(position, min_size)
        return built

    def _min_size_at(self, ref: Ratio) -> Decimal:
        """The minimum size at `ref`; remembers the references (twice, in ticks) over which it holds."""
        if self._sizing is not None:
            low, high, size = self._sizing
            twice, den = 2 * ref[0], ref[1]
            if (low is None or twice >= low * den) and (high is None or twice <= high * den):
                return size
        size = self._min_size(self._deepest(ref)[1])
        bounds = RefBounds(2)
        self._sizing = (bounds.low, bounds.high, size) if self.constrain_sizing(bounds, ref) else None
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

    def book_band(self, bounds: RefBounds, book: BookTop, ref: Ratio) -> BookBand | None:
        """`bounds` (on twice the reference) as a band of books; None unless `book` is inside it."""
        low = BookBand().mid2_lo if bounds.low is None else bounds.low
        high = self.max_mid2 if bounds.high is None else min(bounds.high, self.max_mid2)
        if self.params.reference == "mid":
            band = BookBand(mid2_lo=low, mid2_hi=high)
        else:  # books whose microprice is inside
            band = BookBand(micro2_lo=low, micro2_hi=high)
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
            with localcontext(_UP):
                found = max(self.rules.min_qty, self.steps.value(k)).quantize(self.rules.step_size)
            self._min_sizes[k] = found
        return found

    def _build(self, position: Decimal, min_size: Decimal) -> tuple[SideLadder, SideLadder] | None:
        params, rules = self.params, self.rules
        first, limit = _first_and_limit(params, rules, min_size)
        if first <= 0:
            return None
        ratio_, full, bid_room, ask_room = _position_terms(params, rules, position, first, limit)
        return (
            self._side(Side.BUY, ratio_, bid_room, min_size, full),
            self._side(Side.SELL, -ratio_, ask_room, min_size, full),
        )

    def _side(
        self, side: Side, lean: Decimal, room: Decimal, min_size: Decimal, full: list[Decimal]
    ) -> SideLadder:
        params, rules = self.params, self.rules
        first_bps = _first_distance(lean, params)
        sizes = _side_sizes(params, rules, min_size, full, lean, room)
        levels = tuple(
            Level(
                ratio(_level_factor(side, first_bps, n, params)),
                qty.quantize(rules.step_size, context=_DOWN),
                self._min_ticks(qty),
            )
            for n, qty in enumerate(sizes)
        )
        return SideLadder(side, levels, self.grid)

    def _min_ticks(self, qty: Decimal) -> int | None:
        """The lowest price (ticks) at which a level of size `qty` is quoted (None: never)."""
        if qty <= 0 or qty < self.rules.min_qty:
            return None
        (nn, nd), (qn, qd) = self.notional, ratio(qty)
        return max(1, ceil_div(nn * self.grid.den * qd, nd * self.grid.num * qn))


_COMPILED: dict[tuple[int, int], _Compiled] = {}


def _compiled(params: MarketMakerParams, rules: MarketRules) -> _Compiled:
    """The compiled model of this exact params and rules object (the entry holds them, so their ids
    are not reused while it lives)."""
    key = (id(params), id(rules))
    found = _COMPILED.get(key)
    if found is None or found.params is not params or found.rules is not rules:
        if len(_COMPILED) >= _CACHE_SIZE:
            _COMPILED.clear()
        found = _COMPILED[key] = _Compiled(params, rules)
    return found


def check_against_market(params: MarketMakerParams, rules: MarketRules, reference_price: Decimal) -> None:
    """Raise `ValidationError` naming the field when `params` cannot quote `rules`' market at this price."""
    if reference_price <= 0:
        raise ValidationError(
            f"no usable price for {rules.symbol}: {reference_price}", data={"field": "price"}
        )
    _check_leverage(params, rules)
    _check_open_orders(params, rules)
    _check_spreads(params, rules, reference_price)
    _check_sizes(params, rules, reference_price)


def _check_leverage(params: MarketMakerParams, rules: MarketRules) -> None:
    if params.leverage > rules.max_leverage:
        raise ValidationError(
            f"leverage: {params.leverage} is above {rules.symbol}'s maximum of {rules.max_leverage}",
            data={"field": "leverage"},
        )


def _check_open_orders(params: MarketMakerParams, rules: MarketRules) -> None:
    if params.levels * 2 > rules.max_open_orders:
        raise ValidationError(
            f"levels: {params.levels} per side need {params.levels * 2} open orders, more than the "
            f"{rules.max_open_orders} {rules.symbol} allows; use at most {rules.max_open_orders // 2}",
            data={"field": "levels"},
        )


def _check_spreads(params: MarketMakerParams, rules: MarketRules, price: Decimal) -> None:
    with localcontext(_UP):
        tick_bps = rules.tick_size * BPS / price
        shown = ceil_to(tick_bps, Decimal("0.0001")).normalize()
    for name in ("spread_bps", "min_spread_bps"):
        value: Decimal = getattr(params, name)
        if value < tick_bps:
            raise ValidationError(
                f"{name}: {value} bps is less than one tick of {rules.symbol} at {price} "
                f"({rules.tick_size} = {format(shown, 'f')} bps); use at least that",
                data={"field": name},
            )


def _check_sizes(params: MarketMakerParams, rules: MarketRules, price: Decimal) -> None:
    size = sizing(params, rules, price)
    if params.order_size > 0 and size.first_size < size.min_size:
        raise ValidationError(
            f"order_size: {params.order_size} is below {rules.symbol}'s minimum size at {price}: "
            f"{size.min_size} (min qty {rules.min_qty}, min notional {rules.min_notional} {rules.quote} "
            f"at the deepest bid {size.min_size_price}); use at least {size.min_size}, or 0 for the minimum",
            data={"field": "order_size"},
        )
    if size.first_size > rules.max_qty:
        raise ValidationError(
            f"order_size: {params.order_size} is above {rules.symbol}'s maximum quantity {rules.max_qty}",
            data={"field": "order_size"},
        )
    if size.max_position < size.first_size:
        raise ValidationError(
            f"max_position: {size.max_position} is smaller than the first level's size {size.first_size}",
            data={"field": "max_position"},
        )


class MarketMaker:
    """The `market_maker` strategy object held by the registry."""

    name = "market_maker"
    params_cls = MarketMakerParams

    def check_against_market(
        self, params: MarketMakerParams, rules: MarketRules, reference_price: Decimal
    ) -> None:
        check_against_market(params, rules, reference_price)

    def quotes(
        self, params: MarketMakerParams, book: BookTop, position: Decimal, rules: MarketRules
    ) -> list[Quote]:
        return quotes(params, book, position, rules)

    def quote_band(
        self,
        params: MarketMakerParams,
        book: BookTop,
        position: Decimal,
        rules: MarketRules,
        windows: PriceWindows,
    ) -> BookBand | None:
        return quote_band(params, book, position, rules, windows)
