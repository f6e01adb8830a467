"""Real `ccxt.pro.binanceusdm` against the fake Binance server: signing, parameters and parsing end to end."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
from ccxt.base.errors import (
    AuthenticationError,
    BadRequest,
    DDoSProtection,
    InsufficientFunds,
    InvalidNonce,
    InvalidOrder,
    NetworkError,
    OrderNotFillable,
    OrderNotFound,
    RequestTimeout,
)

from .client import ccxt_client
from .fixture import running_fake
from .server import FakeBinance

BTC = "BTC/USDT:USDT"
Body = Callable[[FakeBinance, Any], Awaitable[None]]


def run(body: Body, **client_kw: Any) -> None:
    """Run `body(fake, exchange)` with a started fake and a ccxt client on it, both closed afterwards."""

    async def main() -> None:
        async with running_fake() as fake:
            exchange = ccxt_client(fake, **client_kw)
            try:
                await exchange.load_markets()
                await body(fake, exchange)
            finally:
                await exchange.close()

    asyncio.run(main())


async def until(predicate: Callable[[], bool], within_s: float = 5.0) -> None:
    """Poll `predicate` until true, failing after `within_s` seconds."""
    deadline = time.monotonic() + within_s
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


def quote(side: str, price: float, client_id: str, amount: float = 0.01) -> dict[str, Any]:
    return {
        "symbol": BTC,
        "type": "limit",
        "side": side,
        "amount": amount,
        "price": price,
        "params": {"postOnly": True, "clientOrderId": client_id},
    }


def test_load_markets_reads_binance_filters() -> None:
    """load_markets sees tick, step, min notional and the raw MAX_NUM_ORDERS/PERCENT_PRICE filters."""

    async def body(fake: FakeBinance, ex: Any) -> None:
        market = ex.market(BTC)
        assert (market["precision"]["price"], market["precision"]["amount"]) == (0.1, 0.001)
        assert market["limits"]["cost"]["min"] == 100
        filters = {f["filterType"]: f for f in market["info"]["filters"]}
        assert filters["MAX_NUM_ORDERS"]["limit"] == 200
        assert filters["PERCENT_PRICE"]["multiplierUp"] == "1.0500"
        assert set(ex.symbols) >= {BTC, "ETH/USDT:USDT", "XRP/USDT:USDT"}
        assert [(r.method, r.path) for r in fake.request_log] == [("GET", "/fapi/v1/exchangeInfo")]

    run(body)


def test_fetch_bids_asks_reads_the_book() -> None:
    """fetch_bids_asks returns the top of book the test set, with Binance's strings in info."""

    async def body(fake: FakeBinance, ex: Any) -> None:
        fake.set_book("BTCUSDT", Decimal("91000.5"), Decimal("91000.6"), Decimal("1.5"), Decimal("2"))
        ticker = (await ex.fetch_bids_asks([BTC]))[BTC]
        assert (ticker["bid"], ticker["ask"], ticker["bidVolume"]) == (91000.5, 91000.6, 1.5)
        assert ticker["info"]["askQty"] == "2.000"

    run(body)


def test_create_orders_places_post_only_and_rejects_the_crossing_leg() -> None:
    """A batch of GTX quotes rests except the leg that would cross (-5022): one request of weight 5."""

    async def body(fake: FakeBinance, ex: Any) -> None:
        batch = [quote("buy", 89000, "bid-1"), quote("buy", 90000.1, "bid-x"), quote("sell", 91000, "ask-1")]
        results = await ex.create_orders(batch)
        by_client = {r["clientOrderId"]: r for r in results if r["clientOrderId"]}
        assert (by_client["bid-1"]["status"], by_client["bid-1"]["postOnly"]) == ("open", True)
        assert by_client["ask-1"]["status"] == "open"
        rejected = [r for r in results if r["status"] == "rejected"]
        assert [r["info"]["code"] for r in rejected] == [-5022]
        assert sorted(o.client_order_id for o in fake.open_orders()) == ["ask-1", "bid-1"]
        record = fake.requests("/fapi/v1/batchOrders")[0]
        assert (record.weight, record.orders) == (5, 5)

    run(body)


def test_batch_of_six_is_refused() -> None:
    """Binance takes at most 5 orders per batch: 6 is refused whole with -4082."""

    async def body(fake: FakeBinance, ex: Any) -> None:
        with pytest.raises(BadRequest, match="-4082"):
            await ex.create_orders([quote("buy", 89000 - i, f"b{i}") for i in range(6)])
        assert fake.open_orders() == []

    run(body)


