"""Backtest speed: one synthetic BTCUSDT day through the whole bot stack on simulated time.

The data: the paper exchange's seeded synthetic market (`mmctl.exchange.paper.synthetic`, default knobs:
60 % annualised volatility, two taker trades a second at the mid) for BTCUSDT, 864,000 book tops (one
every 100 ms: a day) and the taker trades between them (about 173,000). The bot: `market_maker` with
`levels=3` and otherwise default parameters, no latency, the paper account's fees and funding, run by
`mmctl.backtest.engine.run_backtest` (strategy, band test, diff with amends, risk monitor, paper venue
matching). The events are generated before the clock starts (generation is not timed: it costs more than
the backtest), then the garbage collector is tuned as the daemon tunes it after start-up
(`mmctl.tuning.tune_gc`: the event list is frozen out of full collections).

Budget (issue 14, and the product's perf list): >= 200,000 events/s in one process.
Reference measured in the same run: the paper venue alone over the same events (`venue_events_per_s`,
the matching engine with no bot: the floor of any backtest).

Usage: python bench/backtest_speed.py [--updates 864000] [--profile 25] [--strategy NAME] [--set KEY=VALUE]
`--updates N` runs N book tops (and their trades) instead of a day; `--profile K` also prints the K
costliest functions of a second, profiled run (cProfile) to stderr. `--strategy NAME` backtests another
registered strategy (default `market_maker`) with its default parameters, `levels=3` where it has levels,
and any `--set key=value` (repeatable, as `mmctl create --set` reads them): e.g. `--strategy
avellaneda_stoikov` estimates σ and k online from the same data. The budget is for `market_maker`.
The last line is `backtest_events_per_s=<n> day_s=<n>`: events per wall-clock second, and the seconds a
whole day (864,000 book tops) takes at that rate.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

try:
    import mmctl  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mmctl.backtest.engine import BacktestResult, BacktestSpec, run_backtest
from mmctl.errors import ValidationError
from mmctl.exchange.paper import PaperVenue, SyntheticFeed, SyntheticParams
from mmctl.model import BookTop, Trade
from mmctl.strategies import get_strategy
from mmctl.strategies.params import StrategyParams, parse_params
from mmctl.strategies.params import describe as describe_params
from mmctl.tuning import tune_gc

DAY_UPDATES = 864_000
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SEED = 1


def day_events(updates: int, spec: BacktestSpec) -> list[BookTop | Trade]:
    """`updates` synthetic book tops of the spec's market and the trades among them, in time order."""
    feed = SyntheticFeed([spec.rules()], SyntheticParams(seed=SEED, book_interval_ms=100), START_MS)
    events: list[BookTop | Trade] = []
    books = 0
    for event in feed.events():
        if type(event) is BookTop:
            books += 1
            if books > updates:
                break
        events.append(event)  # type: ignore[arg-type]
    return events


def venue_only(events: list[BookTop | Trade], spec: BacktestSpec) -> float:
    """Seconds the paper venue alone takes over `events` (no orders: the matching floor)."""
    venue = PaperVenue({spec.rules().symbol: spec.rules()}, balance=spec.balance, start_ms=START_MS)
    on_book, on_trade = venue.on_book, venue.on_trade
    start = time.perf_counter()
    for event in events:
        if type(event) is BookTop:
            on_book(event)
        else:
            on_trade(event)  # type: ignore[arg-type]
    return time.perf_counter() - start


def profile(spec: BacktestSpec, events: list[BookTop | Trade], top: int) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    run_backtest(spec, events)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    print(out.getvalue(), file=sys.stderr)


def strategy_params(name: str, sets: list[str], parser: argparse.ArgumentParser) -> StrategyParams:
    """The strategy's default parameters with `levels=3` where it has levels, then each KEY=VALUE."""
    cls: type[StrategyParams] = get_strategy(name).params_cls
    values = {"levels": "3"} if any(info.name == "levels" for info in describe_params(cls)) else {}
    for item in sets:
        key, eq, value = item.partition("=")
        if not eq:
            parser.error(f"--set takes KEY=VALUE, got {item!r}")
        values[key.strip()] = value.strip()
    try:
        return parse_params(cls, values)
    except ValidationError as e:
        parser.error(e.message)


def describe(result: BacktestResult) -> str:
    m = result.metrics
    return (
        f"ticks={m.orders.ticks} placed={m.orders.placed} amended={m.orders.amended} "
        f"cancelled={m.orders.cancelled} fills={m.fills} net_pnl={m.net_pnl} max_drawdown={m.max_drawdown}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=DAY_UPDATES, help="book tops to run (a day: 864000)")
    parser.add_argument("--profile", type=int, default=0, help="print the K costliest functions (cProfile)")
    parser.add_argument("--strategy", default="market_maker", help="the strategy to backtest")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a strategy parameter (repeatable)"
    )
    args = parser.parse_args()
    if args.updates < 1:
        parser.error("--updates must be at least 1")
    try:
        spec = BacktestSpec(args.strategy, strategy_params(args.strategy, args.set, parser))
    except ValidationError as e:
        parser.error(e.message)
    generated = time.perf_counter()
    events = day_events(args.updates, spec)
    generated = time.perf_counter() - generated
    books = sum(1 for e in events if type(e) is BookTop)
    print(f"events={len(events)} books={books} trades={len(events) - books} generated_s={generated:.1f}")
    tune_gc()
    venue_s = venue_only(events, spec)
    print(f"venue_events_per_s={len(events) / venue_s:.0f} (the paper venue alone, reference)")
    start = time.perf_counter()
    result = run_backtest(spec, events)
    elapsed = time.perf_counter() - start
    print(describe(result))
    if args.profile:
        profile(spec, events, args.profile)
    rate = len(events) / elapsed
    day_s = elapsed * DAY_UPDATES / books
    print(f"backtest_events_per_s={rate:.0f} day_s={day_s:.1f}")


if __name__ == "__main__":
    main()
