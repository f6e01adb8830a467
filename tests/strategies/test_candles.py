"""Candles from public trades: epoch alignment, closing on time, flat gap candles, exact Decimal volume."""

from __future__ import annotations

import random
from decimal import Decimal, localcontext

import pytest

from mmctl.model import Side, Trade
from mmctl.strategies.candles import Candle, CandleBuilder, candles_from_trades

D = Decimal
MIN = 60_000


def trade(ts_ms: int, price: str, qty: str = "1") -> Trade:
    return Trade("BTC/USDT:USDT", D(price), D(qty), Side.BUY, ts_ms)


def test_trades_in_one_interval_make_one_aligned_candle() -> None:
    """Trades inside one minute build one candle opening at the minute's epoch start with their OHLC,
    summed volume and count."""
    b = CandleBuilder(60)
    t0 = 1_700_000_000_000  # 13:33:20 UTC, not on a minute boundary
    start = t0 - t0 % MIN
    for ts, price, qty in [
        (t0, "100", "0.5"),
        (t0 + 1, "103", "1"),
        (t0 + 2, "98", "2"),
        (t0 + 3, "101", "0.25"),
    ]:
        assert b.on_trade(trade(ts, price, qty)) == ()
    assert b.current == Candle(start, MIN, D("100"), D("103"), D("98"), D("101"), D("3.75"), 4)
    assert b.advance(start + MIN - 1) == ()
    (closed,) = b.advance(start + MIN)
    assert closed == Candle(start, MIN, D("100"), D("103"), D("98"), D("101"), D("3.75"), 4)
    assert closed.close_ms == start + MIN


def test_a_trade_on_the_boundary_opens_the_next_candle() -> None:
    """A trade stamped exactly at a candle's end closes that candle and is the next candle's open."""
    b = CandleBuilder(60)
    b.on_trade(trade(5 * MIN + 10, "100"))
    (closed,) = b.on_trade(trade(6 * MIN, "105"))
    assert (closed.open_ms, closed.close, closed.trades) == (5 * MIN, D("100"), 1)
    assert b.current == Candle(6 * MIN, MIN, D("105"), D("105"), D("105"), D("105"), D("1"), 1)


def test_intervals_without_trades_yield_flat_zero_volume_candles() -> None:
    """Three empty minutes between two trades give three flat candles at the previous close, zero volume."""
    b = CandleBuilder(60)
    b.on_trade(trade(MIN, "100"))
    b.on_trade(trade(MIN + 5, "99"))
    closed = b.on_trade(trade(5 * MIN + 1, "110"))
    flat = [Candle(k * MIN, MIN, D("99"), D("99"), D("99"), D("99"), D("0"), 0) for k in (2, 3, 4)]
    assert list(closed) == [Candle(MIN, MIN, D("100"), D("100"), D("99"), D("99"), D("2"), 2), *flat]
    assert b.current is not None
    assert b.current.open == D("110")  # a candle's open is its first trade, not the previous close


def test_advance_alone_emits_flat_candles_and_keeps_time_monotonic() -> None:
    """`advance` with no trades closes candles at the last price, and going back in time does nothing."""
    b = CandleBuilder(1)
    assert b.advance(10_000) == ()  # no price yet: no candle
    b.on_trade(trade(1_500, "7"))
    assert [c.open_ms for c in b.advance(4_000)] == [1_000, 2_000, 3_000]
    assert b.advance(3_999) == ()
    assert b.current == Candle(4_000, 1_000, D("7"), D("7"), D("7"), D("7"), D("0"), 0)
    assert [(c.open_ms, c.close, c.volume) for c in b.advance(5_000)] == [(4_000, D("7"), D("0"))]


def test_a_late_trade_is_counted_in_the_open_candle() -> None:
    """A trade stamped before the open candle (after `advance` passed it) goes into the open candle and
    never changes a closed one."""
    b = CandleBuilder(60)
    b.on_trade(trade(0, "100"))
    (closed,) = b.advance(MIN + 1)
    assert b.on_trade(trade(MIN - 1, "90", "2")) == ()
    assert closed == Candle(0, MIN, D("100"), D("100"), D("100"), D("100"), D("1"), 1)
    assert b.current == Candle(MIN, MIN, D("90"), D("90"), D("90"), D("90"), D("2"), 1)


def test_volume_is_exact_in_a_low_precision_context() -> None:
    """Volume sums exactly even when the thread's decimal context has 3 digits."""
    b = CandleBuilder(60)
    with localcontext() as ctx:
        ctx.prec = 3
        for i in range(3):
            b.on_trade(trade(i, "100.5", "0.000123456"))
    assert b.current is not None
    assert b.current.volume == D("0.000370368")


@pytest.mark.parametrize("bad", [0, -60, True, 1.5])
def test_the_interval_must_be_a_positive_whole_number_of_seconds(bad: object) -> None:
    """A zero, negative, bool or fractional interval is a ValueError."""
    with pytest.raises(ValueError, match="interval"):
        CandleBuilder(bad)  # type: ignore[arg-type]


def reference(trades: list[Trade], interval_ms: int, until_ms: int) -> list[Candle]:
    """Group trades by ts // interval, then fill every missing interval with a flat candle."""
    buckets: dict[int, list[Trade]] = {}
    for t in trades:
        buckets.setdefault(t.ts_ms // interval_ms, []).append(t)
    out: list[Candle] = []
    first = min(buckets)
    last_close = trades[0].price
    for k in range(first, until_ms // interval_ms):
        ts = buckets.get(k)
        if ts is None:
            p = last_close
            out.append(Candle(k * interval_ms, interval_ms, p, p, p, p, D(0), 0))
            continue
        prices = [t.price for t in ts]
        volume = sum((t.qty for t in ts), D(0))
        out.append(
            Candle(
                k * interval_ms, interval_ms, prices[0], max(prices), min(prices), prices[-1], volume, len(ts)
            )
        )
        last_close = prices[-1]
    return out


@pytest.mark.parametrize("seed", range(8))
def test_candles_equal_a_group_by_reference_on_random_trades(seed: int) -> None:
    """On random trades with random gaps, the streamed candles equal group-by-interval plus flat fills."""
    rng = random.Random(seed)
    interval_s = rng.choice([1, 5, 60])
    ts, trades = rng.randint(0, 10**12), []
    for _ in range(rng.randint(1, 400)):
        ts += rng.choice([0, 1, 10, 999, 1000, rng.randint(0, 20 * interval_s * 1000)])
        trades.append(trade(ts, f"{rng.randint(9_000, 11_000) / 100}", f"{rng.randint(1, 5000) / 1000}"))
    until = ts + rng.randint(0, 3 * interval_s * 1000)
    got = candles_from_trades(trades, interval_s, until_ms=until)
    assert got == reference(trades, interval_s * 1000, until)
    assert candles_from_trades(trades, interval_s) == reference(trades, interval_s * 1000, ts)
    assert all(c.open_ms % (interval_s * 1000) == 0 for c in got)
