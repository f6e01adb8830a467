"""The avellaneda_stoikov strategy: its formulas, its quotes over random markets, its online estimators on
synthetic data with known σ and k, its parameters and its market checks."""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass, replace
from decimal import ROUND_UP, Context, Decimal, localcontext

import pytest

from mmctl.errors import ValidationError
from mmctl.exchange.paper.synthetic import SyntheticFeed, SyntheticParams
from mmctl.exchange.rules import floor_to, on_grid
from mmctl.model import BookTop, LeverageBracket, MarketRules, Side, Trade
from mmctl.strategies.avellaneda_stoikov import (
    AvellanedaStoikov,
    AvellanedaStoikovParams,
    AvellanedaStoikovSignals,
    check_against_market,
    ladder_params,
    optimal_spread_bps,
    quotes,
    reservation_offset_bps,
    time_to_horizon_s,
)
from mmctl.strategies.base import Quote, Strategy
from mmctl.strategies.market_maker_decimal import reference_price, sizing
from mmctl.strategies.params import parse_params

D = Decimal
ROUNDS = 300
TICKS = ["0.1", "0.01", "0.5", "1", "0.0001", "0.00001"]


def market(
    tick: str = "0.1",
    step: str = "0.001",
    min_qty: str = "0.001",
    min_notional: str = "100",
    max_qty: str = "1000",
    max_open_orders: int = 200,
    symbol: str = "BTC/USDT:USDT",
    max_leverage: int = 125,
) -> MarketRules:
    return MarketRules(
        symbol=symbol,
        id=symbol.split("/")[0] + "USDT",
        base=symbol.split("/")[0],
        quote="USDT",
        tick_size=D(tick),
        step_size=D(step),
        min_qty=D(min_qty),
        max_qty=D(max_qty),
        min_notional=D(min_notional),
        max_open_orders=max_open_orders,
        brackets=(LeverageBracket(max_leverage, D(50_000), D("0.004")),),
        maker_fee=D("0.0002"),
        taker_fee=D("0.0005"),
    )


BTC = market()
BTC_BOOK = BookTop("BTC/USDT:USDT", D("100000.0"), D("1"), D("100000.1"), D("1"), 0)
FIXED = AvellanedaStoikovParams(sigma=D(1), k=D("0.5"))  # no estimation: quotes from the params alone


@dataclass(frozen=True)
class Case:
    rules: MarketRules
    book: BookTop
    params: AvellanedaStoikovParams
    position: Decimal

    @property
    def ref(self) -> Decimal:
        return reference_price(ladder_params(self.params), self.book)

    @property
    def limit(self) -> Decimal:
        """The effective max_position, worked out from the params where they say it."""
        p = self.params
        if p.max_position > 0:
            return p.max_position
        if p.order_size > 0:
            return 10 * floor_to(p.order_size, self.rules.step_size)
        return sizing(ladder_params(p), self.rules, self.ref).max_position

    def quotes(self) -> list[Quote]:
        return quotes(self.params, self.book, self.position, self.rules)


def random_rules(rng: random.Random) -> MarketRules:
    step = rng.choice(["0.001", "0.01", "0.1", "1"])
    return market(
        tick=rng.choice(TICKS),
        step=step,
        min_qty=str(D(step) * rng.randint(1, 5)),
        min_notional=rng.choice(["5", "20", "100"]),
        max_qty=rng.choice(["1000", "100000", "10000000"]),
    )


def random_book(rng: random.Random, rules: MarketRules, ts_ms: int = 0) -> BookTop:
    bid = rng.randint(100, 10**7)
    ask = bid + rng.randint(1, 20)
    bid_qty, ask_qty = (D(rng.randint(0, 10**6)) / 1000 for _ in range(2))
    return BookTop(rules.symbol, bid * rules.tick_size, bid_qty, ask * rules.tick_size, ask_qty, ts_ms)


