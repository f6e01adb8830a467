"""The avellaneda_stoikov strategy reuses the ladders of its last quotes for the bands asked right after:
whatever the order of calls, quotes and bands equal a fresh computation (equal params and rules objects
that no cache has seen), for one bot and for two bots whose calls interleave, sharing a params object,
equal params objects, or neither.

Books revisit a few prices with changing sizes and times, positions and published estimates move between
and within ticks (a fill or a trade between the quotes and the bands), so every input of the reuse is
varied on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.markets import x_market

from mmctl.bots.orders import tolerance_window
from mmctl.model import BookTop, MarketRules
from mmctl.strategies.avellaneda_stoikov import (
    AvellanedaStoikov,
    AvellanedaStoikovParams,
    AvellanedaStoikovSignals,
)
from mmctl.strategies.base import PriceWindows, Quote, QuoteBands, Signals
from mmctl.strategies.ticks import Grid

D = Decimal
T0 = 1_767_225_600_000
STRATEGY = AvellanedaStoikov()

Shown = list[tuple[str, int, str, str, int | None]]
Banded = tuple[object, object, dict[object, object]] | None


def shown(qs: list[Quote]) -> Shown:
    """Quotes as the venue would read them (exponents included), with their ticks."""
    return [(q.side.value, q.level, str(q.price), str(q.qty), q.ticks) for q in qs]


def banded(bands: QuoteBands | None) -> Banded:
    return None if bands is None else (bands.band, bands.sizing, dict(bands.levels))


@st.composite
def markets(draw: st.DrawFn) -> MarketRules:
    step = draw(st.sampled_from(["0.001", "0.1", "1"]))
    return x_market(
        draw(st.sampled_from(["0.1", "0.01", "1", "0.0001"])),
        step,
        draw(st.sampled_from(["0", "5", "100"])),
        str(D(step) * draw(st.integers(1, 3))),
    )


@st.composite
def params(draw: st.DrawFn) -> AvellanedaStoikovParams:
    low = draw(st.decimals(min_value=D("0.1"), max_value=20, places=1))
    estimated = draw(st.booleans())  # σ and k from the signals, else from the params
    return AvellanedaStoikovParams(
        gamma=draw(st.decimals(min_value=D("0.001"), max_value=2, places=3)),
        sigma=D(0) if estimated else draw(st.decimals(min_value=D("0.01"), max_value=5, places=2)),
        k=D(0) if estimated else draw(st.decimals(min_value=D("0.01"), max_value=5, places=2)),
        horizon_s=draw(st.sampled_from([0, 0, 0, 60])),
        min_spread_bps=low,
        max_spread_bps=low + draw(st.decimals(min_value=0, max_value=200, places=1)),
        levels=draw(st.integers(1, 4)),
        level_step_bps=draw(st.decimals(min_value=0, max_value=20, places=1)),
        order_size=draw(st.sampled_from([D(0), D("0.003"), D(2)])),
        max_position=D(0),
        reference=draw(st.sampled_from(["mid", "microprice"])),
        refresh_tolerance_bps=draw(st.decimals(min_value=0, max_value=20, places=1)),
    )


@dataclass
class Bot:
    """One bot's inputs: its params and signals objects, and its latest book and position."""

    params: AvellanedaStoikovParams
    signals: Signals | None
    book: BookTop
    position: Decimal


@dataclass(frozen=True)
class Move:
    """What changes for one bot before a tick (and, optionally, between its quotes and its bands)."""

    bid: int  # ticks above the scenario's base price
    spread: int
    bid_qty: int
    ask_qty: int
    dt_ms: int
    position: int  # steps
    estimates: tuple[float | None, float | None] | None  # published (σ, k); None: unchanged
    between: str  # what changes between the quotes and the bands (`between`)


