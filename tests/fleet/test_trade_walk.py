"""The trade walk (`mmctl.fleet.trade_walk`) and the trade queries of recovery (`mmctl.fleet.recovery`)
against the fake Binance through real ccxt, whose userTrades answers one week from a `startTime`: the walk
steps week by week through quiet weeks, never asks before Binance's 180-day floor, and recovery walks a
symbol without recorded fills from the earliest time an mmctl order can have traded there."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from tests.binance.harness import ACCOUNT, Venue, binance_venue
from tests.fakebinance.server import FakeBinance

from mmctl.bots.ids import make_id
from mmctl.clock import ManualClock
from mmctl.config.schema import PaperAccount
from mmctl.exchange.base import Exchange
from mmctl.exchange.paper import PaperExchange
from mmctl.fleet.recovery import RecoveryReport, recover_account
from mmctl.fleet.trade_walk import CLOCK_MARGIN_MS, TRADE_HISTORY_MS, iter_trades
from mmctl.model import BookTop, Fill, OrderRequest, OrderType, Side, Trade
from mmctl.store.records import BotRecord, DesiredState, OrderSubmitting, PreviousRun, PutBot
from mmctl.store.sqlite.store import SqliteStore

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
DAY_S = 86_400
DAY_MS = DAY_S * 1000
WEEK_MS = 7 * DAY_MS
USER_TRADES = "/fapi/v1/userTrades"


async def taker(v: Venue, side: Side, cid: str) -> str:
    """A market order of 0.002 BTC on the fake, now: one own trade; its venue order id."""
    request = OrderRequest(BTC, side, Decimal("0.002"), None, cid, OrderType.MARKET)
    (result,) = await v.exchange.place_orders([request])
    assert result.order is not None, result.error
    return result.order.id


def trade_queries(fake: FakeBinance, symbol: str = "BTCUSDT", after: int = 0) -> list[int]:
    """The `startTime` of every answered userTrades request on `symbol`, from the `after`-th request on."""
    return [
        int(r.params["startTime"])
        for r in fake.requests(USER_TRADES)[after:]
        if r.status == 200 and r.params.get("symbol") == symbol
    ]


async def walk(exchange: Exchange, since_ms: int, now_ms: int, page_size: int = 1000) -> list[Fill]:
    return [f async for f in iter_trades(exchange, BTC, since_ms, now_ms=now_ms, page_size=page_size)]


def test_a_walk_steps_week_by_week_through_a_quiet_week_and_returns_every_trade_once() -> None:
    """Trades on days 0, 2, 17 and 19 walked from 7 days before the day-2 trade: one userTrades request
    per week (the empty third week included) until a week reaches past now, every trade once (the day-2
    trade sits on a window boundary, which the fake answers in both windows), the same with pages of 2."""

    async def main() -> None:
        async with binance_venue() as v:
            await v.driver.set_book(BTC, Decimal("60000.0"), Decimal("60000.1"))
            ids = [await taker(v, Side.BUY, "w-1"), await taker(v, Side.SELL, "w-2")]
            await v.driver.advance(2 * DAY_S)
            ids.append(await taker(v, Side.BUY, "w-3"))
            (boundary, *_) = await v.exchange.my_trades(BTC, since_ms=v.fake.now_ms() - 60_000)
            await v.driver.advance(15 * DAY_S)
            ids.append(await taker(v, Side.SELL, "w-4"))
            await v.driver.advance(2 * DAY_S)
            ids += [await taker(v, Side.BUY, "w-5"), await taker(v, Side.SELL, "w-6")]
            assert boundary.order_id == ids[2]
            since, now = boundary.ts_ms - WEEK_MS, v.fake.now_ms()
            mark = len(v.fake.requests(USER_TRADES))

            trades = await walk(v.exchange, since, now)

            assert [t.order_id for t in trades] == ids
            assert len({t.trade_id for t in trades}) == len(ids)
            assert trade_queries(v.fake, after=mark) == [since + k * WEEK_MS for k in range(4)]
            paged = await walk(v.exchange, since, now, page_size=2)
            assert [t.trade_id for t in paged] == [t.trade_id for t in trades]

    asyncio.run(main())


def test_a_walk_on_binance_never_asks_before_its_180_day_history() -> None:
    """A walk from 0 on Binance starts at now - 180 days and asks 26 weeks, no request before that floor,
    and finds the trade made now."""

    async def main() -> None:
        async with binance_venue() as v:
            await v.driver.set_book(BTC, Decimal("60000.0"), Decimal("60000.1"))
            order_id = await taker(v, Side.BUY, "f-1")
            now = v.fake.now_ms()
            mark = len(v.fake.requests(USER_TRADES))

            trades = await walk(v.exchange, 0, now)

            starts = trade_queries(v.fake, after=mark)
            assert starts[0] == now - TRADE_HISTORY_MS
            assert min(starts) == starts[0]
            assert len(starts) == 26
            assert [t.order_id for t in trades] == [order_id]

    asyncio.run(main())


def test_a_venue_without_a_window_is_walked_from_where_asked_in_one_request() -> None:
    """The paper venue (no trade window) is read from the start asked for, however far before `now_ms`
    minus 180 days its trades are (a replay's time is not the caller's), in one request per page."""

    async def main() -> None:
        clock = ManualClock()
        paper = PaperExchange.from_settings("paper", PaperAccount(symbols=("BTCUSDT",)), clock)
        await paper.load_markets()
        venue = paper.venue
        venue.on_book(BookTop(BTC, Decimal("49999.9"), Decimal(2), Decimal("50000.1"), Decimal(2), 0))
        request = OrderRequest(BTC, Side.BUY, Decimal("0.01"), Decimal("49990.0"), "p-1", post_only=True)
        await paper.place_orders([request])
        venue.on_trade(Trade(BTC, Decimal("49990.0"), Decimal("0.01"), Side.SELL, venue.now_ms))
        assert paper.trade_window_ms is None

        trades = await walk(paper, 0, venue.now_ms + 10 * TRADE_HISTORY_MS)

        assert [t.client_order_id for t in trades] == ["p-1"]
        await paper.close()

    asyncio.run(main())


async def open_store(tmp_path: Path, v: Venue, bots: dict[str, str]) -> SqliteStore:
    """A store with running bots (name -> symbol) on the Binance account."""
    store = SqliteStore.open(tmp_path / "mmctl.sqlite", ManualClock(), synchronous="NORMAL")
    for name, symbol in bots.items():
        record = BotRecord(name, ACCOUNT, symbol, "market_maker", {}, desired_state=DesiredState.RUNNING)
        await store.write(PutBot(record))
    return store


async def recover(v: Venue, store: SqliteStore) -> RecoveryReport:
    """Recovery of the account, on a clock showing the fake's time (the harness runs it 100 days ahead)."""
    clock = ManualClock(start=v.fake.now_ms() / 1000)
    return await recover_account(ACCOUNT, v.exchange, store, clock)


