"""The book bands of a pair of side ladders (`mmctl.strategies.ladder`), with each level's band remembered.

A ladder strategy's `quote_bands` (market_maker, avellaneda_stoikov) narrows the references over which its
ladder stays the same (its sizing range) to those under which every quoted level stays inside the window
of the order resting there. Each quoted level's own condition depends only on the ladder (its price
factors and minimum prices), the level and its window: kept orders keep their windows from tick to tick
and the prices of amended ones recur as the book moves back and forth, so `LevelBands` remembers each
(ladder, level, window)'s references. A ladder whose levels are not all quoted with a window at the
reference, or with a price factor <= 0, goes through `SideLadder.constrain` as it is.

What is remembered is plain integers, keys included: containers (even tuples of integers, until a
collection untracks them) would make the garbage collector run more often in a daemon where every bot
keeps such a memo, and its pauses fall on reactions. Each level's band of books is made only when asked
for (`LevelView`: the runtime's stale test reads them, the backtester does not).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from mmctl.model import Side
from mmctl.strategies.base import BookBand, PriceWindows
from mmctl.strategies.ladder import RefBounds, SideLadder, chained_prices, price_at_least, price_at_most
from mmctl.strategies.ticks import Ratio

_LADDERS_KEPT = 16  # ladders whose level bands are remembered, per model
_LEVELS_KEPT = 64  # (level, window)s remembered per ladder: the recent ones serve
_WINDOW_LIMIT = 1 << 200  # windows (ticks) beyond this are not remembered (see `_key`)

LevelKey = tuple[Side, int]
Ends = tuple[int | None, int | None]  # references (twice, in ticks) from, to; None: open
ToBand = Callable[[int | None, int | None], BookBand]


class LevelView(Mapping[LevelKey, BookBand]):
    """Each quoted level's band of books, made from its references when read."""

    __slots__ = ("_ends", "_to_band")

    def __init__(self, ends: dict[LevelKey, Ends], to_band: ToBand) -> None:
        self._ends = ends
        self._to_band = to_band

    def __getitem__(self, key: LevelKey) -> BookBand:
        return self._to_band(*self._ends[key])

    def __iter__(self) -> Iterator[LevelKey]:
        return iter(self._ends)

    def __len__(self) -> int:
        return len(self._ends)


class LevelBands:
    """One model's remembered level references."""

    __slots__ = ("_memo",)

    def __init__(self) -> None:
        # per ladder: (level, window) as one integer (`_key`) -> the lowest and the highest reference
        self._memo: dict[SideLadder, tuple[dict[int, int], dict[int, int]]] = {}

    def constrain(
        self,
        ladder: SideLadder,
        ref: Ratio,
        windows: PriceWindows,
        bounds: RefBounds,
        levels: dict[LevelKey, Ends],
    ) -> bool:
        """`SideLadder.constrain` on `bounds` (scale 2) with the windows of `ladder`'s side, each quoted
        level's own references stored in `levels`; False when the ladder cannot tell (see `SideLadder`)."""
        side, factors = ladder.side, ladder.factors
        prices = chained_prices(side, factors, ref)
        memo = self._memo.get(ladder)
        if memo is None:
            if len(self._memo) >= _LADDERS_KEPT:
                self._memo.clear()
            memo = self._memo[ladder] = ({}, {})
        lows, highs = memo
        found: list[tuple[int, int, int]] = []
        for n, level in enumerate(ladder.levels):
            if factors[n][0] <= 0:
                return _constrain_fully(ladder, ref, windows, bounds, levels)
            if level.min_ticks is None:
                continue  # never quoted, whatever the price
            window = windows.get((side, n))
            if window is None or prices[n] < level.min_ticks:
                return _constrain_fully(ladder, ref, windows, bounds, levels)
            key = _key(n, window)
            low = lows.get(key) if key is not None else None
            high = highs.get(key) if key is not None else None
            if low is None or high is None:
                own = RefBounds(2)
                price_at_least(side, factors, n, max(window[0], level.min_ticks), own)
                price_at_most(side, factors, n, window[1], own)
                if own.low is None or own.high is None:  # both are set: a quoted level has a window
                    return _constrain_fully(ladder, ref, windows, bounds, levels)
                low, high = own.low, own.high
                if key is not None:
                    if len(lows) >= _LEVELS_KEPT:
                        lows.clear()
                        highs.clear()
                    lows[key], highs[key] = low, high
            found.append((n, low, high))
        for n, low, high in found:
            bounds.raise_low(low)
            bounds.lower_high(high)
            levels[(side, n)] = (low, high)
        return True


def _key(level: int, window: tuple[int, int]) -> int | None:
    """(level, window) as one integer, for windows of prices in ticks from 0 to 2**200 (far beyond
    `MAX_REF_TICKS`) and levels below 256; None (not remembered) otherwise."""
    low, high = window
    if not (low >= 0 and 0 <= high < _WINDOW_LIMIT and 0 <= level < 256):
        return None
    return (low << 208) | (high << 8) | level


def _constrain_fully(
    ladder: SideLadder,
    ref: Ratio,
    windows: PriceWindows,
    bounds: RefBounds,
    levels: dict[LevelKey, Ends],
) -> bool:
    side_windows = {level: w for (side, level), w in windows.items() if side is ladder.side}
    own: dict[int, RefBounds] = {}
    if not ladder.constrain(bounds, ref, side_windows, own):
        return False
    for level, level_bounds in own.items():
        levels[(ladder.side, level)] = (level_bounds.low, level_bounds.high)
    return True
