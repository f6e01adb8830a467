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

Modules: the parameters (`market_maker_params`), the math above in Decimal step by step, the
specification (`market_maker_decimal`), and the same quotes in integer ticks, the hot path of every book
update, with the bands of books under which they stay put (`market_maker_ticks`). This module is the
strategy object, its market checks, and the names callers use.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

from mmctl.errors import ValidationError
from mmctl.exchange.rules import ceil_to
from mmctl.model import BookTop, MarketRules
from mmctl.strategies.base import BOOK_ONLY, BookBand, DataNeeds, PriceWindows, Quote, QuoteBands, Signals
from mmctl.strategies.market_maker_decimal import BPS, UP, Sizing, quotes_decimal, reference_price, sizing
from mmctl.strategies.market_maker_params import MarketMakerParams, Reference
from mmctl.strategies.market_maker_ticks import MAX_REF_TICKS, quote_band, quote_bands, quotes

__all__ = [
    "MAX_REF_TICKS",
    "MarketMaker",
    "MarketMakerParams",
    "Reference",
    "Sizing",
    "check_against_market",
    "check_ladder",
    "quote_band",
    "quote_bands",
    "quotes",
    "quotes_decimal",
    "reference_price",
    "sizing",
]


def check_against_market(params: MarketMakerParams, rules: MarketRules, reference_price: Decimal) -> None:
    """Raise `ValidationError` naming the field when `params` cannot quote `rules`' market at this price."""
    if reference_price <= 0:
        raise ValidationError(
            f"no usable price for {rules.symbol}: {reference_price}", data={"field": "price"}
        )
    _check_spreads(params, rules, reference_price)
    check_ladder(params, rules, reference_price)


def check_ladder(params: MarketMakerParams, rules: MarketRules, reference_price: Decimal) -> None:
    """The checks of a quote ladder whatever sets its distances (market_maker, avellaneda_stoikov):
    leverage, open orders for the levels, sizes against the venue's minimum and maximum."""
    _check_leverage(params, rules)
    _check_open_orders(params, rules)
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
    with localcontext(UP):
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
    description = "a ladder of post-only quotes on both sides of the mid that leans against inventory"
    params_cls = MarketMakerParams

    def needs(self, params: MarketMakerParams) -> DataNeeds:
        return BOOK_ONLY

    def signals(self, params: MarketMakerParams, rules: MarketRules) -> Signals | None:
        return None

    def check_against_market(
        self, params: MarketMakerParams, rules: MarketRules, reference_price: Decimal
    ) -> None:
        check_against_market(params, rules, reference_price)

    def quotes(
        self,
        params: MarketMakerParams,
        book: BookTop,
        position: Decimal,
        rules: MarketRules,
        signals: Signals | None = None,
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

    def quote_bands(
        self,
        params: MarketMakerParams,
        book: BookTop,
        position: Decimal,
        rules: MarketRules,
        windows: PriceWindows,
        signals: Signals | None = None,
    ) -> QuoteBands | None:
        return quote_bands(params, book, position, rules, windows)
