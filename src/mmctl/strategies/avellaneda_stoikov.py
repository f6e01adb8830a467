"""The `avellaneda_stoikov` strategy: quotes around a reservation price that leans against inventory, with
a spread from risk aversion γ, volatility σ and order-arrival decay k (Avellaneda & Stoikov, 2008).

Units (`avellaneda_stoikov_params`): prices in bps of the reference s (mid or microprice), inventory q in
lots (position / the first level's size, clamped to ± max_position in lots), σ in bps/√s, k in 1/bps,
γ in 1/(bps·lot), τ in seconds.

Quote math:
- reservation offset  o = r − s = −q·γ·σ²·τ                (long → below s)
- optimal spread      δ = γ·σ²·τ + (2/γ)·ln(1 + γ/k)      (bid to ask). δ grows with σ; with γ it grows
  wherever σ²·τ·k² ≥ 1 (the inventory-risk regime: the price moves more over τ than the 1/k over which
  fills fade), and below that it may fall, since (2/γ)·ln(1 + γ/k) falls from 2/k as γ grows.
- τ: with horizon_s > 0, the time left in the session [n·H, (n+1)·H) holding the book's time (sessions
  aligned on the Unix epoch, so 86400 = UTC days; τ → 0 at a session's end and the inventory terms
  vanish, as in A–S's finite horizon). With horizon_s = 0 (infinite horizon), A–S with T − t replaced by
  a fixed 1/ω = tau_s. (A–S's own infinite-horizon choice ω = γ²σ²(q_max + 1)²/2 makes the quotes
  independent of σ, and the Guéant–Lehalle–Fernandez-Tapia closed form also needs the arrival rate A.)
- Sides: h = clamp(δ, min_spread_bps, max_spread_bps)/2; level 0's bid sits h − o bps below s and its ask
  h + o above, each clamped to [min_spread_bps/2, max_spread_bps] and rounded up to 0.0001 bps (away
  from s). Then market_maker's ladder: level n adds n × level_step_bps, bids round down and asks up to
  the tick, each level a tick beyond the previous. Every bid is strictly below s (so below the best ask),
  every ask strictly above s (so above the best bid): post-only quotes never cross.
- Sizes and limits are market_maker's with inventory_skew = 0 (A–S leans with prices, not sizes):
  level n's size is order_size × (1 + size_step)^n on the step; bids total at most max_position −
  position, asks at most max_position + position; a quote below the venue's minimums is dropped. The
  minimum size (order_size = 0) is resolved at the deepest bid any estimate could ask for (level 0 at
  max_spread_bps), so the lot does not change with σ or k.
The formulas run in floats (signals, not accounting); prices and sizes are Decimal, computed in explicit
contexts rounding toward the safe side (`market_maker_decimal`), whatever the thread's context is.
`quotes_decimal` is that computation step by step, the specification; `quotes` gives exactly its quotes
on market_maker's integer path (`mmctl.strategies.market_maker_ticks`): the ladder of `ladder_params`
with level 0 at the A–S distances (`LadderModel.side_ladders`), priced in ticks per book. A reference
beyond that path's range takes `quotes_decimal`.

Online estimators (`AvellanedaStoikovSignals`, `avellaneda_stoikov_signals`): σ from the mid and k from
public trades, published (and `version` bumped) when they move more than 2 %; until every estimate the
params ask for is published, the strategy quotes nothing.

Bands (`quote_bands`): for given signals (their `version`), params and position, with an infinite
horizon, the side distances are fixed wherever the minimum size is (the lot, so q, depends on it), so the
quotes move with the reference exactly as market_maker's do, and the band is market_maker's for that
ladder (`LadderModel.bands_for`). The ladders of the quotes just computed are reused when the bands are
asked for the same book prices and sizes, position, σ, k and τ (the bot asks right after quoting).
While an estimate is not published the quotes are empty for every book: the band is every book (the
signals' next version wakes the bot). With a horizon the quotes follow the book's time too: no band
(None), the bot wakes on every book.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal, localcontext
from functools import lru_cache
from typing import TypeVar

from mmctl.errors import ValidationError
from mmctl.exchange.rules import ceil_to, meets_minimums
from mmctl.model import BookTop, MarketRules, Side
from mmctl.strategies.avellaneda_stoikov_params import AvellanedaStoikovParams
from mmctl.strategies.avellaneda_stoikov_signals import (
    AvellanedaStoikovSignals,
    DecayEstimator,
    SigmaEstimator,
)
from mmctl.strategies.base import (
    DataNeeds,
    PriceWindows,
    Quote,
    QuoteBands,
    Signals,
)
from mmctl.strategies.ladder import RefBounds
from mmctl.strategies.market_maker import check_ladder
from mmctl.strategies.market_maker_decimal import (
    BPS,
    DOWN,
    UP,
    Sizing,
    first_and_limit,
    level_prices,
    position_terms,
    reference_price,
    side_sizes,
    sizing,
)
from mmctl.strategies.market_maker_params import MarketMakerParams
from mmctl.strategies.market_maker_ticks import LadderModel, Ladders, ladder_model
from mmctl.strategies.ticks import Ratio

__all__ = [
    "AvellanedaStoikov",
    "AvellanedaStoikovParams",
    "AvellanedaStoikovSignals",
    "DecayEstimator",
    "SigmaEstimator",
    "check_against_market",
    "ladder_params",
    "optimal_spread_bps",
    "quote_bands",
    "quotes",
    "quotes_decimal",
    "reservation_offset_bps",
    "side_distances",
    "time_to_horizon_s",
]

DISTANCE_GRID = Decimal("0.0001")  # bps


# --- the formulas ------------------------------------------------------------------------------------


def reservation_offset_bps(q: float, gamma: float, sigma_bps: float, tau_s: float) -> float:
    """r − s in bps for an inventory of q lots: −q·γ·σ²·τ (long → below the reference)."""
    return -q * gamma * sigma_bps * sigma_bps * tau_s


def optimal_spread_bps(gamma: float, sigma_bps: float, tau_s: float, k: float) -> float:
    """A–S's optimal total spread in bps: γ·σ²·τ + (2/γ)·ln(1 + γ/k) (γ > 0, k > 0)."""
    return gamma * sigma_bps * sigma_bps * tau_s + (2.0 / gamma) * math.log1p(gamma / k)


