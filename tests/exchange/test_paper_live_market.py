"""Paper trading on live prices: a paper account with `market = "live"`, fed by Binance's public streams
(real ccxt against the local fake Binance server on 127.0.0.1), its fills, reconnects, restarts and
config errors."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.fakebinance.fixture import running_fake
from tests.fakebinance.markets import DEFAULT_SYMBOLS
from tests.fakebinance.server import FakeBinance

from mmctl.bots.bot import Bot, BotOptions
from mmctl.bots.definition import BotDefinition
from mmctl.bots.events import EventLog
from mmctl.clock import SystemClock
from mmctl.config.load import parse_settings
from mmctl.config.schema import PaperAccount
from mmctl.daemon.paper_accounts import open_paper_account
from mmctl.errors import ConfigError, VenueUnavailable
from mmctl.exchange.binance.public_feed import BinancePublicFeed
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.model import OrderRequest, Side
from mmctl.store.sqlite.store import SqliteStore
from mmctl.strategies.market_maker import MarketMakerParams
from mmctl.strategies.params import parse_params

D = Decimal
BTC = "BTC/USDT:USDT"
DEADLINE_S = 10.0


async def eventually(predicate: Callable[[], bool], what: str, within_s: float = DEADLINE_S) -> None:
    """Poll `predicate` on the loop until true, or fail after `within_s` seconds."""
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def live(fake: FakeBinance, **kwargs: Any) -> PaperAccount:
    return PaperAccount(
        market="live", symbols=("BTCUSDT",), rest_url=fake.rest_url, ws_url=fake.ws_url, **kwargs
    )


@asynccontextmanager
async def live_paper(
    fake: FakeBinance, store: SqliteStore | None = None, name: str = "live"
) -> AsyncIterator[PaperExchange]:
    """A live paper account opened the daemon's way (`open_paper_account`), closed on exit."""
    exchange = await open_paper_account(name, live(fake), SystemClock(), store)
    try:
        yield exchange
    finally:
        await exchange.close()


async def shows_book(exchange: PaperExchange, bid: Decimal, ask: Decimal) -> None:
    def shown() -> bool:
        top = exchange.book(BTC)
        return top is not None and (top.bid, top.ask) == (bid, ask)

    await eventually(shown, f"the paper venue to show {bid}/{ask}")


async def trades_subscribed(fake: FakeBinance) -> None:
    """Wait until the fake has a socket subscribed to BTCUSDT's aggregate trades (a trade published
    before that reaches nobody, as on Binance)."""
    await eventually(
        lambda: any("btcusdt@aggTrade" in conn.streams for conn in fake.hub.connections),
        "the aggTrade subscription",
    )


def bid(price: Decimal, cid: str, qty: str = "0.010") -> OrderRequest:
    return OrderRequest(BTC, Side.BUY, D(qty), price, cid, post_only=True)


async def place(exchange: PaperExchange, request: OrderRequest) -> None:
    [result] = await exchange.place_orders([request])
    assert result.error is None, result.error


async def fill_by_trading(fake: FakeBinance, exchange: PaperExchange, price: Decimal) -> None:
    """Sell into `price` on the fake market every 50 ms until the paper venue has no open order (a trade
    sent while the stream is still resubscribing is lost, as on Binance)."""
    deadline = time.monotonic() + DEADLINE_S
    while exchange.venue.orders.open:
        if time.monotonic() > deadline:
            raise AssertionError("no live trade reached the resting order")
        fake.trade("BTCUSDT", "SELL", price, D("0.010"))
        await asyncio.sleep(0.05)


