"""A session horizon makes avellaneda_stoikov's quotes depend on the book's time: the backtest never
reuses quotes made at the same prices earlier in the session."""

from __future__ import annotations

from decimal import Decimal

from mmctl.backtest.engine import BacktestSpec, run_backtest
from mmctl.backtest.metrics import OrderCounts
from mmctl.model import BookTop
from mmctl.strategies.avellaneda_stoikov import AvellanedaStoikovParams
from mmctl.strategies.params import parse_params

D = Decimal
T0 = 1_767_225_600_000  # a UTC midnight: sessions of 60 s start on the minute


def orders_at_unchanged_prices(horizon_s: int) -> OrderCounts:
    """One level each side, given σ and k, a book that never moves for 58 s (a book every 2 s)."""
    values = {
        "levels": "1",
        "sigma": "5",
        "k": "0.5",
        "gamma": "0.5",
        "horizon_s": str(horizon_s),
        "refresh_tolerance_bps": "1",
        "quote_interval_ms": "10",
        "stale_data_s": "0",
        "max_order_age_s": "86400",
        "max_spread_bps": "5000",
    }
    p = parse_params(AvellanedaStoikovParams, values)
    books = [
        BookTop("BTCUSDT", D("99999.9"), D(1), D("100000.1"), D(1), T0 + 1000 * s) for s in range(0, 59, 2)
    ]
    return run_backtest(BacktestSpec("avellaneda_stoikov", p, symbol="BTCUSDT"), books).metrics.orders


def test_quotes_follow_the_session_clock_at_unchanged_prices() -> None:
    """With a 60 s session the spread narrows as the session runs out, so the bot amends its orders while
    the book stands still; with no horizon the same books change nothing."""
    timed = orders_at_unchanged_prices(60)
    assert timed.placed == 2
    assert timed.amended > 20
    still = orders_at_unchanged_prices(0)
    assert (still.placed, still.amended) == (2, 0)