def time_to_horizon_s(horizon_s: int, tau_s: float, ts_ms: int) -> float:
    """τ at `ts_ms`: the time left in its epoch-aligned session of horizon_s (0: the fixed tau_s)."""
    if horizon_s <= 0:
        return tau_s
    length = horizon_s * 1000
    return (length - ts_ms % length) / 1000


def side_distances(
    params: AvellanedaStoikovParams, q: float, sigma_bps: float, k: float, tau_s: float
) -> tuple[Decimal, Decimal]:
    """Level 0's distance from the reference in bps, (bid, ask): the reservation price ∓ half the
    clamped spread, each in [min_spread_bps/2, max_spread_bps], rounded up to 0.0001 bps."""
    gamma = float(params.gamma)
    spread = optimal_spread_bps(gamma, sigma_bps, tau_s, k)
    half = min(max(spread, float(params.min_spread_bps)), float(params.max_spread_bps)) / 2
    offset = reservation_offset_bps(q, gamma, sigma_bps, tau_s)
    return _distance(half - offset, params), _distance(half + offset, params)


def _distance(bps: float, params: AvellanedaStoikovParams) -> Decimal:
    widest = float(params.max_spread_bps)
    value = widest if math.isnan(bps) else min(max(bps, 0.0), widest)
    with localcontext(UP):
        nearest = params.min_spread_bps / 2
        return min(max(ceil_to(Decimal(value), DISTANCE_GRID), nearest), params.max_spread_bps)


# --- quotes ------------------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def ladder_params(params: AvellanedaStoikovParams) -> MarketMakerParams:
    """The market_maker parameters whose reference, sizing, limits and ladder this strategy reuses:
    spread_bps = max_spread_bps (the minimum size holds at the deepest bid any estimate could ask for)
    and no inventory skew (sizes stay full)."""
    return MarketMakerParams(
        spread_bps=params.max_spread_bps,
        min_spread_bps=params.min_spread_bps,
        levels=params.levels,
        level_step_bps=params.level_step_bps,
        order_size=params.order_size,
        size_step=params.size_step,
        max_position=params.max_position,
        reference=params.reference,
        inventory_skew=Decimal(0),
        leverage=params.leverage,
    )


