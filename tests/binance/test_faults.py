"""Network and venue faults on the fake server: each survived, no order unknown, no fill lost or doubled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest

from mmctl.clock import SystemClock
from mmctl.errors import RateLimited, TransientError
from mmctl.exchange.binance.errors import IpBanned
from mmctl.exchange.binance.exchange import BinanceExchange
from mmctl.exchange.budget import RequestBudget
from mmctl.exchange.budgeted import BudgetedExchange
from mmctl.model import OrderRequest, OrderStatus, OrderUpdate, Side

from .harness import DEADLINE_S, binance_venue, eventually

BTC = "BTC/USDT:USDT"
BID, ASK = Decimal("60000.0"), Decimal("60000.1")


def bid(cid: str, price: str = "59990.0", qty: str = "0.004") -> OrderRequest:
    return OrderRequest(BTC, Side.BUY, Decimal(qty), Decimal(price), cid, post_only=True)


async def next_matching(
    stream: AsyncIterator[OrderUpdate], match: Callable[[OrderUpdate], bool]
) -> OrderUpdate:
    async def find() -> OrderUpdate:
        async for update in stream:
            if match(update):
                return update
        raise AssertionError("order stream ended")

    return await asyncio.wait_for(find(), DEADLINE_S)


async def place(ex: BinanceExchange, req: OrderRequest) -> None:
    (result,) = await ex.place_orders([req])
    if result.error is not None:
        raise result.error


async def test_a_5xx_on_submit_is_transient_and_places_nothing() -> None:
    """A 503 answer raises TransientError, leaves no order, and the next submit goes through."""
    async with binance_venue() as v:
        await v.driver.set_book(BTC, BID, ASK)
        v.fake.faults.fail_next("/fapi/v1/order", "POST", status=503, code=-1001)
        with pytest.raises(TransientError):
            await v.exchange.place_orders([bid("x-1")])
        assert await v.exchange.open_orders(BTC) == []
        await place(v.exchange, bid("x-2"))
        assert [o.client_order_id for o in v.fake.open_orders()] == ["x-2"]


async def test_a_timeout_marks_the_venue_unreachable_until_an_answer() -> None:
    """A request that gets no answer in time is TransientError; health says unreachable until one works."""
    async with binance_venue(request_timeout_s=0.3) as v:
        v.fake.faults.delay_next("/fapi/v3/account", 1.0, "GET")
        with pytest.raises(TransientError):
            await v.exchange.balance()
        assert v.exchange.health().detail["reachable"] == "no"
        assert not v.exchange.health().connected
        await v.exchange.balance()
        assert v.exchange.health().detail["reachable"] == "yes"


async def test_an_ambiguous_submit_still_reaches_the_order_stream() -> None:
    """A submit whose answer never comes raises TransientError, yet its order is announced on the stream."""
    async with binance_venue(request_timeout_s=0.3) as v:
        await v.driver.set_book(BTC, BID, ASK)
        updates = v.exchange.order_updates()
        v.fake.faults.swallow_next("/fapi/v1/order", "POST")
        with pytest.raises(TransientError):
            await v.exchange.place_orders([bid("lost-1")])
        seen = await next_matching(updates, lambda u: u.order.client_order_id == "lost-1")
        assert seen.order.status is OrderStatus.NEW
        assert [o.client_order_id for o in await v.exchange.open_orders(BTC)] == ["lost-1"]


async def test_a_fill_during_a_websocket_drop_is_recovered_once() -> None:
    """Fills made while the user stream is down come back after the reconnect, each exactly once."""
    async with binance_venue() as v:
        await v.driver.set_book(BTC, BID, ASK)
        updates = v.exchange.order_updates()
        await place(v.exchange, bid("drop-1"))
        await next_matching(updates, lambda u: u.order.client_order_id == "drop-1")
        v.fake.faults.drop_ws()
        await v.driver.trade(BTC, Side.SELL, Decimal("59990.0"), Decimal("0.003"))
        first = await next_matching(updates, lambda u: u.fill is not None)
        assert first.fill is not None
        assert (first.fill.qty, first.order.filled) == (Decimal("0.003"), Decimal("0.003"))
        await eventually(lambda: v.exchange.user.state == "connected", "the user stream to reconnect")
        await v.driver.trade(BTC, Side.SELL, Decimal("59990.0"), Decimal("0.001"))
        second = await next_matching(updates, lambda u: u.fill is not None)
        assert second.fill is not None
        assert second.fill.trade_id != first.fill.trade_id
        assert (second.order.filled, second.order.status) == (Decimal("0.004"), OrderStatus.FILLED)
        assert v.exchange.user.drops >= 1


async def test_a_silent_user_stream_is_reconciled_and_recreated() -> None:
    """A stream that goes quiet while a fill happens: the fill is recovered from REST, the stream re-made."""
    async with binance_venue(user_quiet_s=0.3) as v:
        await v.driver.set_book(BTC, BID, ASK)
        updates = v.exchange.order_updates()
        await place(v.exchange, bid("quiet-1"))
        await next_matching(updates, lambda u: u.order.client_order_id == "quiet-1")
        connects = v.exchange.user.connects
        v.fake.faults.silence_user_stream(True)
        await v.driver.trade(BTC, Side.SELL, Decimal("59990.0"), Decimal("0.004"))
        recovered = await next_matching(updates, lambda u: u.fill is not None)
        assert recovered.order.status is OrderStatus.FILLED
        await eventually(lambda: v.exchange.user.dead_streams >= 1, "the stream to be declared dead")
        v.fake.faults.silence_user_stream(False)
        await eventually(lambda: v.exchange.user.connects > connects, "the user stream to be re-made")
        await eventually(lambda: v.exchange.user.state == "connected", "the user stream to reconnect")
        await place(v.exchange, bid("quiet-2", "59980.0"))
        await next_matching(updates, lambda u: u.order.client_order_id == "quiet-2")


async def test_an_expired_listen_key_is_replaced() -> None:
    """After listenKeyExpired the adapter makes a new listenKey and events flow again."""
    async with binance_venue() as v:
        await v.driver.set_book(BTC, BID, ASK)
        updates = v.exchange.order_updates()
        old_key = v.fake.listen_key()
        assert old_key is not None
        v.fake.expire_listen_key()
        await eventually(lambda: v.fake.listen_key() not in (None, old_key), "a new listenKey")
        await eventually(lambda: v.exchange.user.state == "connected", "the user stream to reconnect")
        await place(v.exchange, bid("after-expiry"))
        await next_matching(updates, lambda u: u.order.client_order_id == "after-expiry")


async def test_a_clock_ahead_by_more_than_the_window_is_resynced_and_retried() -> None:
    """-1021 (our timestamps 20 s behind the venue) resyncs the clock and the request succeeds."""
    async with binance_venue() as v:
        syncs = len(v.fake.requests("/fapi/v1/time"))
        v.fake.clock_offset_ms += 20_000
        await v.exchange.balance()
        assert len(v.fake.requests("/fapi/v1/time")) == syncs + 1
        assert [r.code for r in v.fake.requests("/fapi/v3/account")][-2:] == [-1021, None]


async def test_429s_back_off_and_a_418_stops_all_requests_until_the_ban_ends() -> None:
    """Past the weight limit: 429 with Retry-After, then a 418 ban; during it nothing more is sent."""
    async with binance_venue() as v:
        v.fake.limits.weight_per_min = 10
        v.fake.limits.ban_after_429s = 1
        v.fake.reset_rate_limits()
        await v.exchange.balance()  # weight 5
        await v.exchange.balance()  # 10
        with pytest.raises(RateLimited) as limited:
            await v.exchange.balance()
        assert not isinstance(limited.value, IpBanned)
        assert limited.value.retry_after_s is not None
        assert limited.value.retry_after_s > 0
        with pytest.raises(IpBanned) as banned:
            await v.exchange.balance()
        assert v.fake.banned_until is not None
        assert banned.value.banned_until_ms == int(v.fake.banned_until * 1000)
        sent = len(v.fake.request_log)
        with pytest.raises(IpBanned):
            await v.exchange.open_orders(BTC)
        assert len(v.fake.request_log) == sent
        health = v.exchange.health()
        assert not health.connected
        assert health.detail["banned_until"].endswith("Z")


async def test_a_ban_pauses_the_shared_budgets_until_it_ends() -> None:
    """Behind the daemon's BudgetedExchange a 418 blocks the IP's and the account's budgets for the ban."""
    clock = SystemClock()
    ip, account = RequestBudget(clock), RequestBudget(clock)
    async with binance_venue(ip_budget=ip, account_budget=account) as v:
        budgeted = BudgetedExchange(v.exchange, account, ip)
        v.fake.limits.weight_per_min, v.fake.limits.ban_after_429s = 5, 0
        v.fake.reset_rate_limits()
        await budgeted.balance()  # weight 5 of 5
        with pytest.raises(IpBanned):
            await budgeted.balance()
        assert ip.usage()["blocked_for_s"] > 100  # the fake bans for 120 s
        assert account.usage()["blocked_for_s"] > 100


