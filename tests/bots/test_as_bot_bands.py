"""Book bands beyond market_maker's daemon bot (mmctl.bots.bands): an avellaneda_stoikov bot sleeps through
books that cannot change its quotes and wakes for those that do; with estimated signals it registers a
band but no stale test (its ladder also moves with the signals' version); the backtester's band is the
daemon's, without the stale test.
"""

from __future__ import annotations

from decimal import Decimal

from tests.bots.test_book_bands import QUIET, World, scenario, started, stopped, ticks

from mmctl.bots.bands import band_after_tick, resting_plan
from mmctl.bots.bot import Bot
from mmctl.bots.definition import BotDefinition
from mmctl.bots.inventory import Inventory
from mmctl.bots.orders import LiveOrder, reconcile
from mmctl.bots.risk import BotRiskMonitor
from mmctl.clock import now_ms
from mmctl.model import BookTop
from mmctl.strategies.avellaneda_stoikov import (
    AvellanedaStoikov,
    AvellanedaStoikovParams,
    AvellanedaStoikovSignals,
)
from mmctl.strategies.market_maker import MarketMaker, MarketMakerParams
from mmctl.strategies.params import parse_params

D = Decimal


def as_bot(w: World, name: str, **params: str) -> Bot:
    values = {"levels": "2", "sigma": "1", "k": "0.5", "min_spread_bps": "40", **params}
    p = parse_params(AvellanedaStoikovParams, values)
    definition = BotDefinition(name, "paper", "BTC/USDT:USDT", "avellaneda_stoikov", p)
    return Bot(definition, w.paper, w.clock, w.events, w.options, w.shared)


def stale_quotes(w: World, bot: Bot, top: BookTop) -> bool:
    """True when the bot's live orders no longer serve its quotes at `top` (the diff is not empty)."""
    assert bot.rules is not None
    desired = bot.strategy.quotes(bot.params, top, bot.inventory.qty, bot.rules, bot.signals)
    plan = reconcile(
        desired,
        list(bot.quoter.live.values()),
        tolerance_bps=bot.params.refresh_tolerance_bps,
        max_age_ms=bot.params.max_order_age_s * 1000,
        now_ms=now_ms(w.clock),
    )
    return not plan.empty


def test_an_avellaneda_stoikov_bot_sleeps_inside_its_band_and_wakes_beyond_it() -> None:
    """Moves of a few ticks wake no avellaneda_stoikov bot and change no order; a move beyond its
    refresh tolerance wakes it, and it re-quotes."""

    async def body(w: World) -> None:
        bot = as_bot(w, "as1")
        await started(w, bot)
        before, orders = ticks([bot]), w.orders(bot)
        start = w.mid2
        for step in (2, 4, -3, 6, 0):  # under 1 bps of a 50000 mid
            assert not stale_quotes(w, bot, w.book_at(start + step))
            w.publish(start + step)
            await w.run(0.3)
        assert ticks([bot]) == before
        assert w.orders(bot) == orders
        target = w.move_bps(12)
        assert stale_quotes(w, bot, w.book_at(target))
        w.publish(target)
        await w.run(0.5)
        assert ticks([bot])["as1"] > before["as1"]
        assert not stale_quotes(w, bot, w.book_at(target))
        assert bot.inventory.fills == 0
        await stopped(w, bot)

    scenario(body, QUIET)


def test_with_estimated_signals_the_band_comes_without_a_stale_test() -> None:
    """A strategy with signals gets the band of its current estimates but no stale test: the test sees
    the params and the position, not the signals' version that also moves the ladder."""
    strategy = AvellanedaStoikov()
    p = AvellanedaStoikovParams(k=D("0.5"), sigma_window_s=60, levels=2)
    rules = World(QUIET).paper.venue.markets["BTC/USDT:USDT"]
    signals = strategy.signals(p, rules)
    assert isinstance(signals, AvellanedaStoikovSignals)
    t, bid = 1_767_225_600_000, D("50000.0")
    book = BookTop(rules.symbol, bid, D(1), bid + rules.tick_size, D(1), t)
    while not signals.ready:
        bid += rules.tick_size * (1 if t % 3000 else -2)
        t += 500
        book = BookTop(rules.symbol, bid, D(1), bid + rules.tick_size, D(1), t)
        signals.on_book(book)
    desired = strategy.quotes(p, book, D(0), rules, signals)
    assert desired
    live = [LiveOrder(f"o{i}", q.side, q.level, q.price, q.qty, t, q.qty) for i, q in enumerate(desired)]
    band, until, stale = band_after_tick(
        strategy,
        p,
        book,
        rules,
        resting_plan(desired, live, p, t),
        Inventory(),
        BotRiskMonitor(p),
        now_ms=t,
        now_s=0,
        signals=signals,
    )
    assert band is not None
    assert band.mid2_lo < int((book.bid + book.ask) / rules.tick_size) < band.mid2_hi
    assert until > 0
    assert stale is None


def test_the_backtesters_band_is_the_daemons_without_its_stale_test() -> None:
    """`stale_test=False` (the backtester's call) gives the same band and deadline, and no stale test."""
    strategy = MarketMaker()
    p = parse_params(MarketMakerParams, {"levels": "3", "spread_bps": "20"})
    rules = World(QUIET).paper.venue.markets["BTC/USDT:USDT"]
    book = BookTop(rules.symbol, D("50000.0"), D(2), D("50000.1"), D(2), 0)
    desired = strategy.quotes(p, book, D(0), rules)
    live = [LiveOrder(f"o{i}", q.side, q.level, q.price, q.qty, 0, q.qty) for i, q in enumerate(desired)]
    plan = resting_plan(desired, live, p, 0)
    risk = BotRiskMonitor(p)
    daemon = band_after_tick(strategy, p, book, rules, plan, Inventory(), risk, now_ms=0, now_s=0.0)
    backtest = band_after_tick(
        strategy, p, book, rules, plan, Inventory(), risk, now_ms=0, now_s=0.0, stale_test=False
    )
    assert daemon[2] is not None
    assert daemon[:2] == backtest[:2]
    assert daemon[0] is not None
    assert backtest[2] is None


def test_a_bot_with_a_session_horizon_never_reuses_quotes_from_an_earlier_book_time() -> None:
    """The bot's remembered quotes are keyed by the book's time when its strategy's quotes read it (a
    session horizon): the same prices later in the session give that moment's quotes; without a horizon
    the remembered quotes are reused."""

    async def body(w: World) -> None:
        timed, still = as_bot(w, "as-h", horizon_s="60", sigma="5", gamma="0.5"), as_bot(w, "as-0")
        for bot in (timed, still):
            await started(w, bot)
        rules = timed.rules
        assert rules is not None
        t0 = 1_767_225_600_000  # a UTC midnight: 60 s sessions start on the minute
        early = BookTop(rules.symbol, D("49999.9"), D(1), D("50000.0"), D(1), t0 + 1_000)
        late = BookTop(rules.symbol, D("49999.9"), D(1), D("50000.0"), D(1), t0 + 58_000)
        first = timed.reaction.quotes_for(early, rules)
        second = timed.reaction.quotes_for(late, rules)
        fresh = timed.strategy.quotes(timed.params, late, timed.inventory.qty, rules, timed.signals)
        assert second == fresh
        assert [q.price for q in second] != [q.price for q in first]
        kept = still.reaction.quotes_for(early, rules)
        assert still.reaction.quotes_for(late, rules) is kept
        for bot in (timed, still):
            await stopped(w, bot)

    scenario(body, QUIET)
