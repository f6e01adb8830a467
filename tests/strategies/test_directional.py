"""Directional strategies' pure parts: signal rules and their crossings, the sides filter, exit levels on
the tick grid, the trailing stop's ratchet, and position sizing against the venue's minimums."""

from __future__ import annotations

import random
from decimal import Decimal, localcontext

import pytest

from mmctl.exchange.rules import ceil_to, floor_to, on_grid
from mmctl.model import LeverageBracket, MarketRules, Side
from mmctl.strategies.candles import Candle
from mmctl.strategies.directional import (
    SIDES,
    Direction,
    ExitDistance,
    ExitLevels,
    MacdRule,
    MeanReversionRule,
    RsiRule,
    TrailingStop,
    allow,
    exit_levels,
    fixed_size,
    risk_size,
    stop_loss_price,
    take_profit_price,
)
from mmctl.strategies.indicators import Macd, Rsi, ZScore

D = Decimal
LONG, SHORT, FLAT = Direction.LONG, Direction.SHORT, Direction.FLAT


def market(
    tick: str = "0.1",
    step: str = "0.001",
    min_qty: str = "0.001",
    min_notional: str = "100",
    max_qty: str = "1000",
    market_max_qty: str | None = None,
) -> MarketRules:
    return MarketRules(
        symbol="BTC/USDT:USDT",
        id="BTCUSDT",
        base="BTC",
        quote="USDT",
        tick_size=D(tick),
        step_size=D(step),
        min_qty=D(min_qty),
        max_qty=D(max_qty),
        min_notional=D(min_notional),
        max_open_orders=200,
        brackets=(LeverageBracket(125, D(50_000), D("0.004")),),
        maker_fee=D("0.0002"),
        taker_fee=D("0.0005"),
        market_max_qty=None if market_max_qty is None else D(market_max_qty),
    )


def closes(values: list[float]) -> list[Candle]:
    """Candles of one minute whose close (and OHLC) is each value."""
    out = []
    for i, v in enumerate(values):
        p = D(repr(v))
        out.append(Candle(i * 60_000, 60_000, p, p, p, p, D(1), 1))
    return out


def walk(seed: int, n: int) -> list[float]:
    rng = random.Random(seed)
    price, out = 100.0, []
    for _ in range(n):
        price = max(1.0, round(price + rng.gauss(0, 1.5), 2))
        out.append(price)
    return out


# -- direction and sides ---------------------------------------------------------------------------------


def test_sides_filter_maps_disallowed_directions_to_flat() -> None:
    """ "long" turns short into flat, "short" turns long into flat, "both" keeps everything."""
    table = {(d, s): allow(d, s) for d in Direction for s in SIDES}
    assert table == {
        (LONG, "long"): LONG,
        (LONG, "short"): FLAT,
        (LONG, "both"): LONG,
        (SHORT, "long"): FLAT,
        (SHORT, "short"): SHORT,
        (SHORT, "both"): SHORT,
        (FLAT, "long"): FLAT,
        (FLAT, "short"): FLAT,
        (FLAT, "both"): FLAT,
    }
    assert (LONG.entry_side, SHORT.entry_side, int(SHORT), int(LONG)) == (Side.BUY, Side.SELL, -1, 1)
    with pytest.raises(ValueError, match="flat"):
        _ = FLAT.entry_side


# -- RSI rule ---------------------------------------------------------------------------------------------


def test_rsi_rule_enters_on_crosses_of_the_bands_and_exits_at_50() -> None:
    """With a 2-period RSI, 0 -> 50 crosses up through 30 (long) and 75 exits; 100 -> 50 crosses down
    through 70 (short) and 25 exits."""
    rule = RsiRule(period=2)
    got = [(rule.update(c), rule.rsi.value) for c in closes([10, 9, 8, 9, 10])]
    assert got == [(FLAT, None), (FLAT, None), (FLAT, 0.0), (LONG, 50.0), (FLAT, 75.0)]
    rule = RsiRule(period=2)
    got = [(rule.update(c), rule.rsi.value) for c in closes([10, 11, 12, 11, 10])]
    assert got == [(FLAT, None), (FLAT, None), (FLAT, 100.0), (SHORT, 50.0), (FLAT, 25.0)]


def rsi_rule_reference(values: list[float | None], lo: float, hi: float) -> list[Direction]:
    """The RSI rule as a plain loop over consecutive RSI values."""
    d, out = FLAT, []
    for prev, now in zip([None, *values], values, strict=False):
        if prev is not None and now is not None:
            if prev < lo <= now:
                d = LONG
            elif prev > hi >= now:
                d = SHORT
            elif (d is LONG and now >= 50) or (d is SHORT and now <= 50):
                d = FLAT
        out.append(d)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_rsi_rule_equals_a_plain_loop_over_rsi_values(seed: int) -> None:
    """On random walks the RSI rule's directions equal the crossing rules applied to the RSI series."""
    series = walk(seed, 400)
    rule, rsi = RsiRule(period=6, oversold=35, overbought=65), Rsi(6)
    got = [rule.update(c) for c in closes(series)]
    assert got == rsi_rule_reference([rsi.update(x) for x in series], 35, 65)
    assert {LONG, SHORT, FLAT} <= set(got)


