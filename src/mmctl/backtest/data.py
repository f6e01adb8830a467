"""Market data for backtests: one symbol's book tops and trades, read and checked in full before a run.

`load_events(path, symbol, from_ms, to_ms)` reads Binance USDⓈ-M `bookTicker` / `aggTrades` files (the
downloads of data.binance.vision and the recordings of `mmctl record`) with the paper replay's own
reader (`mmctl.exchange.paper.replay`): the same file names, columns, optional header, zip archives and
microsecond timestamps, so a backtest sees exactly the events a paper account replaying the same files
sees. `path` is one file or a directory; in a directory only the symbol's files count (others are
ignored). Events are those with `from_ms <= ts_ms < to_ms` (either bound optional), all files merged in
time order (ties: file name order, as the replay merges them). Each file is expected in time order, as
Binance and `mmctl record` write them.

Everything is read and checked before `load_events` returns, so a run never starts on bad data:
- `ValidationError` (the CLI exits 2): an unknown symbol, `from_ms` not before `to_ms`, or a range that
  holds no data (the message states the time range the data covers, in UTC);
- `ReplayFormatError` (a `ConfigError`, exit 1): the path does not exist, a directory holds no files for
  the symbol (the message names the directory and the file names expected), no bookTicker file (book tops
  are what orders are matched against), the same file both as `.csv` and `.zip`, or a malformed row
  (the message names the file and the line).

`synthetic_events(symbol, start_ms, duration_s, seed, updates_per_s)` is the paper exchange's seeded
synthetic market (`SymbolWalk`) for one symbol over a span of time: the same seed, the same events.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from decimal import Decimal
from operator import attrgetter
from pathlib import Path

from mmctl.errors import MmctlError, UnknownSymbol, ValidationError
from mmctl.exchange.paper.feed import MarketEvent
from mmctl.exchange.paper.markets import builtin_markets
from mmctl.exchange.paper.replay import FILE_NAME, ReplayFile, ReplayFormatError, read_file
from mmctl.exchange.paper.synthetic import SymbolWalk, SyntheticParams
from mmctl.model import MarketRules
from mmctl.timefmt import iso_utc

_TIME = attrgetter("ts_ms")
MAX_UPDATES_PER_S = 1000


def market_rules(symbol: str) -> MarketRules:
    """The built-in market named `symbol` (`BTCUSDT` or `BTC/USDT:USDT`); `ValidationError` naming the
    markets there are otherwise. Its fees are zero: use it to name markets, not to trade."""
    try:
        [rules] = builtin_markets(Decimal(0), Decimal(0), only=[symbol]).values()
    except UnknownSymbol as e:
        raise ValidationError(e.message, data={"field": "symbol", "symbol": symbol}) from e
    return rules


def load_events(
    path: Path, symbol: str, from_ms: int | None = None, to_ms: int | None = None
) -> list[MarketEvent]:
    """Every book top and trade of `symbol` in `path` within `[from_ms, to_ms)`, in time order (see the
    module docstring for the accepted files and the errors)."""
    rules = market_rules(symbol)
    if from_ms is not None and to_ms is not None and from_ms >= to_ms:
        raise ValidationError(
            f"the start {iso_utc(from_ms)} is not before the end {iso_utc(to_ms)}", data={"field": "from"}
        )
    files = data_files(path, rules)
    events: list[MarketEvent] = []
    with _gc_paused():
        for f in files:
            events.extend(_read_range(f, from_ms, to_ms))
        events.sort(key=_TIME)  # stable: equal times keep the file order, as the replay's merge does
    if not events:
        raise _no_data_in_range(path, rules, files, from_ms, to_ms)
    return events


def data_files(path: Path, rules: MarketRules) -> list[ReplayFile]:
    """The data files of `rules`' market at `path` (a file or a directory), in file name order."""
    root = path.expanduser()
    venue_id = rules.id
    expected = f"{venue_id}-bookTicker-<YYYY-MM-DD>.csv and {venue_id}-aggTrades-<YYYY-MM-DD>.csv (or .zip)"
    if root.is_dir():
        candidates = sorted(p for p in root.iterdir() if p.is_file() and _symbol_of(p) == venue_id)
        if not candidates:
            raise ReplayFormatError(f"{root}: no {venue_id} market data: expected files named {expected}")
    elif root.is_file():
        if _symbol_of(root) != venue_id:
            raise ReplayFormatError(f"{root}: not a {venue_id} data file: expected a name like {expected}")
        candidates = [root]
    else:
        raise ReplayFormatError(f"{root}: market data path not found")
    stems = {p.with_suffix("") for p in candidates}
    if len(stems) < len(candidates):
        twin = next(p for p in candidates if p.suffix == ".zip" and p.with_suffix(".csv") in candidates)
        raise ReplayFormatError(f"{twin}: the same data is also in {twin.with_suffix('.csv').name}: keep one")
    files = [ReplayFile(p, _kind_of(p), rules.symbol) for p in candidates]
    if not any(f.kind == "bookTicker" for f in files):
        raise ReplayFormatError(
            f"{root}: no {venue_id} bookTicker file (a backtest needs book tops): expected "
            f"{venue_id}-bookTicker-<YYYY-MM-DD>.csv (or .zip)"
        )
    return files


