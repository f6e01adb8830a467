"""Streaming technical indicators, updated one candle close at a time: EMA, RSI, MACD, z-score, ATR.

Each indicator's `update` takes the newest value and returns the indicator's value, or None until it has
seen enough values (its warm-up); `value` holds the latest result. The math is in binary floating point:
these are trading signals compared with thresholds, not accounting, so float's rounding (about 1e-15
relative) is immaterial; prices and sizes that reach an order stay Decimal (`mmctl.strategies.directional`).
Inputs may be floats or Decimals (converted with `float`).

The seed conventions are the classic ones (Wilder; StockCharts' "ChartSchool" formulas), stated exactly in
each class so that an independent implementation can reproduce every value.
"""

from __future__ import annotations

import math
from collections import deque
from decimal import Decimal
from typing import NamedTuple

from mmctl.strategies.candles import Candle

Number = float | Decimal


def _period(period: int, name: str = "period") -> int:
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        raise ValueError(f"{name} must be a positive integer, got {period!r}")
    return period


class Ema:
    """Exponential moving average of `period` values: multiplier k = 2 / (period + 1).

    Seed: the first value, returned with the `period`-th input, is the simple mean of the first `period`
    inputs; after it, ema = (x - ema_prev) · k + ema_prev. None before the `period`-th input."""

    __slots__ = ("_count", "_k", "_sum", "period", "value")

    def __init__(self, period: int) -> None:
        self.period = _period(period)
        self._k = 2.0 / (period + 1)
        self._count = 0
        self._sum = 0.0
        self.value: float | None = None

    def update(self, x: Number) -> float | None:
        x = float(x)
        if self.value is not None:
            self.value += (x - self.value) * self._k
            return self.value
        self._count += 1
        self._sum += x
        if self._count == self.period:
            self.value = self._sum / self.period
        return self.value


class Rsi:
    """Wilder's relative strength index over `period` changes of the close.

    Each input after the first makes a change d = x - x_prev: gain = max(d, 0), loss = max(-d, 0). The
    first averages are the simple means of the first `period` gains and losses (so the first RSI comes
    with input `period + 1`); then avg = (avg_prev · (period - 1) + current) / period for each. RSI =
    100 - 100 / (1 + avg_gain / avg_loss); 100 when avg_loss is 0 and avg_gain is not; 50 when both are 0
    (no change at all over the window: neither overbought nor oversold)."""

    __slots__ = ("_avg_gain", "_avg_loss", "_count", "_prev", "period", "value")

    def __init__(self, period: int = 14) -> None:
        self.period = _period(period)
        self._prev: float | None = None
        self._count = 0
        self._avg_gain = 0.0
        self._avg_loss = 0.0
        self.value: float | None = None

    def update(self, x: Number) -> float | None:
        x = float(x)
        prev, self._prev = self._prev, x
        if prev is None:
            return None
        change = x - prev
        gain = change if change > 0 else 0.0
        loss = -change if change < 0 else 0.0
        n = self.period
        if self._count < n:
            self._count += 1
            self._avg_gain += gain
            self._avg_loss += loss
            if self._count < n:
                return None
            self._avg_gain /= n
            self._avg_loss /= n
        else:
            self._avg_gain = (self._avg_gain * (n - 1) + gain) / n
            self._avg_loss = (self._avg_loss * (n - 1) + loss) / n
        self.value = _rsi(self._avg_gain, self._avg_loss)
        return self.value


def _rsi(avg_gain: float, avg_loss: float) -> float:
    if avg_loss == 0.0:
        return 100.0 if avg_gain > 0.0 else 50.0
    return 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)


class MacdValue(NamedTuple):
    """MACD line, signal line and histogram (macd - signal) at one close."""

    macd: float
    signal: float
    histogram: float


class Macd:
    """Moving average convergence/divergence: macd = EMA(fast) - EMA(slow) of the closes, signal =
    EMA(signal) of the macd line, histogram = macd - signal.

    Each EMA is an `Ema` (seeded with the simple mean of its own first inputs): the fast EMA from input
    `fast`, the slow one from input `slow`, so the macd line starts with input `slow`, and the signal line
    is the `Ema` of the macd values from there: the first full value comes with input
    `slow + signal - 1`. None before it (`line` already holds the macd line once it exists)."""

    __slots__ = ("_fast", "_signal", "_slow", "line", "value")

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        _period(fast, "fast")
        _period(slow, "slow")
        if fast >= slow:
            raise ValueError(f"the fast period ({fast}) must be shorter than the slow one ({slow})")
        self._fast = Ema(fast)
        self._slow = Ema(slow)
        self._signal = Ema(_period(signal, "signal"))
        self.line: float | None = None
        self.value: MacdValue | None = None

    def update(self, x: Number) -> MacdValue | None:
        x = float(x)
        fast = self._fast.update(x)
        slow = self._slow.update(x)
        if fast is None or slow is None:
            return None
        self.line = line = fast - slow
        signal = self._signal.update(line)
        if signal is None:
            return None
        self.value = MacdValue(line, signal, line - signal)
        return self.value


class ZScore:
    """How many standard deviations the close is from its rolling mean (the Bollinger %b idea).

    Over the last `period` closes, the current one included: mean = their simple mean, std = their
    population standard deviation (divided by `period`, as Bollinger bands use), z = (close - mean) /
    std; z = 0 when std is 0. None before the `period`-th close. Computed in two passes over the window
    (no running sums, so no drift)."""

    __slots__ = ("_window", "mean", "period", "std", "value")

    def __init__(self, period: int = 20) -> None:
        self.period = _period(period)
        if period < 2:
            raise ValueError(f"a z-score needs a period of at least 2, got {period}")
        self._window: deque[float] = deque(maxlen=period)
        self.mean: float | None = None
        self.std: float | None = None
        self.value: float | None = None

    def update(self, x: Number) -> float | None:
        x = float(x)
        window = self._window
        window.append(x)
        if len(window) < self.period:
            return None
        mean = math.fsum(window) / self.period
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in window) / self.period)
        self.mean, self.std = mean, std
        self.value = (x - mean) / std if std > 0.0 else 0.0
        return self.value


class Atr:
    """Wilder's average true range over `period` candles.

    True range: max(high - low, |high - prev_close|, |low - prev_close|), and high - low for the very
    first candle (no previous close). The first ATR, returned with candle `period`, is the simple mean of
    the first `period` true ranges; then atr = (atr_prev · (period - 1) + tr) / period. None before."""

    __slots__ = ("_count", "_prev_close", "_sum", "period", "value")

    def __init__(self, period: int = 14) -> None:
        self.period = _period(period)
        self._prev_close: float | None = None
        self._count = 0
        self._sum = 0.0
        self.value: float | None = None

    def update(self, candle: Candle) -> float | None:
        return self.update_hlc(candle.high, candle.low, candle.close)

    def update_hlc(self, high: Number, low: Number, close: Number) -> float | None:
        """`update` with a candle's high, low and close."""
        hi, lo = float(high), float(low)
        prev, self._prev_close = self._prev_close, float(close)
        tr = hi - lo if prev is None else max(hi - lo, abs(hi - prev), abs(lo - prev))
        n = self.period
        if self.value is not None:
            self.value = (self.value * (n - 1) + tr) / n
            return self.value
        self._count += 1
        self._sum += tr
        if self._count == n:
            self.value = self._sum / n
        return self.value
