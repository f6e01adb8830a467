"""The `Exchange` port's contract, run against every implementation in `harness.HARNESSES`.

Only the port and the harness driver are used here, so the same tests can pin the ccxt adapter later.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest

from mmctl.errors import (
    FilterRejected,
    InsufficientMargin,
    LeverageRejected,
    MmctlError,
    OrderRejected,
    PostOnlyWouldCross,
    ReduceOnlyRejected,
    UnknownOrder,
    UnknownSymbol,
)
from mmctl.exchange.base import MAX_CANCEL_BATCH, Exchange
from mmctl.model import IncomeRow, OrderRequest, OrderStatus, OrderType, OrderUpdate, Side
from mmctl.pnl.income import iter_income

from .harness import Venue, VenueFactory

BTC = "BTC/USDT:USDT"
BID, ASK = Decimal("60000.0"), Decimal("60000.1")
QTY = Decimal("0.002")
DEADLINE_S = 5.0


def limit(
    side: Side, price: str, cid: str, qty: Decimal = QTY, *, post_only: bool = True, reduce_only: bool = False
) -> OrderRequest:
    return OrderRequest(BTC, side, qty, Decimal(price), cid, post_only=post_only, reduce_only=reduce_only)


def market(side: Side, qty: Decimal, cid: str, *, reduce_only: bool = False) -> OrderRequest:
    return OrderRequest(BTC, side, qty, None, cid, type=OrderType.MARKET, reduce_only=reduce_only)


async def place_one(ex: Exchange, req: OrderRequest) -> object:
    (result,) = await ex.place_orders([req])
    if result.error is not None:
        raise result.error
    return result.order


async def ready(v: Venue) -> Exchange:
    await v.driver.set_book(BTC, BID, ASK)
    return v.exchange


async def all_income(ex: Exchange) -> list[IncomeRow]:
    """Every income row, paginating as the port documents (small pages, to exercise the walk)."""
    return [row async for row in iter_income(ex, 0, page_size=2)]


async def next_update(
    stream: AsyncIterator[OrderUpdate], match: Callable[[OrderUpdate], bool]
) -> OrderUpdate:
    """The next update that matches, within a deadline (the venue should deliver it at once)."""

    async def find() -> OrderUpdate:
        async for update in stream:
            if match(update):
                return update
        raise AssertionError("order stream ended")

    return await asyncio.wait_for(find(), DEADLINE_S)


async def account_state(ex: Exchange) -> tuple[object, ...]:
    return (await ex.open_orders(), await ex.balance(), await ex.positions(), await ex.income(0))


async def test_markets_are_listed_and_found_in_both_symbol_forms(open_venue: VenueFactory) -> None:
    """load_markets lists BTC in unified form and market() accepts either form."""
    async with open_venue() as v:
        markets = await v.exchange.load_markets()
        assert BTC in markets
        assert v.exchange.market("BTCUSDT") == v.exchange.market(BTC) == markets[BTC]
        assert markets[BTC].min_notional == Decimal(100)


async def test_post_only_that_would_cross_is_rejected(open_venue: VenueFactory) -> None:
    """A post-only buy at or above the ask is refused with PostOnlyWouldCross and nothing rests."""
    async with open_venue() as v:
        ex = await ready(v)
        with pytest.raises(PostOnlyWouldCross):
            await place_one(ex, limit(Side.BUY, "60000.1", "cross-1"))
        with pytest.raises(PostOnlyWouldCross):
            await place_one(ex, limit(Side.SELL, "60000.0", "cross-2"))
        assert await ex.open_orders(BTC) == []


async def test_post_only_inside_the_spread_rests(open_venue: VenueFactory) -> None:
    """A non-crossing post-only order rests and is listed among open orders in unified form."""
    async with open_venue() as v:
        ex = await ready(v)
        await place_one(ex, limit(Side.BUY, "59990.0", "rest-1"))
        (order,) = await ex.open_orders("BTCUSDT")
        assert (order.symbol, order.status, order.client_order_id) == (BTC, OrderStatus.NEW, "rest-1")


async def test_cancel_all_is_idempotent_and_returns_what_it_cancelled(open_venue: VenueFactory) -> None:
    """cancel_all returns the cancelled orders the first time and nothing the second time."""
    async with open_venue() as v:
        ex = await ready(v)
        await ex.place_orders([limit(Side.BUY, "59990.0", "ca-1"), limit(Side.SELL, "60010.0", "ca-2")])
        first = await ex.cancel_all(BTC)
        assert sorted(o.client_order_id for o in first) == ["ca-1", "ca-2"]
        assert all(o.status is OrderStatus.CANCELED for o in first)
        assert await ex.cancel_all(BTC) == []
        assert await ex.open_orders() == []


async def test_client_order_id_finds_and_cancels_its_order(open_venue: VenueFactory) -> None:
    """fetch_order and cancel_order work by client id, and the closed order stays fetchable."""
    async with open_venue() as v:
        ex = await ready(v)
        placed = await place_one(ex, limit(Side.BUY, "59990.0", "find-me"))
        found = await ex.fetch_order(BTC, client_order_id="find-me")
        assert found == placed
        assert (await ex.fetch_order(BTC, order_id=found.id)).client_order_id == "find-me"
        cancelled = await ex.cancel_order(BTC, client_order_id="find-me")
        assert cancelled.status is OrderStatus.CANCELED
        assert (await ex.fetch_order(BTC, client_order_id="find-me")).status is OrderStatus.CANCELED


async def test_batch_cancel_returns_one_result_per_id_in_order(open_venue: VenueFactory) -> None:
    """cancel_orders cancels what it can; an id already gone gets UnknownOrder without spoiling the rest."""
    async with open_venue() as v:
        ex = await ready(v)
        await ex.place_orders([limit(Side.BUY, "59990.0", "bc-1"), limit(Side.SELL, "60010.0", "bc-2")])
        results = await ex.cancel_orders(BTC, ["bc-1", "bc-missing", "bc-2"])
        assert [r.client_order_id for r in results] == ["bc-1", "bc-missing", "bc-2"]
        assert results[0].order is not None
        assert results[0].order.status is OrderStatus.CANCELED
        assert isinstance(results[1].error, UnknownOrder)
        assert results[2].order is not None
        assert await ex.open_orders(BTC) == []


async def test_batch_cancel_larger_than_the_limit_is_refused_whole(open_venue: VenueFactory) -> None:
    """More than MAX_CANCEL_BATCH ids raises FilterRejected and cancels nothing."""
    async with open_venue() as v:
        ex = await ready(v)
        await place_one(ex, limit(Side.BUY, "59990.0", "keep-me"))
        with pytest.raises(FilterRejected):
            await ex.cancel_orders(BTC, ["keep-me"] + [f"x-{i}" for i in range(MAX_CANCEL_BATCH)])
        assert [o.client_order_id for o in await ex.open_orders(BTC)] == ["keep-me"]


async def test_unknown_orders_raise_unknown_order(open_venue: VenueFactory) -> None:
    """Cancelling or fetching an order that does not exist (or is closed) raises UnknownOrder."""
    async with open_venue() as v:
        ex = await ready(v)
        with pytest.raises(UnknownOrder):
            await ex.fetch_order(BTC, client_order_id="never-placed")
        with pytest.raises(UnknownOrder):
            await ex.cancel_order(BTC, order_id="999999")
        await place_one(ex, limit(Side.BUY, "59990.0", "gone"))
        await ex.cancel_order(BTC, client_order_id="gone")
        with pytest.raises(UnknownOrder):
            await ex.cancel_order(BTC, client_order_id="gone")


async def test_duplicate_open_client_order_id_is_rejected(open_venue: VenueFactory) -> None:
    """A second open order with the same client id is refused; the first stays untouched."""
    async with open_venue() as v:
        ex = await ready(v)
        await place_one(ex, limit(Side.BUY, "59990.0", "dup"))
        with pytest.raises(OrderRejected):
            await place_one(ex, limit(Side.BUY, "59980.0", "dup"))
        (order,) = await ex.open_orders(BTC)
        assert order.price == Decimal("59990.0")


async def test_reduce_only_cannot_increase_a_position(open_venue: VenueFactory) -> None:
    """Reduce-only is refused when flat or on the position's side, and accepted against it."""
    async with open_venue() as v:
        ex = await ready(v)
        with pytest.raises(ReduceOnlyRejected):
            await place_one(ex, limit(Side.SELL, "60010.0", "ro-flat", reduce_only=True))
        await place_one(ex, market(Side.BUY, QTY, "open-long"))
        with pytest.raises(ReduceOnlyRejected):
            await place_one(ex, limit(Side.BUY, "59990.0", "ro-add", reduce_only=True))
        await place_one(ex, limit(Side.SELL, "60010.0", "ro-ok", reduce_only=True))
        assert (await ex.position(BTC)).qty == QTY


