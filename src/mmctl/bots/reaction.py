"""A bot's reaction to book updates: which books wake it, what it sends first, and the band it registers.

The market-data hub calls `on_book` for a book outside the band the bot's last tick registered (or when
it has none) and `on_quiet` for one inside it (`mmctl.bots.market_data`, `mmctl.bots.bands`). A woken
bot's first request must leave as soon as it can, since the bots of a symbol woken by one book react one
after the other, so the work on that path is ordered by what the request needs:
- `on_book` only notes the mid for the risk monitor (every mid still reaches it, in order: `take_books`
  hands the noted ones over at the tick, before the risk check, or before the next quiet book) and wakes
  the loop.
- The tick first acts on the orders the book made stale (`cancel_stale`, `mmctl.bots.stale`: integer
  comparisons against bands computed after the previous tick; with none the bot yields once, so the bots
  woken with it send their requests before its quote math), then checks risk, builds the quotes
  (`desired_quotes`, remembered while their inputs stay the same) and lets the diff settle the rest.
  A stale order whose level is still quoted is amended to its new price rather than cancelled (one
  request, one order-count unit, the level re-quoted at once): that needs the quotes for the new book,
  so for a bot with stale orders the quote math (remembered for the tick's own diff) comes before its
  first request. The risk monitor sees the woken books first; when they trip the circuit breaker, or the
  bot is not quoting, the stale orders are cancelled instead, as before.
- The band and the stale test for the next books are computed at the next loop turn after the tick's
  quotes (`schedule_band`), once every bot woken by the same book has sent its first request.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING

from mmctl.bots.bands import band_after_tick, resting_plan
from mmctl.bots.market_data import BookSubscription
from mmctl.bots.orders import Amendment, LiveOrder, amendable
from mmctl.bots.stale import StaleTest
from mmctl.clock import now_ms
from mmctl.model import BookTop, MarketRules
from mmctl.strategies.base import Quote
from mmctl.strategies.params import StrategyParams

if TYPE_CHECKING:
    from mmctl.bots.bot import Bot

NOTED_BOOKS = 64  # mids noted for the risk monitor beyond which they are handed over at once


class BookReaction:
    """One bot's book-driven state: its hub subscription, band, stale test and remembered quotes."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.sub: BookSubscription | None = None  # the hub subscription the bot's book watcher holds
        self.stale: StaleTest | None = None  # which orders a new book makes stale (None: no opinion)
        self._noted: list[tuple[Decimal, float]] = []  # mids of woken books not yet seen by the monitor
        self._band_due = False  # a `register_band` is scheduled
        self._band_for: tuple[BookTop, list[Quote]] | None = None  # the book and quotes of that tick
        self._band_rejects = 0  # the quoter's rejections when that tick began
        self._band_version = 0  # the strategy signals' version the band was computed for
        self._desired: list[Quote] = []
        self._desired_for: tuple[object, ...] = ()
        self._timed: tuple[StrategyParams, bool] | None = None  # params, and whether quotes read book time

    def reset(self) -> None:
        """A fresh start: forget the noted mids and the stale test (the risk monitor was reset)."""
        self._noted.clear()
        self.stale = None

    # --- hub callbacks ----------------------------------------------------------------------------------

    def on_book(self, top: BookTop, mid: Decimal, arrived: float) -> None:
        """A book that may change the quotes: noted for the risk monitor, the loop wakes."""
        signals = self.bot.signals
        if signals is not None:
            signals.on_book(top)
        noted = self._noted
        noted.append((mid, arrived))
        if len(noted) > NOTED_BOOKS:  # the loop is not taking them (a back-off): hand them over now
            self.take_books()
        self.bot.wake()

    def on_quiet(self, top: BookTop, mid: Decimal, arrived: float) -> None:
        """A book inside the band: the risk monitor sees it; the loop wakes only if the band no longer
        holds (the bot stopped quoting, a placement of the band's tick was rejected) or the book trips
        the circuit breaker, or the strategy's signals changed (its band was for the old ones)."""
        bot = self.bot
        if self._noted:
            self.take_books()
        bot.risk.on_book(mid, arrived)
        signals = bot.signals
        moved = False
        if signals is not None:
            signals.on_book(top)
            moved = signals.version != self._band_version
        if (
            moved
            or not bot.quoting
            or bot.quoter.stats.rejected != self._band_rejects
            or bot.risk.move_tripped()
        ):
            if self.sub is not None:
                self.sub.set_band(None)
            bot.wake()

    def take_books(self) -> None:
        """Hand the noted mids to the risk monitor, oldest first."""
        noted, self._noted = self._noted, []
        on_book = self.bot.risk.on_book
        for mid, arrived in noted:
            on_book(mid, arrived)

    # --- the tick -----------------------------------------------------------------------------------------

    async def cancel_stale(self) -> int:
        """Act on the live orders the latest book has made stale (ones the tick's diff would replace
        anyway, `mmctl.bots.stale`): cancel those whose level is no longer quoted, amend the others to
        their level's new quote (cancel them all when the bot is not quoting or the woken books trip the
        circuit breaker); how many orders were cancelled or amended. Nothing while the quoter must first
        resync or resolve an ambiguous submit or amend. With no stale order, the bot yields once before
        returning: its first request needs the quote math, so the bots woken with it send theirs first.
        (A fill wakes its bot before the book that caused it reaches the others: without the yield such
        bots ran their quote math ahead of every stale request of that book.)"""
        book = self.bot.exchange.book(self.bot.definition.symbol)
        stale = self._stale(book)
        if not stale:
            await asyncio.sleep(0)  # the quote math waits behind the first requests of bots woken with us
            return 0
        quoter = self.bot.quoter
        plan = self._stale_plan(book, stale)
        if plan is None:
            return await quoter.cancel(stale)
        cancels, amends = plan
        done = await quoter.cancel(cancels) if cancels else 0
        if amends:  # orders at the venue's amend limit are cancelled there; the tick's diff places them
            amended, renew = await quoter.amend(amends)
            done += amended + len(renew)
        return done

    def _stale(self, book: BookTop | None) -> list[str]:
        test, bot = self.stale, self.bot
        quoter = bot.quoter
        if test is None or book is None or quoter.needs_resync or quoter.submits.pending:
            return []
        return test.stale(book, quoter.live.values(), bot.params, bot.inventory.qty)

    def _stale_plan(self, book: BookTop | None, stale: list[str]) -> tuple[list[str], list[Amendment]] | None:
        """The diff's cancels and amends for the `stale` orders under `book` (None: cancel them all)."""
        bot = self.bot
        rules = bot.rules
        if book is None or rules is None or not bot.quoting:
            return None
        self.take_books()  # the circuit breaker sees the woken books before anything is re-quoted
        risk = bot.risk
        if risk.move_tripped() or (risk.watches_loss and risk.loss_tripped(bot.inventory.net(book.mid))):
            return None  # the tick stops or pauses the bot: cancel, never amend toward the market
        return stale_plan(self.quotes_for(book, rules), bot.quoter.live, stale, bot.params, now_ms(bot.clock))

    def desired_quotes(self) -> list[Quote]:
        """The strategy's quotes for the latest book; schedules the band for them."""
        bot = self.bot
        book = bot.exchange.book(bot.definition.symbol)
        rules = bot.rules
        if book is None or rules is None:
            return []
        desired = self.quotes_for(book, rules)
        self.schedule_band(book, desired)
        return desired

    def quotes_for(self, book: BookTop, rules: MarketRules) -> list[Quote]:
        """The strategy's quotes for `book`, remembered while their inputs stay the same."""
        bot = self.bot
        params = bot.params
        signals = bot.signals
        version = 0 if signals is None else signals.version
        timed = self._timed
        if timed is None or timed[0] is not params:
            timed = self._timed = (params, bot.strategy.needs(params).book_time)
        at = book.ts_ms if timed[1] else 0  # a session horizon: the same prices later quote otherwise
        key = (book.bid, book.ask, book.bid_qty, book.ask_qty, bot.inventory.qty, params, version, at)
        if key != self._desired_for:  # same inputs (signals included), same quotes
            self._desired = bot.strategy.quotes(params, book, bot.inventory.qty, rules, signals)
            self._desired_for = key
        return self._desired

    # --- the band ---------------------------------------------------------------------------------------

    def schedule_band(self, book: BookTop, desired: list[Quote]) -> None:
        """Register this tick's band at the next loop turn, once every bot woken by the same book has
        sent its first request (the band is no part of a reaction)."""
        if self.sub is None:
            return
        self._band_for = (book, desired)
        if not self._band_due:
            self._band_due = True
            self._band_rejects = self.bot.quoter.stats.rejected
            signals = self.bot.signals
            self._band_version = 0 if signals is None else signals.version
            asyncio.get_running_loop().call_soon(self.register_band)

    def register_band(self) -> None:
        """The books under which the diff stays empty once the tick's plan is carried out (a rejected
        placement, a fill or an error wakes the bot by its own path), and the stale test for later books."""
        self._band_due = False
        bot = self.bot
        sub, rules, tick = self.sub, bot.rules, self._band_for
        if sub is None:
            return
        band, until, self.stale = None, 0.0, None
        if bot.quoting and tick is not None and rules is not None and not bot.quoter.needs_resync:
            book, desired = tick
            now = now_ms(bot.clock)
            band, until, self.stale = band_after_tick(
                bot.strategy,
                bot.params,
                book,
                rules,
                resting_plan(desired, list(bot.quoter.live.values()), bot.params, now),
                bot.inventory,
                bot.risk,
                now_ms=now,
                now_s=bot.clock.monotonic(),
                signals=bot.signals,
            )
        sub.set_band(band, until)