def estimates(params: AvellanedaStoikovParams, signals: Signals | None) -> tuple[float, float] | None:
    """(σ in bps/√s, k in 1/bps): the params' own values, else the signals' published estimates; None
    while an estimate the params ask for is not published yet."""
    sigma = float(params.sigma) if params.sigma > 0 else None
    k = float(params.k) if params.k > 0 else None
    if isinstance(signals, AvellanedaStoikovSignals):
        sigma = signals.sigma_bps if sigma is None else sigma
        k = signals.k if k is None else k
    return None if sigma is None or k is None else (sigma, k)


def quotes(
    params: AvellanedaStoikovParams,
    book: BookTop,
    position: Decimal,
    rules: MarketRules,
    signals: Signals | None = None,
) -> list[Quote]:
    """The desired ladder for this book, position and signals (empty for an empty or crossed book and
    while warming up): `quotes_decimal`'s, computed in integer ticks."""
    if book.bid <= 0 or book.ask <= book.bid:
        return []
    found = estimates(params, signals)
    if found is None:
        return []
    at = _model(params, rules).ladders_at(book, position, found)
    if at is None:
        return quotes_decimal(params, book, position, rules, signals)
    ref, ladders = at
    if ladders is None:
        return []
    bids, asks = ladders
    return [*bids.quotes(ref), *asks.quotes(ref)]


def quote_bands(
    params: AvellanedaStoikovParams,
    book: BookTop,
    position: Decimal,
    rules: MarketRules,
    windows: PriceWindows,
    signals: Signals | None = None,
) -> QuoteBands | None:
    """The books under which `quotes` (same params, position and signals) keeps its levels and sizes
    with every price inside `windows` (see the module docstring); None with a horizon, for an empty or
    crossed book, or a reference beyond the integer path."""
    if book.bid <= 0 or book.ask <= book.bid or params.horizon_s > 0:
        return None
    model = _model(params, rules)
    found = estimates(params, signals)
    if found is None:  # nothing is quoted, whatever the book, until an estimate is published
        return None if windows else model.anywhere(book)
    at = model.ladders_at(book, position, found)
    if at is None:
        return None
    ref, ladders = at
    return model.mm.bands_for(book, ref, ladders, windows)


def quotes_decimal(
    params: AvellanedaStoikovParams,
    book: BookTop,
    position: Decimal,
    rules: MarketRules,
    signals: Signals | None = None,
) -> list[Quote]:
    """`quotes` in Decimal, step by step: the specification, and the path beyond the integer range."""
    if book.bid <= 0 or book.ask <= book.bid:
        return []
    found = estimates(params, signals)
    if found is None:
        return []
    model = _model(params, rules)
    ref = reference_price(model.ladder, book)
    size = _memo(model.sizing, ref, lambda: sizing(model.ladder, rules, ref))
    if size.first_size <= 0:
        return []
    sigma, k = found
    tau = time_to_horizon_s(params.horizon_s, float(params.tau_s), book.ts_ms)
    bid_bps, ask_bps = side_distances(
        params, _lots(position, size.first_size, size.max_position), sigma, k, tau
    )
    return [
        *model.side(Side.BUY, bid_bps, ref, position, size),
        *model.side(Side.SELL, ask_bps, ref, position, size),
    ]


def _lots(position: Decimal, first: Decimal, limit: Decimal) -> float:
    """The inventory in lots of the first level's size, clamped to ± the limit in lots."""
    bound = float(limit) / float(first)
    return min(max(float(position) / float(first), -bound), bound)


# `ladders_at`'s inputs: the book's bid, ask, bid size and ask size, the position, σ, k and τ
_AtKey = tuple[Decimal, Decimal, Decimal, Decimal, Decimal, float, float, float]
_K = TypeVar("_K")
_V = TypeVar("_V")
_MODELS, _MEMO = 1024, 256  # models kept (one per running bot, and some); entries per memo
_COMPILED: dict[tuple[int, int], _Model] = {}