async def test_batch_returns_one_result_per_request_in_order(open_venue: VenueFactory) -> None:
    """A bad leg gets its own error and does not spoil the legs around it."""
    async with open_venue() as v:
        ex = await ready(v)
        batch = [
            limit(Side.BUY, "59990.0", "b-1"),
            limit(Side.BUY, "59990.05", "b-2"),  # off tick
            limit(Side.SELL, "60010.0", "b-3"),
        ]
        results = await ex.place_orders(batch)
        assert [r.request for r in results] == batch
        assert [r.ok for r in results] == [True, False, True]
        assert isinstance(results[1].error, FilterRejected)
        assert sorted(o.client_order_id for o in await ex.open_orders(BTC)) == ["b-1", "b-3"]


async def test_batch_larger_than_max_batch_is_refused_whole(open_venue: VenueFactory) -> None:
    """More than max_batch requests raises FilterRejected and places nothing."""
    async with open_venue() as v:
        ex = await ready(v)
        batch = [limit(Side.BUY, f"{59_000 + i}.0", f"big-{i}") for i in range(ex.max_batch + 1)]
        with pytest.raises(FilterRejected):
            await ex.place_orders(batch)
        assert await ex.open_orders() == []


async def test_income_ledger_sums_to_the_wallet_change(open_venue: VenueFactory) -> None:
    """After maker and taker fills, a realized profit and a funding payment, income rows sum to the change."""
    async with open_venue() as v:
        ex = await ready(v)
        start = (await ex.balance()).wallet
        await place_one(ex, limit(Side.BUY, "59990.0", "ledger-bid", Decimal("0.01")))
        await v.driver.trade(BTC, Side.SELL, Decimal("59990.0"), Decimal("0.01"))
        await v.driver.advance(v.driver.funding_interval_s)
        await v.driver.set_book(BTC, Decimal("60100.0"), Decimal("60100.1"))
        await place_one(ex, market(Side.SELL, Decimal("0.01"), "ledger-exit", reduce_only=True))
        rows = await all_income(ex)
        assert {r.type for r in rows} == {"REALIZED_PNL", "COMMISSION", "FUNDING_FEE"}
        assert sum(r.amount for r in rows) == (await ex.balance()).wallet - start
        assert len({(r.type, r.id) for r in rows}) == len(rows)  # a tranId is unique per income type