async def test_a_dropped_book_stream_reconnects() -> None:
    """After every socket is dropped, book watchers keep getting the newest top."""
    async with binance_venue() as v:
        await v.driver.set_book(BTC, BID, ASK)
        watch = v.exchange.watch_book(BTC)
        assert (await asyncio.wait_for(anext(watch), DEADLINE_S)).bid == BID
        v.fake.faults.drop_ws()
        v.fake.set_book("BTCUSDT", BID + 5, ASK + 5)
        await eventually(lambda: (v.exchange.book(BTC) or watch_none()).bid == BID + 5, "the new top")
        assert (await asyncio.wait_for(anext(watch), DEADLINE_S)).bid == BID + 5


def watch_none() -> object:
    class NoTop:
        bid = None

    return NoTop()


async def test_a_cancelled_caller_does_not_cut_a_sent_request() -> None:
    """Cancelling a caller mid-request leaves the request running; settle() waits for its answer."""
    async with binance_venue() as v:
        await v.driver.set_book(BTC, BID, ASK)
        v.fake.faults.delay_next("/fapi/v1/order", 0.3, "POST")
        caller = asyncio.ensure_future(v.exchange.place_orders([bid("sent-1")]))
        await eventually(lambda: v.exchange.requests_in_flight > 0, "the request to be sent")
        caller.cancel()
        await v.exchange.settle()
        assert [o.client_order_id for o in v.fake.open_orders()] == ["sent-1"]