def test_recovery_walks_a_symbol_without_fills_from_its_earliest_recorded_order(tmp_path: Path) -> None:
    """An open order recorded on day 0 and partly filled on days 1 and 9 while no fill was recorded: the
    BTC walk asks from the order's recorded time (less the clock margin) week by week, two requests, and
    records both fills as the bot's; ETH, whose bot never had an order, is not asked about at all."""

    async def main() -> None:
        async with binance_venue() as v:
            store = await open_store(tmp_path, v, {"a": BTC, "e": ETH})
            try:
                await v.driver.set_book(BTC, Decimal("60000.0"), Decimal("60000.1"))
                cid = make_id("a", Side.BUY, 0, 1)
                request = OrderRequest(
                    BTC, Side.BUY, Decimal("0.01"), Decimal("59990.0"), cid, post_only=True
                )
                recorded = v.fake.now_ms() - 1000
                await store.write(OrderSubmitting("a", ACCOUNT, request, recorded))
                (placed,) = await v.exchange.place_orders([request])
                assert placed.order is not None
                for days in (1, 8):
                    await v.driver.advance(days * DAY_S)
                    await v.driver.trade(BTC, Side.SELL, Decimal("59990.0"), Decimal("0.003"))
                mark = len(v.fake.requests(USER_TRADES))

                report = await recover(v, store)

                start = recorded - CLOCK_MARGIN_MS
                assert trade_queries(v.fake, after=mark) == [start, start + WEEK_MS]
                assert trade_queries(v.fake, "ETHUSDT", after=mark) == []
                assert report.fills_recovered == 2
                assert report.adopted == (cid,)
                fills = await store.read(lambda r: r.fills(account=ACCOUNT, limit=None))
                assert [(f.bot, f.fill.client_order_id) for f in fills] == [("a", cid), ("a", cid)]
            finally:
                await store.close()

    asyncio.run(main())


def test_after_an_unclean_end_a_symbol_without_orders_is_walked_from_the_last_commit(tmp_path: Path) -> None:
    """After a crash an order sent just before it may be unrecorded: a symbol with neither fills nor
    recorded orders is walked from the previous run's last commit (less the clock margin), one request
    when that was days ago, and the trade of an order the store never heard of is recorded."""

    async def main() -> None:
        async with binance_venue() as v:
            store = await open_store(tmp_path, v, {"a": BTC})
            try:
                await v.driver.set_book(BTC, Decimal("60000.0"), Decimal("60000.1"))
                ended = v.fake.now_ms()
                store.previous_run = PreviousRun(clean=False, ended_ms=ended)
                await taker(v, Side.BUY, make_id("a", Side.BUY, 0, 1))  # sent, never recorded
                await v.driver.advance(3 * DAY_S)
                mark = len(v.fake.requests(USER_TRADES))

                report = await recover(v, store)

                assert trade_queries(v.fake, after=mark) == [ended - CLOCK_MARGIN_MS]
                assert report.fills_recovered == 1
            finally:
                await store.close()

    asyncio.run(main())
