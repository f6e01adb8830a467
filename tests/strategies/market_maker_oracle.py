"""The oracle for the integer quote path: the market_maker's Decimal quotes as they were computed before
the integer path existed, frozen here verbatim (with the rounding helpers of `mmctl.exchange.rules` of
that time), so the property tests compare `quotes` with today's results, not with a reference that could
be edited along with the code it checks.

Not a test module itself: `test_integer_quotes.py` uses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, localcontext

from mmctl.model import BookTop, MarketRules, Side
from mmctl.strategies.base import Quote
from mmctl.strategies.market_maker import MarketMakerParams

BPS = Decimal(10_000)
DEFAULT_LIMIT_MULTIPLE = 10

_NEAREST = Context(prec=28, rounding=ROUND_HALF_EVEN)
_DOWN = Context(prec=60, rounding=ROUND_FLOOR)
_UP = Context(prec=60, rounding=ROUND_CEILING)


def floor_to(value: Decimal, increment: Decimal) -> Decimal:
    return (value / increment).to_integral_value(rounding=ROUND_FLOOR) * increment


def ceil_to(value: Decimal, increment: Decimal) -> Decimal:
    return (value / increment).to_integral_value(rounding=ROUND_CEILING) * increment


def round_price(price: Decimal, side: Side, tick: Decimal) -> Decimal:
    return floor_to(price, tick) if side is Side.BUY else ceil_to(price, tick)


def round_qty(qty: Decimal, step: Decimal) -> Decimal:
    return floor_to(qty, step)


def meets_minimums(price: Decimal, qty: Decimal, rules: MarketRules) -> bool:
    return qty >= rules.min_qty and price * qty >= rules.min_notional


def min_qty_for(price: Decimal, rules: MarketRules) -> Decimal:
    by_notional = ceil_to(rules.min_notional / price, rules.step_size)
    return max(rules.min_qty, by_notional)


@dataclass(frozen=True, slots=True)
class Sizing:
    min_size: Decimal
    min_size_price: Decimal
    first_size: Decimal
    max_position: Decimal


def reference_price(params: MarketMakerParams, book: BookTop) -> Decimal:
    with localcontext(_NEAREST):
        return book.microprice if params.reference == "microprice" else book.mid


def sizing(params: MarketMakerParams, rules: MarketRules, reference: Decimal) -> Sizing:
    first_bps = max(params.spread_bps, params.min_spread_bps)
    bids = [p for p in _level_prices(Side.BUY, first_bps, params, reference, rules.tick_size) if p > 0]
    deepest = bids[-1] if bids else reference
    with localcontext(_UP):
        min_size = min_qty_for(deepest, rules).quantize(rules.step_size)
    with localcontext(_DOWN):
        first = round_qty(params.order_size, rules.step_size).quantize(rules.step_size)
        first = first if params.order_size > 0 else min_size
        limit = params.max_position if params.max_position > 0 else DEFAULT_LIMIT_MULTIPLE * first
    return Sizing(min_size=min_size, min_size_price=deepest, first_size=first, max_position=limit)


def quotes(params: MarketMakerParams, book: BookTop, position: Decimal, rules: MarketRules) -> list[Quote]:
    if book.bid <= 0 or book.ask <= book.bid:
        return []
    ref = reference_price(params, book)
    size = sizing(params, rules, ref)
    if size.first_size <= 0:
        return []
    with localcontext(_DOWN):
        ratio = min(max(position / size.max_position, Decimal(-1)), Decimal(1))
        growth = 1 + params.size_step
        full = [round_qty(size.first_size * growth**level, rules.step_size) for level in range(params.levels)]
        bid_room, ask_room = size.max_position - position, size.max_position + position
    ladder = _Ladder(params, rules, ref, size.min_size, full)
    return [*ladder.side(Side.BUY, ratio, bid_room), *ladder.side(Side.SELL, -ratio, ask_room)]


@dataclass(frozen=True, slots=True)
class _Ladder:
    params: MarketMakerParams
    rules: MarketRules
    ref: Decimal
    min_size: Decimal
    full: list[Decimal]

    def side(self, side: Side, lean: Decimal, room: Decimal) -> list[Quote]:
        params, rules, step = self.params, self.rules, self.rules.step_size
        prices = _level_prices(side, _first_distance(lean, params), params, self.ref, rules.tick_size)
        out: list[Quote] = []
        with localcontext(_DOWN):
            shrink = 1 - params.inventory_skew * max(lean, Decimal(0))
            used = Decimal(0)
            for level, (price, full) in enumerate(zip(prices, self.full, strict=True)):
                wanted = min(full, max(round_qty(full * shrink, step), self.min_size))
                qty = round_qty(min(wanted, room - used, rules.max_qty), step)
                used += full
                if price > 0 and qty > 0 and meets_minimums(price, qty, rules):
                    out.append(Quote(side, level, price.quantize(rules.tick_size), qty.quantize(step)))
        return out


def _first_distance(lean: Decimal, params: MarketMakerParams) -> Decimal:
    first = max(params.spread_bps, params.min_spread_bps)
    with localcontext(_DOWN):
        return max(params.min_spread_bps, first * (1 + params.inventory_skew * lean))


def _level_prices(
    side: Side, first_bps: Decimal, params: MarketMakerParams, ref: Decimal, tick: Decimal
) -> list[Decimal]:
    prices: list[Decimal] = []
    with localcontext(_DOWN if side is Side.BUY else _UP):
        for level in range(params.levels):
            distance = first_bps + level * params.level_step_bps
            price = round_price(ref * (1 - side.sign * distance / BPS), side, tick)
            if prices:
                price = min(price, prices[-1] - tick) if side is Side.BUY else max(price, prices[-1] + tick)
            prices.append(price)
    return prices
