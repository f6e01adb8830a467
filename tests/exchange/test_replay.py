"""Replay of Binance bookTicker/aggTrades CSVs written into tmp_path: parsing, merging, and fills."""

from __future__ import annotations

import asyncio
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from mmctl.clock import ManualClock
from mmctl.config.schema import PaperAccount
from mmctl.errors import ConfigError
from mmctl.exchange.paper import PaperExchange, PaperVenue, ReplayFeed, ReplayFormatError
from mmctl.model import BookTop, OrderRequest, OrderStatus, Side, Trade

from .builders import BTC, ETH, MAKER_FEE, MARKETS, TAKER_FEE

T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
BOOK_HEADER = "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,event_time"
TRADES_HEADER = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def btc_files(root: Path) -> None:
    write(
        root / "BTCUSDT-bookTicker-2024-01-01.csv",
        [
            BOOK_HEADER,
            f"1,42000.0,2.5,42000.1,1.2,{T0},{T0 + 3}",
            f"2,42000.5,2.5,42000.6,1.2,{T0 + 200},{T0 + 203}",
            f"3,41990.0,2.5,41990.1,1.2,{T0 + 400},{T0 + 403}",
        ],
    )
    write(  # no header, as in older files
        root / "BTCUSDT-aggTrades-2024-01-01.csv",
        [
            f"10,41995.0,0.004,100,101,{T0 + 100},true",
            f"11,42010.0,0.050,102,103,{T0 + 300},False",
            f"12,41995.0,0.010,104,104,{T0 + 350},TRUE",
        ],
    )


def test_directory_events_are_merged_in_time_order(tmp_path: Path) -> None:
    """Books and trades from both files come out in time order with symbols and sides parsed."""
    btc_files(tmp_path)
    (tmp_path / "README.txt").write_text("ignored")
    feed = ReplayFeed.from_path(str(tmp_path), MARKETS)
    events = list(feed.events())
    assert feed.start_ms == T0
    assert [e.ts_ms for e in events] == [T0, T0 + 100, T0 + 200, T0 + 300, T0 + 350, T0 + 400]
    assert events[0] == BookTop(
        BTC, Decimal("42000.0"), Decimal("2.5"), Decimal("42000.1"), Decimal("1.2"), T0
    )
    assert events[1] == Trade(BTC, Decimal("41995.0"), Decimal("0.004"), Side.SELL, T0 + 100)
    assert isinstance(events[3], Trade)
    assert events[3].side is Side.BUY


def test_replayed_trades_and_books_fill_resting_orders(tmp_path: Path) -> None:
    """A bid is filled partly by a sell trade through it, then fully when the book crosses it."""
    btc_files(tmp_path)
    feed = ReplayFeed.from_path(str(tmp_path), MARKETS)
    venue = PaperVenue({BTC: MARKETS[BTC]}, balance=Decimal(10_000), start_ms=feed.start_ms)
    events = feed.events()
    venue.on_event(next(events))
    bid = venue.place(
        OrderRequest(BTC, Side.BUY, Decimal("0.010"), Decimal("41995.0"), "r-bid", post_only=True)
    )
    for event in events:
        venue.on_event(event)
    fills = [r for r in venue.wallet.rows if r.type == "COMMISSION"]
    final = venue.order(BTC, bid.id)
    assert (final.status, final.filled, final.avg_price) == (
        OrderStatus.FILLED,
        Decimal("0.010"),
        Decimal("41995.0"),
    )
    assert [r.amount for r in fills] == [
        -(Decimal("41995.0") * Decimal("0.004") * MAKER_FEE),
        -(Decimal("41995.0") * Decimal("0.006") * MAKER_FEE),
    ]


def test_single_zip_file_and_microsecond_timestamps(tmp_path: Path) -> None:
    """A zipped CSV is read, and microsecond timestamps become milliseconds."""
    archive = tmp_path / "ETHUSDT-aggTrades-2025-01-01.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(
            "ETHUSDT-aggTrades-2025-01-01.csv", f"{TRADES_HEADER}\n1,3300.00,0.5,1,1,{T0 * 1000},false\n"
        )
    events = list(ReplayFeed.from_path(str(archive), MARKETS).events())
    assert events == [Trade(ETH, Decimal("3300.00"), Decimal("0.5"), Side.BUY, T0)]