async def test_countdown_cancels_orders_when_not_refreshed(open_venue: VenueFactory) -> None:
    """An armed countdown that is not refreshed cancels the symbol's orders when it expires."""
    async with open_venue() as v:
        ex = await ready(v)
        await place_one(ex, limit(Side.BUY, "59990.0", "dms-1"))
        await ex.arm_countdown(BTC, 10)
        await v.driver.advance(9)
        assert len(await ex.open_orders(BTC)) == 1
        await v.driver.advance(2)
        assert await ex.open_orders(BTC) == []
        assert (await ex.fetch_order(BTC, client_order_id="dms-1")).status is OrderStatus.CANCELED


async def test_countdown_refreshed_in_time_cancels_nothing(open_venue: VenueFactory) -> None:
    """Re-arming before expiry keeps orders alive, and disarming stops the countdown."""
    async with open_venue() as v:
        ex = await ready(v)
        await place_one(ex, limit(Side.BUY, "59990.0", "dms-2"))
        await ex.arm_countdown(BTC, 10)
        for _ in range(3):
            await v.driver.advance(8)
            await ex.arm_countdown(BTC, 10)
        await ex.disarm_countdown(BTC)
        await v.driver.advance(60)
        assert [o.client_order_id for o in await ex.open_orders(BTC)] == ["dms-2"]


async def test_leverage_is_validated_against_the_brackets(open_venue: VenueFactory) -> None:
    """Leverage outside 1..max is refused; so is one whose bracket cap the position exceeds."""
    async with open_venue() as v:
        ex = await ready(v)
        top = ex.market(BTC).max_leverage
        for bad in (0, top + 1):
            with pytest.raises(LeverageRejected):
                await ex.set_leverage(BTC, bad)
        assert await ex.set_leverage(BTC, top) == top
        assert await ex.leverage(BTC) == top
        await ex.set_leverage(BTC, 20)
        await place_one(ex, market(Side.BUY, Decimal("1"), "big-long"))  # ~60,000 notional
        cap = ex.market(BTC).notional_cap(top)
        assert cap < Decimal(60_000)
        with pytest.raises(LeverageRejected):
            await ex.set_leverage(BTC, top)
        assert await ex.leverage(BTC) == 20


