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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import ClassVar, Literal

from mmctl.errors import ValidationError
from mmctl.exchange.rules import ceil_to, meets_minimums, min_qty_for, round_price, round_qty
from mmctl.model import BookTop, MarketRules, Side
from mmctl.strategies.base import Quote
from mmctl.strategies.params import StrategyParams, spec

BPS = Decimal(10_000)
DEFAULT_LIMIT_MULTIPLE = 10  # max_position = 0 means this many first-level sizes
MAX_QUANTITY = Decimal(10) ** 12  # sanity bound on sizes (keeps every computation exact)

_NEAREST = Context(prec=28, rounding=ROUND_HALF_EVEN)  # the reference price, as everyone computes it
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
    with localcontext(_DOWN):
        first = round_qty(params.order_size, rules.step_size).quantize(rules.step_size)
        first = first if params.order_size > 0 else min_size
        limit = params.max_position if params.max_position > 0 else DEFAULT_LIMIT_MULTIPLE * first
    return Sizing(min_size=min_size, min_size_price=deepest, first_size=first, max_position=limit)


def quotes(params: MarketMakerParams, book: BookTop, position: Decimal, rules: MarketRules) -> list[Quote]:
    """The desired ladder for this book and position (empty for an empty or crossed book)."""
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
    """What both sides of one `quotes` call share."""

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
    """The first level's distance from the reference in bps, skewed by inventory (never < min spread)."""
    first = max(params.spread_bps, params.min_spread_bps)
    with localcontext(_DOWN):
        return max(params.min_spread_bps, first * (1 + params.inventory_skew * lean))


def _level_prices(
    side: Side, first_bps: Decimal, params: MarketMakerParams, ref: Decimal, tick: Decimal
) -> list[Decimal]:
    """Prices of every level, rounded away from the reference, each at least a tick beyond the last."""
    prices: list[Decimal] = []
    with localcontext(_DOWN if side is Side.BUY else _UP):
        for level in range(params.levels):
            distance = first_bps + level * params.level_step_bps
            price = round_price(ref * (1 - side.sign * distance / BPS), side, tick)
            if prices:
                price = min(price, prices[-1] - tick) if side is Side.BUY else max(price, prices[-1] + tick)
            prices.append(price)
    return prices


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