def test_cancel_orders_by_client_ids() -> None:
    """cancel_orders with clientOrderIds cancels those orders and answers -2011 for an unknown one."""

    async def body(fake: FakeBinance, ex: Any) -> None:
        await ex.create_orders(
            [quote("buy", 89000, "b1"), quote("buy", 88000, "b2"), quote("sell", 91000, "s1")]
        )
        results = await ex.cancel_orders([], BTC, {"clientOrderIds": ["b1", "s1"]})
        assert sorted((r["clientOrderId"], r["status"]) for r in results) == [
            ("b1", "canceled"),
            ("s1", "canceled"),
        ]
        assert [o.client_order_id for o in fake.open_orders()] == ["b2"]
        raw = await ex.fapiPrivateDeleteBatchOrders(
            {"symbol": "BTCUSDT", "origClientOrderIdList": ["b2", "nope"]}
        )
        assert [(leg.get("status"), leg.get("code")) for leg in raw] == [("CANCELED", None), (None, -2011)]
        assert fake.requests("/fapi/v1/batchOrders", "DELETE")[0].weight == 1
        with pytest.raises(OrderNotFound, match="-2011"):
            await ex.cancel_orders(["1"], BTC)

    run(body)


def test_edit_order_amends_in_place() -> None:
    """edit_order keeps the order id and client id, changes price and size, costs one order and no weight."""

    async def body(fake: FakeBinance, ex: Any) -> None:
        placed = await ex.create_order(
            BTC, "limit", "buy", 0.01, 89000, {"postOnly": True, "clientOrderId": "q1"}
        )
        edited = await ex.edit_order(placed["id"], BTC, "limit", "buy", 0.02, 89500)
        assert (edited["id"], edited["clientOrderId"], edited["price"], edited["amount"]) == (
            placed["id"],
            "q1",
            89500,
            0.02,
        )
        (order,) = fake.open_orders()
        assert (order.price, order.orig_qty, order.amendments) == (Decimal("89500"), Decimal("0.02"), 1)
        record = fake.requests("/fapi/v1/order", "PUT")[0]
        assert (record.weight, record.orders) == (0, 1)
        crossing = await ex.edit_order(placed["id"], BTC, "limit", "buy", 0.02, 90000.1)
        assert crossing["status"] == "canceled"
        assert fake.open_orders() == []

    run(body)


def test_edit_orders_amends_a_batch() -> None:
    """edit_orders sends one PUT batchOrders (weight 5, 5 on the 10 s order counter) amending each order."""

    async def body(fake: FakeBinance, ex: Any) -> None:
        placed = await ex.create_orders([quote("buy", 89000, "e1"), quote("sell", 91000, "e2")])
        edits = [
            {"id": o["id"], "symbol": BTC, "type": "limit", "side": o["side"], "amount": 0.02, "price": price}
            for o, price in zip(sorted(placed, key=lambda o: o["side"]), (89100, 90900), strict=True)
        ]
        edited = await ex.edit_orders(edits)
        assert sorted((o["clientOrderId"], o["price"], o["amount"]) for o in edited) == [
            ("e1", 89100, 0.02),
            ("e2", 90900, 0.02),
        ]
        record = fake.requests("/fapi/v1/batchOrders", "PUT")[0]
        assert (record.weight, record.orders) == (5, 5)

    run(body)


def test_fill_shows_in_positions_balance_and_trades() -> None:
    """A resting bid crossed by the book becomes a long position, a maker trade and a fee off the wallet."""

    async def body(fake: FakeBinance, ex: Any) -> None:
        await ex.create_order(BTC, "limit", "buy", 0.01, 89900, {"postOnly": True})
        fake.set_book("BTCUSDT", Decimal("89800.0"), Decimal("89899.9"))
        (position,) = await ex.fetch_positions([BTC])
        assert (position["side"], position["contracts"], position["entryPrice"]) == ("long", 0.01, 89900)
        assert position["info"]["positionAmt"] == "0.010"
        (trade,) = await ex.fetch_my_trades(BTC)
        assert (trade["takerOrMaker"], trade["info"]["commission"]) == ("maker", "0.17980000")
        balance = await ex.fetch_balance()
        assert balance["info"]["totalWalletBalance"] == "9999.82020000"
        assert fake.positions()["BTCUSDT"].amount == Decimal("0.010")

    run(body)


