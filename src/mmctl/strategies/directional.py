"""The pure part shared by the directional strategies (rsi, macd, mean_reversion): when to be long, short
or flat, where the exits are, and how much to trade.

- Signal rules are fed closed candles and return the direction the strategy wants to hold (`Direction`);
  `allow` applies the strategy's `sides` setting (a direction it may not take becomes flat).
- Exit levels (stop-loss, take-profit, trailing stop) are Decimal prices on the tick grid, at a distance
  from the entry given in percent of the price or in multiples of the ATR. Each level is rounded away from
  the entry, so an exit never triggers on a smaller move than asked: a long's stop rounds down and its
  take-profit up, a short's stop rounds up and its take-profit down.
- Sizes are Decimal on the step grid, rounded down, or None when below the venue's minimums.

The indicators behind the rules compute in float (`mmctl.strategies.indicators`); nothing here that reaches
an order does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from typing import Literal, Protocol

from mmctl.exchange.rules import EXACT, ceil_to, floor_to, meets_minimums
from mmctl.model import ZERO, MarketRules, Side
from mmctl.strategies.candles import Candle
from mmctl.strategies.indicators import Macd, Rsi, ZScore

Sides = Literal["long", "short", "both"]
SIDES: tuple[Sides, ...] = ("long", "short", "both")
ExitUnit = Literal["pct", "atr"]
ExitKind = Literal["stop_loss", "take_profit"]


class Direction(IntEnum):
    """The position a strategy wants: short (-1), flat (0) or long (+1)."""

    SHORT = -1
    FLAT = 0
    LONG = 1

    @property
    def entry_side(self) -> Side:
        """The order side that enters this direction (buy for long, sell for short)."""
        if self is Direction.FLAT:
            raise ValueError("flat has no entry side")
        return Side.BUY if self is Direction.LONG else Side.SELL


def allow(direction: Direction, sides: Sides) -> Direction:
    """`direction` if `sides` allows it, else flat ("long" never goes short, "short" never long)."""
    if (direction is Direction.LONG and sides == "short") or (
        direction is Direction.SHORT and sides == "long"
    ):
        return Direction.FLAT
    return direction


class SignalRule(Protocol):
    """A rule fed closed candles in order; `update` returns the direction to hold after that candle
    (flat while its indicator warms up)."""

    @property
    def direction(self) -> Direction: ...

    def update(self, candle: Candle) -> Direction: ...


def crossed_up(prev: float, now: float, level: float) -> bool:
    """True when a series went from below `level` to at or above it: prev < level <= now."""
    return prev < level <= now


def crossed_down(prev: float, now: float, level: float) -> bool:
    """True when a series went from above `level` to at or below it: prev > level >= now."""
    return prev > level >= now


class RsiRule:
    """Wilder's RSI of the closes (`Rsi(period)`), between consecutive values prev and now:

    - long when it crosses up through `oversold` (prev < oversold <= now);
    - short when it crosses down through `overbought` (prev > overbought >= now);
    - otherwise flat once it has crossed 50 since the entry (the swing has run back to the middle): a
      long at the first later value >= 50, a short at the first later value <= 50;
    - else the direction is kept. Entries are decided first: a step from 29 to 55 goes long (and flat at
      the next value if it is still >= 50)."""

    __slots__ = ("direction", "overbought", "oversold", "rsi")

    def __init__(self, period: int = 14, oversold: float = 30.0, overbought: float = 70.0) -> None:
        if not 0.0 < oversold < 50.0 < overbought < 100.0:
            raise ValueError(f"need 0 < oversold < 50 < overbought < 100, got {oversold} and {overbought}")
        self.rsi = Rsi(period)
        self.oversold = oversold
        self.overbought = overbought
        self.direction = Direction.FLAT

    def update(self, candle: Candle) -> Direction:
        prev = self.rsi.value
        now = self.rsi.update(candle.close)
        if prev is None or now is None:
            return self.direction
        if crossed_up(prev, now, self.oversold):
            self.direction = Direction.LONG
        elif crossed_down(prev, now, self.overbought):
            self.direction = Direction.SHORT
        elif (self.direction is Direction.LONG and now >= 50.0) or (
            self.direction is Direction.SHORT and now <= 50.0
        ):
            self.direction = Direction.FLAT
        return self.direction


class MacdRule:
    """`Macd(fast, slow, signal)` of the closes: long when the macd line crosses above the signal line,
    short when it crosses below, kept in between. A cross is a change of sign of the histogram between
    non-zero values (a zero histogram keeps the previous sign); flat until the first cross."""

    __slots__ = ("_sign", "direction", "macd")

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        self.macd = Macd(fast, slow, signal)
        self._sign = 0  # sign of the last non-zero histogram
        self.direction = Direction.FLAT

    def update(self, candle: Candle) -> Direction:
        value = self.macd.update(candle.close)
        if value is None or value.histogram == 0.0:
            return self.direction
        sign = 1 if value.histogram > 0.0 else -1
        if self._sign and sign != self._sign:
            self.direction = Direction.LONG if sign > 0 else Direction.SHORT
        self._sign = sign
        return self.direction


class MeanReversionRule:
    """`ZScore(period)` of the closes: long when z <= -entry_z, short when z >= entry_z, flat when
    |z| <= exit_z, else the direction is kept (0 <= exit_z < entry_z)."""

    __slots__ = ("direction", "entry_z", "exit_z", "zscore")

    def __init__(self, period: int = 20, entry_z: float = 2.0, exit_z: float = 0.5) -> None:
        if not 0.0 <= exit_z < entry_z:
            raise ValueError(f"need 0 <= exit_z < entry_z, got {exit_z} and {entry_z}")
        self.zscore = ZScore(period)
        self.entry_z = entry_z
        self.exit_z = exit_z
        self.direction = Direction.FLAT

    def update(self, candle: Candle) -> Direction:
        z = self.zscore.update(candle.close)
        if z is None:
            return self.direction
        if z <= -self.entry_z:
            self.direction = Direction.LONG
        elif z >= self.entry_z:
            self.direction = Direction.SHORT
        elif abs(z) <= self.exit_z:
            self.direction = Direction.FLAT
        return self.direction


@dataclass(frozen=True, slots=True)
class ExitDistance:
    """How far an exit is from its reference price: `value` percent of the price (unit "pct") or
    `value` times the ATR (unit "atr"); value > 0."""

    unit: ExitUnit
    value: Decimal

    def __post_init__(self) -> None:
        if self.unit not in ("pct", "atr"):
            raise ValueError(f"an exit distance is in 'pct' or 'atr', got {self.unit!r}")
        if not isinstance(self.value, Decimal) or not self.value.is_finite() or self.value <= 0:
            raise ValueError(f"an exit distance must be a positive Decimal, got {self.value!r}")

    def distance(self, reference: Decimal, atr: float | Decimal | None = None) -> Decimal:
        """The distance in price, exactly: reference × value / 100, or atr × value (a float ATR is
        taken at its shortest repr). ValueError for unit "atr" without a finite ATR >= 0."""
        if self.unit == "pct":
            return EXACT.multiply(reference, EXACT.scaleb(self.value, -2))
        return EXACT.multiply(_atr(atr), self.value)


def _atr(atr: float | Decimal | None) -> Decimal:
    if isinstance(atr, float) and math.isfinite(atr):
        atr = Decimal(repr(atr))
    if not isinstance(atr, Decimal) or not atr.is_finite() or atr < 0:
        raise ValueError(f"an ATR exit needs a finite ATR >= 0 (is the ATR warmed up?), got {atr!r}")
    return atr


def _offset(price: Decimal, d: Decimal, *, below: bool) -> Decimal:
    """price - d or price + d, exactly."""
    return EXACT.subtract(price, d) if below else EXACT.add(price, d)


def _away(price: Decimal, direction: Direction, below: bool, tick: Decimal) -> Decimal | None:
    """`price` rounded to the tick away from the entry (down for a level below it, up above it); None
    when the result is not positive."""
    if direction is Direction.FLAT:
        raise ValueError("exit levels need a long or short direction")
    rounded = floor_to(price, tick) if below else ceil_to(price, tick)
    return rounded if rounded > 0 else None


def stop_loss_price(
    entry: Decimal,
    direction: Direction,
    distance: ExitDistance,
    tick: Decimal,
    atr: float | Decimal | None = None,
) -> Decimal | None:
    """The stop-loss for a position entered at `entry`: entry - d for a long, rounded down to the tick;
    entry + d for a short, rounded up (d = `distance` from the entry). None when d is 0 (an ATR of 0)
    or a long's stop would be at or below 0."""
    d = distance.distance(entry, atr)
    if d == 0:
        return None
    long = direction is Direction.LONG
    return _away(_offset(entry, d, below=long), direction, long, tick)


