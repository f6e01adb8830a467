"""A seeded synthetic market: a random-walk mid, a 1–2 tick spread, and Poisson taker flow.

Each symbol has its own `random.Random`, seeded from the account seed and the symbol id, so the same
seed always yields the same events (and, with the same orders, the same fills). Per symbol:
- every `book_interval_ms` the mid takes a log-normal step with the annualized `volatility`, plus, with
  probability `jump_rate_per_hour` per hour, a jump of exponentially distributed size (mean `jump_bps`)
  in a random direction; the book is the mid ± half a spread of 1 or 2 ticks, with random sizes;
- taker trades arrive as a Poisson process of rate A = `trade_intensity` per second; each one reaches a
  distance δ (in bp from the mid) that is exponential with rate k = `trade_decay`, so trades reach
  distance δ or more at rate λ(δ) = A·e^(−kδ). A taker buy prints at max(ask, mid·(1+δ)) and a taker sell
  at min(bid, mid·(1−δ)), rounded to the tick away from the mid, with a log-normal size (median about
  `TRADE_MEDIAN_NOTIONAL` USDT). δ is capped at `MAX_REACH_BPS` (k = 0 means every trade reaches it).
Floats are used only for the walk itself; prices become Decimals as whole numbers of ticks.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from mmctl.config.schema import PaperAccount
from mmctl.exchange.paper.feed import MarketEvent
from mmctl.exchange.paper.markets import REFERENCE_PRICES
from mmctl.model import BookTop, MarketRules, Side, Trade

SECONDS_PER_YEAR = 365 * 24 * 3600
TRADE_MEDIAN_NOTIONAL = 1_000.0
BOOK_MEDIAN_NOTIONAL = 25_000.0
MAX_REACH_BPS = 500.0


@dataclass(frozen=True, slots=True)
class SyntheticParams:
    """The synthetic market's knobs (see `PaperAccount` for their meaning and defaults)."""

    seed: int = 1
    volatility: float = 0.6
    jump_rate_per_hour: float = 0.0
    jump_bps: float = 50.0
    book_interval_ms: int = 100
    trade_intensity: float = 2.0
    trade_decay: float = 0.5

    @classmethod
    def from_settings(cls, settings: PaperAccount) -> SyntheticParams:
        return cls(
            seed=settings.seed,
            volatility=settings.volatility,
            jump_rate_per_hour=settings.jump_rate_per_hour,
            jump_bps=settings.jump_bps,
            book_interval_ms=settings.book_interval_ms,
            trade_intensity=settings.trade_intensity,
            trade_decay=settings.trade_decay,
        )


class SyntheticFeed:
    """The synthetic market for several symbols, merged in time order (ties: market order)."""

    def __init__(self, markets: Sequence[MarketRules], params: SyntheticParams, start_ms: int) -> None:
        self._markets = list(markets)
        self._params = params
        self._start_ms = start_ms

    @property
    def name(self) -> str:
        return f"synthetic seed={self._params.seed}"

    @property
    def start_ms(self) -> int:
        return self._start_ms

    def events(self) -> Iterator[MarketEvent]:
        walks = [SymbolWalk(rules, self._params, self._start_ms).events() for rules in self._markets]
        return heapq.merge(*walks, key=_event_time)


def _event_time(event: MarketEvent) -> int:
    return event.ts_ms


class SymbolWalk:
    """One symbol's synthetic book and trade stream."""

    def __init__(self, rules: MarketRules, params: SyntheticParams, start_ms: int) -> None:
        self.rules = rules
        self.params = params
        self.start_ms = start_ms
        self.rng = random.Random(f"mmctl-synthetic:{params.seed}:{rules.id}")
        self.tick = float(rules.tick_size)
        self.step = float(rules.step_size)
        self.mid = REFERENCE_PRICES.get(rules.symbol, 100.0)
        dt_s = params.book_interval_ms / 1000
        self.sigma = params.volatility * math.sqrt(dt_s / SECONDS_PER_YEAR)
        self.jump_probability = params.jump_rate_per_hour * dt_s / 3600
        self.bid_ticks = 0
        self.ask_ticks = 0

    def events(self) -> Iterator[MarketEvent]:
        rng, interval = self.rng, self.params.book_interval_ms
        rate = self.params.trade_intensity
        t = self.start_ms
        next_trade = t + (rng.expovariate(rate) * 1000 if rate > 0 else math.inf)
        yield self._book(t)
        while True:
            t_next = t + interval
            while next_trade < t_next:
                yield self._trade(int(next_trade))
                next_trade += rng.expovariate(rate) * 1000
            t = t_next
            self._step_mid()
            yield self._book(t)

    def _step_mid(self) -> None:
        rng = self.rng
        if self.sigma > 0:
            self.mid *= math.exp(self.sigma * rng.gauss(0.0, 1.0) - 0.5 * self.sigma**2)
        if self.jump_probability > 0 and rng.random() < self.jump_probability:
            size = rng.expovariate(1.0 / self.params.jump_bps) if self.params.jump_bps > 0 else 0.0
            self.mid *= math.exp((size if rng.random() < 0.5 else -size) / 10_000)
        self.mid = max(self.mid, 10 * self.tick)

    def _book(self, ts_ms: int) -> BookTop:
        rng = self.rng
        spread = 1 if rng.random() < 0.6 else 2
        self.bid_ticks = max(1, math.floor(self.mid / self.tick - spread / 2))
        self.ask_ticks = self.bid_ticks + spread
        return BookTop(
            symbol=self.rules.symbol,
            bid=self._price(self.bid_ticks),
            bid_qty=self._qty(BOOK_MEDIAN_NOTIONAL),
            ask=self._price(self.ask_ticks),
            ask_qty=self._qty(BOOK_MEDIAN_NOTIONAL),
            ts_ms=ts_ms,
        )

    def _trade(self, ts_ms: int) -> Trade:
        rng = self.rng
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        decay = self.params.trade_decay
        reach = min(rng.expovariate(decay), MAX_REACH_BPS) if decay > 0 else MAX_REACH_BPS
        if side is Side.BUY:
            ticks = max(self.ask_ticks, math.ceil(self.mid * (1 + reach / 10_000) / self.tick))
        else:
            ticks = max(1, min(self.bid_ticks, math.floor(self.mid * (1 - reach / 10_000) / self.tick)))
        return Trade(self.rules.symbol, self._price(ticks), self._qty(TRADE_MEDIAN_NOTIONAL), side, ts_ms)

    def _price(self, ticks: int) -> Decimal:
        return Decimal(ticks) * self.rules.tick_size

    def _qty(self, median_notional: float) -> Decimal:
        notional = self.rng.lognormvariate(math.log(median_notional), 1.0)
        steps = max(1, math.floor(notional / self.mid / self.step))
        return Decimal(steps) * self.rules.step_size
