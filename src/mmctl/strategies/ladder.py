"""One side of a quote ladder in integer ticks: its prices at a reference price, the quotes it makes, and
the range of reference prices over which those quotes stay inside given price windows.

A side's level n is priced from the reference R (in ticks, an exact fraction) by its factor F_n (an exact
fraction: `1 - distance/10000` for bids, `1 + distance/10000` for asks, as the strategy's Decimal math
computes it): bids at floor(R × F_n), asks at ceil(R × F_n), each at least one tick beyond the level
before it (bid p_n = min(raw_n, p_(n-1) - 1), ask p_n = max(raw_n, p_(n-1) + 1)). A level is quoted when its
price reaches `min_ticks` (a positive price whose notional meets the venue's minimum at the level's size).

Unrolled, a bid's p_n = min over j <= n of (floor(R × F_j) - (n - j)) and an ask's p_n = max over j <= n
of (ceil(R × F_j) + (n - j)). Both are non-decreasing in R, so "p_n >= a" and "p_n <= b" each hold on a
half-line of R with a closed-form end, and any set of such conditions holds on an interval. `RefBounds`
keeps that interval as the integers k with k / scale inside it (scale 2: k is bid + ask in ticks, twice
the mid); `SideLadder.constrain` narrows it to the references under which every quoted level stays inside
its window and every unquoted level stays unquoted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from mmctl.model import Side
from mmctl.strategies.base import Quote
from mmctl.strategies.ticks import Grid, Ratio

_MADE = 32  # quotes remembered per side ladder


@dataclass(frozen=True, slots=True)
class Level:
    """One level of a side: its price factor, its size (on the step grid), and from which price it is
    quoted (`None`: never, e.g. a size of 0 or below the venue's minimum quantity)."""

    factor: Ratio
    qty: Decimal
    min_ticks: int | None


class RefBounds:
    """The integers k (k / scale a reference price in ticks) allowed so far: [low, high], None = open."""

    __slots__ = ("high", "low", "scale")

    def __init__(self, scale: int) -> None:
        self.scale = scale
        self.low: int | None = None
        self.high: int | None = None

    def at_least(self, num: int, den: int) -> None:
        """Keep only R >= num / den (den > 0)."""
        self.raise_low(-(-num * self.scale // den))

    def at_most(self, num: int, den: int) -> None:
        """Keep only R <= num / den (den > 0)."""
        self.lower_high(num * self.scale // den)

    def raise_low(self, k: int) -> None:
        """Keep only k >= `k`."""
        if self.low is None or k > self.low:
            self.low = k

    def lower_high(self, k: int) -> None:
        """Keep only k <= `k`."""
        if self.high is None or k < self.high:
            self.high = k

    def intersect(self, other: RefBounds) -> None:
        """Keep only what `other` (same scale) allows too."""
        if other.low is not None:
            self.raise_low(other.low)
        if other.high is not None:
            self.lower_high(other.high)


class SideLadder:
    """The levels of one side, nearest the reference first, priced on `grid`. Remembers the quotes it
    made (the same prices recur as the book moves back and forth)."""

    __slots__ = ("_made", "factors", "grid", "levels", "side")

    def __init__(self, side: Side, levels: Sequence[Level], grid: Grid) -> None:
        self.side = side
        self.levels = tuple(levels)
        self.grid = grid
        self.factors = [level.factor for level in self.levels]
        self._made: dict[tuple[int, int], Quote] = {}

    def quotes(self, ref: Ratio) -> list[Quote]:
        """The side's quotes at `ref`: the levels whose price reaches their `min_ticks`."""
        out: list[Quote] = []
        made = self._made
        for n, price in enumerate(chained_prices(self.side, self.factors, ref)):
            level = self.levels[n]
            if level.min_ticks is not None and price >= level.min_ticks:
                quote = made.get((n, price))
                if quote is None:
                    if len(made) >= _MADE:
                        made.clear()
                    quote = made[n, price] = Quote(
                        self.side, n, self.grid.value(price), level.qty, price, self.grid
                    )
                out.append(quote)
        return out

    def constrain(
        self,
        bounds: RefBounds,
        ref: Ratio,
        windows: Mapping[int, tuple[int, int]],
        per_level: dict[int, RefBounds] | None = None,
    ) -> bool:
        """Narrow `bounds` to the references under which each level quoted at `ref` stays quoted with
        its price inside `windows[level]` (ticks, inclusive) and each unquoted level stays unquoted.
        False when that cannot be expressed (a quoted level without a window, an ask factor <= 0).
        With `per_level`, each quoted level's own condition (quoted, price inside its window) is also
        stored there, as the references it holds for (the same ladder assumed)."""
        factors = self.factors
        prices = chained_prices(self.side, factors, ref)
        positive = True  # every factor so far is > 0
        for n, (level, price) in enumerate(zip(self.levels, prices, strict=True)):
            positive = positive and factors[n][0] > 0
            if level.min_ticks is None:
                continue
            if not positive:
                if self.side is Side.SELL:
                    return False
                continue  # a bid at or beyond a factor <= 0 is never positive: never quoted
            if price >= level.min_ticks:
                window = windows.get(n)
                if window is None:
                    return False
                own = RefBounds(bounds.scale)
                price_at_least(self.side, factors, n, max(window[0], level.min_ticks), own)
                price_at_most(self.side, factors, n, window[1], own)
                bounds.intersect(own)
                if per_level is not None:
                    per_level[n] = own
            else:
                price_at_most(self.side, factors, n, level.min_ticks - 1, bounds)
        return True


def chained_prices(side: Side, factors: Sequence[Ratio], ref: Ratio) -> list[int]:
    """Prices in ticks of levels with these factors at `ref`: rounded away from the reference, each at
    least a tick beyond the one before."""
    rn, rd = ref
    prices: list[int] = []
    if side is Side.BUY:
        prev = None
        for fn, fd in factors:
            price = (rn * fn) // (rd * fd)
            if prev is not None and price > prev - 1:
                price = prev - 1
            prices.append(price)
            prev = price
    else:
        prev = None
        for fn, fd in factors:
            price = -((-rn * fn) // (rd * fd))
            if prev is not None and price < prev + 1:
                price = prev + 1
            prices.append(price)
            prev = price
    return prices


def price_at_least(side: Side, factors: Sequence[Ratio], n: int, a: int, bounds: RefBounds) -> None:
    """Narrow `bounds` to the R where level n's price is >= a (every factor up to n positive)."""
    if side is Side.BUY:  # for all j <= n: floor(R F_j) >= a + n - j  <=>  R >= (a + n - j) / F_j
        for j in range(n + 1):
            fn, fd = factors[j]
            bounds.at_least((a + n - j) * fd, fn)
    else:  # for some j <= n: ceil(R F_j) >= a - n + j  <=>  R > (a - n + j - 1) / F_j: the lowest k
        scale = bounds.scale
        bounds.raise_low(
            min((a - n + j - 1) * fd * scale // fn + 1 for j, (fn, fd) in enumerate(factors[: n + 1]))
        )


def price_at_most(side: Side, factors: Sequence[Ratio], n: int, b: int, bounds: RefBounds) -> None:
    """Narrow `bounds` to the R where level n's price is <= b (every factor up to n positive)."""
    if side is Side.BUY:  # for some j <= n: floor(R F_j) <= b + n - j  <=>  R < (b + n - j + 1) / F_j
        scale = bounds.scale
        bounds.lower_high(
            max(-(-(b + n - j + 1) * fd * scale // fn) - 1 for j, (fn, fd) in enumerate(factors[: n + 1]))
        )
    else:  # for all j <= n: ceil(R F_j) <= b - n + j  <=>  R <= (b - n + j) / F_j
        for j in range(n + 1):
            fn, fd = factors[j]
            bounds.at_most((b - n + j) * fd, fn)