def test_set_leverage_and_fetch_leverage() -> None:
    """set_leverage changes the symbol's leverage; above the first bracket's maximum is -4028."""

    async def body(fake: FakeBinance, ex: Any) -> None:
        await ex.set_leverage(10, BTC)
        assert fake.leverage("BTCUSDT") == 10
        assert (await ex.fetch_leverage(BTC))["longLeverage"] == 10
        with pytest.raises(BadRequest, match="-4028"):
            await ex.set_leverage(100, "XRP/USDT:USDT")

    run(body)


def test_income_pages_walk_the_whole_ledger() -> None:
    """Income pages of `limit` rows are disjoint and complete, a fill's PnL and fee rows share tranId."""

    async def body(fake: FakeBinance, ex: Any) -> None:
        await ex.create_order(BTC, "limit", "buy", 0.01, 89900, {"postOnly": True})
        fake.set_book("BTCUSDT", Decimal("89800.0"), Decimal("89899.9"))
        await ex.create_order(BTC, "limit", "sell", 0.01, 90100, {"postOnly": True})
        fake.set_book("BTCUSDT", Decimal("90100.0"), Decimal("90100.1"))
        for i in range(21):
            fake.add_income("FUNDING_FEE", Decimal(f"-0.0{i:02d}"), "BTCUSDT")
        pages = [
            await ex.fapiPrivateGetIncome({"limit": 10, "page": p, "startTime": 0}) for p in (1, 2, 3, 4)
        ]
        assert [len(p) for p in pages] == [10, 10, 5, 0]
        rows = [row for page in pages for row in page]
        assert len({(r["incomeType"], r["tranId"]) for r in rows}) == 25
        closing = [r for r in rows if r["incomeType"] in ("REALIZED_PNL", "COMMISSION") and r["tradeId"]][-2:]
        assert {r["incomeType"] for r in closing} == {"REALIZED_PNL", "COMMISSION"}
        assert (closing[0]["tranId"], closing[0]["tradeId"]) == (closing[1]["tranId"], closing[1]["tradeId"])
        assert sum(Decimal(r["income"]) for r in rows) == fake.balance().wallet
        assert fake.requests("/fapi/v1/income")[0].weight == 30

    run(body)


def test_watch_bids_asks_streams_book_updates() -> None:
    """watch_bids_asks gets the current top at once, then every set_book."""

    async def body(fake: FakeBinance, ex: Any) -> None:
        first = await asyncio.wait_for(ex.watch_bids_asks([BTC]), 5)
        assert first[BTC]["bid"] == 90000.0
        fake.set_book("BTCUSDT", Decimal("90050.0"), Decimal("90050.1"))
        second = await asyncio.wait_for(ex.watch_bids_asks([BTC]), 5)
        assert (second[BTC]["bid"], second[BTC]["ask"]) == (90050.0, 90050.1)

    run(body)


def test_watch_orders_receives_a_fill() -> None:
    """The user data stream pushes NEW then the fill (ORDER_TRADE_UPDATE) that watch_orders parses."""

    async def body(fake: FakeBinance, ex: Any) -> None:
        watcher = asyncio.create_task(ex.watch_orders(BTC))
        await until(lambda: fake.listen_key() is not None and fake.ws_clients() == 1)
        placed = await ex.create_order(
            BTC, "limit", "buy", 0.01, 90000, {"postOnly": True, "clientOrderId": "w1"}
        )
        (new,) = await asyncio.wait_for(watcher, 5)
        assert (new["id"], new["status"]) == (placed["id"], "open")
        fake.set_book("BTCUSDT", Decimal("89990.0"), Decimal("90000.0"))
        (filled,) = await asyncio.wait_for(ex.watch_orders(BTC), 5)
        assert (filled["clientOrderId"], filled["status"], filled["filled"]) == ("w1", "closed", 0.01)
        assert filled["fee"] == {"currency": "USDT", "cost": 0.18}

    run(body)


def test_bad_signature_raises_authentication_error() -> None:
    """A request signed with the wrong secret gets -1022, which ccxt raises as AuthenticationError."""

    async def body(fake: FakeBinance, ex: Any) -> None:
        with pytest.raises(AuthenticationError, match="-1022"):
            await ex.fetch_balance()

    run(body, api_secret="wrong")


