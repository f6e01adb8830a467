"""Cancel first: which of a woken bot's orders a new book has made stale, found in integer ticks before
any quote math, so the bot's first request leaves microseconds after the book.

After each tick the bot keeps a `StaleTest` (`mmctl.bots.bands.band_after_tick`) built from the strategy's
`QuoteBands` for the orders the tick left resting: for each (side, level) the resting price and the books
under which the strategy's desired price for that level stays within the refresh tolerance of it, and the
books under which the ladder itself (sizes, price factors) stays the same. For a new book it names the
live orders the diff (`mmctl.bots.orders.reconcile`) is certain to cancel:
- the book is inside the `sizing` band and the bot's params and position are those of the tick (so the
  strategy's ladder is the same one), and
- the order rests at the price the test was built for, and the book is outside that level's band: the
  level's desired price left the order's tolerance window, or the level is no longer quoted.
Either way the diff replaces that order whatever else it decides (it keeps an order only when the desired
price at its level is within the tolerance): it cancels it, or amends it to the level's new quote when
the level is still quoted (`reconcile(..., amend=True)`). So acting on it before the rest of the tick
changes no plan: only its order (cancels first, then amends, as the plan would send them;
`mmctl.bots.reaction` decides which of the two each stale order gets). Any doubt (a book off the tick grid,
a crossed book, another ladder, an order the test was not built for) names nothing, and the tick's diff
decides as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from mmctl.bots.orders import Key, LiveOrder
from mmctl.model import BookTop
from mmctl.strategies.base import BookBand, microprice
from mmctl.strategies.params import StrategyParams
from mmctl.strategies.ticks import Grid


@dataclass(frozen=True, slots=True)
class StaleTest:
    """The orders a book makes stale, for the ladder of `params` at `position` (see the module docstring)."""

    params: StrategyParams
    position: Decimal
    grid: Grid
    sizing: BookBand
    levels: Mapping[Key, tuple[Decimal, BookBand]]  # (side, level) -> resting price, its level's band

    def stale(
        self, book: BookTop, live: Iterable[LiveOrder], params: StrategyParams, position: Decimal
    ) -> list[str]:
        """Client ids of the `live` orders that the diff for `book` will replace (cancel or amend; possibly
        not all of them)."""
        if params is not self.params or position != self.position:
            return []
        grid = self.grid
        bid, ask = grid.index(book.bid), grid.index(book.ask)
        if bid is None or ask is None:
            return []
        micro = grid.index_ratio(microprice(book)) if self.sizing.watches_micro else None
        if not _inside(self.sizing, bid, ask, micro):
            return []
        out: list[str] = []
        levels = self.levels
        for order in live:
            entry = levels.get((order.side, order.level))
            if entry is None or entry[0] != order.price:
                continue
            band = entry[1]
            if band.watches_micro and micro is None:
                micro = grid.index_ratio(microprice(book))
            if _surely_outside(band, bid, ask, micro):
                out.append(order.client_order_id)
        return out


def _inside(band: BookBand, bid: int, ask: int, micro: tuple[int, int] | None) -> bool:
    if not band.admits(bid, ask):
        return False
    if not band.watches_micro:
        return True
    return micro is not None and band.admits_micro(*micro)


def _surely_outside(band: BookBand, bid: int, ask: int, micro: tuple[int, int] | None) -> bool:
    """True when the book is outside every book the level's condition holds for. A band's bounds are
    integers (on twice the reference, in ticks): exact for the mid (bid + ask is an integer), but the
    microprice is a fraction, and the bounds are the integers just inside the true (fractional) edges,
    so the true edges lie less than one unit beyond them: a microprice is surely outside only beyond
    that."""
    if not band.admits(bid, ask):
        return True
    if not band.watches_micro:
        return False
    if micro is None:
        return False
    num, den = micro
    twice = 2 * num
    return twice < (band.micro2_lo - 1) * den or twice > (band.micro2_hi + 1) * den
