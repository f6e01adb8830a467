"""`mmctl record`: Binance USDⓈ-M public book tops and trades written into daily CSV files, in the format of
Binance's historical data (`mmctl.exchange.paper.replay` reads it), for backtests and paper replays.

`RecordWriter(out_dir, markets)` appends each `BookTop` to `<SYMBOL>-bookTicker-<YYYY-MM-DD>.csv` and each
`Trade` to `<SYMBOL>-aggTrades-<YYYY-MM-DD>.csv`:
- the day is the UTC date of the event's time, so the files rotate at 00:00 UTC like Binance's own;
- a new file starts with the header row; an existing one (a restarted recording) is appended to, after
  cutting off a partial last row that a crash mid-write may have left. Its first line must be the header
  (or a data row: a headerless Binance file), else the recording refuses to touch it;
- `write(batch)` writes each file's rows of the batch with one unbuffered write, so what a batch wrote is
  in the file when it returns (nothing waits in a buffer);
- columns the live feed does not carry are filled in: `update_id`, `agg_trade_id`, `first_trade_id` and
  `last_trade_id` are the row's number in the file (1, 2, ...; continued on append), and a book top's
  `transaction_time` and `event_time` are both its event time (Binance's `T`);
- each file stays in time order: an event older than the last row of its file is dropped and counted
  (a stale book top: a newer one was already written).

`record(feed, writer, stop=...)` drains a `LiveFeed` (the paper venue's live-market feed
`BinancePublicFeed`: keyless, reconnecting) into the writer once every `flush_s`, until `stop` is set,
`duration_s` has passed or the feed fails. That feed passes every trade on, but book tops through a watch
that keeps the newest: tops arriving faster than the event loop takes them are conflated (as a bot
would have seen them). `run(...)` is the command: it builds the feed (ccxt is imported there, never when
the CLI loads), stops on SIGINT/SIGTERM and returns a `Recording` summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import BinaryIO

from mmctl.errors import StoreError
from mmctl.exchange.paper.feed import LiveFeed, MarketEvent
from mmctl.exchange.paper.replay import (
    AGG_TRADES_COLUMNS,
    BOOK_TICKER_COLUMNS,
    ReplayFormatError,
    row_parser,
)
from mmctl.model import BookTop, MarketRules, Side

DAY_MS = 86_400_000
TAIL_BYTES = 65_536
"""How much of an existing file's end is read to find its last row (rows are far shorter)."""
FLUSH_S = 1.0
"""How often `record` writes what the feed delivered."""
_EPOCH_DAY = date(1970, 1, 1)
_HEADERS = {"bookTicker": ",".join(BOOK_TICKER_COLUMNS), "aggTrades": ",".join(AGG_TRADES_COLUMNS)}


@dataclass
class _Stream:
    """One symbol's book tops or trades: the file of the current day, its next row id, its last time."""

    venue_id: str
    kind: str
    day: int | None = None
    path: Path | None = None
    handle: BinaryIO | None = None
    next_id: int = 1
    last_ts: int | None = None


