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

Online estimators (`AvellanedaStoikovSignals`, fed every book and, when k = 0, every public trade):
- σ (sigma = 0): realized variance of the log mid sampled at the first book of each second, over the last
  sigma_window_s: σ² = Σ r² / Σ Δt (time-weighted, so a gap counts as one long interval). Ready once its
  returns cover min(window/2, 300 s) and number at least 10; clamped to [0.05, 100] bps/√s.
- k (k = 0): a trade printing beyond the touch of the latest book (a buy above the ask, a sell below the
  bid) is m ≥ 1 ticks beyond it. If trades reach δ ≥ x bps from the mid at a rate A·e^(−k·x), the
  excess over the touch is exponential with rate k (memoryless), so m is geometric:
  P(m ≥ j) = e^(−k·t·(j − 1)), t = the tick in bps. Its maximum-likelihood estimate is
  k = ln(m̄ / (m̄ − 1)) / t̄ (means over k_window_s): exact on coarse ticks, → 1/(mean excess in bps) on
  fine ones. Ready after 30 such trades; clamped to [0.001, 1000]. On a real market this measures how
  far takers reach beyond the book when they trade; set k explicitly to quote for a slower bot.
- An estimate is published (and `version` bumps) when it first becomes ready and then whenever it moves
  more than 2 % from the published value; `quotes` reads only published values, which stay published
  (an emptied window keeps the last one).
- Warm-up: until every estimate the params ask for is published, the strategy quotes nothing.

`quote_bands` returns None (the bot wakes on every book): the quotes follow the signals and, with a
horizon, the book's time.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from decimal import Decimal, localcontext
from functools import lru_cache
from typing import TypeVar

from mmctl.errors import ValidationError
from mmctl.exchange.rules import ceil_to, meets_minimums
from mmctl.model import BookTop, Fill, MarketRules, Side, Trade
from mmctl.strategies.avellaneda_stoikov_params import AvellanedaStoikovParams
from mmctl.strategies.base import BOOK_ONLY, DataNeeds, PriceWindows, Quote, QuoteBands, Signals
from mmctl.strategies.market_maker_decimal import (
    BPS,
    DOWN,
    UP,
    Sizing,
    level_prices,
    position_terms,
    reference_price,
    side_sizes,
    sizing,
)
from mmctl.strategies.market_maker_params import MarketMakerParams
from mmctl.strategies.ticks import Grid, ceil_div

__all__ = [
    "AvellanedaStoikov",
    "AvellanedaStoikovParams",
    "AvellanedaStoikovSignals",
    "DecayEstimator",
    "SigmaEstimator",
    "check_against_market",
    "ladder_params",
    "optimal_spread_bps",
    "quotes",
    "reservation_offset_bps",
    "side_distances",
    "time_to_horizon_s",
]

