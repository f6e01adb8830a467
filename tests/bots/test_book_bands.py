"""Which book updates wake a bot (mmctl.bots.bands): only those that invalidate its quotes, while every
other input (guards, rejections, order age, pauses) still wakes it. Several bots share one account's
market-data hub on the paper venue, driven book by book on a manual clock.

A bot's wake-ups are counted by its ticks (`quoter.stats.ticks`: every tick runs the diff once); the
heartbeat is set far away so that only the paths under test can wake a bot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal

from tests.support.settle import advance

from mmctl.bots.account import AccountShared
from mmctl.bots.bot import Bot, BotOptions, BotState
from mmctl.bots.definition import BotDefinition
from mmctl.bots.events import EventLog
from mmctl.bots.orders import reconcile
from mmctl.clock import ManualClock, now_ms
from mmctl.config.schema import PaperAccount
from mmctl.errors import PostOnlyWouldCross
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.model import BookTop, OrderRequest, PlaceResult, Side, Trade
from mmctl.strategies.market_maker import MarketMakerParams
from mmctl.strategies.params import parse_params

SYMBOL = "BTC/USDT:USDT"
TICK = Decimal("0.10")
QUIET = BotOptions(heartbeat_s=3600.0, stop_timeout_s=2.0)  # no heartbeat wake-ups in these tests


class RejectingPaper(PaperExchange):
    """The paper exchange, refusing the next `reject_next` post-only placements as crossing."""

    reject_next = 0

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
        if not self.reject_next or not requests:
            return await super().place_orders(requests)
        self.reject_next -= 1
        first, rest = requests[0], list(requests[1:])
        refused = PlaceResult(first, error=PostOnlyWouldCross("post-only order would cross"))
        return [refused, *(await super().place_orders(rest) if rest else [])]


class World:
    """A paper venue with no feed, a manual clock, and bots sharing one account (one hub)."""

    def __init__(self, options: BotOptions = QUIET) -> None:
        self.clock = ManualClock()
        base = PaperExchange.from_settings("paper", PaperAccount(symbols=("BTCUSDT",)), self.clock)
        self.paper = RejectingPaper("paper", base.venue, self.clock)
        self.events = EventLog(self.clock)
        self.shared = AccountShared(self.paper, self.clock)
        self.options = options
        self.mid2 = 1_000_001  # bid + ask in ticks: bid 50000.0, ask 50000.1

    def book_at(self, mid2: int) -> BookTop:
        bid = (mid2 - 1) // 2 * TICK
        return BookTop(SYMBOL, bid, Decimal(2), bid + TICK, Decimal(2), now_ms(self.clock))

    def publish(self, mid2: int | None = None) -> BookTop:
        self.mid2 = self.mid2 if mid2 is None else mid2
        top = self.book_at(self.mid2)
        self.paper.venue.on_book(top)
        return top

    def move_bps(self, bps: float) -> int:
        """Where the mid would be after moving `bps` (as bid + ask in ticks, odd: a one-tick book)."""
        target = round(self.mid2 * (1 + bps / 10_000))
        return target if target % 2 else target + 1

    def bot(self, name: str, **params: str) -> Bot:
        p = parse_params(MarketMakerParams, {"levels": "2", "spread_bps": "60", **params})
        definition = BotDefinition(name, "paper", SYMBOL, "market_maker", p)
        return Bot(definition, self.paper, self.clock, self.events, self.options, self.shared)

    async def run(self, seconds: float) -> None:
        """Let simulated time pass in small steps, with the event loop running in between."""
        await advance(self.clock, seconds)

    def orders(self, bot: Bot) -> list[str]:
        return sorted(
            o.client_order_id
            for o in self.paper.venue.open_orders(SYMBOL)
            if o.client_order_id.startswith(f"mm.{bot.name}.")
        )


def scenario(body: Callable[[World], Awaitable[None]], options: BotOptions = QUIET) -> None:
    async def main() -> None:
        world = World(options)
        await world.paper.load_markets()
        world.publish()
        try:
            await body(world)
        finally:
            await world.paper.close()

    asyncio.run(main())


def state(bot: Bot) -> BotState:
    """The bot's state (read through a call: it changes while the test awaits)."""
    return bot.state


def hold(bot: Bot) -> str | None:
    return bot.hold


def ticks(bots: Sequence[Bot]) -> dict[str, int]:
    return {bot.name: bot.quoter.stats.ticks for bot in bots}