def _memo(memo: dict[_K, _V], key: _K, make: Callable[[], _V]) -> _V:
    found = memo.get(key)
    if found is None:
        if len(memo) >= _MEMO:
            memo.clear()
        found = memo[key] = make()
    return found


class _Model:
    """One (params, rules) pair: its market_maker ladder model (`mm`) with the distances per (position,
    minimum size, σ, k, τ) and the last ladders (`ladders_at`) for the integer path, and for
    `quotes_decimal` memos of what the same books and positions recompute: the sizing per reference,
    each side's sizes per (position, minimum size), each side's quotes per distance, reference and sizes
    (a busy book revisits the same few mids). Bots with equal params share no model unless they share
    the params object; those that do get the same answers for the same inputs, which every key holds."""

    def __init__(self, params: AvellanedaStoikovParams, rules: MarketRules) -> None:
        self.params, self.rules, self.ladder = params, rules, ladder_params(params)
        self.mm: LadderModel = ladder_model(self.ladder, rules)
        self._limits: dict[Decimal, tuple[Decimal, Decimal]] = {}
        self._distances: dict[tuple[Decimal, Decimal, float, float, float], tuple[Decimal, Decimal]] = {}
        self.sizing: dict[Decimal, Sizing] = {}
        self._sizes: dict[tuple[Decimal, Decimal], tuple[list[Decimal], list[Decimal]]] = {}
        self._quotes: dict[tuple[Side, Decimal, Decimal, Decimal, Decimal], list[Quote]] = {}
        self._last: tuple[_AtKey, tuple[Ratio, Ladders] | None] | None = None  # the last `ladders_at`

    def ladders_at(
        self, book: BookTop, position: Decimal, found: tuple[float, float]
    ) -> tuple[Ratio, Ladders] | None:
        """The reference in ticks and both sides' ladders for this book, position and (σ, k): the
        ladder of `ladder_params` with level 0 at the A–S distances; None beyond the integer range.
        The last answer is remembered with every input it depends on (the book's prices and sizes, the
        position, σ, k and τ), so the bands asked for right after the quotes reuse it."""
        sigma, k = found
        tau = time_to_horizon_s(self.params.horizon_s, float(self.params.tau_s), book.ts_ms)
        key = (book.bid, book.ask, book.bid_qty, book.ask_qty, position, sigma, k, tau)
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        at = self._ladders_at(book, position, sigma, k, tau)
        self._last = (key, at)
        return at

    def _ladders_at(
        self, book: BookTop, position: Decimal, sigma: float, k: float, tau: float
    ) -> tuple[Ratio, Ladders] | None:
        mm = self.mm
        ref = mm.reference(book)
        if ref is None:
            return None
        min_size = mm.min_size_at(ref)
        first, limit = _memo(
            self._limits, min_size, lambda: first_and_limit(self.ladder, self.rules, min_size)
        )
        if first <= 0:
            return ref, None
        key = (position, min_size, sigma, k, tau)
        bid_bps, ask_bps = _memo(
            self._distances,
            key,
            lambda: side_distances(self.params, _lots(position, first, limit), sigma, k, tau),
        )
        return ref, mm.side_ladders(position, min_size, bid_bps, ask_bps)

    def anywhere(self, book: BookTop) -> QuoteBands | None:
        """Every book the integer path covers, as the band of quotes that are empty whatever the book
        (None unless `book` is one of them)."""
        ref = self.mm.reference(book)
        band = None if ref is None else self.mm.book_band(RefBounds(2), book, ref)
        return None if band is None else QuoteBands(band, band, {})

    def side(
        self, side: Side, distance_bps: Decimal, ref: Decimal, position: Decimal, size: Sizing
    ) -> list[Quote]:
        key = (side, distance_bps, ref, position, size.min_size)
        return _memo(self._quotes, key, lambda: self._side(side, distance_bps, ref, position, size))

    def _side(
        self, side: Side, distance_bps: Decimal, ref: Decimal, position: Decimal, size: Sizing
    ) -> list[Quote]:
        rules = self.rules
        prices = level_prices(side, distance_bps, self.ladder, ref, rules.tick_size)
        bids, asks = _memo(self._sizes, (position, size.min_size), lambda: self._side_sizes(position, size))
        out: list[Quote] = []
        with localcontext(DOWN):
            for level, (price, qty) in enumerate(
                zip(prices, bids if side is Side.BUY else asks, strict=True)
            ):
                if price > 0 and qty > 0 and meets_minimums(price, qty, rules):
                    out.append(
                        Quote(side, level, price.quantize(rules.tick_size), qty.quantize(rules.step_size))
                    )
        return out

    def _side_sizes(self, position: Decimal, size: Sizing) -> tuple[list[Decimal], list[Decimal]]:
        ladder, rules, zero = self.ladder, self.rules, Decimal(0)
        _, full, bid_room, ask_room = position_terms(
            ladder, rules, position, size.first_size, size.max_position
        )
        return (
            side_sizes(ladder, rules, size.min_size, full, zero, bid_room),
            side_sizes(ladder, rules, size.min_size, full, zero, ask_room),
        )