def take_profit_price(
    entry: Decimal,
    direction: Direction,
    distance: ExitDistance,
    tick: Decimal,
    atr: float | Decimal | None = None,
) -> Decimal | None:
    """The take-profit for a position entered at `entry`: entry + d for a long, rounded up to the tick;
    entry - d for a short, rounded down. None when d is 0 or a short's target would be at or below 0."""
    d = distance.distance(entry, atr)
    if d == 0:
        return None
    long = direction is Direction.LONG
    return _away(_offset(entry, d, below=not long), direction, not long, tick)


@dataclass(frozen=True, slots=True)
class ExitLevels:
    """A position's fixed exit prices (None: no such exit)."""

    stop_loss: Decimal | None
    take_profit: Decimal | None

    def hit(self, direction: Direction, price: Decimal) -> ExitKind | None:
        """Which exit `price` reaches for a position in `direction`: a long's stop at price <= stop and
        target at price >= target; a short's mirrored. The stop wins if both (a gap through both)."""
        long = direction is Direction.LONG
        if self.stop_loss is not None and (price <= self.stop_loss if long else price >= self.stop_loss):
            return "stop_loss"
        if self.take_profit is not None and (
            price >= self.take_profit if long else price <= self.take_profit
        ):
            return "take_profit"
        return None


