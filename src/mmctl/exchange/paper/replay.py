"""Replay of Binance's public USDⓈ-M historical data files (data.binance.vision) as a market feed.

Accepted input (`replay_path` is one file or a directory; directories are read non-recursively and files
whose names do not follow the pattern below are ignored):
- File names `<SYMBOL>-bookTicker-<anything>.csv` and `<SYMBOL>-aggTrades-<anything>.csv`, or the same
  names ending in `.zip` (Binance's downloads: the first `.csv` inside is read). `<SYMBOL>` is the venue
  id (`BTCUSDT`); it must be a built-in market. Files of markets left out by `PaperAccount.symbols` are
  skipped.
- bookTicker rows: `update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,
  event_time`. The event time is `transaction_time` (`event_time` when that is empty or 0).
- aggTrades rows: `agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker`.
  `is_buyer_maker` is `true`/`false` (any case); true means the seller was the taker (a SELL trade).
- With or without the header row (the header, if present, must name exactly these columns); blank lines
  are skipped; extra trailing columns are ignored. Timestamps are epoch milliseconds; values of 10^14 or
  more are taken as microseconds and converted. Each file is expected in time order (as Binance writes
  them); events of all files are merged by time (ties: file name order).
A replay resumes by venue time: a feed built with `after_ms` yields only the events after it (rows up
to it are skipped reading only their time column), so the position in the files is the venue time of
the last delivered event.
Problems found while opening raise `ReplayFormatError` (a `ConfigError`) naming the file and line;
problems later in a file raise it from the iterator, which the driver reports in `health()`.
"""

from __future__ import annotations

import heapq
import io
import re
import zipfile
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

from mmctl.errors import ConfigError
from mmctl.exchange.paper.feed import MarketEvent
from mmctl.exchange.paper.markets import BUILTIN_MARKETS
from mmctl.model import BookTop, MarketRules, Side, Trade

BOOK_TICKER_COLUMNS = (
    "update_id",
    "best_bid_price",
    "best_bid_qty",
    "best_ask_price",
    "best_ask_qty",
    "transaction_time",
    "event_time",
)
AGG_TRADES_COLUMNS = (
    "agg_trade_id",
    "price",
    "quantity",
    "first_trade_id",
    "last_trade_id",
    "transact_time",
    "is_buyer_maker",
)
FILE_NAME = re.compile(r"(?P<symbol>[A-Z0-9]+)-(?P<kind>bookTicker|aggTrades)-.*\.(csv|zip)")
_MICROSECONDS = 10**14


class ReplayFormatError(ConfigError):
    """A replay file is missing, misnamed or malformed."""


@dataclass(frozen=True, slots=True)
class ReplayFile:
    path: Path
    kind: str  # "bookTicker" or "aggTrades"
    symbol: str  # unified


class ReplayFeed:
    """Events from Binance bookTicker and aggTrades files, merged in time order."""

    def __init__(self, files: list[ReplayFile], *, after_ms: int | None = None) -> None:
        if not files:
            raise ReplayFormatError("no replay files to read")
        self.files = files
        self._start_ms = min(_first_ts(f) for f in files)
        self.after_ms = after_ms

    @classmethod
    def from_path(
        cls, path: str, markets: Mapping[str, MarketRules], *, after_ms: int | None = None
    ) -> ReplayFeed:
        """Find the replay files under `path` for the given markets (keyed by unified symbol)."""
        if not path:
            raise ReplayFormatError("replay_path is empty: name a Binance bookTicker/aggTrades CSV or folder")
        root = Path(path).expanduser()
        if root.is_dir():
            candidates = sorted(p for p in root.iterdir() if p.is_file() and FILE_NAME.fullmatch(p.name))
        elif root.is_file():
            if not FILE_NAME.fullmatch(root.name):
                raise ReplayFormatError(
                    f"{root}: replay file names look like BTCUSDT-bookTicker-2024-01-01.csv or "
                    "BTCUSDT-aggTrades-2024-01-01.csv"
                )
            candidates = [root]
        else:
            raise ReplayFormatError(f"{root}: replay path not found")
        files = [f for f in (_classify(p, markets) for p in candidates) if f is not None]
        if not files:
            raise ReplayFormatError(f"{root}: no bookTicker or aggTrades files for the paper markets")
        return cls(files, after_ms=after_ms)

    @property
    def name(self) -> str:
        return f"replay {len(self.files)} file(s)"

    @property
    def start_ms(self) -> int:
        return self._start_ms

    def events(self) -> Iterator[MarketEvent]:
        return heapq.merge(*(read_file(f, self.after_ms) for f in self.files), key=_event_time)

    def state(self, after_ms: int) -> dict[str, Any]:
        """The resume document: the replay continues after the venue time `after_ms`."""
        return {"kind": "replay", "after_ms": after_ms}


def _event_time(event: MarketEvent) -> int:
    return event.ts_ms