moves = st.builds(
    Move,
    bid=st.integers(0, 4),
    spread=st.integers(1, 3),
    bid_qty=st.integers(0, 3),
    ask_qty=st.integers(0, 3),
    dt_ms=st.sampled_from([0, 0, 100, 30_000]),
    position=st.sampled_from([-40, -3, 0, 0, 1, 5, 40]),
    estimates=st.one_of(
        st.none(),
        st.tuples(
            st.sampled_from([None, 0.05, 0.3, 0.8, 1.3, 20.0]),
            st.sampled_from([None, 0.01, 0.1, 0.5, 2.0, 900.0]),
        ),
    ),
    between=st.sampled_from(
        [
            "none",
            "same book",
            "equal book",
            "bid",
            "ask",
            "bid_qty",
            "ask_qty",
            "time",
            "position",
            "sigma",
            "k",
        ]
    ),
)
published = st.tuples(st.sampled_from([0.05, 0.3, 0.8, 1.3, 20.0]), st.sampled_from([0.01, 0.1, 0.5, 2.0]))


def publish(signals: Signals | None, estimates: tuple[float | None, float | None] | None) -> None:
    """Set the published estimates of the bot's signals (its public state) to `estimates`."""
    if isinstance(signals, AvellanedaStoikovSignals) and estimates is not None:
        signals.sigma_bps, signals.k = estimates


def fresh(bot: Bot, rules: MarketRules) -> tuple[AvellanedaStoikovParams, MarketRules]:
    """Params and rules equal to the bot's, as new objects: no cache has seen them."""
    return replace(bot.params), replace(rules)


def windows_for(qs: list[Quote], bot: Bot, rules: MarketRules, shift: int) -> PriceWindows:
    """The windows of live orders resting `shift` ticks (or 0 when that leaves the tolerance) off `qs`."""
    grid, out = Grid(rules.tick_size), {}
    for q in qs:
        window = tolerance_window(q.price + shift * rules.tick_size, grid, bot.params.refresh_tolerance_bps)
        if window is None or q.ticks is None or not window[0] <= q.ticks <= window[1]:
            window = tolerance_window(q.price, grid, bot.params.refresh_tolerance_bps)
        assert window is not None
        out[(q.side, q.level)] = window
    return out


def quote(bot: Bot, rules: MarketRules) -> list[Quote]:
    """The bot's quotes, checked against a fresh computation."""
    got = STRATEGY.quotes(bot.params, bot.book, bot.position, rules, bot.signals)
    p, r = fresh(bot, rules)
    assert shown(got) == shown(STRATEGY.quotes(p, bot.book, bot.position, r, bot.signals))
    return got


def band(bot: Bot, rules: MarketRules, windows: PriceWindows) -> None:
    """The bot's bands, checked against a fresh computation (the fresh quotes first, as a bot asks)."""
    got = STRATEGY.quote_bands(bot.params, bot.book, bot.position, rules, windows, bot.signals)
    p, r = fresh(bot, rules)
    alone = STRATEGY.quote_bands(p, bot.book, bot.position, r, windows, bot.signals)
    p, r = fresh(bot, rules)
    STRATEGY.quotes(p, bot.book, bot.position, r, bot.signals)
    after_quotes = STRATEGY.quote_bands(p, bot.book, bot.position, r, windows, bot.signals)
    assert banded(got) == banded(alone) == banded(after_quotes)


def apply(bot: Bot, move: Move, rules: MarketRules, base: int) -> None:
    tick, step = rules.tick_size, rules.step_size
    bid = base + move.bid
    bot.book = BookTop(
        rules.symbol,
        bid * tick,
        D(move.bid_qty),
        (bid + move.spread) * tick,
        D(move.ask_qty),
        bot.book.ts_ms + move.dt_ms,
    )
    bot.position = move.position * step
    publish(bot.signals, move.estimates)


