"""Candles built from public trades, aligned to the interval in epoch time, for the directional strategies.

A `CandleBuilder` is fed public trades in time order (`on_trade`) and the passing of time (`advance`, e.g.
with each book's timestamp) and returns the candles that closed. Candle k of an interval of I ms covers
[k·I, (k+1)·I) in epoch milliseconds and closes as soon as a trade or `advance` reaches (k+1)·I. Once the
first trade is seen every interval yields exactly one candle, in order: an interval with no trade yields a
flat candle at the previous close with zero volume, so indicators see time pass. Prices and volumes are the
trades' Decimals, unrounded (volume is summed exactly, whatever the thread's decimal context).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from mmctl.exchange.rules import EXACT
from mmctl.model import ZERO, Trade

_NONE: tuple[Candle, ...] = ()


@dataclass(frozen=True, slots=True)
class Candle:
    """One interval's OHLC, base-asset volume and trade count; it covers [open_ms, open_ms + interval_ms).

    A candle with no trade (`trades == 0`) has open = high = low = close = the previous candle's close."""

    open_ms: int
    interval_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int

    @property
    def close_ms(self) -> int:
        """The end of the candle's interval (exclusive): the time at which it closed."""
        return self.open_ms + self.interval_ms


class CandleBuilder:
    """Closed candles of `interval_s` seconds from public trades and time, in time order.

    Before the first trade there is no price, so no candle. A trade stamped before the open candle (late
    on the wire, or after `advance` already passed its time) is counted in the open candle: a closed
    candle never changes. `advance` to a time at or before the builder's is a no-op."""

    __slots__ = ("_close", "_high", "_low", "_open", "_open_ms", "_trades", "_volume", "interval_ms")

    def __init__(self, interval_s: int) -> None:
        if isinstance(interval_s, bool) or not isinstance(interval_s, int) or interval_s <= 0:
            raise ValueError(f"the candle interval must be a positive number of seconds, got {interval_s!r}")
        self.interval_ms = interval_s * 1000
        self._open_ms: int | None = None  # start of the open (not yet closed) candle
        self._open = self._high = self._low = self._close = ZERO
        self._volume = ZERO
        self._trades = 0

    @property
    def last_price(self) -> Decimal | None:
        """The price of the latest trade seen (None before the first)."""
        return None if self._open_ms is None else self._close

    @property
    def current(self) -> Candle | None:
        """The open candle as it stands (not closed yet), or None before the first trade."""
        if self._open_ms is None:
            return None
        return Candle(
            self._open_ms,
            self.interval_ms,
            self._open,
            self._high,
            self._low,
            self._close,
            self._volume,
            self._trades,
        )

    def on_trade(self, trade: Trade) -> tuple[Candle, ...]:
        """Count `trade` and return the candles that closed before its time (oldest first)."""
        price = trade.price
        if self._open_ms is None:
            self._start(self._align(trade.ts_ms), price)
            closed = _NONE
        else:
            closed = self.advance(trade.ts_ms)
        if self._trades == 0:
            self._open = self._high = self._low = price
        elif price > self._high:
            self._high = price
        elif price < self._low:
            self._low = price
        self._close = price
        self._volume = EXACT.add(self._volume, trade.qty)
        self._trades += 1
        return closed

    def advance(self, ts_ms: int) -> tuple[Candle, ...]:
        """Close every candle that ends at or before `ts_ms` and return them, oldest first (flat
        zero-volume candles for intervals without trades)."""
        start = self._open_ms
        if start is None or ts_ms < start + self.interval_ms:
            return _NONE
        target = self._align(ts_ms)
        closed = [self._closed()]
        close, step = self._close, self.interval_ms
        for open_ms in range(start + step, target, step):
            closed.append(Candle(open_ms, step, close, close, close, close, ZERO, 0))
        self._start(target, close)
        return tuple(closed)

    def _align(self, ts_ms: int) -> int:
        return ts_ms - ts_ms % self.interval_ms

    def _start(self, open_ms: int, price: Decimal) -> None:
        self._open_ms = open_ms
        self._open = self._high = self._low = self._close = price
        self._volume = ZERO
        self._trades = 0

    def _closed(self) -> Candle:
        candle = self.current
        assert candle is not None
        return candle


def candles_from_trades(
    trades: Iterable[Trade], interval_s: int, until_ms: int | None = None
) -> list[Candle]:
    """The closed candles of `interval_s` seconds that `trades` (in time order) make, for tests and
    backtests: up to the last trade's open candle (excluded), or, with `until_ms`, every candle that ends
    at or before it."""
    builder = CandleBuilder(interval_s)
    candles: list[Candle] = []
    for trade in trades:
        candles.extend(builder.on_trade(trade))
    if until_ms is not None:
        candles.extend(builder.advance(until_ms))
    return candles