async def test_insufficient_margin_is_refused_without_change(open_venue: VenueFactory) -> None:
    """An order whose initial margin exceeds the available balance raises InsufficientMargin."""
    async with open_venue(balance=Decimal("100")) as v:
        ex = await ready(v)
        before = await account_state(ex)
        with pytest.raises(InsufficientMargin):
            await place_one(ex, limit(Side.BUY, "59990.0", "too-big", Decimal("0.1")))
        assert await account_state(ex) == before


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (OrderRequest("FOO/USDT:USDT", Side.BUY, QTY, Decimal("1"), "e-1"), UnknownSymbol),
        (limit(Side.BUY, "59990.01", "e-2"), FilterRejected),  # price off tick
        (limit(Side.BUY, "59990.0", "e-3", Decimal("0.0005")), FilterRejected),  # below min qty
        (limit(Side.BUY, "59990.0", "e-4", Decimal("0.001")), FilterRejected),  # below min notional
        (limit(Side.BUY, "59990.0", "e-5", Decimal("0.0015")), FilterRejected),  # off step
    ],
)
async def test_bad_requests_raise_classified_errors_and_change_nothing(
    open_venue: VenueFactory, request_: OrderRequest, error: type[MmctlError]
) -> None:
    """Unknown symbol, off-tick price and too-small sizes each fail with their class; state is unchanged."""
    async with open_venue() as v:
        ex = await ready(v)
        await place_one(ex, limit(Side.SELL, "60010.0", "keep"))
        before = await account_state(ex)
        (result,) = await ex.place_orders([request_])
        assert isinstance(result.error, error)
        assert str(result.error)
        assert "\n" not in str(result.error)
        assert await account_state(ex) == before


async def test_unknown_symbol_raises_everywhere(open_venue: VenueFactory) -> None:
    """Every symbol-taking call raises UnknownSymbol for a market that does not exist."""
    async with open_venue() as v:
        ex = v.exchange
        with pytest.raises(UnknownSymbol):
            ex.market("NOPEUSDT")
        with pytest.raises(UnknownSymbol):
            await ex.cancel_all("NOPEUSDT")
        with pytest.raises(UnknownSymbol):
            await ex.position("NOPEUSDT")
        with pytest.raises(UnknownSymbol):
            await ex.set_leverage("NOPEUSDT", 5)


async def test_fills_stream_to_every_order_update_subscriber(open_venue: VenueFactory) -> None:
    """Two subscribers both see the placement, the partial fill and the final fill of a quote."""
    async with open_venue() as v:
        ex = await ready(v)
        streams = [ex.order_updates(), ex.order_updates()]
        await place_one(ex, limit(Side.BUY, "59990.0", "stream-1", Decimal("0.004")))
        await v.driver.trade(BTC, Side.SELL, Decimal("59990.0"), Decimal("0.003"))
        await v.driver.trade(BTC, Side.SELL, Decimal("59980.0"), Decimal("0.003"))
        for stream in streams:
            first = await next_update(stream, lambda u: u.fill is not None)
            second = await next_update(stream, lambda u: u.fill is not None)
            assert first.fill is not None
            assert second.fill is not None
            assert (first.fill.qty, second.fill.qty) == (Decimal("0.003"), Decimal("0.001"))
            assert first.order.status is OrderStatus.PARTIALLY_FILLED
            assert second.order.status is OrderStatus.FILLED
            assert second.fill.price == Decimal("59990.0")
            assert second.fill.maker
            assert second.fill.client_order_id == "stream-1"


async def test_market_order_fills_as_taker_at_the_top(open_venue: VenueFactory) -> None:
    """A market buy fills at the ask, pays the taker fee and opens a long at that price."""
    async with open_venue() as v:
        ex = await ready(v)
        (result,) = await ex.place_orders([market(Side.BUY, QTY, "mkt-1")])
        assert result.order is not None
        assert result.order.status is OrderStatus.FILLED
        assert result.order.avg_price == ASK
        position = await ex.position(BTC)
        assert (position.qty, position.entry_price) == (QTY, ASK)
        fees = [r for r in await ex.income(0) if r.type == "COMMISSION"]
        assert [r.amount for r in fees] == [-(ASK * QTY * ex.market(BTC).taker_fee)]


async def test_watch_book_conflates_to_the_latest_top(open_venue: VenueFactory) -> None:
    """A slow book watcher gets the newest top, not a backlog."""
    async with open_venue() as v:
        ex = await ready(v)
        watch = ex.watch_book(BTC)
        for i in range(1, 4):
            await v.driver.set_book(BTC, BID + i, ASK + i)
        latest = await asyncio.wait_for(anext(watch), DEADLINE_S)
        assert latest.bid == BID + 3
        assert ex.book(BTC) == latest


async def test_server_time_is_the_venue_clock(open_venue: VenueFactory) -> None:
    """server_time_ms moves forward with the venue's time."""
    async with open_venue() as v:
        t0 = await v.exchange.server_time_ms()
        await v.driver.advance(5)
        assert await v.exchange.server_time_ms() >= t0 + 5000
        assert v.exchange.health().connected