async def test_a_resting_order_fills_when_the_live_markets_trades_reach_it() -> None:
    """A post-only bid rests at the live top of book and fills, at the trade's event time, on the first
    public aggTrade that sells down to its price, not on earlier trades that pass it by."""
    async with running_fake() as fake, live_paper(fake) as ex:
        fake.set_book("BTCUSDT", D("90000.0"), D("90000.1"))
        await shows_book(ex, D("90000.0"), D("90000.1"))
        await place(ex, bid(D("89990.0"), "b1"))
        await trades_subscribed(fake)
        fake.trade("BTCUSDT", "SELL", D("89995.0"), D("1"))  # above the bid: it does not reach it
        fake.trade("BTCUSDT", "BUY", D("89980.0"), D("1"))  # a buying taker never fills a bid
        sent_ms = fake.now_ms()
        fake.trade("BTCUSDT", "SELL", D("89990.0"), D("0.5"))
        await eventually(lambda: not ex.venue.orders.open, "the bid to fill")
        [fill] = await ex.my_trades(BTC)
        assert (fill.client_order_id, fill.price, fill.qty, fill.maker) == (
            "b1",
            D("89990.0"),
            D("0.010"),
            True,
        )
        assert sent_ms <= fill.ts_ms <= fake.now_ms()  # venue time is the trade's event time
        assert (await ex.position(BTC)).qty == D("0.010")


async def test_the_feed_reconnects_after_the_server_drops_its_sockets() -> None:
    """After the fake drops every WebSocket, book tops and trades reach the paper venue again without a
    restart: a new top shows and a later trade fills a resting order."""
    async with running_fake() as fake, live_paper(fake) as ex:
        feed = ex.feed
        assert isinstance(feed, BinancePublicFeed)
        fake.set_book("BTCUSDT", D("90000.0"), D("90000.1"))
        await shows_book(ex, D("90000.0"), D("90000.1"))
        before = feed.trade_reconnects
        fake.faults.drop_ws()
        await eventually(lambda: feed.trade_reconnects > before, "the trade stream to notice the drop")
        fake.set_book("BTCUSDT", D("90100.0"), D("90100.1"))
        await shows_book(ex, D("90100.0"), D("90100.1"))
        await eventually(
            lambda: feed.books is not None and feed.books.states() == {BTC: "streaming"},
            "the book stream to stream again",
        )
        await place(ex, bid(D("90090.0"), "b2"))
        await fill_by_trading(fake, ex, D("90090.0"))
        assert (await ex.position(BTC)).qty == D("0.010")
        assert ex.health().connected


async def test_a_bot_pulls_its_quotes_when_the_live_data_stops() -> None:
    """A market-making bot quotes on the live paper market; once the data source goes away (no book
    update reaches the venue any more) its stale-data guard pulls every quote."""
    clock = SystemClock()
    fake = FakeBinance()
    await fake.start()
    try:
        async with live_paper(fake) as ex:
            fake.set_book("BTCUSDT", D("90000.0"), D("90000.1"))
            await shows_book(ex, D("90000.0"), D("90000.1"))
            params = parse_params(MarketMakerParams, {"levels": "1", "spread_bps": "10", "stale_data_s": "1"})
            definition = BotDefinition("mm", "live", BTC, "market_maker", params)
            bot = Bot(definition, ex, clock, EventLog(clock), BotOptions())
            await bot.start()
            await eventually(lambda: len(ex.venue.open_orders(BTC)) == 2, "the bot to quote both sides")
            await fake.stop()
            await eventually(lambda: not ex.venue.open_orders(BTC), "the stale-data guard to pull the quotes")
            assert bot.hold is not None
            assert "no book update" in bot.hold
            await bot.stop()
    finally:
        await fake.stop()


async def test_a_restarted_live_account_resumes_at_the_live_markets_now(tmp_path: Path) -> None:
    """Reopened from the store, a live account keeps its resting order (the downtime's trades did not
    fill it: nothing is replayed) and its clock jumps to the live market's next event time."""
    clock = SystemClock()
    db = tmp_path / "mmctl.sqlite"
    async with running_fake() as fake:
        store = SqliteStore.open(db, clock, synchronous="NORMAL")
        async with live_paper(fake, store) as ex:
            fake.set_book("BTCUSDT", D("90000.0"), D("90000.1"))
            await shows_book(ex, D("90000.0"), D("90000.1"))
            await place(ex, bid(D("89990.0"), "b1"))
        await store.close()
        fake.trade("BTCUSDT", "SELL", D("89980.0"), D("1"))  # while the daemon is down
        fake.clock_offset_ms = 3_600_000  # the live market is an hour later
        store = SqliteStore.open(db, clock, synchronous="NORMAL")
        async with live_paper(fake, store) as again:
            assert [o.client_order_id for o in await again.open_orders()] == ["b1"]
            resumed_ms = fake.now_ms()
            fake.set_book("BTCUSDT", D("90050.0"), D("90050.1"))
            await shows_book(again, D("90050.0"), D("90050.1"))
            assert again.venue.now_ms >= resumed_ms
            assert await again.my_trades(BTC) == []
            await fill_by_trading(fake, again, D("89990.0"))  # and it trades on the live market again
        await store.close()


