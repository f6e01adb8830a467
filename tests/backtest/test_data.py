"""Market data for backtests: Binance CSV/zip files read in full and checked before a run, and the seeded
synthetic market (mmctl.backtest.data)."""

from __future__ import annotations

import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from mmctl.backtest.data import load_events, market_rules, synthetic_events
from mmctl.errors import ValidationError, exit_code_for
from mmctl.exchange.paper.markets import builtin_markets
from mmctl.exchange.paper.replay import ReplayFeed, ReplayFormatError
from mmctl.exchange.paper.synthetic import SyntheticFeed, SyntheticParams
from mmctl.model import BookTop, Side, Trade

D = Decimal
BTC = "BTC/USDT:USDT"
DAY1 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
DAY2 = DAY1 + 86_400_000
BOOK_HEADER = "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time"
TRADES_HEADER = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
MARKETS = builtin_markets(D("0.0002"), D("0.0005"))


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def two_days(root: Path) -> None:
    """BTC book tops and trades over two days (one trade at the same time as a book top)."""
    write(
        root / "BTCUSDT-bookTicker-2024-01-01.csv",
        [
            BOOK_HEADER,
            f"1,42000.0,2.5,42000.1,1.2,{DAY1},{DAY1 + 3}",
            f"2,42000.5,2.5,42000.6,1.2,{DAY1 + 200},",
        ],
    )
    write(
        root / "BTCUSDT-aggTrades-2024-01-01.csv",
        [f"10,41995.0,0.004,100,101,{DAY1 + 100},true", f"11,42010.0,0.050,102,103,{DAY1 + 200},False"],
    )
    write(root / "BTCUSDT-bookTicker-2024-01-02.csv", [BOOK_HEADER, f"3,43000.0,1,43000.1,1,0,{DAY2 + 5}"])
    write(root / "BTCUSDT-aggTrades-2024-01-02.csv", [TRADES_HEADER, f"12,43000.1,0.1,1,1,{DAY2 + 1},FALSE"])
    write(root / "ETHUSDT-bookTicker-2024-01-01.csv", [f"1,2300.00,1,2300.01,1,{DAY1 + 50},{DAY1 + 50}"])
    (root / "notes.txt").write_text("not market data")


def test_events_of_all_files_are_merged_in_time_order(tmp_path: Path) -> None:
    """Book tops and trades of both days come out in time order, only of the symbol asked, ties in file
    name order (the trade file sorts first), with sides and the event-time fallback parsed."""
    two_days(tmp_path)
    events = load_events(tmp_path, "BTCUSDT")
    assert [(type(e).__name__, e.ts_ms) for e in events] == [
        ("BookTop", DAY1),
        ("Trade", DAY1 + 100),
        ("Trade", DAY1 + 200),
        ("BookTop", DAY1 + 200),
        ("Trade", DAY2 + 1),
        ("BookTop", DAY2 + 5),
    ]
    assert events[0] == BookTop(BTC, D("42000.0"), D("2.5"), D("42000.1"), D("1.2"), DAY1)
    assert events[1] == Trade(BTC, D("41995.0"), D("0.004"), Side.SELL, DAY1 + 100)
    assert events[4] == Trade(BTC, D("43000.1"), D("0.1"), Side.BUY, DAY2 + 1)


def test_events_equal_what_the_paper_replay_yields_for_the_same_files(tmp_path: Path) -> None:
    """A backtest sees exactly the events a paper account replaying the same files sees."""
    two_days(tmp_path)
    (tmp_path / "ETHUSDT-bookTicker-2024-01-01.csv").unlink()
    replayed = list(ReplayFeed.from_path(str(tmp_path), {BTC: MARKETS[BTC]}).events())
    assert load_events(tmp_path, "BTC/USDT:USDT") == replayed


def test_the_range_is_half_open_and_bounds_are_optional(tmp_path: Path) -> None:
    """`from_ms` is included and `to_ms` excluded; either bound alone limits one side only."""
    two_days(tmp_path)
    assert [e.ts_ms for e in load_events(tmp_path, "BTCUSDT", DAY1 + 100, DAY1 + 200)] == [DAY1 + 100]
    assert [e.ts_ms for e in load_events(tmp_path, "BTCUSDT", from_ms=DAY2)] == [DAY2 + 1, DAY2 + 5]
    assert [e.ts_ms for e in load_events(tmp_path, "BTCUSDT", to_ms=DAY1 + 100)] == [DAY1]


