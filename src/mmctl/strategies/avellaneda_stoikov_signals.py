"""The avellaneda_stoikov strategy's online estimators, published to its quotes as one bot's `Signals`.

`AvellanedaStoikovSignals` is fed every book and, when k = 0, every public trade:
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
"""

from __future__ import annotations

import math
from collections import deque
from decimal import Decimal

from mmctl.model import BookTop, Fill, MarketRules, Side, Trade
from mmctl.strategies.avellaneda_stoikov_params import AvellanedaStoikovParams
from mmctl.strategies.ticks import Grid, ceil_div

SAMPLE_MS = 1000  # σ samples the mid at the first book of each second
SIGMA_FLOOR_BPS, SIGMA_CAP_BPS = 0.05, 100.0
SIGMA_MIN_RETURNS, SIGMA_WARMUP_CAP_S = 10, 300.0
K_MIN_TRADES, K_FLOOR, K_CAP = 30, 0.001, 1000.0
REPUBLISH = 0.02  # relative move of an estimate that publishes it again


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