def stale_plan(
    desired: list[Quote], live: dict[str, LiveOrder], stale: list[str], params: StrategyParams, now: int
) -> tuple[list[str], list[Amendment]]:
    """The cancels and amends `reconcile(desired, live, amend=True)` plans for the `stale` orders, in its
    order (the live orders'). A stale order is never kept (its price left the tolerance), so with one
    live order per (side, level) the diff amends it to its level's quote when the level is still quoted
    and the amend is possible (`amendable`), and cancels it otherwise: two dictionary lookups instead of
    the whole diff. Several orders at one level (rare: the diff keeps the first keepable one) take the
    diff itself."""
    keys = {(o.side, o.level) for o in live.values()}
    if len(keys) != len(live):
        plan = resting_plan(desired, list(live.values()), params, now, amend=True)
        ids = set(stale)
        return (
            [o.client_order_id for o in plan.cancels if o.client_order_id in ids],
            [a for a in plan.amends if a.order.client_order_id in ids],
        )
    wanted = {(q.side, q.level): q for q in desired}
    cancels: list[str] = []
    amends: list[Amendment] = []
    for cid in stale:
        order = live[cid]
        quote = wanted.get((order.side, order.level))
        if quote is not None and amendable(order, quote):
            amends.append(Amendment(order, quote))
        else:
            cancels.append(cid)
    return cancels, amends
