"""`mmctl record`: the daily CSV writer (rotation at 00:00 UTC, appending after a restart, partial rows,
time order), a recording from the fake Binance server read back by the backtest loader, and the command's
bad input and clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import pytest
from tests.fakebinance.fixture import fake_in_thread, running_fake
from tests.fakebinance.server import FakeBinance
from tests.support.daemon import run_cli

from mmctl.backtest.data import load_events, market_rules
from mmctl.backtest.record import RecordWriter, record
from mmctl.clock import SystemClock
from mmctl.errors import StoreError, VenueUnavailable
from mmctl.exchange.paper.replay import ReplayFormatError
from mmctl.model import BookTop, Side, Trade

D = Decimal
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
DAY2 = 1_704_153_600_000  # 2024-01-02T00:00:00Z
BOOK_HEADER = "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time"
TRADES_HEADER = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
DEADLINE_S = 15.0


def book(ts: int, bid: str = "42000.0", symbol: str = BTC) -> BookTop:
    return BookTop(symbol, D(bid), D("1.5"), D(bid) + D("0.1"), D("2"), ts)


def trade(ts: int, price: str = "42000.0", side: Side = Side.BUY) -> Trade:
    return Trade(BTC, D(price), D("0.010"), side, ts)


def writer_for(out: Path) -> RecordWriter:
    return RecordWriter(out, [market_rules("BTCUSDT"), market_rules("ETHUSDT")])


def test_rows_go_to_the_file_of_their_utc_day(tmp_path: Path) -> None:
    """Events just before and after 00:00 UTC land in two daily files per stream, each with its header
    once, ids counting from 1 in each file, and every row counted per file."""
    writer = writer_for(tmp_path)
    writer.write([book(DAY2 - 100), trade(DAY2 - 50, side=Side.SELL), book(DAY2), trade(DAY2 + 1)])
    writer.write([book(DAY2 + 7, "42001.5")])
    writer.close()
    assert (tmp_path / "BTCUSDT-bookTicker-2024-01-01.csv").read_text() == (
        f"{BOOK_HEADER}\n1,42000.0,1.5,42000.1,2,{DAY2 - 100},{DAY2 - 100}\n"
    )
    assert (tmp_path / "BTCUSDT-bookTicker-2024-01-02.csv").read_text() == (
        f"{BOOK_HEADER}\n1,42000.0,1.5,42000.1,2,{DAY2},{DAY2}\n"
        f"2,42001.5,1.5,42001.6,2,{DAY2 + 7},{DAY2 + 7}\n"
    )
    assert (tmp_path / "BTCUSDT-aggTrades-2024-01-01.csv").read_text() == (
        f"{TRADES_HEADER}\n1,42000.0,0.010,1,1,{DAY2 - 50},true\n"
    )
    assert (tmp_path / "BTCUSDT-aggTrades-2024-01-02.csv").read_text() == (
        f"{TRADES_HEADER}\n1,42000.0,0.010,1,1,{DAY2 + 1},false\n"
    )
    assert writer.rows == {
        "BTCUSDT-bookTicker-2024-01-01.csv": 1,
        "BTCUSDT-aggTrades-2024-01-01.csv": 1,
        "BTCUSDT-bookTicker-2024-01-02.csv": 2,
        "BTCUSDT-aggTrades-2024-01-02.csv": 1,
    }


def test_a_restarted_recording_appends_to_the_days_file(tmp_path: Path) -> None:
    """A second writer continues the day's file: one header, row ids continued, rows in order."""
    first = writer_for(tmp_path)
    first.write([book(DAY2 + 1), book(DAY2 + 2)])
    first.close()
    second = writer_for(tmp_path)
    second.write([book(DAY2 + 3, "42002.0")])
    second.close()
    lines = (tmp_path / "BTCUSDT-bookTicker-2024-01-02.csv").read_text().splitlines()
    assert lines[0] == BOOK_HEADER
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2", "3"]
    assert lines[3] == f"3,42002.0,1.5,42002.1,2,{DAY2 + 3},{DAY2 + 3}"
    assert second.rows == {"BTCUSDT-bookTicker-2024-01-02.csv": 1}


def test_a_partial_last_row_left_by_a_crash_is_cut_off_before_appending(tmp_path: Path) -> None:
    """A row cut short mid-write (no newline) is dropped when the recording resumes, so the file holds only
    complete rows; a file holding only part of its header starts afresh."""
    path = tmp_path / "BTCUSDT-bookTicker-2024-01-02.csv"
    path.write_text(f"{BOOK_HEADER}\n1,42000.0,1.5,42000.1,2,{DAY2},{DAY2}\n2,42000.5,1.")
    writer = writer_for(tmp_path)
    writer.write([book(DAY2 + 9, "42003.0")])
    writer.close()
    assert path.read_text() == (
        f"{BOOK_HEADER}\n1,42000.0,1.5,42000.1,2,{DAY2},{DAY2}\n"
        f"2,42003.0,1.5,42003.1,2,{DAY2 + 9},{DAY2 + 9}\n"
    )
    trades = tmp_path / "BTCUSDT-aggTrades-2024-01-02.csv"
    trades.write_text("agg_trade_id,pri")
    writer = writer_for(tmp_path)
    writer.write([trade(DAY2 + 9)])
    writer.close()
    assert trades.read_text() == f"{TRADES_HEADER}\n1,42000.0,0.010,1,1,{DAY2 + 9},false\n"