def invalidated(world: World, bots: Sequence[Bot], top: BookTop) -> set[str]:
    """The bots whose live orders would not all serve their desired quotes at book `top`."""
    out = set()
    for bot in bots:
        assert bot.rules is not None
        desired = bot.strategy.quotes(bot.params, top, bot.inventory.qty, bot.rules)
        plan = reconcile(
            desired,
            list(bot.quoter.live.values()),
            tolerance_bps=bot.params.refresh_tolerance_bps,
            max_age_ms=bot.params.max_order_age_s * 1000,
            now_ms=now_ms(world.clock),
        )
        if not plan.empty:
            out.add(bot.name)
    return out


async def stopped(world: World, *bots: Bot) -> None:
    """Stop the bots, letting simulated time pass while they confirm."""
    stopping = asyncio.ensure_future(asyncio.gather(*(bot.stop() for bot in bots)))
    while not stopping.done():
        await world.run(0.1)
    await stopping


async def started(world: World, *bots: Bot) -> None:
    for bot in bots:
        await bot.start()
    await world.run(0.5)
    assert all(world.orders(bot) for bot in bots)


def test_a_move_within_the_refresh_tolerance_wakes_no_bot() -> None:
    """Books moving less than every bot's tolerance wake none of them and change no order, while each
    bot's risk monitor still sees every mid."""

    async def body(w: World) -> None:
        bots = [w.bot("a", spread_bps="60"), w.bot("b", spread_bps="80"), w.bot("c", spread_bps="100")]
        await started(w, *bots)
        before, orders = ticks(bots), {bot.name: w.orders(bot) for bot in bots}
        start = w.mid2
        for step in (2, 4, -3, 6, 0):  # a few ticks: under 1 bps of a 50000 mid
            assert not invalidated(w, bots, w.book_at(start + step))
            w.publish(start + step)
            await w.run(0.3)
        extremes = (w.book_at(start + 6).mid, w.book_at(start - 3).mid)
        assert all(bot.risk.window.extremes() == extremes for bot in bots)  # every mid reached them
        assert ticks(bots) == before
        assert {bot.name: w.orders(bot) for bot in bots} == orders
        await stopped(w, *bots)

    scenario(body)


def test_a_move_beyond_the_tolerance_wakes_exactly_the_bots_whose_quotes_it_invalidates() -> None:
    """Each move wakes the bots whose live orders no longer serve their quotes (tight tolerances first)
    and no other; each woken bot re-quotes and is left alone by the next small move."""

    async def body(w: World) -> None:
        bots = [
            w.bot("tight", refresh_tolerance_bps="2", spread_bps="100"),
            w.bot("mid", refresh_tolerance_bps="10", spread_bps="150"),
            w.bot("loose", refresh_tolerance_bps="40", spread_bps="200"),
        ]
        await started(w, *bots)
        woken_once: set[str] = set()
        for bps in (5, 12, -30, 1, 60, -8):  # no move reaches a quote: nothing fills
            target = w.book_at(w.move_bps(bps))
            expected = invalidated(w, bots, target)
            before = ticks(bots)
            w.publish(w.move_bps(bps))
            await w.run(0.5)
            after = ticks(bots)
            woken = {name for name in after if after[name] != before[name]}
            assert woken == expected, (bps, woken, expected)
            assert not invalidated(w, bots, target)  # the woken ones re-quoted
            woken_once |= woken
        assert woken_once == {"tight", "mid", "loose"}
        assert all(bot.inventory.fills == 0 for bot in bots)
        await stopped(w, *bots)

    scenario(body)


def test_a_paused_bot_wakes_on_every_book_and_resumes_when_its_cooldown_ends() -> None:
    """A bot that is not quoting is woken by books inside its old band, so an automatic resume happens
    at the first book after the cooldown, not at the next heartbeat."""

    async def body(w: World) -> None:
        bot = w.bot("p")
        await started(w, bot)
        pausing = asyncio.ensure_future(bot.pause("test", until=w.clock.monotonic() + 1.0))
        while not pausing.done():
            await w.run(0.05)
        await pausing
        assert state(bot) is BotState.PAUSED
        await w.run(1.2)
        assert state(bot) is BotState.PAUSED  # no book yet, no heartbeat
        w.publish(w.mid2 + 2)  # inside the band of its last quoting tick
        await w.run(0.3)
        assert state(bot) is BotState.RUNNING
        assert w.orders(bot)
        await stopped(w, bot)

    scenario(body)