def _model(params: AvellanedaStoikovParams, rules: MarketRules) -> _Model:
    """The model of this exact params and rules object (the entry holds them, so their ids are not reused
    while it lives)."""
    key = (id(params), id(rules))
    found = _COMPILED.get(key)
    if found is None or found.params is not params or found.rules is not rules:
        if len(_COMPILED) >= _MODELS:
            _COMPILED.clear()
        found = _COMPILED[key] = _Model(params, rules)
    return found


def check_against_market(
    params: AvellanedaStoikovParams, rules: MarketRules, reference_price: Decimal
) -> None:
    """Raise `ValidationError` naming the field when `params` cannot quote `rules`' market at this price."""
    if reference_price <= 0:
        raise ValidationError(
            f"no usable price for {rules.symbol}: {reference_price}", data={"field": "price"}
        )
    with localcontext(UP):
        tick_bps = rules.tick_size * BPS / reference_price
        shown = format(ceil_to(tick_bps, DISTANCE_GRID).normalize(), "f")
    if params.min_spread_bps < tick_bps:
        raise ValidationError(
            f"min_spread_bps: {params.min_spread_bps} bps is less than one tick of {rules.symbol} at "
            f"{reference_price} ({rules.tick_size} = {shown} bps); use at least that",
            data={"field": "min_spread_bps"},
        )
    check_ladder(ladder_params(params), rules, reference_price)


# --- the strategy object -----------------------------------------------------------------------------


class AvellanedaStoikov:
    """The `avellaneda_stoikov` strategy object held by the registry."""

    name = "avellaneda_stoikov"
    description = (
        "Avellaneda–Stoikov: a reservation price that leans against inventory and a spread from "
        "risk aversion, volatility and order-arrival decay, estimated online"
    )
    params_cls = AvellanedaStoikovParams

    def needs(self, params: AvellanedaStoikovParams) -> DataNeeds:
        return DataNeeds(trades=params.k == 0, book_time=params.horizon_s > 0)

    def signals(self, params: AvellanedaStoikovParams, rules: MarketRules) -> Signals | None:
        if params.sigma > 0 and params.k > 0:
            return None
        return AvellanedaStoikovSignals(params, rules)

    def check_against_market(
        self, params: AvellanedaStoikovParams, rules: MarketRules, reference_price: Decimal
    ) -> None:
        check_against_market(params, rules, reference_price)

    def quotes(
        self,
        params: AvellanedaStoikovParams,
        book: BookTop,
        position: Decimal,
        rules: MarketRules,
        signals: Signals | None = None,
    ) -> list[Quote]:
        return quotes(params, book, position, rules, signals)

    def quote_bands(
        self,
        params: AvellanedaStoikovParams,
        book: BookTop,
        position: Decimal,
        rules: MarketRules,
        windows: PriceWindows,
        signals: Signals | None = None,
    ) -> QuoteBands | None:
        return quote_bands(params, book, position, rules, windows, signals)