def _symbol_of(path: Path) -> str | None:
    match = FILE_NAME.fullmatch(path.name)
    return match["symbol"] if match else None


def _kind_of(path: Path) -> str:
    match = FILE_NAME.fullmatch(path.name)
    assert match is not None
    return match["kind"]


def _read_range(f: ReplayFile, from_ms: int | None, to_ms: int | None) -> list[MarketEvent]:
    """The events of one file in `[from_ms, to_ms)`: rows before `from_ms` are skipped reading only their
    time, and reading stops at the first row at or after `to_ms` (the file is in time order)."""
    with closing(read_file(f, None if from_ms is None else from_ms - 1)) as events:
        if to_ms is None:
            return list(events)
        out: list[MarketEvent] = []
        for event in events:
            if event.ts_ms >= to_ms:
                break
            out.append(event)
        return out


def _no_data_in_range(
    path: Path, rules: MarketRules, files: list[ReplayFile], from_ms: int | None, to_ms: int | None
) -> MmctlError:
    """The error for a range without events, stating the range the data covers (read in full for that)."""
    first: int | None = None
    last: int | None = None
    for f in files:
        with closing(read_file(f)) as events:
            for event in events:
                ts = event.ts_ms
                first = ts if first is None or ts < first else first
                last = ts if last is None or ts > last else last
    if first is None or last is None:
        return ReplayFormatError(f"{path}: the {rules.id} data files hold no data rows")
    asked = f"from {iso_utc(from_ms) if from_ms is not None else 'the start'} to " + (
        iso_utc(to_ms) if to_ms is not None else "the end"
    )
    return ValidationError(
        f"no {rules.id} data {asked}: the data in {path} covers {iso_utc(first)} to {iso_utc(last)}",
        data={"field": "from", "data_from": iso_utc(first), "data_to": iso_utc(last)},
    )


def synthetic_events(
    symbol: str,
    start_ms: int,
    duration_s: float,
    seed: int,
    updates_per_s: int = 10,
    *,
    params: SyntheticParams | None = None,
) -> list[MarketEvent]:
    """The synthetic market of `symbol` from `start_ms` for `duration_s` seconds: a book top every
    1/`updates_per_s` s and the taker trades between them, exactly as a paper account with the same seed
    and book interval generates them (`params` sets the other knobs; its seed and interval are replaced)."""
    if not 1 <= updates_per_s <= MAX_UPDATES_PER_S or MAX_UPDATES_PER_S % updates_per_s:
        raise ValidationError(
            f"updates per second must divide 1000 (1, 2, 4, 5, 10, ... 1000), got {updates_per_s}",
            data={"field": "updates_per_s"},
        )
    if not math.isfinite(duration_s) or duration_s <= 0:
        raise ValidationError(
            f"the duration must be positive, got {duration_s}", data={"field": "duration_s"}
        )
    rules = market_rules(symbol)
    knobs = replace(params or SyntheticParams(), seed=seed, book_interval_ms=1000 // updates_per_s)
    end_ms = start_ms + round(duration_s * 1000)
    events: list[MarketEvent] = []
    append = events.append
    with _gc_paused():
        for event in SymbolWalk(rules, knobs, start_ms).events():
            if event.ts_ms >= end_ms:
                break
            append(event)
    return events


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a long list of new objects is built (its collections
    would walk them again and again: about a fifth of the load time), back on afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