def test_a_book_inside_the_band_that_trips_the_circuit_breaker_wakes_the_bot() -> None:
    """With a breaker tighter than the tolerance, a move inside the quote band still pauses the bot."""

    async def body(w: World) -> None:
        bot = w.bot("cb", refresh_tolerance_bps="50", max_move_bps="3")
        await started(w, bot)
        target = w.move_bps(6)
        assert not invalidated(w, [bot], w.book_at(target))
        w.publish(target)
        await w.run(0.3)
        assert state(bot) is BotState.PAUSED
        assert bot.pause_reason is not None
        assert "max_move_bps" in bot.pause_reason
        assert not w.orders(bot)
        await stopped(w, bot)

    scenario(body)


def test_quiet_books_keep_the_stale_data_guard_fed() -> None:
    """Books inside the band reach the stale-data guard: no hold while they arrive, a hold once they
    stop, and the first book after that (inside the old band) brings the quotes back at once."""

    async def body(w: World) -> None:
        bot = w.bot("s", stale_data_s="2")
        await started(w, bot)
        for i in range(8):  # 4 s of books inside the band, one every 0.5 s
            w.publish(w.mid2 + (2 if i % 2 else -2))
            await w.run(0.5)
            assert hold(bot) is None
        await w.run(3.0)  # silence: the 1-s heartbeat finds the data stale
        assert hold(bot) is not None
        assert not w.orders(bot)
        w.publish(w.mid2 + 2)
        await w.run(0.1)  # well before the next heartbeat
        assert hold(bot) is None
        assert w.orders(bot)
        await stopped(w, bot)

    scenario(body, BotOptions(heartbeat_s=1.0, stop_timeout_s=2.0))


def test_a_move_inside_the_quote_band_that_trips_the_loss_guard_wakes_the_bot() -> None:
    """Holding a position with max_loss on, a move that makes the loss trip wakes the bot even though its
    quotes stay within tolerance, and the guard stops it."""

    async def body(w: World) -> None:
        bot = w.bot("l", levels="1", spread_bps="200", refresh_tolerance_bps="500", max_loss="0.02")
        await started(w, bot)
        bid = next(o.price for o in w.paper.venue.open_orders(SYMBOL) if o.side is Side.BUY)
        assert bid is not None
        w.paper.venue.on_trade(Trade(SYMBOL, bid, Decimal(10), Side.SELL, now_ms(w.clock)))
        await w.run(0.5)
        assert bot.inventory.qty > 0
        assert state(bot) is BotState.RUNNING
        target = w.move_bps(-203)  # the mid falls just below the entry: a loss of a few cents
        assert not invalidated(w, [bot], w.book_at(target))
        w.publish(target)
        await w.run(0.5)
        assert bot.inventory.fills == 1  # nothing else filled: the book woke it
        assert state(bot) is BotState.STOPPED
        assert bot.last_error is not None
        assert "max_loss" in bot.last_error

    scenario(body)


def test_a_rejected_placement_is_retried_at_the_next_book() -> None:
    """A post-only rejection leaves a level empty; the next book, even one inside the band, wakes the bot
    and the level is placed again (a re-quote amends in place, so the rejected placement is a first one;
    a post-only amend the venue cancels is tests/bots/test_amend_quoting.py's)."""

    async def body(w: World) -> None:
        bot = w.bot("r")
        w.paper.reject_next = 1  # the first placement is refused
        await bot.start()
        await w.run(0.5)
        assert bot.quoter.stats.post_only_rejects == 1
        assert len(w.orders(bot)) == 3
        w.publish(w.mid2 + 2)
        await w.run(0.5)
        assert len(w.orders(bot)) == 4
        await stopped(w, bot)

    scenario(body)


def test_an_order_past_its_age_is_replaced_at_the_first_book_after_its_deadline() -> None:
    """The band lasts until the oldest order reaches max_order_age_s: a book inside it wakes no bot before
    that, and the first book after it gets the orders replaced."""

    async def body(w: World) -> None:
        bot = w.bot("age", max_order_age_s="3")
        await started(w, bot)
        placed, before = w.orders(bot), ticks([bot])
        w.publish(w.mid2 + 2)
        await w.run(1.0)
        assert ticks([bot]) == before
        await w.run(2.0)  # past the age, no book: nothing wakes it (no heartbeat here)
        assert w.orders(bot) == placed
        w.publish(w.mid2 - 2)
        await w.run(0.5)
        assert w.orders(bot)
        assert not set(w.orders(bot)) & set(placed)
        await stopped(w, bot)

    scenario(body)
