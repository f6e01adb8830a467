"""The seeded synthetic market: deterministic, on the tick grid, with taker flow thinning with distance."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal

from mmctl.exchange.paper import PaperVenue, SyntheticFeed, SyntheticParams
from mmctl.exchange.paper.feed import MarketEvent
from mmctl.model import BookTop, Fill, OrderRequest, OrderUpdate, Side, Trade

from .builders import BTC, MARKETS, START_MS


def feed(seed: int = 1, symbols: tuple[str, ...] = (), **params: float) -> SyntheticFeed:
    chosen = [MARKETS[s] for s in symbols] if symbols else list(MARKETS.values())
    return SyntheticFeed(chosen, SyntheticParams(seed=seed, **params), START_MS)  # type: ignore[arg-type]


def take(f: SyntheticFeed, n: int) -> list[MarketEvent]:
    return list(itertools.islice(f.events(), n))


def events_until(f: SyntheticFeed, seconds: float) -> list[MarketEvent]:
    end = START_MS + int(seconds * 1000)
    return list(itertools.takewhile(lambda e: e.ts_ms <= end, f.events()))


def test_same_seed_same_events_and_other_seed_other_events() -> None:
    """Two feeds with one seed produce identical events; another seed differs."""
    assert take(feed(seed=7), 3000) == take(feed(seed=7), 3000)
    assert take(feed(seed=7), 3000) != take(feed(seed=8), 3000)


def test_events_are_time_ordered_on_the_grid_with_a_one_or_two_tick_spread() -> None:
    """Books are on tick and step, 1–2 ticks wide, every book interval per symbol, all in time order."""
    events = events_until(feed(book_interval_ms=100), 60)
    assert [e.ts_ms for e in events] == sorted(e.ts_ms for e in events)
    books = [e for e in events if isinstance(e, BookTop)]
    assert len(books) == len(MARKETS) * 601
    for top in books:
        rules = MARKETS[top.symbol]
        assert top.bid % rules.tick_size == 0
        assert top.bid_qty % rules.step_size == 0
        assert top.bid_qty > 0
        assert (top.ask - top.bid) / rules.tick_size in (1, 2)


def test_initial_mids_are_near_real_prices() -> None:
    """The first BTC book is near 90,000 and the first DOGE book near 0.15."""
    firsts = {e.symbol: e for e in take(feed(), 12) if isinstance(e, BookTop)}
    assert Decimal(80_000) < firsts[BTC].bid < Decimal(100_000)
    assert Decimal("0.1") < firsts["DOGE/USDT:USDT"].bid < Decimal("0.2")


def test_trade_rate_matches_the_intensity_and_thins_with_distance() -> None:
    """About A trades per second arrive, and the share reaching δ bp falls like e^(−kδ)."""
    a, k = 5.0, 0.5
    events = events_until(feed(symbols=(BTC,), trade_intensity=a, trade_decay=k, volatility=0.0), 600)
    mid = float(next(e for e in events if isinstance(e, BookTop)).mid)
    trades = [e for e in events if isinstance(e, Trade)]
    assert abs(len(trades) / 600 - a) < 0.3
    reach = [abs(float(t.price) - mid) / mid * 10_000 for t in trades]
    for delta in (2.0, 4.0, 6.0):
        share = sum(r >= delta for r in reach) / len(reach)
        assert abs(share - math.exp(-k * delta)) < 0.05
    assert {t.side for t in trades} == {Side.BUY, Side.SELL}


def test_jumps_widen_the_largest_moves() -> None:
    """With frequent jumps the largest step-to-step mid move is far larger than without."""

    def largest_move(jumps_per_hour: float) -> float:
        params = feed(symbols=(BTC,), jump_rate_per_hour=jumps_per_hour, jump_bps=50.0)
        books = [e for e in events_until(params, 600) if isinstance(e, BookTop)]
        return max(abs(float(b.mid / a.mid) - 1) for a, b in itertools.pairwise(books))

    assert largest_move(600.0) > 5 * largest_move(0.0)


def run_quotes(seed: int, seconds: float = 300) -> list[Fill]:
    """Keep a bid and an ask 2 bp from the mid on BTC, re-quoting after fills; return the fills."""
    venue = PaperVenue({BTC: MARKETS[BTC]}, balance=Decimal(1_000_000), start_ms=START_MS)
    fills: list[Fill] = []

    def on_update(update: OrderUpdate) -> None:
        if update.fill is not None:
            fills.append(update.fill)

    venue.add_listener(on_update)
    rules = MARKETS[BTC]
    for event in events_until(feed(seed=seed, symbols=(BTC,)), seconds):
        venue.on_event(event)
        top = venue.state(BTC).top
        if top is None or venue.open_orders(BTC):
            continue
        offset = (top.mid * Decimal("0.0002") / rules.tick_size).to_integral_value() * rules.tick_size
        qty = Decimal("0.01")
        venue.place(OrderRequest(BTC, Side.BUY, qty, top.bid - offset, "", post_only=True))
        venue.place(OrderRequest(BTC, Side.SELL, qty, top.ask + offset, "", post_only=True))
    return fills


def test_resting_quotes_fill_partially_and_fully_and_deterministically() -> None:
    """Quotes near the mid get partial and full maker fills, identical for the same seed."""
    fills = run_quotes(seed=3)
    assert fills == run_quotes(seed=3)
    assert fills != run_quotes(seed=4)
    assert all(f.maker for f in fills)
    assert any(f.qty < Decimal("0.01") for f in fills)
    assert any(f.qty == Decimal("0.01") for f in fills)