def test_files_of_markets_left_out_are_skipped(tmp_path: Path) -> None:
    """With only ETH enabled, BTC files are ignored, and with nothing left the path is refused."""
    btc_files(tmp_path)
    write(tmp_path / "ETHUSDT-bookTicker-2024-01-01.csv", [f"1,2300.00,1,2300.01,1,{T0 + 50},{T0 + 50}"])
    feed = ReplayFeed.from_path(str(tmp_path), {ETH: MARKETS[ETH]})
    assert {e.symbol for e in feed.events()} == {ETH}
    with pytest.raises(ConfigError, match="no bookTicker or aggTrades"):
        ReplayFeed.from_path(str(tmp_path), {"SOL/USDT:USDT": MARKETS["SOL/USDT:USDT"]})


@pytest.mark.parametrize(
    ("name", "lines", "fragment"),
    [
        (
            "BTCUSDT-bookTicker-x.csv",
            ["update_id,bid,bid_qty,ask,ask_qty,t,e", "1,1,1,2,1,1,1"],
            "expected the columns",
        ),
        ("BTCUSDT-bookTicker-x.csv", ["1,42000.0,2.5"], "expected 7 columns"),
        ("BTCUSDT-aggTrades-x.csv", [f"1,abc,1,1,1,{T0},true"], "bad value"),
        ("BTCUSDT-aggTrades-x.csv", [f"1,42000,1,1,1,{T0},maybe"], "bad value"),
        ("BTCUSDT-aggTrades-x.csv", [TRADES_HEADER], "no data rows"),
        ("ADAUSDT-aggTrades-x.csv", [f"1,1,1,1,1,{T0},true"], "not a paper exchange market"),
        ("trades.csv", [f"1,1,1,1,1,{T0},true"], "file names look like"),
    ],
)
def test_malformed_files_are_refused_naming_the_file(
    tmp_path: Path, name: str, lines: list[str], fragment: str
) -> None:
    """Bad headers, short rows, bad values, empty files, unknown symbols and bad names raise ConfigError."""
    path = write(tmp_path / name, lines)
    with pytest.raises(ReplayFormatError, match=fragment) as caught:
        ReplayFeed.from_path(str(path), MARKETS)
    assert str(path) in str(caught.value) or "paper exchange" in str(caught.value)


def test_missing_or_empty_replay_path_is_a_config_error(tmp_path: Path) -> None:
    """An empty replay_path or one that does not exist is refused up front."""
    with pytest.raises(ConfigError, match="empty"):
        ReplayFeed.from_path("", MARKETS)
    with pytest.raises(ConfigError, match="not found"):
        ReplayFeed.from_path(str(tmp_path / "nope"), MARKETS)


def test_a_bad_row_later_in_a_file_fails_the_feed_visibly(tmp_path: Path) -> None:
    """A malformed row after a good start stops the feed and shows in health()."""
    write(
        tmp_path / "BTCUSDT-aggTrades-x.csv", [f"1,42000,0.1,1,1,{T0},true", f"2,oops,0.1,1,1,{T0 + 10},true"]
    )

    async def scenario() -> None:
        settings = PaperAccount(market="replay", replay_path=str(tmp_path), symbols=("BTCUSDT",))
        clock = ManualClock()
        ex = PaperExchange.from_settings("replay", settings, clock)
        await ex.start()
        await clock.run_for(0.1)
        health = ex.health()
        assert not health.connected
        assert "bad value" in health.detail["feed_error"]
        await ex.close()

    asyncio.run(scenario())


async def test_replay_through_the_exchange_follows_the_clock_and_speed(tmp_path: Path) -> None:
    """At speed 2, half a clock-second replays the first second of data; venue time is replay time."""
    btc_files(tmp_path)
    settings = PaperAccount(market="replay", replay_path=str(tmp_path), speed=2.0, maker_fee=MAKER_FEE)
    clock = ManualClock()
    ex = PaperExchange.from_settings("replay", settings, clock)
    assert ex.market(BTC).taker_fee == TAKER_FEE
    assert await ex.server_time_ms() == T0
    await ex.start()
    await clock.run_for(0.1)  # 200 ms of data
    top = ex.book(BTC)
    assert top is not None
    assert top.ts_ms == T0 + 200
    await clock.run_for(0.1)
    assert ex.book(BTC) == BookTop(
        BTC, Decimal("41990.0"), Decimal("2.5"), Decimal("41990.1"), Decimal("1.2"), T0 + 400
    )
    assert ex.health().detail["feed_state"] == "finished"
    await ex.close()