def random_params(rng: random.Random) -> AvellanedaStoikovParams:
    def bps(lo: int, hi: int) -> Decimal:
        return D(rng.randint(lo * 100, hi * 100)) / 100

    min_spread = bps(1, 20) / 10 + D("0.1")
    order_size = D(rng.randint(1, 10**6)) / 1000 if rng.random() < 0.7 else D(0)
    max_position = order_size * rng.randint(1, 30) if rng.random() < 0.6 else D(0)
    return AvellanedaStoikovParams(
        gamma=D(rng.randint(1, 10**5)) / 10**4,
        sigma=D(rng.randint(1, 5000)) / 1000,
        k=D(rng.randint(1, 5000)) / 1000,
        horizon_s=rng.choice([0, 0, 60, 3600, 86_400]),
        tau_s=D(rng.randint(1, 600)),
        min_spread_bps=min_spread,
        max_spread_bps=min_spread + bps(0, 300),
        levels=rng.randint(1, 5),
        level_step_bps=bps(0, 50),
        order_size=order_size,
        size_step=D(rng.randint(0, 100)) / 100,
        max_position=max_position,
        reference=rng.choice(["mid", "microprice"]),
    )


def random_cases(seed: int, rounds: int = ROUNDS) -> list[Case]:
    rng = random.Random(seed)
    cases = []
    for _ in range(rounds):
        rules = random_rules(rng)
        book = random_book(rng, rules, ts_ms=rng.randint(0, 2 * 10**12))
        params = random_params(rng)
        lots = max(params.order_size, rules.min_qty)
        position = floor_to(lots * D(rng.uniform(-40, 40)), rules.step_size)
        cases.append(Case(rules, book, params, position))
    return cases


def level0(qs: list[Quote], side: Side) -> Decimal | None:
    return next((q.price for q in qs if q.side is side and q.level == 0), None)


# --- the formulas ------------------------------------------------------------------------------------


def test_reservation_price_moves_against_inventory() -> None:
    """The reservation offset is below the reference when long, above when short, and falls as q grows."""
    rng = random.Random(1)
    for _ in range(1000):
        gamma, sigma, tau = rng.uniform(1e-4, 10), rng.uniform(0.01, 20), rng.uniform(0.01, 3600)
        q1, q2 = sorted(rng.uniform(-50, 50) for _ in range(2))
        assert reservation_offset_bps(q1, gamma, sigma, tau) >= reservation_offset_bps(q2, gamma, sigma, tau)
        q = abs(q1) + 0.01
        assert (
            reservation_offset_bps(q, gamma, sigma, tau) < 0 < reservation_offset_bps(-q, gamma, sigma, tau)
        )
        assert reservation_offset_bps(0.0, gamma, sigma, tau) == 0


def test_spread_widens_with_volatility() -> None:
    """The optimal spread grows strictly with σ whatever γ, τ and k are."""
    rng = random.Random(2)
    for _ in range(1000):
        gamma, tau, k = rng.uniform(1e-4, 10), rng.uniform(0.01, 3600), rng.uniform(0.01, 100)
        s1, s2 = sorted(rng.uniform(0.01, 20) for _ in range(2))
        if s2 > s1 * 1.001:
            assert optimal_spread_bps(gamma, s1, tau, k) < optimal_spread_bps(gamma, s2, tau, k)


def test_spread_widens_with_risk_aversion_in_the_inventory_risk_regime() -> None:
    """Where σ²·τ·k² ≥ 1 (the regime the module docstring names) the optimal spread grows with γ."""
    rng = random.Random(3)
    checked = 0
    for _ in range(3000):
        sigma, tau, k = rng.uniform(0.01, 20), rng.uniform(0.01, 3600), rng.uniform(0.01, 50)
        if sigma * sigma * tau * k * k < 1:
            continue
        g1, g2 = sorted(rng.uniform(1e-4, 50) for _ in range(2))
        assert optimal_spread_bps(g1, sigma, tau, k) <= optimal_spread_bps(g2, sigma, tau, k) * (1 + 1e-12)
        checked += 1
    assert checked > 500