SAMPLE_MS = 1000  # σ samples the mid at the first book of each second
SIGMA_FLOOR_BPS, SIGMA_CAP_BPS = 0.05, 100.0
SIGMA_MIN_RETURNS, SIGMA_WARMUP_CAP_S = 10, 300.0
K_MIN_TRADES, K_FLOOR, K_CAP = 30, 0.001, 1000.0
REPUBLISH = 0.02  # relative move of an estimate that publishes it again
DISTANCE_GRID = Decimal("0.0001")  # bps
TRADES = DataNeeds(trades=True)


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
    while warming up)."""
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
    bid_bps, ask_bps = side_distances(params, _lots(position, size), sigma, k, tau)
    return [
        *model.side(Side.BUY, bid_bps, ref, position, size),
        *model.side(Side.SELL, ask_bps, ref, position, size),
    ]


def _lots(position: Decimal, size: Sizing) -> float:
    """The inventory in lots of the first level's size, clamped to ± the limit in lots."""
    bound = float(size.max_position) / float(size.first_size)
    return min(max(float(position) / float(size.first_size), -bound), bound)


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
    """One (params, rules) pair with memos of what the same books and positions recompute: the sizing
    per reference, each side's sizes per (position, minimum size), each side's quotes per distance,
    reference and sizes (a busy book revisits the same few mids)."""

    def __init__(self, params: AvellanedaStoikovParams, rules: MarketRules) -> None:
        self.params, self.rules, self.ladder = params, rules, ladder_params(params)
        self.sizing: dict[Decimal, Sizing] = {}
        self._sizes: dict[tuple[Decimal, Decimal], tuple[list[Decimal], list[Decimal]]] = {}
        self._quotes: dict[tuple[Side, Decimal, Decimal, Decimal, Decimal], list[Quote]] = {}

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
    if params.leverage > rules.max_leverage:
        raise ValidationError(
            f"leverage: {params.leverage} is above {rules.symbol}'s maximum of {rules.max_leverage}",
            data={"field": "leverage"},
        )
    if params.levels * 2 > rules.max_open_orders:
        raise ValidationError(
            f"levels: {params.levels} per side need {params.levels * 2} open orders, more than the "
            f"{rules.max_open_orders} {rules.symbol} allows; use at most {rules.max_open_orders // 2}",
            data={"field": "levels"},
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
    _check_sizes(params, rules, reference_price)


def _check_sizes(params: AvellanedaStoikovParams, rules: MarketRules, price: Decimal) -> None:
    size = sizing(ladder_params(params), rules, price)
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


# --- online estimators -------------------------------------------------------------------------------


class SigmaEstimator:
    """Realized volatility of the log mid over a rolling window of time, in bps/√s."""

    def __init__(self, window_s: int) -> None:
        self.window_ms = window_s * 1000
        self.warmup_s = min(window_s / 2, SIGMA_WARMUP_CAP_S)
        self._returns: deque[tuple[int, float, float]] = deque()  # (ts_ms, r², Δt in s)
        self._sum_r2 = self._sum_dt = 0.0
        self._dropped = 0
        self._last: tuple[int, float] | None = None  # (ts_ms, log mid) of the last sample

    def observe(self, ts_ms: int, mid: float) -> None:
        """Sample the mid (> 0) at `ts_ms`; samples come in time order."""
        log_mid = math.log(mid)
        last = self._last
        if last is not None and ts_ms <= last[0]:
            return
        if last is not None:
            r2, dt = (log_mid - last[1]) ** 2, (ts_ms - last[0]) / 1000
            self._returns.append((ts_ms, r2, dt))
            self._sum_r2 += r2
            self._sum_dt += dt
        self._last = (ts_ms, log_mid)
        self._expire(ts_ms)

    def _expire(self, now_ms: int) -> None:
        returns, oldest = self._returns, now_ms - self.window_ms
        while returns and returns[0][0] <= oldest:
            _, r2, dt = returns.popleft()
            self._sum_r2 -= r2
            self._sum_dt -= dt
            self._dropped += 1
        if self._dropped > len(returns):  # resum now and then: running float sums drift
            self._sum_r2 = math.fsum(r[1] for r in returns)
            self._sum_dt = math.fsum(r[2] for r in returns)
            self._dropped = 0

    @property
    def value(self) -> float | None:
        """σ in bps/√s, or None while the window covers too little."""
        if len(self._returns) < SIGMA_MIN_RETURNS or self._sum_dt < self.warmup_s:
            return None
        sigma = math.sqrt(max(self._sum_r2, 0.0) / self._sum_dt) * 10_000
        return min(max(sigma, SIGMA_FLOOR_BPS), SIGMA_CAP_BPS)


class DecayEstimator:
    """k in 1/bps from how many ticks trades print beyond the touch, over a rolling window of time."""

    def __init__(self, window_s: int) -> None:
        self.window_ms = window_s * 1000
        self._trades: deque[tuple[int, int, float]] = deque()  # (ts_ms, ticks beyond, tick in bps)
        self._sum_ticks = 0
        self._sum_tick_bps = 0.0
        self._dropped = 0

    def observe(self, ts_ms: int, ticks_beyond: int, tick_bps: float) -> None:
        """A trade `ticks_beyond` (≥ 1) ticks beyond the touch, the tick being `tick_bps` of the mid."""
        self._trades.append((ts_ms, ticks_beyond, tick_bps))
        self._sum_ticks += ticks_beyond
        self._sum_tick_bps += tick_bps
        self.expire(ts_ms)

    def expire(self, now_ms: int) -> None:
        """Forget trades older than the window."""
        trades, oldest = self._trades, now_ms - self.window_ms
        while trades and trades[0][0] <= oldest:
            _, ticks, tick_bps = trades.popleft()
            self._sum_ticks -= ticks
            self._sum_tick_bps -= tick_bps
            self._dropped += 1
        if self._dropped > len(trades):
            self._sum_tick_bps = math.fsum(t[2] for t in trades)
            self._dropped = 0

    @property
    def value(self) -> float | None:
        """k in 1/bps (maximum likelihood of the geometric excess), or None with too few trades."""
        n = len(self._trades)
        if n < K_MIN_TRADES:
            return None
        mean_ticks, mean_tick_bps = self._sum_ticks / n, self._sum_tick_bps / n
        if mean_ticks <= 1:
            return K_CAP
        k = math.log(mean_ticks / (mean_ticks - 1)) / mean_tick_bps
        return min(max(k, K_FLOOR), K_CAP)


class AvellanedaStoikovSignals:
    """One bot's σ and k estimates (those its params leave at 0), as published to `quotes`."""

    def __init__(self, params: AvellanedaStoikovParams, rules: MarketRules) -> None:
        self._sigma = SigmaEstimator(params.sigma_window_s) if params.sigma == 0 else None
        self._decay = DecayEstimator(params.k_window_s) if params.k == 0 else None
        self._grid = Grid.of(rules.tick_size)
        self._tick = float(rules.tick_size)
        self._book: BookTop | None = None
        self._bucket: int | None = None
        self._version = 0
        self.sigma_bps: float | None = None  # published σ in bps/√s (None: not estimated, or not yet)
        self.k: float | None = None  # published k in 1/bps

    @property
    def version(self) -> int:
        return self._version

    @property
    def ready(self) -> bool:
        """True when every estimate these signals make is published."""
        return (self._sigma is None or self.sigma_bps is not None) and (
            self._decay is None or self.k is not None
        )

    def on_book(self, book: BookTop) -> None:
        if book.bid <= 0 or book.ask <= book.bid:
            return
        self._book = book
        bucket = book.ts_ms // SAMPLE_MS
        if self._bucket is not None and bucket <= self._bucket:
            return
        self._bucket = bucket
        if self._sigma is not None:
            self._sigma.observe(book.ts_ms, (float(book.bid) + float(book.ask)) / 2)
        if self._decay is not None:
            self._decay.expire(book.ts_ms)
        self._publish()

    def on_trade(self, trade: Trade) -> None:
        book = self._book
        if self._decay is None or book is None:
            return
        if trade.side is Side.BUY:
            beyond = self._ticks_between(book.ask, trade.price)
        else:
            beyond = self._ticks_between(trade.price, book.bid)
        if beyond <= 0:
            return  # at or inside the touch
        mid = (float(book.bid) + float(book.ask)) / 2
        self._decay.observe(trade.ts_ms, beyond, self._tick / mid * 10_000)
        self._publish()

    def on_fill(self, fill: Fill, position: Decimal) -> None:
        """Nothing to do: the inventory reaches `quotes` as its `position` argument."""

    def _ticks_between(self, low: Decimal, high: Decimal) -> int:
        """(high − low) in ticks, rounded up, exactly."""
        (hn, hd), (ln, ld) = self._grid.index_ratio(high), self._grid.index_ratio(low)
        return ceil_div(hn * ld - ln * hd, hd * ld)

    def _publish(self) -> None:
        changed = False
        if self._sigma is not None:
            fresh = self._sigma.value
            if fresh is not None and _moved(fresh, self.sigma_bps):
                self.sigma_bps, changed = fresh, True
        if self._decay is not None:
            fresh = self._decay.value
            if fresh is not None and _moved(fresh, self.k):
                self.k, changed = fresh, True
        if changed:
            self._version += 1


def _moved(fresh: float, published: float | None) -> bool:
    return published is None or abs(fresh - published) > REPUBLISH * published


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
        return TRADES if params.k == 0 else BOOK_ONLY

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
        """None: the quotes follow the signals and (with a horizon) time, so the bot wakes on every book."""
        return None