async def test_a_saved_synthetic_account_does_not_open_on_a_live_market(tmp_path: Path) -> None:
    """A paper account saved with a synthetic market is refused on `market = "live"` with one line naming
    `mmctl paper reset`."""
    clock = SystemClock()
    store = SqliteStore.open(tmp_path / "mmctl.sqlite", clock, synchronous="NORMAL")
    synthetic = await open_paper_account("p", PaperAccount(symbols=("BTCUSDT",)), clock, store)
    await synthetic.close()
    settings = PaperAccount(market="live", symbols=("BTCUSDT",), ws_url="ws://127.0.0.1:9/ws")
    with pytest.raises(VenueUnavailable, match=r"synthetic market.*live market.*`mmctl paper reset p`") as e:
        await open_paper_account("p", settings, clock, store)
    assert "\n" not in str(e.value)
    await store.close()


async def test_a_market_the_source_does_not_list_fails_the_feed_in_health() -> None:
    """A paper market that the data source does not list as a trading perpetual stops the feed, and
    health says which symbol and that the feed failed."""
    async with running_fake(symbols=[DEFAULT_SYMBOLS["ETHUSDT"]]) as fake, live_paper(fake) as ex:
        await eventually(lambda: ex.health().detail.get("feed_state") == "failed", "the feed to fail")
        health = ex.health()
        assert not health.connected
        assert "BTCUSDT: not a trading USDⓈ-M perpetual" in health.detail["feed_error"]


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"market": "lives"}, r"accounts\.p\.market: .*'live'"),
        ({"market": "live", "ws_url": "http://127.0.0.1:8765/ws"}, r"accounts\.p\.ws_url: expected a URL"),
        ({"market": "live", "rest_url": "127.0.0.1:8765"}, r"accounts\.p\.rest_url: expected a URL"),
        ({"market": "live", "speed": 10.0}, r"accounts\.p\.speed: a live market runs at wall-clock speed"),
        ({"ws_url": "ws://127.0.0.1:8765/ws"}, r"accounts\.p\.ws_url: only used with market = 'live'"),
    ],
)
def test_live_market_config_errors_are_one_line_naming_the_key(keys: dict[str, Any], message: str) -> None:
    """Each bad live-market setting is refused with one line naming the file, the key and the fix."""
    with pytest.raises(ConfigError, match=message) as e:
        parse_settings({"accounts": {"p": {"exchange": "paper", **keys}}}, "c.toml")
    assert "\n" not in e.value.message
    assert e.value.message.startswith("c.toml: accounts.p.")


def test_a_live_market_config_is_read() -> None:
    """`market = "live"` with its data source URLs loads into the paper account's settings."""
    table = {"exchange": "paper", "market": "live", "rest_url": "http://127.0.0.1:1", "ws_url": "ws://h:2/ws"}
    account = parse_settings({"accounts": {"p": table}}).accounts["p"]
    assert isinstance(account, PaperAccount)
    assert (account.market, account.rest_url, account.ws_url) == ("live", "http://127.0.0.1:1", "ws://h:2/ws")


def test_a_synthetic_paper_account_does_not_load_ccxt() -> None:
    """Opening a synthetic paper account the daemon's way imports no ccxt module (only a live market or a
    Binance account does)."""
    code = """
import asyncio, sys
from mmctl.bots.bot import Bot, BotOptions
from mmctl.bots.definition import BotDefinition
from mmctl.bots.events import EventLog
from mmctl.clock import SystemClock
from mmctl.config.schema import PaperAccount
from mmctl.daemon.paper_accounts import open_paper_account

async def main():
    ex = await open_paper_account("p", PaperAccount(symbols=("BTCUSDT",)), SystemClock(), None)
    await ex.close()

asyncio.run(main())
print(any(m == "ccxt" or m.startswith("ccxt.") for m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