def test_a_zip_file_and_microsecond_timestamps_are_read(tmp_path: Path) -> None:
    """A zipped CSV named as Binance names its downloads is read, and microsecond times become ms."""
    archive = tmp_path / "BTCUSDT-bookTicker-2025-01-01.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(
            "BTCUSDT-bookTicker-2025-01-01.csv", f"{BOOK_HEADER}\n7,1.0,2,1.1,3,{DAY1 * 1000 + 999},0\n"
        )
    assert load_events(archive, "BTCUSDT") == [BookTop(BTC, D("1.0"), D("2"), D("1.1"), D("3"), DAY1)]


def test_a_corrupt_row_anywhere_in_the_range_refuses_the_whole_load(tmp_path: Path) -> None:
    """A bad value on the last line of a file is an error naming the file and line (exit 1), though
    every earlier row was fine: nothing is returned to run on."""
    two_days(tmp_path)
    bad = write(
        tmp_path / "BTCUSDT-aggTrades-2024-01-02.csv",
        [TRADES_HEADER, f"12,43000.1,0.1,1,1,{DAY2 + 1},false", f"13,43000.1,-0.1,1,1,{DAY2 + 2},false"],
    )
    with pytest.raises(ReplayFormatError) as caught:
        load_events(tmp_path, "BTCUSDT")
    assert caught.value.message == f"{bad}:3: bad value (ValueError)"
    assert exit_code_for(caught.value.code) == 1


@pytest.mark.parametrize(
    ("line", "fragment"),
    [("1,42000.0,2.5", "expected 7 columns, got 3"), (f"1,4200x,1,1,1,{DAY1},0", "bad value")],
)
def test_short_rows_and_bad_numbers_name_file_and_line(tmp_path: Path, line: str, fragment: str) -> None:
    """A row with too few columns or a value that is not a number names the file and its line number."""
    path = write(tmp_path / "BTCUSDT-bookTicker-x.csv", [BOOK_HEADER, f"1,1,1,2,1,{DAY1},0", "", line])
    with pytest.raises(ReplayFormatError, match=rf"^{path}:4: {fragment}"):
        load_events(tmp_path, "BTCUSDT")


def test_a_directory_without_the_symbols_files_names_the_names_expected(tmp_path: Path) -> None:
    """Data for other symbols only is refused naming the directory and the file names looked for."""
    two_days(tmp_path)
    with pytest.raises(ReplayFormatError) as caught:
        load_events(tmp_path, "SOLUSDT")
    assert caught.value.message == (
        f"{tmp_path}: no SOLUSDT market data: expected files named SOLUSDT-bookTicker-<YYYY-MM-DD>.csv "
        "and SOLUSDT-aggTrades-<YYYY-MM-DD>.csv (or .zip)"
    )


def test_trades_without_book_tops_are_refused(tmp_path: Path) -> None:
    """A directory holding only the symbol's trades is refused: orders are matched against book tops."""
    write(tmp_path / "BTCUSDT-aggTrades-2024-01-01.csv", [f"1,1,1,1,1,{DAY1},true"])
    with pytest.raises(ReplayFormatError, match=r"no BTCUSDT bookTicker file \(a backtest needs book tops\)"):
        load_events(tmp_path, "BTCUSDT")


def test_the_same_day_as_csv_and_zip_is_refused(tmp_path: Path) -> None:
    """A day present both unpacked and zipped would be read twice: refused naming both files."""
    two_days(tmp_path)
    with zipfile.ZipFile(tmp_path / "BTCUSDT-bookTicker-2024-01-01.zip", "w") as z:
        z.writestr("BTCUSDT-bookTicker-2024-01-01.csv", f"{BOOK_HEADER}\n")
    with pytest.raises(ReplayFormatError, match=r"2024-01-01\.zip: the same data is also in .*01-01\.csv"):
        load_events(tmp_path, "BTCUSDT")


