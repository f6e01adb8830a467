"""The market_maker's quote math in Decimal, step by step: the specification of its quotes.

`quotes_decimal` follows the rules of `mmctl.strategies.market_maker` literally, in explicit Decimal
contexts that round toward the safe side (bids and sizes down, asks and minimum sizes up, 60 digits),
whatever the thread's context is. The integer path (`mmctl.strategies.market_maker_ticks`) builds what
does not depend on the book with the same functions (`level_factor`, `side_sizes`, ...), and falls back to
`quotes_decimal` for a reference beyond its range.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal, localcontext

from mmctl.exchange.rules import meets_minimums, min_qty_for, round_price, round_qty
from mmctl.model import BookTop, MarketRules, Side
from mmctl.strategies.base import NEAREST, Quote
from mmctl.strategies.market_maker_params import MarketMakerParams

BPS = Decimal(10_000)
DEFAULT_LIMIT_MULTIPLE = 10  # max_position = 0 means this many first-level sizes
MAX_QUANTITY = Decimal(10) ** 12  # sanity bound on sizes (keeps every computation exact)

DOWN = Context(prec=60, rounding=ROUND_FLOOR)  # bid prices, sizes, capacities: never too much
UP = Context(prec=60, rounding=ROUND_CEILING)  # ask prices, minimum sizes: never too little


@dataclass(frozen=True, slots=True)
class Sizing:
    """Effective sizes at a reference price: what `order_size = 0` and `max_position = 0` resolve to."""

    min_size: Decimal  # smallest size valid at every unskewed bid level, i.e. at `min_size_price`
    min_size_price: Decimal  # the deepest positive bid of the unskewed ladder
    first_size: Decimal  # level 0's full size, on the step grid
    max_position: Decimal


def reference_price(params: MarketMakerParams, book: BookTop) -> Decimal:
    """The price the ladder is built around: the book's mid or microprice."""
    with localcontext(NEAREST):
        return book.microprice if params.reference == "microprice" else book.mid


def sizing(params: MarketMakerParams, rules: MarketRules, reference: Decimal) -> Sizing:
    """Resolve the minimum size, the first level's size and the position limit at `reference`."""
    first_bps = max(params.spread_bps, params.min_spread_bps)
    bids = [p for p in level_prices(Side.BUY, first_bps, params, reference, rules.tick_size) if p > 0]
    deepest = bids[-1] if bids else reference
    with localcontext(UP):
        min_size = min_qty_for(deepest, rules).quantize(rules.step_size)
    first, limit = first_and_limit(params, rules, min_size)
    return Sizing(min_size=min_size, min_size_price=deepest, first_size=first, max_position=limit)


def first_and_limit(
    params: MarketMakerParams, rules: MarketRules, min_size: Decimal
) -> tuple[Decimal, Decimal]:
    """The first level's size and the position limit, given the minimum size."""
    with localcontext(DOWN):
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
    ratio_, full, bid_room, ask_room = position_terms(
        params, rules, position, size.first_size, size.max_position
    )
    ladder = _Ladder(params, rules, ref, size.min_size, full)
    return [*ladder.side(Side.BUY, ratio_, bid_room), *ladder.side(Side.SELL, -ratio_, ask_room)]


def position_terms(
    params: MarketMakerParams, rules: MarketRules, position: Decimal, first: Decimal, limit: Decimal
) -> tuple[Decimal, list[Decimal], Decimal, Decimal]:
    """The inventory ratio, each level's full size, and the room each side has before the limit."""
    with localcontext(DOWN):
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
        prices = level_prices(side, first_distance(lean, params), params, self.ref, rules.tick_size)
        sizes = side_sizes(params, rules, self.min_size, self.full, lean, room)
        out: list[Quote] = []
        with localcontext(DOWN):
            for level, (price, qty) in enumerate(zip(prices, sizes, strict=True)):
                if price > 0 and qty > 0 and meets_minimums(price, qty, rules):
                    out.append(Quote(side, level, price.quantize(rules.tick_size), qty.quantize(step)))
        return out


def side_sizes(
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
    with localcontext(DOWN):
        shrink = 1 - params.inventory_skew * max(lean, Decimal(0))
        used = Decimal(0)
        for level_full in full:
            wanted = min(level_full, max(round_qty(level_full * shrink, step), min_size))
            out.append(round_qty(min(wanted, room - used, rules.max_qty), step))
            used += level_full
    return out


def first_distance(lean: Decimal, params: MarketMakerParams) -> Decimal:
    """The first level's distance from the reference in bps, skewed by inventory (never < min spread)."""
    first = max(params.spread_bps, params.min_spread_bps)
    with localcontext(DOWN):
        return max(params.min_spread_bps, first * (1 + params.inventory_skew * lean))


def level_factor(side: Side, first_bps: Decimal, level: int, params: MarketMakerParams) -> Decimal:
    """`1 ∓ distance / 10000` of `level`, rounded toward the safe side as its price is."""
    with localcontext(DOWN if side is Side.BUY else UP):
        distance = first_bps + level * params.level_step_bps
        return 1 - side.sign * distance / BPS


def level_prices(
    side: Side, first_bps: Decimal, params: MarketMakerParams, ref: Decimal, tick: Decimal
) -> list[Decimal]:
    """Prices of every level, rounded away from the reference, each at least a tick beyond the last."""
    prices: list[Decimal] = []
    with localcontext(DOWN if side is Side.BUY else UP):
        for level in range(params.levels):
            price = round_price(ref * level_factor(side, first_bps, level, params), side, tick)
            if prices:
                price = min(price, prices[-1] - tick) if side is Side.BUY else max(price, prices[-1] + tick)
            prices.append(price)
    return prices