def test_spread_may_narrow_with_risk_aversion_outside_that_regime() -> None:
    """With little price risk over τ (σ²·τ·k² ≪ 1) more risk aversion narrows the spread toward 2/k·…,
    which is why the γ test is restricted to the inventory-risk regime."""
    assert optimal_spread_bps(1.0, 0.1, 1.0, 0.5) < optimal_spread_bps(0.01, 0.1, 1.0, 0.5)
    assert optimal_spread_bps(1e-6, 0.1, 1.0, 0.5) == pytest.approx(2 / 0.5, rel=1e-4)  # the γ → 0 limit


def test_finite_horizon_restarts_at_epoch_aligned_sessions() -> None:
    """With a horizon, τ is the time left in the epoch-aligned session; with none it is tau_s."""
    day = 86_400_000
    assert time_to_horizon_s(86_400, 10.0, 5 * day) == 86_400
    assert time_to_horizon_s(86_400, 10.0, 5 * day - 1) == pytest.approx(0.001)
    assert time_to_horizon_s(86_400, 10.0, 5 * day + 3_600_000) == 82_800
    assert time_to_horizon_s(0, 10.0, 5 * day + 123) == 10.0


def test_skew_fades_toward_the_end_of_a_session() -> None:
    """A long bot with a horizon skews its quotes less just before the session ends than just after it
    restarts."""
    params = FIXED.replace(horizon_s=3600, gamma="0.001", order_size="0.01")
    early = BookTop(BTC.symbol, D("100000.0"), D(1), D("100000.1"), D(1), 3_600_000 * 7 + 1000)
    late = BookTop(BTC.symbol, D("100000.0"), D(1), D("100000.1"), D(1), 3_600_000 * 8 - 1000)
    q_early, q_late = quotes(params, early, D("0.05"), BTC), quotes(params, late, D("0.05"), BTC)
    bid_early, bid_late = level0(q_early, Side.BUY), level0(q_late, Side.BUY)
    assert bid_early is not None
    assert bid_late is not None
    assert bid_early < bid_late


# --- quotes over random markets ----------------------------------------------------------------------


def test_quotes_are_on_the_grids_and_never_cross() -> None:
    """Every quote is on the tick and step grids, above the venue minimums; bids are below the reference
    and the best ask, asks above the reference and the best bid, every bid below every ask, and level 0
    between min_spread_bps/2 and max_spread_bps (plus the tick's rounding) from the reference."""
    quoted = 0
    for case in random_cases(10):
        qs = case.quotes()
        rules, book, ref = case.rules, case.book, case.ref
        bids = [q for q in qs if q.side is Side.BUY]
        asks = [q for q in qs if q.side is Side.SELL]
        for q in qs:
            assert on_grid(q.price, rules.tick_size)
            assert on_grid(q.qty, rules.step_size)
            assert q.qty >= rules.min_qty
            assert q.price * q.qty >= rules.min_notional
        assert all(0 < q.price < ref and q.price < book.ask for q in bids)
        assert all(q.price > ref and q.price > book.bid for q in asks)
        if bids and asks:
            assert max(q.price for q in bids) < min(q.price for q in asks)
        for side_quotes in (bids, asks):
            prices = [q.price for q in sorted(side_quotes, key=lambda q: q.level)]
            assert len(set(prices)) == len(prices)  # levels never share a price
        with localcontext(Context(prec=100)):
            tick_bps = rules.tick_size / ref * 10_000
            for q in qs:
                if q.level == 0:
                    bps = abs(q.price - ref) / ref * 10_000
                    assert case.params.min_spread_bps / 2 <= bps <= case.params.max_spread_bps + tick_bps
        quoted += bool(qs)
    assert quoted > ROUNDS // 2


def test_quotes_never_exceed_the_position_limit() -> None:
    """Each side's total size never carries the position past max_position the other way."""
    for case in random_cases(11):
        qs = case.quotes()
        bought = sum((q.qty for q in qs if q.side is Side.BUY), D(0))
        sold = sum((q.qty for q in qs if q.side is Side.SELL), D(0))
        assert bought <= max(D(0), case.limit - case.position)
        assert sold <= max(D(0), case.limit + case.position)