def test_server_clock_ahead_raises_invalid_nonce() -> None:
    """A timestamp older than recvWindow by the server's clock gets -1021: ccxt's InvalidNonce."""

    async def body(fake: FakeBinance, ex: Any) -> None:
        fake.clock_offset_ms = 20_000
        with pytest.raises(InvalidNonce, match="-1021"):
            await ex.fetch_balance()
        fake.clock_offset_ms = 0
        await ex.fetch_balance()

    run(body)


def test_usage_headers_then_429_then_418() -> None:
    """Responses carry weight and order counts; past the weight limit 429 with Retry-After, then a 418 ban."""

    async def body(fake: FakeBinance, ex: Any) -> None:
        await ex.create_order(BTC, "limit", "buy", 0.01, 89000, {"postOnly": True})
        headers = ex.last_response_headers
        assert (headers["X-MBX-USED-WEIGHT-1M"], headers["X-MBX-ORDER-COUNT-10S"]) == ("1", "1")
        fake.limits.weight_per_min = 10
        fake.limits.ban_after_429s = 2
        await ex.fetch_balance()
        assert ex.last_response_headers["X-MBX-USED-WEIGHT-1M"] == "6"
        for _ in range(2):
            with pytest.raises(DDoSProtection, match="429"):
                await ex.fetch_balance()
            assert int(ex.last_response_headers["Retry-After"]) >= 1
        with pytest.raises(DDoSProtection, match="418"):
            await ex.fetch_balance()
        assert fake.banned_until is not None
        assert [r.status for r in fake.requests("/fapi/v3/account")] == [200, 429, 429, 418]

    run(body)


def test_linear_error_table_maps_margin_notional_and_post_only() -> None:
    """With the USDⓈ-M table -2019/-4164/-5022 are InsufficientFunds/InvalidOrder/OrderNotFillable."""

    async def body(fake: FakeBinance, ex: Any) -> None:
        with pytest.raises(InsufficientFunds, match="-2019"):
            await ex.create_order(BTC, "limit", "buy", 5, 89000, {"postOnly": True})
        with pytest.raises(InvalidOrder, match="-4164"):
            await ex.create_order(BTC, "limit", "buy", 0.001, 89000, {"postOnly": True})
        with pytest.raises(OrderNotFillable, match="-5022"):
            await ex.create_order(BTC, "limit", "buy", 0.01, 90000.1, {"postOnly": True})
        assert fake.open_orders() == []

    run(body)


def test_swallowed_submit_is_placed_and_its_retry_is_a_duplicate() -> None:
    """An unanswered order request times out in ccxt, yet the order rests; resending its id is -4116."""

    async def body(fake: FakeBinance, ex: Any) -> None:
        fake.faults.swallow_next("/fapi/v1/order", "POST")
        params = {"postOnly": True, "clientOrderId": "amb-1"}
        with pytest.raises(RequestTimeout):
            await ex.create_order(BTC, "limit", "buy", 0.01, 89000, params)
        assert [o.client_order_id for o in fake.open_orders()] == ["amb-1"]
        with pytest.raises(InvalidOrder, match="-4116"):
            await ex.create_order(BTC, "limit", "buy", 0.01, 89000, params)

    run(body, timeout_ms=300)


def test_dropped_websocket_is_reported_and_a_new_watch_reconnects() -> None:
    """drop_ws closes the stream under ccxt (NetworkError); the next watch reconnects and gets the book."""

    async def body(fake: FakeBinance, ex: Any) -> None:
        await asyncio.wait_for(ex.watch_bids_asks([BTC]), 5)
        pending = asyncio.create_task(ex.watch_bids_asks([BTC]))
        await asyncio.sleep(0.05)
        fake.faults.drop_ws()
        with pytest.raises(NetworkError):
            await asyncio.wait_for(pending, 5)
        again = await asyncio.wait_for(ex.watch_bids_asks([BTC]), 5)
        assert again[BTC]["bid"] == 90000.0

    run(body)


@pytest.mark.parametrize("fault", ["unknown_key", "no_futures", "ip_refused"])
def test_key_problems_are_2015(fault: str) -> None:
    """An unknown key, a key without futures permission or from a refused IP: -2015, AuthenticationError."""

    async def body(fake: FakeBinance, ex: Any) -> None:
        if fault == "no_futures":
            fake.set_permissions(futures=False)
        elif fault == "ip_refused":
            fake.set_ip_allowed(False)
        with pytest.raises(AuthenticationError, match="-2015"):
            await ex.fetch_balance()

    run(body, **({"api_key": "other", "api_secret": "s"} if fault == "unknown_key" else {}))