def test_a_headerless_binance_file_is_continued_without_a_header(tmp_path: Path) -> None:
    """A day's file that starts with a data row (Binance's older downloads) gets no header in the middle;
    row ids continue from its last row."""
    path = tmp_path / "BTCUSDT-bookTicker-2024-01-02.csv"
    path.write_text(f"41,42000.0,1.5,42000.1,2,{DAY2},0\n")
    writer = writer_for(tmp_path)
    writer.write([book(DAY2 + 1)])
    writer.close()
    assert path.read_text().splitlines() == [
        f"41,42000.0,1.5,42000.1,2,{DAY2},0",
        f"42,42000.0,1.5,42000.1,2,{DAY2 + 1},{DAY2 + 1}",
    ]


class FailingFeed:
    """A live feed that delivers some events, then fails as a feed does when Binance refuses a market."""

    name = "failing"

    def __init__(self, events: list[BookTop]) -> None:
        self.events = events

    async def stream(self) -> AsyncIterator[BookTop]:
        for event in self.events:
            yield event
        raise VenueUnavailable("BTCUSDT: not a trading USDⓈ-M perpetual")


def test_a_failing_feed_ends_the_recording_with_its_error_after_writing(tmp_path: Path) -> None:
    """When the feed fails, what it delivered is in the files and its error is raised to the caller."""

    async def scenario() -> None:
        writer = writer_for(tmp_path)
        feed = FailingFeed([book(DAY2), book(DAY2 + 1)])
        with pytest.raises(VenueUnavailable, match="not a trading"):
            await record(feed, writer, stop=asyncio.Event(), flush_s=0.01)

    asyncio.run(scenario())
    assert [e.ts_ms for e in load_events(tmp_path, "BTCUSDT")] == [DAY2, DAY2 + 1]


def test_events_older_than_the_files_last_row_are_dropped(tmp_path: Path) -> None:
    """Each file stays in time order: a stale book top, also one older than the last row a previous
    recording left, is dropped and counted, never written."""
    writer = writer_for(tmp_path)
    writer.write([book(DAY2 + 200), book(DAY2 + 100), book(DAY2 + 300)])
    writer.close()
    assert writer.dropped == 1
    again = writer_for(tmp_path)
    again.write([book(DAY2 + 250), book(DAY2 + 400)])
    again.close()
    times = [e.ts_ms for e in load_events(tmp_path, "BTCUSDT")]
    assert times == [DAY2 + 200, DAY2 + 300, DAY2 + 400]
    assert again.dropped == 1


def test_a_file_of_another_format_is_refused_and_left_alone(tmp_path: Path) -> None:
    """A same-named file whose first line is neither the header nor a data row is not appended to."""
    path = tmp_path / "BTCUSDT-bookTicker-2024-01-02.csv"
    path.write_text("time,bid,ask\n1,2,3\n")
    writer = writer_for(tmp_path)
    with pytest.raises(
        ReplayFormatError, match=r"BTCUSDT-bookTicker-2024-01-02\.csv:1: expected the columns"
    ):
        writer.write([book(DAY2)])
    writer.close()
    assert path.read_text() == "time,bid,ask\n1,2,3\n"


def test_what_is_written_reads_back_as_the_same_events(tmp_path: Path) -> None:
    """The backtest loader reads a recording back as exactly the events written, numbers in plain
    notation whatever their exponent."""
    events = [
        book(DAY2, "42000.0"),
        Trade(BTC, D("4.2E+4"), D("1E-3"), Side.SELL, DAY2 + 1),
        BookTop(BTC, D("42000.10"), D("0.001"), D("42000.20"), D("12.5"), DAY2 + 2),
        book(DAY2 + 2, "3000.00", ETH),
    ]
    writer = writer_for(tmp_path)
    writer.write(events)
    writer.close()
    assert "4.2E" not in (tmp_path / "BTCUSDT-aggTrades-2024-01-02.csv").read_text()
    assert load_events(tmp_path, "BTCUSDT") == [e for e in events if e.symbol == BTC]
    assert load_events(tmp_path, "ETHUSDT") == [events[3]]


def test_an_unwritable_directory_is_a_store_error_naming_it(tmp_path: Path) -> None:
    """A write that the file system refuses is one error naming the file (exit 1), not a traceback."""
    (tmp_path / "BTCUSDT-bookTicker-2024-01-02.csv").mkdir()  # a directory where the file should be
    writer = writer_for(tmp_path)
    with pytest.raises(StoreError, match=r"BTCUSDT-bookTicker-2024-01-02\.csv: cannot write the recording"):
        writer.write([book(DAY2)])