def test_rsi_rule_rejects_bands_on_the_wrong_side_of_50() -> None:
    """Oversold must be below 50 and overbought above it."""
    with pytest.raises(ValueError, match="oversold"):
        RsiRule(oversold=55, overbought=70)
    with pytest.raises(ValueError, match="overbought"):
        RsiRule(oversold=30, overbought=45)


# -- MACD rule --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_macd_rule_follows_sign_changes_of_the_histogram(seed: int) -> None:
    """The MACD rule is flat until the histogram first changes sign, then long after an upward change and
    short after a downward one."""
    series = walk(100 + seed, 400)
    rule, macd = MacdRule(5, 13, 4), Macd(5, 13, 4)
    got = [rule.update(c) for c in closes(series)]
    expected, d, last = [], FLAT, 0
    for x in series:
        v = macd.update(x)
        if v is not None and v.histogram != 0:
            sign = 1 if v.histogram > 0 else -1
            if last and sign != last:
                d = LONG if sign > 0 else SHORT
            last = sign
        expected.append(d)
    assert got == expected
    assert got[0] is FLAT
    assert {LONG, SHORT} <= set(got)


def test_macd_rule_goes_long_after_a_turn_up_and_short_after_a_turn_down() -> None:
    """An accelerating fall then a rise ends long; the mirror image ends short."""
    v_shape = [100 - i * i / 20 for i in range(40)] + [24 + 2 * i for i in range(30)]
    rule = MacdRule()
    assert [rule.update(c) for c in closes(v_shape)][-1] is LONG
    rule = MacdRule()
    assert [rule.update(c) for c in closes([100 - x for x in v_shape])][-1] is SHORT


# -- mean-reversion rule ----------------------------------------------------------------------------------


def test_mean_reversion_rule_enters_beyond_entry_z_and_exits_inside_exit_z() -> None:
    """z = -2 goes long, z = -0.5 exits to flat, z = +1.86 goes short, and a z between the bands holds."""
    rule = MeanReversionRule(period=5, entry_z=1.5, exit_z=0.5)
    got = [rule.update(c) for c in closes([100, 100, 100, 100, 100, 90, 95, 120])]
    assert got[:4] == [FLAT] * 4  # warming up
    assert got[4:] == [FLAT, LONG, FLAT, SHORT]
    z = rule.zscore.value
    assert z is not None
    assert z == pytest.approx(19 / 104**0.5)
    held = MeanReversionRule(period=5, entry_z=1.5, exit_z=0.5)
    assert [held.update(c) for c in closes([100, 100, 100, 100, 90, 92])][-2:] == [LONG, LONG]


@pytest.mark.parametrize("seed", range(4))
def test_mean_reversion_rule_equals_the_band_rules_on_z(seed: int) -> None:
    """On random walks the rule's directions equal the entry/exit bands applied to the z-score series."""
    series = walk(200 + seed, 400)
    rule, zs = MeanReversionRule(20, 1.8, 0.3), ZScore(20)
    got = [rule.update(c) for c in closes(series)]
    d, expected = FLAT, []
    for x in series:
        z = zs.update(x)
        if z is not None:
            d = LONG if z <= -1.8 else SHORT if z >= 1.8 else FLAT if abs(z) <= 0.3 else d
        expected.append(d)
    assert got == expected
    assert {LONG, SHORT} <= set(got)


def test_mean_reversion_rule_needs_exit_inside_entry() -> None:
    """exit_z must be at least 0 and below entry_z."""
    with pytest.raises(ValueError, match="exit_z"):
        MeanReversionRule(entry_z=1.0, exit_z=1.0)


# -- exit levels ------------------------------------------------------------------------------------------


def test_percent_exits_round_away_from_the_entry() -> None:
    """1% from 12345.6 is 123.456: a long's stop 12222.144 rounds down to 12222.1 and its target
    12469.056 up to 12469.1; a short's stop rounds up and its target down."""
    one = ExitDistance("pct", D("1"))
    tick = D("0.1")
    assert exit_levels(D("12345.6"), LONG, tick, stop_loss=one, take_profit=one) == ExitLevels(
        D("12222.1"), D("12469.1")
    )
    assert exit_levels(D("12345.6"), SHORT, tick, stop_loss=one, take_profit=one) == ExitLevels(
        D("12469.1"), D("12222.1")
    )
    assert exit_levels(D("12345.6"), LONG, tick) == ExitLevels(None, None)


