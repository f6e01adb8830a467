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

Resuming (a paper account that outlives the daemon): each symbol's random numbers come in blocks of
`BLOCK_INTERVALS` book intervals, and block b draws from a generator seeded with (seed, symbol, b). At
each block boundary the walk notes a checkpoint: the interval index, its time, the mid, the book's tick
positions and the time of the next taker trade. `state(after_ms)` returns, per symbol, the newest
checkpoint at or before `after_ms`; a feed built with that state (`resume=`, `after_ms=`) regenerates
from there and yields exactly the events after `after_ms` that the original feed would have yielded.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import random
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mmctl.config.schema import PaperAccount
from mmctl.exchange.paper.feed import MarketEvent
from mmctl.exchange.paper.markets import REFERENCE_PRICES
from mmctl.model import BookTop, MarketRules, Side, Trade

SECONDS_PER_YEAR = 365 * 24 * 3600
TRADE_MEDIAN_NOTIONAL = 1_000.0
BOOK_MEDIAN_NOTIONAL = 25_000.0
MAX_REACH_BPS = 500.0
BLOCK_INTERVALS = 16  # book intervals per random-number block (one reseed per block)
CHECKPOINTS_KEPT = 3  # a walk runs at most a couple of events ahead of what was delivered


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
    """The synthetic market for several symbols, merged in time order (ties: market order).

    With `resume` (a `state()` document) and `after_ms`, `events()` continues that market: only events
    after `after_ms`; symbols missing from `resume` start afresh at `after_ms`.
    """

    def __init__(
        self,
        markets: Sequence[MarketRules],
        params: SyntheticParams,
        start_ms: int,
        *,
        resume: Mapping[str, Any] | None = None,
        after_ms: int | None = None,
    ) -> None:
        self._markets = list(markets)
        self._params = params
        self._start_ms = start_ms
        self._resume = dict(resume.get("walks", {})) if resume is not None else {}
        self._after_ms = after_ms
        self._walks: list[SymbolWalk] = []

    @property
    def name(self) -> str:
        return f"synthetic seed={self._params.seed}"

    @property
    def start_ms(self) -> int:
        return self._start_ms

    def events(self) -> Iterator[MarketEvent]:
        after = self._after_ms
        self._walks = [
            SymbolWalk(
                rules,
                self._params,
                self._start_ms if after is None else after + 1,
                checkpoint=self._resume.get(rules.symbol),
            )
            for rules in self._markets
        ]
        merged = heapq.merge(*(w.events() for w in self._walks), key=_event_time)
        if after is None:
            return merged
        return (e for e in merged if e.ts_ms > after)

    def state(self, after_ms: int) -> dict[str, Any]:
        """What a feed needs to continue this market after `after_ms`, when every event up to it has been
        delivered (JSON-able; the walk of the latest `events()` iterator)."""
        walks = {}
        for walk in self._walks:
            checkpoint = walk.checkpoint_at(after_ms)
            if checkpoint is not None:
                walks[walk.rules.symbol] = checkpoint
            elif walk.symbol in self._resume:  # nothing generated yet since the resume
                walks[walk.symbol] = self._resume[walk.symbol]
        return {"kind": "synthetic", "walks": walks}


def _event_time(event: MarketEvent) -> int:
    return event.ts_ms


class SymbolWalk:
    """One symbol's synthetic book and trade stream (from `start_ms`, or from a checkpoint)."""

    def __init__(
        self,
        rules: MarketRules,
        params: SyntheticParams,
        start_ms: int,
        checkpoint: Mapping[str, Any] | None = None,
    ) -> None:
        self.rules = rules
        self.symbol = rules.symbol
        self.params = params
        self.start_ms = start_ms
        self.checkpoint = checkpoint
        digest = hashlib.sha256(f"mmctl-synthetic:{params.seed}:{rules.id}".encode()).digest()
        self._base = int.from_bytes(digest[:16], "big") << 64  # block b seeds with base + b
        self.rng = random.Random(self._base)
        self._checkpoints: deque[dict[str, Any]] = deque(maxlen=CHECKPOINTS_KEPT)
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
        if self.checkpoint is not None:
            k, t, next_trade = self._load(self.checkpoint)
            if math.isinf(next_trade) and rate > 0:  # trades were off when saved, are on now
                next_trade = t + rng.expovariate(rate) * 1000
        else:
            k, t = 0, self.start_ms
            next_trade = t + (rng.expovariate(rate) * 1000 if rate > 0 else math.inf)
            yield self._book(t)
        while True:
            if k % BLOCK_INTERVALS == 0:
                self._note(k, t, next_trade)
                rng.seed(self._base + 1 + k // BLOCK_INTERVALS)
            t_next = t + interval
            while next_trade < t_next:
                yield self._trade(int(next_trade))
                next_trade += rng.expovariate(rate) * 1000
            t = t_next
            k += 1
            self._step_mid()
            yield self._book(t)

    def _note(self, k: int, t: int, next_trade: float) -> None:
        self._checkpoints.append(
            {
                "k": k,
                "t": t,
                "mid": self.mid,
                "bid_ticks": self.bid_ticks,
                "ask_ticks": self.ask_ticks,
                "next_trade": None if math.isinf(next_trade) else next_trade,
            }
        )

    def _load(self, doc: Mapping[str, Any]) -> tuple[int, int, float]:
        k, t = int(doc["k"]), int(doc["t"])
        if k % BLOCK_INTERVALS:
            raise ValueError(f"synthetic checkpoint of {self.symbol} is not at a block boundary")
        self.mid = float(doc["mid"])
        self.bid_ticks, self.ask_ticks = int(doc["bid_ticks"]), int(doc["ask_ticks"])
        next_trade = doc["next_trade"]
        if self.params.trade_intensity <= 0 or next_trade is None:
            return k, t, math.inf
        return k, t, float(next_trade)

    def checkpoint_at(self, after_ms: int) -> dict[str, Any] | None:
        """The newest block boundary at or before `after_ms` (None if none is known)."""
        found: dict[str, Any] | None = None
        for checkpoint in self._checkpoints:
            if int(checkpoint["t"]) <= after_ms:
                found = checkpoint
        return found

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