class RecordWriter:
    """Appends book tops and trades of `markets` to daily CSV files in `out_dir` (see the module
    docstring). `rows` counts the rows written per file name; `dropped` the out-of-order events."""

    def __init__(self, out_dir: Path, markets: Iterable[MarketRules]) -> None:
        self.out_dir = out_dir
        self._ids = {rules.symbol: rules.id for rules in markets}
        self._streams: dict[tuple[str, str], _Stream] = {}
        self.rows: dict[str, int] = {}
        self.dropped = 0

    def write(self, events: Iterable[MarketEvent]) -> None:
        """Append `events` (in arrival order) to their files; raises `StoreError` when a write fails."""
        pending: dict[Path, list[str]] = {}
        handles: dict[Path, BinaryIO] = {}
        for event in events:
            stream = self._stream(event)
            ts = event.ts_ms
            if stream.day != ts // DAY_MS and (stream.last_ts is None or ts >= stream.last_ts):
                self._flush(pending, handles)  # the rows meant for the file being closed
                self._open(stream, ts // DAY_MS)
            if stream.last_ts is not None and ts < stream.last_ts:
                self.dropped += 1
                continue
            assert stream.path is not None
            assert stream.handle is not None
            pending.setdefault(stream.path, []).append(_row(event, stream.next_id))
            handles[stream.path] = stream.handle
            stream.next_id += 1
            stream.last_ts = ts
        self._flush(pending, handles)

    def close(self) -> None:
        """Close every open file (after syncing it to disk)."""
        for stream in self._streams.values():
            self._close(stream)

    def _stream(self, event: MarketEvent) -> _Stream:
        kind = "bookTicker" if isinstance(event, BookTop) else "aggTrades"
        stream = self._streams.get((event.symbol, kind))
        if stream is None:
            venue_id = self._ids.get(event.symbol)
            if venue_id is None:
                raise ValueError(f"{event.symbol}: not a market of this recording")
            stream = self._streams[(event.symbol, kind)] = _Stream(venue_id, kind)
        return stream

    def _open(self, stream: _Stream, day: int) -> None:
        """Switch `stream` to the file of `day` (creating it with its header, or resuming it)."""
        self._close(stream)
        stamp = (_EPOCH_DAY + timedelta(days=day)).isoformat()
        path = self.out_dir / f"{stream.venue_id}-{stream.kind}-{stamp}.csv"
        try:
            next_id, last_ts = prepare_file(path, stream.kind)
            stream.handle = path.open("ab", buffering=0)
        except OSError as e:
            raise StoreError(f"{path}: cannot write the recording: {e.strerror or e}") from e
        stream.day, stream.path, stream.next_id = day, path, next_id
        if last_ts is not None and (stream.last_ts is None or last_ts > stream.last_ts):
            stream.last_ts = last_ts
        self.rows.setdefault(path.name, 0)

    def _flush(self, pending: dict[Path, list[str]], handles: dict[Path, BinaryIO]) -> None:
        for path, rows in pending.items():
            data = "".join(rows).encode()
            try:
                _write_all(handles[path], data)
            except OSError as e:
                raise StoreError(f"{path}: cannot write the recording: {e.strerror or e}") from e
            self.rows[path.name] = self.rows.get(path.name, 0) + len(rows)
        pending.clear()
        handles.clear()

    @staticmethod
    def _close(stream: _Stream) -> None:
        if stream.handle is not None:
            with contextlib.suppress(OSError):
                os.fsync(stream.handle.fileno())
            stream.handle.close()
            stream.handle = None


def _write_all(handle: BinaryIO, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = handle.write(view)
        view = view[written or 0 :]


def _row(event: MarketEvent, row_id: int) -> str:
    """`event` as a line of its Binance file (see the module docstring for the filled-in columns)."""
    ts = event.ts_ms
    if isinstance(event, BookTop):
        return f"{row_id},{event.bid:f},{event.bid_qty:f},{event.ask:f},{event.ask_qty:f},{ts},{ts}\n"
    maker = "true" if event.side is Side.SELL else "false"  # a selling taker: the buyer was the maker
    return f"{row_id},{event.price:f},{event.qty:f},{row_id},{row_id},{ts},{maker}\n"


def prepare_file(path: Path, kind: str) -> tuple[int, int | None]:
    """Make `path` ready for appending `kind` rows: created with its header when missing or holding no
    complete line, else checked and cut after its last complete row. Returns the next row id and the last
    row's time (None when it has no data row)."""
    header = _HEADERS[kind]
    size = path.stat().st_size if path.exists() else 0
    if size:
        with path.open("rb") as f:
            head = f.read(min(size, 4096))
            start = max(0, size - TAIL_BYTES)
            f.seek(start)
            tail = f.read()
        if b"\n" in head or size > len(head):
            return _resume(path, kind, head, start, tail)
    with path.open("wb") as f:  # new, empty, or only a header or row cut short by a crash
        f.write(f"{header}\n".encode())
    return 1, None


def _resume(path: Path, kind: str, head: bytes, start: int, tail: bytes) -> tuple[int, int | None]:
    """Check the first line of `path`, cut off a partial last row (a crash mid-write: it was never
    complete) and read the last complete row. `tail` is the file's content from byte `start` on."""
    header = _HEADERS[kind]
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    if first != header and not first.split(",")[0].isdigit():
        raise ReplayFormatError(
            f"{path}:1: expected the columns {header}: not a {kind} recording; move it away or record "
            "into another directory"
        )
    end = tail.rfind(b"\n") + 1
    lines = tail[:end].decode("utf-8", "replace").split("\n")[1 if start > 0 else 0 :]  # [0]: maybe cut
    last = next((line.strip() for line in reversed(lines) if line.strip()), None)
    if last is None:
        raise ReplayFormatError(f"{path}: no complete line in its last {TAIL_BYTES} bytes: not a recording")
    if end < len(tail):
        with path.open("r+b") as f:
            f.truncate(start + end)
    if last == header:
        return 1, None
    fields = last.split(",")
    try:
        return int(fields[0]) + 1, row_parser(kind, "")(fields).ts_ms
    except (ValueError, IndexError, ArithmeticError) as e:
        raise ReplayFormatError(f"{path}: its last row is not a {kind} row: {last[:80]!r}") from e


# --- the recording loop ------------------------------------------------------------------------------


@dataclass
class Recording:
    """What a recording did: rows written per file name, events dropped, how long, and why it ended."""

    out_dir: Path
    rows: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    seconds: float = 0.0
    ended_by: str = "stop"  # "stop" (signal or caller), "duration", "feed" (the feed ended)

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def summary(self) -> str:
        """One line: the rows written per file."""
        files = ", ".join(f"{name} {count}" for name, count in self.rows.items()) or "no rows"
        return f"recorded {self.total} rows in {self.seconds:.0f} s into {self.out_dir}: {files}"

    def document(self) -> dict[str, object]:
        return {
            "out": str(self.out_dir),
            "rows": self.total,
            "files": [{"file": name, "rows": count} for name, count in self.rows.items()],
            "dropped": self.dropped,
            "seconds": round(self.seconds, 3),
            "ended_by": self.ended_by,
        }


async def record(
    feed: LiveFeed,
    writer: RecordWriter,
    *,
    stop: asyncio.Event,
    duration_s: float | None = None,
    flush_s: float = FLUSH_S,
) -> Recording:
    """Write what `feed` delivers into `writer` every `flush_s` until `stop` is set or `duration_s` has
    passed; the feed's error, if it fails, is raised after what it delivered has been written."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    end = None if duration_s is None else started + duration_s
    pending: list[MarketEvent] = []
    pump = loop.create_task(_pump(feed, pending), name="record-feed")
    stopped = loop.create_task(stop.wait(), name="record-stop")
    ended_by = "stop"
    try:
        while True:
            timeout = flush_s if end is None else max(0.0, min(flush_s, end - loop.time()))
            await asyncio.wait({pump, stopped}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            _drain(pending, writer)
            if stop.is_set():
                break
            if pump.done():
                ended_by = "feed"
                break
            if end is not None and loop.time() >= end:
                ended_by = "duration"
                break
    finally:
        pump.cancel()
        stopped.cancel()
        await asyncio.wait({pump, stopped})  # the feed closes its client; a failure is looked at below
        try:
            _drain(pending, writer)
        finally:
            writer.close()
    result = Recording(writer.out_dir, dict(writer.rows), writer.dropped, loop.time() - started, ended_by)
    error = None if pump.cancelled() else pump.exception()
    if error is not None and ended_by == "feed":
        raise error
    return result


async def _pump(feed: LiveFeed, pending: list[MarketEvent]) -> None:
    async for event in feed.stream():
        pending.append(event)


def _drain(pending: list[MarketEvent], writer: RecordWriter) -> None:
    if pending:
        batch = pending.copy()
        pending.clear()
        writer.write(batch)


def check_out_dir(out_dir: Path) -> Path:
    """`out_dir` created if missing and proven writable; `StoreError` naming it otherwise."""
    out_dir = out_dir.expanduser()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as e:
        raise StoreError(f"{out_dir}: cannot record there: {e.strerror or e}") from e
    return out_dir


def run(
    markets: Sequence[MarketRules],
    out_dir: Path,
    *,
    duration_s: float | None = None,
    rest_url: str = "",
    ws_url: str = "",
    notice: Callable[[str], None] = lambda _: None,
) -> Recording:
    """The `mmctl record` command: record `markets` from Binance (or `rest_url`/`ws_url`) into `out_dir`
    until SIGINT/SIGTERM or `duration_s`; `notice` receives a line when recording starts."""
    out_dir = check_out_dir(out_dir)
    _log_warnings_to_stderr()
    from mmctl.clock import SystemClock
    from mmctl.exchange.binance.public_feed import BinancePublicFeed  # imports ccxt: only here

    async def main() -> Recording:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        feed = BinancePublicFeed(list(markets), SystemClock(), rest_url=rest_url, ws_url=ws_url)
        names = ", ".join(rules.id for rules in markets)
        until = f"for {duration_s:g} s" if duration_s is not None else "until stopped (Ctrl-C)"
        notice(f"recording {names} book tops and trades from {feed.name} into {out_dir} {until}")
        return await record(feed, RecordWriter(out_dir, markets), stop=stop, duration_s=duration_s)

    return asyncio.run(main())


def _log_warnings_to_stderr() -> None:
    """The live feed's warnings (reconnects, an unreachable Binance) as plain lines on stderr, so stdout
    carries only the summary."""
    import logging
    import sys

    import structlog

    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.KeyValueRenderer(key_order=["timestamp", "level", "event"]),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