def test_quotes_move_down_as_the_position_grows() -> None:
    """A longer position never raises the first bid or the first ask (the reservation price falls)."""
    rng = random.Random(12)
    moved = 0
    for case in random_cases(12):
        step = max(case.params.order_size, case.rules.min_qty)
        longer = case.position + floor_to(step * D(rng.uniform(0.5, 10)), case.rules.step_size)
        before, after = case.quotes(), quotes(case.params, case.book, longer, case.rules)
        for side in Side:
            old, new = level0(before, side), level0(after, side)
            if old is not None and new is not None:
                assert new <= old
                moved += new < old
    assert moved > 50


def level0_spread(case: Case, params: AvellanedaStoikovParams) -> Decimal | None:
    """Ask minus bid of level 0 with `params`, flat (None unless both are quoted)."""
    qs = quotes(params, case.book, D(0), case.rules)
    bid, ask = level0(qs, Side.BUY), level0(qs, Side.SELL)
    return None if bid is None or ask is None else ask - bid


def test_quoted_spread_widens_with_volatility() -> None:
    """Flat, a higher σ never narrows the quoted first-level spread."""
    rng = random.Random(13)
    widened = 0
    for case in random_cases(13):
        low = D(rng.randint(1, 2000)) / 1000
        high = low * rng.randint(2, 5)
        narrow = level0_spread(case, dataclasses.replace(case.params, sigma=low))
        wide = level0_spread(case, dataclasses.replace(case.params, sigma=high))
        if narrow is not None and wide is not None:
            assert narrow <= wide
            widened += narrow < wide
    assert widened > 20


def test_quoted_spread_widens_with_risk_aversion_in_the_inventory_risk_regime() -> None:
    """Flat, with σ²·τ·k² ≥ 1, a higher γ never narrows the quoted first-level spread."""
    rng = random.Random(14)
    widened = 0
    for case in random_cases(14):
        p = dataclasses.replace(case.params, horizon_s=0, max_spread_bps=D(5000))
        sigma, tau = float(p.sigma), float(p.tau_s)
        k = D(max(1.0, 1 / math.sqrt(sigma * sigma * tau))).quantize(D("0.001"), rounding=ROUND_UP)
        low = D(rng.randint(1, 1000)) / 1000
        high = low * rng.randint(2, 10)
        narrow = level0_spread(case, dataclasses.replace(p, k=k, gamma=low))
        wide = level0_spread(case, dataclasses.replace(p, k=k, gamma=high))
        if narrow is not None and wide is not None:
            assert narrow <= wide
            widened += narrow < wide
    assert widened > 20


def test_quotes_do_not_depend_on_the_decimal_context() -> None:
    """Quotes are the same under a 3-digit rounding-up thread context as under the default one."""
    for case in random_cases(15, rounds=100):
        expected = case.quotes()
        fresh = dataclasses.replace(case.params)  # another object: nothing computed for it is reused
        with localcontext(Context(prec=3, rounding=ROUND_UP)):
            assert quotes(fresh, case.book, case.position, case.rules) == expected


def test_an_empty_or_crossed_book_gets_no_quotes() -> None:
    """No quotes for a book without a bid or with bid >= ask."""
    for bid, ask in (("0", "100"), ("100", "100"), ("101", "100")):
        assert quotes(FIXED, BookTop(BTC.symbol, D(bid), D(1), D(ask), D(1), 0), D(0), BTC) == []


def test_default_ladder_on_btc() -> None:
    """σ = 1 bps/√s, k = 0.5/bps, γ = 0.05, τ = 10 s flat: a 4.31 bps spread, 3 minimum-size levels a side."""
    qs = quotes(FIXED, BTC_BOOK, D(0), BTC)
    assert [(q.side, q.level, q.price, q.qty) for q in qs] == [
        (Side.BUY, 0, D("99978.4"), D("0.002")),
        (Side.BUY, 1, D("99878.4"), D("0.002")),
        (Side.BUY, 2, D("99778.4"), D("0.002")),
        (Side.SELL, 0, D("100021.7"), D("0.002")),
        (Side.SELL, 1, D("100121.7"), D("0.002")),
        (Side.SELL, 2, D("100221.7"), D("0.002")),
    ]