def _classify(path: Path, markets: Mapping[str, MarketRules]) -> ReplayFile | None:
    match = FILE_NAME.fullmatch(path.name)
    assert match is not None
    venue_id = match["symbol"]
    if venue_id not in {spec.id for spec in BUILTIN_MARKETS}:
        raise ReplayFormatError(f"{path}: {venue_id} is not a paper exchange market")
    rules = next((r for r in markets.values() if r.id == venue_id), None)
    return ReplayFile(path, match["kind"], rules.symbol) if rules is not None else None


def _first_ts(f: ReplayFile) -> int:
    first = next(read_file(f), None)
    if first is None:
        raise ReplayFormatError(f"{f.path}: no data rows")
    return first.ts_ms


def read_file(f: ReplayFile, after_ms: int | None = None) -> Generator[MarketEvent, None, None]:
    """Parse one replay file lazily (only the events after `after_ms`, when given)."""
    columns = BOOK_TICKER_COLUMNS if f.kind == "bookTicker" else AGG_TRADES_COLUMNS
    width = len(columns)
    parse = row_parser(f.kind, f.symbol)
    skipping = after_ms is not None
    with _open_text(f.path) as text:
        for number, line in enumerate(text, start=1):
            fields = line.strip().split(",")
            if number == 1 or len(fields) < width:
                if fields == [""]:
                    continue
                if number == 1 and not fields[0].strip().lstrip("-").isdigit():
                    _check_header(f.path, fields, columns)
                    continue
                if len(fields) < width:
                    raise ReplayFormatError(f"{f.path}:{number}: expected {width} columns, got {len(fields)}")
            try:
                if skipping:
                    assert after_ms is not None
                    if _row_ms(f.kind, fields) <= after_ms:
                        continue
                    skipping = False
                yield parse(fields)
            except (InvalidOperation, ValueError) as e:
                raise ReplayFormatError(f"{f.path}:{number}: bad value ({e.__class__.__name__})") from None


@contextmanager
def _open_text(path: Path) -> Iterator[TextIO]:
    try:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                member = next((n for n in archive.namelist() if n.endswith(".csv")), None)
                if member is None:
                    raise ReplayFormatError(f"{path}: the zip holds no .csv file")
                with archive.open(member) as raw:
                    yield io.TextIOWrapper(raw, encoding="utf-8")
        else:
            with path.open(encoding="utf-8") as text:
                yield text
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise ReplayFormatError(f"{path}: cannot read replay file: {e}") from None


def _check_header(path: Path, fields: list[str], columns: tuple[str, ...]) -> None:
    names = tuple(name.strip().lower() for name in fields[: len(columns)])
    if names != columns:
        raise ReplayFormatError(f"{path}:1: expected the columns {','.join(columns)}")


def _ms(value: str) -> int:
    ts = int(value)
    return ts // 1000 if ts >= _MICROSECONDS else ts


def _row_ms(kind: str, fields: list[str]) -> int:
    if kind == "bookTicker":
        transaction_time = fields[5].strip()
        return _ms(transaction_time) if transaction_time not in ("", "0") else _ms(fields[6])
    return _ms(fields[5])


def _number(value: str) -> Decimal:
    number = Decimal(value)
    if not number.is_finite() or number < 0:
        raise ValueError(value)
    return number


NUMBERS_REMEMBERED = 100_000
"""Distinct number texts a row parser keeps (then it starts afresh): prices sit on a tick grid and sizes
repeat, so a day's file has far fewer distinct numbers than rows."""


def row_parser(kind: str, symbol: str) -> Callable[[list[str]], MarketEvent]:
    """The parser of one `kind` ("bookTicker" or "aggTrades") data row, split into its fields, for the
    market `symbol` (unified): a `BookTop` or a `Trade`, or `ValueError`/`InvalidOperation` for a bad
    value. Each parser remembers the Decimals it made (equal texts give one shared, immutable Decimal),
    which makes a long file faster to read and its events lighter in memory."""
    numbers: dict[str, Decimal] = {}
    known = numbers.get

    def number(text: str) -> Decimal:
        if len(numbers) >= NUMBERS_REMEMBERED:
            numbers.clear()
        value = numbers[text] = _number(text)
        return value

    def book_row(fields: list[str]) -> BookTop:
        transaction_time = fields[5].strip()
        ts = int(transaction_time) if transaction_time not in ("", "0") else int(fields[6])
        if ts >= _MICROSECONDS:  # `_ms`, inlined: this runs for every row
            ts //= 1000
        bid, bid_qty, ask, ask_qty = fields[1], fields[2], fields[3], fields[4]
        return BookTop(
            symbol,
            known(bid) or number(bid),  # a zero is made anew each time (falsy), which is still right
            known(bid_qty) or number(bid_qty),
            known(ask) or number(ask),
            known(ask_qty) or number(ask_qty),
            ts,
        )

    def trade_row(fields: list[str]) -> Trade:
        maker = fields[6].strip().lower()
        if maker not in ("true", "false"):
            raise ValueError("is_buyer_maker")
        side = Side.SELL if maker == "true" else Side.BUY
        price, qty = fields[1], fields[2]
        return Trade(symbol, known(price) or number(price), known(qty) or number(qty), side, _ms(fields[5]))

    return book_row if kind == "bookTicker" else trade_row