def test_atr_exits_use_the_atr_times_the_multiple() -> None:
    """An ATR of 123.45 (float) at 1.5x puts a long's stop at 100000 - 185.175, rounded down to 99814.8."""
    spec = ExitDistance("atr", D("1.5"))
    assert stop_loss_price(D("100000"), LONG, spec, D("0.1"), atr=123.45) == D("99814.8")
    assert take_profit_price(D("100000"), SHORT, spec, D("0.1"), atr=D("123.45")) == D("99814.8")
    assert stop_loss_price(D("100000"), LONG, spec, D("0.1"), atr=0.0) is None  # no distance, no stop
    with pytest.raises(ValueError, match="ATR"):
        stop_loss_price(D("100000"), LONG, spec, D("0.1"))
    with pytest.raises(ValueError, match="ATR"):
        stop_loss_price(D("100000"), LONG, spec, D("0.1"), atr=float("nan"))


def test_exit_levels_that_would_not_be_positive_are_none() -> None:
    """A long's stop or a short's target 100% away would be at 0: there is no such level."""
    full = ExitDistance("pct", D("100"))
    assert stop_loss_price(D("50"), LONG, full, D("0.01")) is None
    assert take_profit_price(D("50"), SHORT, full, D("0.01")) is None
    assert stop_loss_price(D("50"), SHORT, full, D("0.01")) == D("100")
    with pytest.raises(ValueError, match="positive"):
        ExitDistance("pct", D("0"))
    with pytest.raises(ValueError, match="long or short"):
        stop_loss_price(D("50"), FLAT, ExitDistance("pct", D("1")), D("0.01"))


@pytest.mark.parametrize("seed", range(5))
def test_exit_levels_are_on_grid_and_at_least_as_far_as_asked(seed: int) -> None:
    """Every exit is on the tick grid, on the right side of the entry, and farther than asked by less than
    one tick, whatever the thread's decimal precision."""
    rng = random.Random(seed)
    for _ in range(300):
        tick = rng.choice([D("0.1"), D("0.01"), D("0.0001"), D("5")])
        entry = D(rng.randint(1_000, 10**7)) * tick
        pct = D(rng.randint(1, 5000)) / 1000
        spec = ExitDistance("pct", pct)
        asked = entry * pct / 100
        with localcontext() as ctx:
            ctx.prec = 4
            levels = {d: exit_levels(entry, d, tick, stop_loss=spec, take_profit=spec) for d in (LONG, SHORT)}
        for d, lv in levels.items():
            assert lv.stop_loss is not None
            assert lv.take_profit is not None
            assert on_grid(lv.stop_loss, tick)
            assert on_grid(lv.take_profit, tick)
            assert (lv.stop_loss - entry) * d < 0 < (lv.take_profit - entry) * d
            for level in (lv.stop_loss, lv.take_profit):
                assert asked <= abs(level - entry) < asked + tick


def test_exit_levels_report_which_exit_a_price_reaches() -> None:
    """A long is stopped at or below its stop and takes profit at or above its target; a short mirrors it."""
    lv = ExitLevels(D("95"), D("110"))
    assert [lv.hit(LONG, D(p)) for p in ("96", "95", "94", "109.9", "110")] == [
        None,
        "stop_loss",
        "stop_loss",
        None,
        "take_profit",
    ]
    short = ExitLevels(D("105"), D("90"))
    assert [short.hit(SHORT, D(p)) for p in ("104", "105", "91", "90")] == [
        None,
        "stop_loss",
        None,
        "take_profit",
    ]
    assert ExitLevels(None, None).hit(LONG, D("1")) is None


# -- trailing stop ----------------------------------------------------------------------------------------


def test_trailing_stop_ratchets_with_the_best_price_and_never_loosens() -> None:
    """A 10% long trail from 100 starts at 90, rises to 99 at a high of 110, stays at 99 when the price
    falls back, and is hit at 99."""
    trail = TrailingStop(LONG, D("100"), ExitDistance("pct", D("10")), D("0.01"))
    assert trail.stop == D("90")
    assert trail.update(D("110")) == D("99")
    assert trail.update(D("105")) == D("99")
    assert (trail.best, trail.hit(D("99.01")), trail.hit(D("99"))) == (D("110"), False, True)
    short = TrailingStop(SHORT, D("100"), ExitDistance("pct", D("10")), D("0.01"))
    assert [short.update(D(p)) for p in ("90", "95", "80")] == [D("99"), D("99"), D("88")]
    assert short.hit(D("88"))
    assert not short.hit(D("87.99"))


