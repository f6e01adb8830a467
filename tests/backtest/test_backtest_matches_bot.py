"""A backtest and a paper bot fed the same recorded data at the same latency make the same orders (issue 14).

The same market_maker bot (3 levels, same params, same name, so the same client ids) runs over the same
10 minutes of the seeded synthetic BTCUSDT market twice: in the backtest engine (latency 0) and as the
daemon runs it (the real `Bot` on a `PaperExchange`, on a manual clock, with the default paper account:
the engine's default balance and fees). Each run tapes what its paper venue received
(`tests.backtest.parity`): every placement, amend and cancel with its time, side, price, size and flags,
and every fill with its price, size, fee and realized PnL. The tapes must be equal row for row.

What is aligned, and why:
- Latency 0: a paper request takes effect when it is made; the engine's `latency_ms` would delay it.
- Event times on a 125 ms grid (books 8 a second, trades moved down to their book's slot) and a re-quote
  floor of 250 ms: the manual clock's float seconds are then exact, so the bot's `now_ms`, heartbeat and
  re-quote deadlines fall on the engine's milliseconds. Deadlines then land on slots, and the daemon
  side runs what is due at a slot before the slot's events, as the engine runs its timers.
- The heartbeat is the default 1 s on both sides: beats land on slots; the engine skips those that
  provably change nothing, and these runs show that skipping them changes no request.
- The engine's other documented differences do not show here: the venue countdown never expires (the
  keeper refreshes it), budgets do not bind on paper, and early cancels of stale orders are the diff's
  own plan (at a tick where a loss guard trips, both only cancel).
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache

import pytest
from tests.backtest.parity import (
    SLOT_MS,
    START_MS,
    Row,
    Run,
    backtest_run,
    daemon_run,
    first_difference,
    on_grid,
)

from mmctl.backtest.data import synthetic_events
from mmctl.backtest.engine import BacktestSpec, Event, run_backtest
from mmctl.bots.bot import BotOptions
from mmctl.strategies.market_maker import MarketMakerParams

pytestmark = pytest.mark.slow  # about 3 s of daemon loop per run, three runs

BOT = "parity"
HEARTBEAT_S = 1.0
OPTIONS = BotOptions(stop_timeout_s=2.0, heartbeat_s=HEARTBEAT_S)
PARAMS = MarketMakerParams().replace(
    levels=3,
    spread_bps=Decimal(3),  # close enough to the mid that the synthetic takers fill every level
    level_step_bps=Decimal(2),
    refresh_tolerance_bps=Decimal(1),  # the quotes follow the mid closely: amends all the time
    quote_interval_ms=2 * SLOT_MS,
)
QUOTING_SEED = 5  # ~360 fills, ~2500 amends; with max_move_bps = 10 the breaker pauses 4 times
STOP_SEED = 4  # with max_drawdown = 0.5 the stop trips at 383.125 s, holding a short of 0.015


def market(seed: int) -> list[Event]:
    """Ten minutes of the synthetic BTCUSDT market, books every 125 ms, on the 125 ms grid."""
    return on_grid(synthetic_events("BTCUSDT", START_MS, 600, seed, updates_per_s=8))


def spec(params: MarketMakerParams, latency_ms: int = 0) -> BacktestSpec:
    return BacktestSpec("market_maker", params, bot=BOT, latency_ms=latency_ms, heartbeat_s=HEARTBEAT_S)


@cache
def runs(seed: int, **changes: object) -> tuple[Run, Run]:
    """(backtest, daemon) runs of `PARAMS` with `changes` over `market(seed)`."""
    params = PARAMS.replace(**changes)
    events = market(seed)
    backtest, _ = backtest_run(spec(params), events)
    return backtest, daemon_run(params, events, bot=BOT, options=OPTIONS)


def assert_same_tape(a: list[Row], b: list[Row]) -> None:
    assert a == b, first_difference(a, b)


def fills(rows: list[Row]) -> list[tuple[object, ...]]:
    """(ms, side, price, qty, maker, fee, realized PnL) of each fill on a tape."""
    return [(r.ms, r.side, *r.fill) for r in rows if r.fill is not None]


def test_market_maker_places_amends_and_fills_the_same_in_a_backtest_and_on_the_daemon() -> None:
    """Over ten minutes of synthetic data a 3-level market_maker sends the same placements, amends and
    cancels at the same milliseconds and gets the same fills in the backtest engine as the daemon's bot on
    a paper exchange, and `run_backtest` reports those fills and request counts."""
    backtest, daemon = runs(QUOTING_SEED)
    places, amends = daemon.of("place"), daemon.of("amend")
    assert len(places) > 300
    assert len(amends) > 2000
    assert len(daemon.of("fill")) > 300
    quotes = {(r.side, r.post_only, r.reduce_only) for r in places}
    assert quotes == {("buy", True, False), ("sell", True, False)}  # post-only quotes on both sides
    assert_same_tape(backtest.tape, daemon.tape)
    assert backtest.counts == daemon.counts
    assert backtest.position == daemon.position
    assert backtest.open_orders == daemon.open_orders == 6
    result = run_backtest(spec(PARAMS), market(QUOTING_SEED))
    reported = [(f.ts_ms, f.side.value, f.price, f.qty, f.maker, f.fee, f.realized_pnl) for f in result.fills]
    assert reported == fills(daemon.tape)
    assert result.metrics.orders.placed == len(places)
    assert result.metrics.orders.amended == len(amends)
    # the comparison sees the timing of a decision: requests arriving one slot late are another tape
    late, _ = backtest_run(spec(PARAMS, latency_ms=SLOT_MS), market(QUOTING_SEED))
    assert late.tape != daemon.tape


def test_circuit_breaker_pauses_and_resumes_the_same_in_a_backtest_and_on_the_daemon() -> None:
    """With the circuit breaker on, the risk monitor pauses and resumes quoting at the same milliseconds
    for the same reasons in both runs, and every order and fill around the pauses is the same."""
    backtest, daemon = runs(QUOTING_SEED, max_move_bps=Decimal(10))
    pauses = [n for n in daemon.notes if "quoting paused" in n[1]]
    assert len(pauses) >= 3
    assert backtest.notes == daemon.notes
    assert_same_tape(backtest.tape, daemon.tape)
    assert backtest.counts == daemon.counts
    assert backtest.position == daemon.position
    assert backtest.open_orders == daemon.open_orders


def test_a_loss_stop_trips_at_the_same_tick_and_flattens_the_same_in_a_backtest_and_on_the_daemon() -> None:
    """A drawdown stop with on_loss = flatten trips at the same millisecond for the same reason in both
    runs; every request before that tick, every fill (the flatten's included) and what rests afterwards
    (nothing, no position) are the same."""
    backtest, daemon = runs(STOP_SEED, max_drawdown=Decimal("0.5"), on_loss="flatten")
    [(halt_ms, reason)] = daemon.notes
    assert "max_drawdown" in reason
    assert "flattening" in reason
    assert backtest.notes == daemon.notes
    assert halt_ms - START_MS > 300_000  # well into the run, after hundreds of fills
    before = [r for r in daemon.tape if r.ms < halt_ms]
    assert len(daemon.of("fill")) > 200
    assert [r for r in backtest.tape if r.ms < halt_ms] == before
    assert fills(backtest.tape) == fills(daemon.tape)
    [flatten] = [r for r in daemon.of("place") if r.type == "market"]
    assert flatten.ms == halt_ms
    assert flatten.reduce_only
    assert [r for r in backtest.of("place") if r.type == "market"] == [flatten]
    assert backtest.position == daemon.position == 0
    assert backtest.open_orders == daemon.open_orders == 0


def test_the_loss_stop_tick_sends_the_same_requests_in_a_backtest_and_on_the_daemon() -> None:
    """At the tick a drawdown stop trips, the daemon's bot sends the same requests as the backtest:
    cancels of every order and the flatten order, with no amend before them."""
    backtest, daemon = runs(STOP_SEED, max_drawdown=Decimal("0.5"), on_loss="flatten")
    assert_same_tape(backtest.tape, daemon.tape)