# --- estimators --------------------------------------------------------------------------------------


def gbm_books(
    rules: MarketRules, sigma_bps: float, seconds: int, seed: int, interval_ms: int = 100
) -> list[BookTop]:
    """Books every `interval_ms` around a geometric Brownian mid with volatility `sigma_bps` per √s."""
    rng, tick = random.Random(seed), float(rules.tick_size)
    step = sigma_bps / 10_000 * math.sqrt(interval_ms / 1000)
    mid, books = 50_000.0, []
    for i in range(seconds * 1000 // interval_ms):
        mid *= math.exp(step * rng.gauss(0, 1) - step * step / 2)
        bid = math.floor(mid / tick)
        books.append(
            BookTop(
                rules.symbol, bid * rules.tick_size, D(1), (bid + 1) * rules.tick_size, D(1), i * interval_ms
            )
        )
    return books


def test_sigma_estimate_converges_on_geometric_brownian_motion() -> None:
    """On a GBM mid with σ = 1.2 bps/√s the published σ is within 8 % of it after a 30-minute window."""
    rules = market(tick="0.01")
    params = AvellanedaStoikovParams(k=D("0.5"), sigma_window_s=1800)
    signals = AvellanedaStoikovSignals(params, rules)
    for book in gbm_books(rules, 1.2, 1800, seed=7):
        signals.on_book(book)
    assert signals.sigma_bps == pytest.approx(1.2, rel=0.08)
    assert signals.k is None
    assert signals.ready


def test_sigma_estimate_weights_returns_by_their_interval() -> None:
    """With a book only every 3.7 s (sparser than the 1-second sampling) σ is still found within 10 %."""
    rules = market(tick="0.01")
    signals = AvellanedaStoikovSignals(AvellanedaStoikovParams(k=D("0.5"), sigma_window_s=7200), rules)
    for book in gbm_books(rules, 0.8, 7200, seed=5, interval_ms=3700):
        signals.on_book(book)
    assert signals.sigma_bps == pytest.approx(0.8, rel=0.1)


def poisson_trades(
    rules: MarketRules, mid: Decimal, k: float, seconds: int, seed: int
) -> list[BookTop | Trade]:
    """A fixed book one tick wide around `mid` and Poisson taker trades (5/s) whose reach beyond the mid
    is exponential with rate k per bps, printed at the touch or at the reach rounded away from the mid."""
    rng, tick = random.Random(seed), rules.tick_size
    bid, ask = mid - tick / 2, mid + tick / 2
    events: list[BookTop | Trade] = []
    t = 0.0
    while t < seconds:
        events.append(BookTop(rules.symbol, bid, D(1), ask, D(1), int(t * 1000)))
        t += rng.expovariate(5.0)
        reach = D(rng.expovariate(k)) / 10_000
        if rng.random() < 0.5:
            price, side = max(ask, -((-mid * (1 + reach)) // tick) * tick), Side.BUY
        else:
            price, side = min(bid, (mid * (1 - reach)) // tick * tick), Side.SELL
        events.append(Trade(rules.symbol, price, D(1), side, int(t * 1000)))
    return events


def moving_market(rules: MarketRules, seconds: int, seed: int) -> list[BookTop | Trade]:
    """GBM books (σ = 1 bps/√s) with Poisson trades (k = 0.5/bps) around each moment's book, in time
    order (a book before a trade of the same millisecond)."""
    books = gbm_books(rules, 1.0, seconds, seed)
    rng = random.Random(seed)
    events: list[BookTop | Trade] = []
    for book in books:
        events.append(book)
        later = [
            e for e in poisson_trades(rules, book.mid, 0.5, 1, rng.randint(0, 10**9)) if isinstance(e, Trade)
        ]
        events.extend(replace(t, ts_ms=book.ts_ms + t.ts_ms) for t in later if t.ts_ms < 100)
    return events


def feed(signals: AvellanedaStoikovSignals, events: list[BookTop | Trade]) -> None:
    for event in events:
        if isinstance(event, BookTop):
            signals.on_book(event)
        else:
            signals.on_trade(event)


@pytest.mark.parametrize(
    ("tick", "mid", "k"),
    [("0.01", "2000.005", 0.8), ("0.01", "100.005", 0.8), ("0.1", "100.05", 0.05)],
    ids=["fine-tick", "one-bps-tick", "ten-bps-tick"],
)
def test_k_estimate_converges_on_poisson_trades(tick: str, mid: str, k: float) -> None:
    """On Poisson trades with exponential reach the published k is within 10 % of the true decay, on
    fine and on coarse ticks (the geometric estimate undoes the tick rounding)."""
    rules = market(tick=tick)
    signals = AvellanedaStoikovSignals(AvellanedaStoikovParams(sigma=D(1), k_window_s=900), rules)
    feed(signals, poisson_trades(rules, D(mid), k, 900, seed=8))
    assert signals.k == pytest.approx(k, rel=0.1)
    assert signals.sigma_bps is None
    assert signals.ready


def test_estimators_find_the_paper_markets_volatility_and_decay() -> None:
    """On the paper exchange's synthetic market the estimates land within 10 % of its configured
    volatility (0.6 a year = 1.068 bps/√s) and trade decay (0.5/bps)."""
    rules = market(tick="0.01", symbol="ETH/USDT:USDT")
    synthetic = SyntheticParams(seed=3, volatility=0.6, trade_intensity=4.0, trade_decay=0.5)
    params = AvellanedaStoikovParams(sigma_window_s=1800, k_window_s=1800)
    signals = AvellanedaStoikovSignals(params, rules)
    for event in SyntheticFeed([rules], synthetic, start_ms=0).events():
        if event.ts_ms > 1_800_000:
            break
        feed(signals, [event])
    assert signals.sigma_bps == pytest.approx(0.6 / math.sqrt(365 * 86_400) * 10_000, rel=0.1)
    assert signals.k == pytest.approx(0.5, rel=0.1)


def test_version_changes_exactly_when_a_published_estimate_does() -> None:
    """`version` bumps when, and only when, the published σ or k changes, and far less often than the
    events that feed them."""
    rules = market(tick="0.01")
    signals = AvellanedaStoikovSignals(AvellanedaStoikovParams(sigma_window_s=60, k_window_s=60), rules)
    events = moving_market(rules, 300, seed=9)
    seen = (signals.version, signals.sigma_bps, signals.k)
    bumps = 0
    for event in events:
        feed(signals, [event])
        now = (signals.version, signals.sigma_bps, signals.k)
        assert (now[0] != seen[0]) == (now[1:] != seen[1:])
        bumps += now[0] != seen[0]
        seen = now
    assert 2 <= bumps < len(events) / 10


def test_quotes_wait_for_the_warm_up() -> None:
    """With σ and k estimated, nothing is quoted until both are published, then quotes appear."""
    rules = market(tick="0.01")
    strategy = AvellanedaStoikov()
    params = AvellanedaStoikovParams(sigma_window_s=60, k_window_s=60, min_spread_bps=D(1))
    signals = strategy.signals(params, rules)
    assert isinstance(signals, AvellanedaStoikovSignals)
    warm_seen = False
    for event in moving_market(rules, 120, seed=4):
        feed(signals, [event])
        if isinstance(event, BookTop):
            qs = strategy.quotes(params, event, D(0), rules, signals)
            assert bool(qs) == signals.ready
            warm_seen |= signals.ready
    assert warm_seen


# --- the strategy object, its params and market checks ----------------------------------------------


def test_strategy_needs_trades_only_to_estimate_k() -> None:
    """Trades are asked for when k is estimated; signals exist unless both σ and k are given."""
    strategy: Strategy[AvellanedaStoikovParams] = AvellanedaStoikov()
    assert strategy.needs(AvellanedaStoikovParams()).wants_trades
    assert not strategy.needs(AvellanedaStoikovParams(k=D(1))).wants_trades
    assert strategy.signals(FIXED, BTC) is None
    assert isinstance(strategy.signals(AvellanedaStoikovParams(k=D(1)), BTC), AvellanedaStoikovSignals)
    assert strategy.quote_bands(FIXED, BTC_BOOK, D(0), BTC, {}) is None  # quoted levels need windows
    assert strategy.quotes(FIXED, BTC_BOOK, D(0), BTC) == quotes(FIXED, BTC_BOOK, D(0), BTC)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"gamma": "0"}, "gamma"),
        ({"gamma": "101"}, "gamma"),
        ({"sigma": "-1"}, "sigma"),
        ({"sigma": "100.1"}, "sigma"),
        ({"sigma_window_s": "5"}, "sigma_window_s"),
        ({"k": "-0.5"}, "k"),
        ({"k": "1001"}, "k"),
        ({"k_window_s": "0"}, "k_window_s"),
        ({"horizon_s": "-1"}, "horizon_s"),
        ({"horizon_s": "700000"}, "horizon_s"),
        ({"tau_s": "0"}, "tau_s"),
        ({"min_spread_bps": "0.05"}, "min_spread_bps"),
        ({"max_spread_bps": "5001"}, "max_spread_bps"),
        ({"levels": "0"}, "levels"),
        ({"levels": "21"}, "levels"),
        ({"level_step_bps": "-1"}, "level_step_bps"),
        ({"order_size": "-0.1"}, "order_size"),
        ({"size_step": "1.5"}, "size_step"),
        ({"max_position": "-1"}, "max_position"),
        ({"reference": "last"}, "reference"),
        ({"sigma": "nan"}, "sigma"),
        ({"min_spread_bps": "20", "max_spread_bps": "10"}, "max_spread_bps"),
        ({"order_size": "2", "max_position": "1"}, "max_position"),
        ({"gama": "1"}, "gama"),
    ],
)
def test_bad_params_name_their_field(values: dict[str, str], field: str) -> None:
    """An out-of-range, malformed, inconsistent or unknown parameter is a ValidationError naming it."""
    with pytest.raises(ValidationError) as caught:
        parse_params(AvellanedaStoikovParams, values)
    assert caught.value.data["field"] == field


