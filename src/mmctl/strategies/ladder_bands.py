"""The book bands of a pair of side ladders (`mmctl.strategies.ladder`), with each level's band remembered.

A ladder strategy's `quote_bands` (market_maker, avellaneda_stoikov) narrows the references over which its
ladder stays the same (its sizing range) to those under which every quoted level stays inside the window
of the order resting there. Each quoted level's own condition depends only on the ladder (its price
factors and minimum prices), the level and its window: kept orders keep their windows from tick to tick
and the prices of amended ones recur as the book moves back and forth, so `LevelBands` remembers each
(ladder, level, window)'s references and book band. A ladder whose levels are not all quoted with a window
at the reference, or with a price factor <= 0, goes through `SideLadder.constrain` as it is.
"""

from __future__ import annotations

from collections.abc import Callable

from mmctl.model import Side
from mmctl.strategies.base import BookBand, PriceWindows
from mmctl.strategies.ladder import RefBounds, SideLadder, chained_prices, price_at_least, price_at_most
from mmctl.strategies.ticks import Ratio

_KEPT = 4096  # level bands remembered per model, per (ladder, level, window)

LevelKey = tuple[Side, int]


class LevelBands:
    """One model's level bands; `to_band` turns references (twice, in ticks) into a band of books."""

    __slots__ = ("_memo", "_to_band")

    def __init__(self, to_band: Callable[[RefBounds], BookBand]) -> None:
        self._to_band = to_band
        self._memo: dict[tuple[SideLadder, int, int, int], tuple[RefBounds, BookBand]] = {}

    def constrain(
        self,
        ladder: SideLadder,
        ref: Ratio,
        windows: PriceWindows,
        bounds: RefBounds,
        levels: dict[LevelKey, BookBand],
    ) -> bool:
        """`SideLadder.constrain` on `bounds` (scale 2) with the windows of `ladder`'s side, each quoted
        level's own band stored in `levels`; False when the ladder cannot tell (see `SideLadder`)."""
        side, factors = ladder.side, ladder.factors
        prices = chained_prices(side, factors, ref)
        memo = self._memo
        found: list[tuple[int, RefBounds, BookBand]] = []
        for n, level in enumerate(ladder.levels):
            if factors[n][0] <= 0:
                return self._constrain_fully(ladder, ref, windows, bounds, levels)
            if level.min_ticks is None:
                continue  # never quoted, whatever the price
            window = windows.get((side, n))
            if window is None or prices[n] < level.min_ticks:
                return self._constrain_fully(ladder, ref, windows, bounds, levels)
            key = (ladder, n, window[0], window[1])
            entry = memo.get(key)
            if entry is None:
                own = RefBounds(2)
                price_at_least(side, factors, n, max(window[0], level.min_ticks), own)
                price_at_most(side, factors, n, window[1], own)
                if len(memo) >= _KEPT:
                    memo.clear()
                entry = memo[key] = (own, self._to_band(own))
            found.append((n, *entry))
        for n, own, band in found:
            bounds.intersect(own)
            levels[(side, n)] = band
        return True

    def _constrain_fully(
        self,
        ladder: SideLadder,
        ref: Ratio,
        windows: PriceWindows,
        bounds: RefBounds,
        levels: dict[LevelKey, BookBand],
    ) -> bool:
        side_windows = {level: w for (side, level), w in windows.items() if side is ladder.side}
        own: dict[int, RefBounds] = {}
        if not ladder.constrain(bounds, ref, side_windows, own):
            return False
        for level, level_bounds in own.items():
            levels[(ladder.side, level)] = self._to_band(level_bounds)
        return True