def between(bot: Bot, move: Move, rules: MarketRules) -> None:
    """What may happen between a bot's quotes and its bands: a new book (the same prices and sizes,
    or one of them moved), a fill, newly published estimates."""
    book, tick = bot.book, rules.tick_size
    if move.between == "equal book":
        bot.book = replace(book)
    elif move.between == "bid" and book.bid > tick:
        bot.book = replace(book, bid=book.bid - tick)
    elif move.between == "ask":
        bot.book = replace(book, ask=book.ask + tick)
    elif move.between == "bid_qty":
        bot.book = replace(book, bid_qty=book.bid_qty + 1)
    elif move.between == "ask_qty":
        bot.book = replace(book, ask_qty=book.ask_qty + 1)
    elif move.between == "time":
        bot.book = replace(book, ts_ms=book.ts_ms + 1000)
    elif move.between == "position":
        bot.position += rules.step_size
    elif move.between == "sigma" and isinstance(bot.signals, AvellanedaStoikovSignals):
        sigma = bot.signals.sigma_bps
        publish(bot.signals, (None if sigma is None else sigma * 1.5, bot.signals.k))
    elif move.between == "k" and isinstance(bot.signals, AvellanedaStoikovSignals):
        k = bot.signals.k
        publish(bot.signals, (bot.signals.sigma_bps, None if k is None else k * 0.5))


@st.composite
def fleets(draw: st.DrawFn) -> tuple[MarketRules, list[Bot], int]:
    rules = draw(markets())
    first = draw(params())
    sharing = draw(st.sampled_from(["one object", "equal objects", "different"]))
    if sharing == "one object":
        second = first
    elif sharing == "equal objects":
        second = replace(first)
    else:
        second = draw(params())
    base = draw(st.sampled_from([1, 7, 10**4, 10**7]))
    book = BookTop(rules.symbol, base * rules.tick_size, D(1), (base + 1) * rules.tick_size, D(1), T0)
    bots = [Bot(p, STRATEGY.signals(p, rules), book, D(0)) for p in (first, second)]
    for bot in bots:
        publish(bot.signals, draw(published))
    return rules, bots, base


@settings(max_examples=300, deadline=None)
@given(fleets(), st.lists(st.tuples(moves, moves, st.integers(-2, 2)), min_size=1, max_size=12))
def test_quotes_and_bands_equal_a_fresh_computation_for_interleaved_bots(
    fleet: tuple[MarketRules, list[Bot], int], ticks: list[tuple[Move, Move, int]]
) -> None:
    """Two bots quote, then ask for their bands (as a daemon's loop turn does), their inputs changing
    between ticks and between the two calls: every answer equals that of params and rules no cache has
    seen, whether the bots share a params object or not."""
    rules, bots, base = fleet
    for first, second, shift in ticks:
        for bot, move in zip(bots, (first, second), strict=True):
            apply(bot, move, rules, base)
        quoted = [quote(bot, rules) for bot in bots]
        for bot, move in zip(bots, (first, second), strict=True):
            between(bot, move, rules)
        for bot, qs in zip(bots, quoted, strict=True):
            band(bot, rules, windows_for(qs, bot, rules, shift))
        for bot in bots:  # and each bot alone: quotes, then bands for the same inputs
            band(bot, rules, windows_for(quote(bot, rules), bot, rules, shift))


def test_quotes_with_a_horizon_follow_the_time_of_books_with_equal_prices() -> None:
    """With a finite horizon, a book with the last one's prices and sizes but a later time is quoted for
    its own time to the horizon, not with the ladders remembered from the earlier book."""
    rules = x_market("0.1", "0.001", "5")
    p = AvellanedaStoikovParams(sigma=D(2), k=D("0.5"), gamma=D("0.5"), horizon_s=3600, order_size=D(1))
    start = BookTop(rules.symbol, D("100000.0"), D(1), D("100000.1"), D(1), T0)
    late = replace(start, ts_ms=T0 + 3_599_000)  # a second before the session ends: τ = 1 s
    early = STRATEGY.quotes(p, start, D(5), rules)
    assert shown(STRATEGY.quotes(p, late, D(5), rules)) == shown(
        STRATEGY.quotes(replace(p), late, D(5), rules)
    )
    assert shown(STRATEGY.quotes(p, late, D(5), rules)) != shown(early)
    assert shown(STRATEGY.quotes(p, start, D(5), rules)) == shown(early)