def test_atr_trailing_stop_does_not_loosen_when_the_atr_grows() -> None:
    """A long ATR trail keeps its level when a larger ATR would lower it, and tightens with a smaller one."""
    trail = TrailingStop(LONG, D("1000"), ExitDistance("atr", D("2")), D("0.5"), atr=10.0)
    assert trail.stop == D("980")
    assert trail.update(D("1000"), atr=50.0) == D("980")
    assert trail.update(D("1010"), atr=2.5) == D("1005")


@pytest.mark.parametrize(("seed", "direction"), [(1, LONG), (2, SHORT), (3, LONG), (4, SHORT)])
def test_trailing_stop_is_monotonic_and_follows_the_best_price(seed: int, direction: Direction) -> None:
    """On a random price path the stop only tightens, stays on the grid, and equals the best price's level
    rounded away from it, ratcheted."""
    rng = random.Random(seed)
    tick, pct = D("0.01"), D(rng.randint(5, 300)) / 100
    price = D("250.00")
    trail = TrailingStop(direction, price, ExitDistance("pct", pct), tick)
    best, expected = price, None
    for _ in range(500):
        price = max(tick, price + D(rng.randint(-300, 300)) * tick)
        before = trail.stop
        stop = trail.update(price)
        best = max(best, price) if direction is LONG else min(best, price)
        raw = best - best * pct / 100 if direction is LONG else best + best * pct / 100
        level = floor_to(raw, tick) if direction is LONG else ceil_to(raw, tick)
        expected = (
            level if expected is None else max(expected, level) if direction is LONG else min(expected, level)
        )
        assert stop == expected
        assert stop is not None
        assert before is not None
        assert on_grid(stop, tick)
        assert (stop - before) * direction >= 0
        assert trail.hit(price) == ((price - stop) * direction <= 0)


# -- sizing -----------------------------------------------------------------------------------------------


def test_fixed_size_rounds_down_caps_and_respects_minimums() -> None:
    """A fixed size rounds down to the step, is capped at the (market) maximum, and is None below the
    minimum quantity or notional."""
    btc = market(max_qty="5", market_max_qty="2")
    assert fixed_size(D("0.0129"), D("50000"), btc) == D("0.012")
    assert fixed_size(D("0.0009"), D("50000"), btc) is None  # under min_qty once rounded
    assert fixed_size(D("0.001"), D("50000"), btc) is None  # notional 50 < 100
    assert fixed_size(D("0.002"), D("50000"), btc) == D("0.002")
    assert fixed_size(D("7"), D("50000"), btc) == D("5")
    assert fixed_size(D("7"), D("50000"), btc, market=True) == D("2")


def test_risk_size_loses_the_risk_budget_at_the_stop() -> None:
    """1% of 10000 with a 700 stop distance is 0.142857..., rounded down to 0.142; a tiny budget is None."""
    btc = market()
    assert risk_size(D("10000"), D("0.01"), D("50000"), D("49300"), btc) == D("0.142")
    assert risk_size(D("10000"), D("0.01"), D("50000"), D("51000"), btc) == D("0.1")  # a short's stop
    assert risk_size(D("100"), D("0.01"), D("50000"), D("49000"), btc) is None  # 0.001 BTC: notional 50
    assert risk_size(D("0"), D("0.01"), D("50000"), D("49000"), btc) is None
    with pytest.raises(ValueError, match="at the entry"):
        risk_size(D("10000"), D("0.01"), D("50000"), D("50000"), btc)
    with pytest.raises(ValueError, match="fraction"):
        risk_size(D("10000"), D("1.5"), D("50000"), D("49000"), btc)


@pytest.mark.parametrize("seed", range(4))
def test_risk_size_is_the_largest_step_multiple_within_the_budget(seed: int) -> None:
    """The risk size never loses more than the budget at the stop, one more step would, and it holds in
    a 3-digit decimal context."""
    rng = random.Random(seed)
    rules = market(tick="0.01", step="0.001", min_notional="5", max_qty="100000")
    for _ in range(300):
        entry = D(rng.randint(1_000, 10_000_000)) / 100
        stop = entry - D(rng.randint(1, 50_000)) / 100 * rng.choice([1, -1])
        if stop <= 0:
            continue
        equity, fraction = D(rng.randint(1, 10**7)) / 10, D(rng.randint(1, 500)) / 10_000
        with localcontext() as ctx:
            ctx.prec = 3
            qty = risk_size(equity, fraction, entry, stop, rules)
        budget, gap = equity * fraction, abs(entry - stop)
        if qty is None:
            most = floor_to(budget / gap, rules.step_size)
            assert most < rules.min_qty or most * entry < rules.min_notional
            continue
        assert on_grid(qty, rules.step_size)
        assert qty * gap <= budget
        assert qty == rules.max_qty or budget < (qty + rules.step_size) * gap
        assert qty >= rules.min_qty
        assert qty * entry >= rules.min_notional