async def eventually(predicate: Callable[[], bool], what: str) -> None:
    """Poll `predicate` on the loop until true, or fail after `DEADLINE_S` seconds."""
    deadline = time.monotonic() + DEADLINE_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def subscribed(fake: FakeBinance, stream: str) -> bool:
    return any(stream in conn.streams for conn in list(fake.hub.connections))


def recorded(out: Path, kind: str, text: str) -> bool:
    return any(text in path.read_text() for path in out.glob(f"BTCUSDT-{kind}-*.csv"))


def test_a_recording_from_binance_reads_back_as_backtest_data(tmp_path: Path) -> None:
    """Book tops and trades streamed by the (fake) Binance are recorded through the live feed and read
    back by `load_events` with their prices, sizes, taker sides and Binance's event times."""
    from mmctl.exchange.binance.public_feed import BinancePublicFeed

    async def scenario() -> None:
        async with running_fake() as fake:
            markets = [market_rules("BTCUSDT")]
            feed = BinancePublicFeed(markets, SystemClock(), rest_url=fake.rest_url, ws_url=fake.ws_url)
            writer = RecordWriter(tmp_path, markets)
            stop = asyncio.Event()
            task = asyncio.create_task(record(feed, writer, stop=stop, flush_s=0.02))
            await eventually(lambda: subscribed(fake, "btcusdt@aggTrade"), "the aggTrade subscription")
            fake.set_book("BTCUSDT", D("90000.0"), D("90000.1"), D("1.5"), D("2.5"))
            await eventually(lambda: recorded(tmp_path, "bookTicker", "90000.00,1.500,"), "the book top")
            start_ms = fake.now_ms()
            fake.trade("BTCUSDT", "SELL", D("89999.9"), D("0.010"))
            fake.trade("BTCUSDT", "BUY", D("90000.1"), D("0.250"))
            await eventually(lambda: recorded(tmp_path, "aggTrades", ",0.250,"), "both trades")
            stop.set()
            result = await task
            assert result.ended_by == "stop"
            assert feed.status == "closed"
            assert result.total == sum(writer.rows.values()) >= 3
            events = load_events(tmp_path, "BTCUSDT")
            trades = [e for e in events if isinstance(e, Trade)]
            assert [(t.price, t.qty, t.side) for t in trades] == [
                (D("89999.90"), D("0.010"), Side.SELL),
                (D("90000.10"), D("0.250"), Side.BUY),
            ]
            assert all(start_ms <= t.ts_ms <= fake.now_ms() for t in trades)
            tops = [e for e in events if isinstance(e, BookTop)]
            assert (tops[-1].bid, tops[-1].bid_qty, tops[-1].ask, tops[-1].ask_qty) == (
                D("90000.0"),
                D("1.5"),
                D("90000.1"),
                D("2.5"),
            )

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ADAUSDT"], "unknown symbol 'ADAUSDT' on the paper exchange"),
        (["BTCUSDT", "--for", "soon"], "--for: expected a duration like 90m, 24h, 7d or 2w, got 'soon'"),
        (["BTCUSDT", "--for", "0h"], "--for: the duration must be positive"),
        (["BTCUSDT", "--ws-url", "http://127.0.0.1:1/ws"], "--ws-url: expected a URL like"),
        (["BTCUSDT", "--rest-url", "127.0.0.1:1"], "--rest-url: expected a URL like"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_is_created(
    tmp_path: Path, args: list[str], message: str
) -> None:
    """An unknown symbol, a bad duration or a URL of the wrong form is refused before anything
    connects or any directory is made."""
    out = tmp_path / "rec"
    result = run_cli("record", *args, "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.startswith(f"mmctl: error: {message}")
    assert result.stderr.count("\n") == 1
    assert not out.exists()


@pytest.mark.slow
def test_sigterm_stops_the_command_cleanly_with_a_summary(tmp_path: Path) -> None:
    """The real `mmctl record`, run as a process against the fake Binance, stops on SIGTERM with exit 0
    and one summary line naming the rows written per file, the files holding those rows."""
    out = tmp_path / "rec"
    with fake_in_thread() as fake:
        args = ["record", "BTCUSDT", "--out", str(out), "--rest-url", fake.rest_url, "--ws-url", fake.ws_url]
        proc = subprocess.Popen(
            [sys.executable, "-m", "mmctl", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            deadline = time.monotonic() + 30
            while not subscribed(fake, "btcusdt@aggTrade") or not recorded(out, "bookTicker", "\n1,"):
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the recording did not start"
                time.sleep(0.02)
            fake.trade("BTCUSDT", "SELL", D("89999.9"), D("0.010"))
            while not recorded(out, "aggTrades", ",0.010,"):
                assert time.monotonic() < deadline, "the trade was not recorded"
                time.sleep(0.02)
            proc.send_signal(signal.SIGTERM)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, stderr
    [line] = stdout.splitlines()
    [trades_file] = [p.name for p in out.glob("BTCUSDT-aggTrades-*.csv")]
    assert line.startswith("recorded ")
    assert f"{trades_file} 1" in line
    assert "mmctl: recording BTCUSDT" in stderr