def test_a_missing_path_or_a_file_of_another_symbol_is_refused(tmp_path: Path) -> None:
    """A path that does not exist, and a single file of another market, are refused naming the path."""
    with pytest.raises(ReplayFormatError, match=r"nope: market data path not found"):
        load_events(tmp_path / "nope", "BTCUSDT")
    eth = write(tmp_path / "ETHUSDT-bookTicker-2024-01-01.csv", [f"1,1,1,2,1,{DAY1},0"])
    with pytest.raises(
        ReplayFormatError, match=r"ETHUSDT-bookTicker-2024-01-01\.csv: not a BTCUSDT data file"
    ):
        load_events(eth, "BTCUSDT")


def test_a_range_outside_the_data_states_the_datas_own_range(tmp_path: Path) -> None:
    """A range holding no event is a usage error (exit 2) that states the time range the data covers."""
    two_days(tmp_path)
    later = DAY2 + 86_400_000
    with pytest.raises(ValidationError) as caught:
        load_events(tmp_path, "BTCUSDT", later, later + 3_600_000)
    assert caught.value.message == (
        f"no BTCUSDT data from 2024-01-03T00:00:00.000Z to 2024-01-03T01:00:00.000Z: the data in {tmp_path} "
        "covers 2024-01-01T00:00:00.000Z to 2024-01-02T00:00:00.005Z"
    )
    assert exit_code_for(caught.value.code) == 2
    with pytest.raises(ValidationError, match=r"from the start to 2023-12-31T00:00:00\.000Z"):
        load_events(tmp_path, "BTCUSDT", to_ms=DAY1 - 86_400_000)


def test_a_reversed_range_and_an_unknown_symbol_are_usage_errors(tmp_path: Path) -> None:
    """A start not before the end, and a symbol that is not a paper market, are refused before any
    file is read."""
    with pytest.raises(ValidationError, match="is not before the end"):
        load_events(tmp_path, "BTCUSDT", DAY1, DAY1)
    with pytest.raises(ValidationError, match="unknown symbol 'ADAUSDT'") as caught:
        load_events(tmp_path, "ADAUSDT")
    assert caught.value.data["field"] == "symbol"


def test_synthetic_events_are_deterministic_and_are_the_paper_synthetic_market(tmp_path: Path) -> None:
    """The same seed gives the same events, another seed other events, and they are the events of a
    paper account's synthetic market with the same seed and book interval."""
    one = synthetic_events("BTCUSDT", DAY1, 60, seed=7, updates_per_s=10)
    assert one == synthetic_events("BTCUSDT", DAY1, 60, seed=7, updates_per_s=10)
    assert one != synthetic_events("BTCUSDT", DAY1, 60, seed=8, updates_per_s=10)
    feed = SyntheticFeed([market_rules("BTCUSDT")], SyntheticParams(seed=7, book_interval_ms=100), DAY1)
    paper = []
    for event in feed.events():
        if event.ts_ms >= DAY1 + 60_000:
            break
        paper.append(event)
    assert one == paper


def test_synthetic_events_have_one_book_top_per_interval_and_trades_between() -> None:
    """Ten seconds at 4 updates a second is 40 book tops 250 ms apart plus some trades, all in time
    order, within the span."""
    events = synthetic_events("ETHUSDT", DAY1, 10, seed=1, updates_per_s=4)
    books = [e for e in events if isinstance(e, BookTop)]
    assert [b.ts_ms for b in books] == [DAY1 + 250 * k for k in range(40)]
    assert any(isinstance(e, Trade) for e in events)
    times = [e.ts_ms for e in events]
    assert times == sorted(times)
    assert times[0] >= DAY1
    assert times[-1] < DAY1 + 10_000


@pytest.mark.parametrize(("updates", "duration"), [(0, 10.0), (3, 10.0), (10, 0.0), (10, float("nan"))])
def test_synthetic_events_refuse_bad_rates_and_durations(updates: int, duration: float) -> None:
    """An update rate that does not divide a second into whole milliseconds, or a duration that is not
    positive, is a usage error."""
    with pytest.raises(ValidationError):
        synthetic_events("BTCUSDT", DAY1, duration, seed=1, updates_per_s=updates)