def exit_levels(
    entry: Decimal,
    direction: Direction,
    tick: Decimal,
    *,
    stop_loss: ExitDistance | None = None,
    take_profit: ExitDistance | None = None,
    atr: float | Decimal | None = None,
) -> ExitLevels:
    """Both fixed exits of a position entered at `entry` (see `stop_loss_price`, `take_profit_price`)."""
    return ExitLevels(
        None if stop_loss is None else stop_loss_price(entry, direction, stop_loss, tick, atr),
        None if take_profit is None else take_profit_price(entry, direction, take_profit, tick, atr),
    )


class TrailingStop:
    """A stop that follows the best price since entry (the highest for a long, the lowest for a short)
    at `distance` from it, rounded away from that price (down for a long, up for a short), and never
    loosens: a long's stop only rises, a short's only falls.

    A "pct" distance is a percentage of the best price; an "atr" distance is the ATR given at entry
    times the multiple, re-evaluated with the ATR passed to `update` when there is one. `stop` is None
    while the level would be at or below 0 (or the distance is 0)."""

    __slots__ = ("_atr", "best", "direction", "distance", "stop", "tick")

    def __init__(
        self,
        direction: Direction,
        entry: Decimal,
        distance: ExitDistance,
        tick: Decimal,
        atr: float | Decimal | None = None,
    ) -> None:
        if direction is Direction.FLAT:
            raise ValueError("a trailing stop needs a long or short direction")
        self.direction = direction
        self.distance = distance
        self.tick = tick
        self._atr = atr
        self.best = entry
        self.stop: Decimal | None = None
        self._ratchet()

    def update(self, price: Decimal, atr: float | Decimal | None = None) -> Decimal | None:
        """Observe a traded (or mark) price, and the current ATR if any; return the stop."""
        if atr is not None:
            self._atr = atr
        if (price > self.best) if self.direction is Direction.LONG else (price < self.best):
            self.best = price
        self._ratchet()
        return self.stop

    def hit(self, price: Decimal) -> bool:
        """True when `price` is at or through the stop."""
        if self.stop is None:
            return False
        return price <= self.stop if self.direction is Direction.LONG else price >= self.stop

    def _ratchet(self) -> None:
        d = self.distance.distance(self.best, self._atr)
        if d == 0:
            return
        long = self.direction is Direction.LONG
        level = _away(_offset(self.best, d, below=long), self.direction, long, self.tick)
        if level is None:
            return
        if self.stop is None or (level > self.stop if long else level < self.stop):
            self.stop = level


def fixed_size(qty: Decimal, price: Decimal, rules: MarketRules, *, market: bool = False) -> Decimal | None:
    """`qty` rounded down to the step and capped at the venue's maximum (`market_max_qty` for a market
    order, when the venue has one); None when below the minimum quantity or notional at `price`."""
    return _fit(floor_to(qty, rules.step_size), price, rules, market)


def risk_size(
    equity: Decimal,
    risk_fraction: Decimal,
    entry: Decimal,
    stop: Decimal,
    rules: MarketRules,
    *,
    market: bool = False,
) -> Decimal | None:
    """The size that loses `risk_fraction` of `equity` if the stop is hit: equity × risk_fraction /
    |entry - stop|, rounded down to the step (exactly) and capped as `fixed_size`; None when equity is
    not positive or the size is below the venue's minimums at `entry`. Fees and slippage are not
    counted."""
    if not 0 < risk_fraction <= 1:
        raise ValueError(f"the risk per trade must be a fraction in (0, 1], got {risk_fraction}")
    gap = EXACT.abs(EXACT.subtract(entry, stop))
    if gap == 0:
        raise ValueError(f"the stop {stop} is at the entry {entry}")
    if equity <= 0:
        return None
    risk = EXACT.multiply(equity, risk_fraction)
    steps, _ = EXACT.divmod(risk, EXACT.multiply(gap, rules.step_size))
    return _fit(EXACT.multiply(steps, rules.step_size), entry, rules, market)


def _fit(qty: Decimal, price: Decimal, rules: MarketRules, market: bool) -> Decimal | None:
    cap = rules.market_max_qty if market and rules.market_max_qty else rules.max_qty
    if cap > 0:
        qty = min(qty, floor_to(cap, rules.step_size))
    if qty <= ZERO or not meets_minimums(price, qty, rules):
        return None
    return qty