def test_params_parse_from_cli_text() -> None:
    """CLI strings parse into the typed parameters, and the class names its strategy."""
    params = parse_params(
        AvellanedaStoikovParams, {"gamma": "0.2", "horizon_s": "86400", "reference": "microprice"}
    )
    assert (params.gamma, params.horizon_s, params.reference) == (D("0.2"), 86_400, "microprice")
    assert AvellanedaStoikovParams.strategy == "avellaneda_stoikov"


@pytest.mark.parametrize(
    ("rules", "values", "field"),
    [
        (market(max_leverage=20), {"leverage": 21}, "leverage"),
        (market(max_open_orders=10), {"levels": 6}, "levels"),
        (market(tick="100"), {"min_spread_bps": D(5)}, "min_spread_bps"),
        (BTC, {"order_size": D("0.001")}, "order_size"),
        (market(max_qty="1"), {"order_size": D(2)}, "order_size"),
        (BTC, {"max_position": D("0.001")}, "max_position"),
    ],
)
def test_market_checks_name_the_field(rules: MarketRules, values: dict[str, object], field: str) -> None:
    """Params that cannot quote the market at the price are refused with the field named."""
    params = AvellanedaStoikovParams(**values)  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as caught:
        check_against_market(params, rules, D(100_000))
    assert caught.value.data["field"] == field


def test_default_params_pass_the_market_checks() -> None:
    """The defaults quote BTC at 100,000 without any --set."""
    AvellanedaStoikov().check_against_market(AvellanedaStoikovParams(), BTC, D(100_000))
