"""The fake Binance server's own rules, spoken to in raw signed HTTP and WebSocket (no ccxt in between)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp

from .fixture import fake_in_thread, running_fake
from .rawclient import RawClient, Reply
from .server import FakeBinance

Body = Callable[[FakeBinance, RawClient], Awaitable[None]]


def run(body: Body) -> None:
    """Run `body(fake, client)` against a started fake with a signed raw client for the default account."""

    async def main() -> None:
        async with running_fake() as fake, RawClient(fake.rest_url) as client:
            await body(fake, client)

    asyncio.run(main())


async def bid(client: RawClient, price: str, qty: str = "0.010", **extra: Any) -> Reply:
    """A GTC limit buy on BTCUSDT."""
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    return await client.signed("POST", "/fapi/v1/order", **params, quantity=qty, price=price, **extra)


async def ask(client: RawClient, price: str, qty: str = "0.010", **extra: Any) -> Reply:
    """A GTC limit sell on BTCUSDT."""
    params = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC"}
    return await client.signed("POST", "/fapi/v1/order", **params, quantity=qty, price=price, **extra)


def test_signature_key_and_timestamp_checks() -> None:
    """Tampered body: -1022; missing key: -2014; timestamp over 1 s ahead: -1021; a good request passes."""

    async def body(fake: FakeBinance, client: RawClient) -> None:
        assert (await client.signed("GET", "/fapi/v3/balance")).status == 200
        signed = client.sign({"symbol": "BTCUSDT", "leverage": 5})
        tampered = await client.send(
            "POST", "/fapi/v1/leverage", signed.replace("leverage=5", "leverage=6"), key=True
        )
        assert (tampered.status, tampered.code) == (400, -1022)
        keyless = await client.send("GET", "/fapi/v3/balance", client.sign({}), key=False)
        assert (keyless.status, keyless.code) == (401, -2014)
        client.time_offset_ms = 2000
        ahead = await client.signed("GET", "/fapi/v3/balance")
        assert (ahead.code, "ahead" in ahead.body["msg"]) == (-1021, True)
        assert fake.leverage("BTCUSDT") == 20

    run(body)


def test_filters_reject_bad_prices_and_quantities() -> None:
    """Tick (-4014), precision (-1111), zero size (-4003), percent price (-4016) and min notional (-4164)."""

    async def body(fake: FakeBinance, client: RawClient) -> None:
        assert (await bid(client, "89000.05")).code == -4014
        assert (await bid(client, "89000.001")).code == -1111
        assert (await bid(client, "89000.0", qty="0")).code == -4003
        assert (await bid(client, "89000.0", qty="0.0001")).code == -1111
        assert (await bid(client, "95000.0")).code == -4016
        assert (await bid(client, "89000.0", qty="0.001")).code == -4164
        sol = {"symbol": "SOLUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "1"}
        assert (await client.signed("POST", "/fapi/v1/order", **sol, price="149.005")).code == -4014
        assert (await client.signed("POST", "/fapi/v1/order", **sol, price="149.01")).status == 200
        stop = {**sol, "type": "STOP_MARKET", "stopPrice": "140"}
        assert (await client.signed("POST", "/fapi/v1/order", **stop)).code == -4120

    run(body)


def test_partial_fills_realized_pnl_and_ledger() -> None:
    """Taker trades fill resting orders in part; closing realizes PnL; income rows sum to the wallet."""

    async def body(fake: FakeBinance, client: RawClient) -> None:
        placed = (await bid(client, "89000.0", qty="0.030")).body
        assert fake.trade("BTCUSDT", "SELL", Decimal("89000.0"), Decimal("0.010")) == Decimal("0.010")
        order = (
            await client.signed("GET", "/fapi/v1/order", symbol="BTCUSDT", orderId=placed["orderId"])
        ).body
        assert (order["status"], order["executedQty"], order["avgPrice"]) == (
            "PARTIALLY_FILLED",
            "0.010",
            "89000.00",
        )
        assert fake.trade("BTCUSDT", "SELL", Decimal("88000.0"), Decimal("1")) == Decimal("0.020")
        assert fake.positions()["BTCUSDT"].entry_price == Decimal("89000.0")
        await ask(client, "90100.0", qty="0.030")
        fake.trade("BTCUSDT", "BUY", Decimal("90100.0"), Decimal("0.030"))
        assert fake.positions() == {}
        (pnl,) = fake.income_rows(income_type="REALIZED_PNL")
        assert pnl.income == Decimal("33.00000000")
        assert sum(r.income for r in fake.income_rows()) == fake.balance().wallet
        maker_fees = Decimal("0.0002") * (
            Decimal("89000") * Decimal("0.03") + Decimal("90100") * Decimal("0.03")
        )
        assert fake.balance().wallet == Decimal(10000) + Decimal(33) - maker_fees

    run(body)


def test_market_order_takes_the_book_and_pays_taker_fee() -> None:
    """A market buy fills at the ask as taker (0.05 %), reported FILLED in the answer."""

    async def body(fake: FakeBinance, client: RawClient) -> None:
        reply = await client.signed(
            "POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010"
        )
        assert (reply.body["status"], reply.body["avgPrice"]) == ("FILLED", "90000.10")
        (trade,) = fake.user_trades()
        assert (trade.maker, trade.commission) == (False, Decimal("0.45000050"))

    run(body)


def test_reduce_only_rules() -> None:
    """Reduce-only is refused when flat, fills only what the position has, and the rest expires."""

    async def body(fake: FakeBinance, client: RawClient) -> None:
        assert (await ask(client, "91000.0", reduceOnly="true")).code == -2022
        await bid(client, "89000.0", qty="0.020")
        fake.set_book("BTCUSDT", Decimal("88900.0"), Decimal("89000.0"))
        closing = (await ask(client, "89500.0", qty="0.030", reduceOnly="true")).body
        assert closing["status"] == "NEW"
        assert (await ask(client, "89500.0", qty="0.001", reduceOnly="true")).status == 200
        fake.trade("BTCUSDT", "BUY", Decimal("89500.0"), Decimal("1"))
        assert fake.positions() == {}
        statuses = {o.order_id: (o.status, o.executed_qty) for o in fake.orders()}
        assert statuses[closing["orderId"]] == ("EXPIRED", Decimal("0.020"))
        assert fake.open_orders() == []

    run(body)


def test_amend_semantics() -> None:
    """Amends lose queue priority; no-op is -5027; a bad tick leaves the order; qty <= executed cancels it."""

    async def body(fake: FakeBinance, client: RawClient) -> None:
        first = (await bid(client, "89000.0", qty="0.020")).body
        second = (await bid(client, "89000.0", qty="0.020")).body
        amend = {"symbol": "BTCUSDT", "side": "BUY", "orderId": first["orderId"]}
        assert (
            await client.signed("PUT", "/fapi/v1/order", **amend, quantity="0.020", price="89000.0")
        ).code == -5027
        bad = await client.signed("PUT", "/fapi/v1/order", **amend, quantity="0.020", price="89000.05")
        assert bad.code == -4014
        ok = await client.signed("PUT", "/fapi/v1/order", **amend, quantity="0.030", price="89000.0")
        assert (ok.body["orderId"], ok.body["origQty"]) == (first["orderId"], "0.030")
        fake.trade("BTCUSDT", "SELL", Decimal("89000.0"), Decimal("0.025"))
        by_id = {o.order_id: o for o in fake.orders()}
        assert (by_id[second["orderId"]].status, by_id[first["orderId"]].executed_qty) == (
            "FILLED",
            Decimal("0.005"),
        )
        shrink = await client.signed("PUT", "/fapi/v1/order", **amend, quantity="0.005", price="89000.0")
        assert shrink.body["status"] == "CANCELED"

    run(body)


def test_countdown_cancels_the_symbols_orders_at_expiry() -> None:
    """countdownCancelAll cancels the symbol's orders when not refreshed in time; 0 disarms it."""

    async def body(fake: FakeBinance, client: RawClient) -> None:
        await bid(client, "89000.0")
        armed = await client.signed(
            "POST", "/fapi/v1/countdownCancelAll", symbol="BTCUSDT", countdownTime=120000
        )
        assert armed.body == {"symbol": "BTCUSDT", "countdownTime": "120000"}
        fake.advance_countdowns(119)
        assert len(fake.open_orders()) == 1
        assert 0 < fake.countdowns_left()["BTCUSDT"] <= 1
        fake.advance_countdowns(2)
        assert fake.open_orders() == []
        await bid(client, "89000.0")
        await client.signed("POST", "/fapi/v1/countdownCancelAll", symbol="BTCUSDT", countdownTime=1000)
        await client.signed("POST", "/fapi/v1/countdownCancelAll", symbol="BTCUSDT", countdownTime=0)
        fake.advance_countdowns(5)
        assert (len(fake.open_orders()), fake.countdowns_left()) == (1, {})

    run(body)


def test_injected_failures_delays_and_processed_errors() -> None:
    """fail_next answers the error without acting (or after acting with process=True); delay_next holds it."""

    async def body(fake: FakeBinance, client: RawClient) -> None:
        fake.faults.fail_next("/fapi/v1/order", status=503, code=-1001)
        failed = await bid(client, "89000.0")
        assert (failed.status, failed.code, fake.open_orders()) == (503, -1001, [])
        fake.faults.fail_next("/fapi/v1/order", status=503, code=-1007, process=True)
        assert (await bid(client, "89000.0")).code == -1007
        assert len(fake.open_orders()) == 1
        fake.faults.fail_next("*", method="GET", status=502, body="<html>Bad Gateway</html>")
        gateway = await client.public("/fapi/v1/time")
        assert (gateway.status, gateway.body) == (502, "<html>Bad Gateway</html>")
        fake.faults.delay_next("/fapi/v1/time", 0.2)
        started = time.monotonic()
        assert (await client.public("/fapi/v1/time")).status == 200
        assert time.monotonic() - started >= 0.2
        assert fake.faults.pending() == 0

    run(body)


def test_order_count_limit_is_429_with_retry_after() -> None:
    """Past orders_per_10s a new order is refused 429/-1015 with Retry-After, counts in the headers."""

    async def body(fake: FakeBinance, client: RawClient) -> None:
        fake.limits.orders_per_10s = 2
        first = await bid(client, "89000.0")
        assert (first.headers["X-MBX-ORDER-COUNT-10S"], first.headers["X-MBX-ORDER-COUNT-1M"]) == ("1", "1")
        await bid(client, "88000.0")
        refused = await bid(client, "87000.0")
        assert (refused.status, refused.code) == (429, -1015)
        assert 1 <= int(refused.headers["Retry-After"]) <= 10
        assert len(fake.open_orders()) == 2
        fake.reset_rate_limits()
        assert (await bid(client, "87000.0")).status == 200

    run(body)


def test_position_mode_and_margin_type_answers() -> None:
    """Setting the mode or margin type already in force: -4059 / -4046; hedge mode refuses orders: -4061."""

    async def body(fake: FakeBinance, client: RawClient) -> None:
        same = await client.signed("POST", "/fapi/v1/positionSide/dual", dualSidePosition="false")
        assert same.code == -4059
        crossed = await client.signed("POST", "/fapi/v1/marginType", symbol="BTCUSDT", marginType="CROSSED")
        assert crossed.code == -4046
        fake.set_hedge_mode(True)
        assert (await client.signed("GET", "/fapi/v1/positionSide/dual")).body == {"dualSidePosition": True}
        assert (await bid(client, "89000.0")).code == -4061

    run(body)


def test_income_window_and_limit() -> None:
    """Income without times covers the last 7 days; limit above 1000 is refused."""

    async def body(fake: FakeBinance, client: RawClient) -> None:
        fake.clock_offset_ms = -8 * 86_400_000
        fake.add_income("FUNDING_FEE", Decimal("-1.5"), "BTCUSDT")
        fake.clock_offset_ms = 0
        recent = (await client.signed("GET", "/fapi/v1/income")).body
        everything = (await client.signed("GET", "/fapi/v1/income", startTime=0)).body
        assert [r["incomeType"] for r in recent] == ["TRANSFER"]
        assert [r["incomeType"] for r in everything] == ["FUNDING_FEE", "TRANSFER"]
        assert (await client.signed("GET", "/fapi/v1/income", limit=1001)).code == -1130

    run(body)


@asynccontextmanager
async def user_stream(fake: FakeBinance, client: RawClient) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A raw user-data WebSocket on a fresh listenKey, the way ccxt connects."""
    key = (await client.send("POST", "/fapi/v1/listenKey", "", key=True)).body["listenKey"]
    async with aiohttp.ClientSession() as session:
        url = f"{fake.ws_url.removesuffix('/ws')}/private/ws?listenKey={key}"
        async with session.ws_connect(url) as ws:
            yield ws


async def next_event(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.receive_str(), 5))  # type: ignore[no-any-return]


def test_user_stream_silence_and_listen_key_expiry() -> None:
    """Silenced events are lost; an expired listenKey gets listenKeyExpired, then nothing; PUT is -1125."""

    async def body(fake: FakeBinance, client: RawClient) -> None:
        async with user_stream(fake, client) as ws:
            await bid(client, "89000.0", newClientOrderId="seen-1")
            event = await next_event(ws)
            assert (event["e"], event["o"]["c"], event["o"]["X"]) == ("ORDER_TRADE_UPDATE", "seen-1", "NEW")
            fake.faults.silence_user_stream(True)
            await bid(client, "88000.0", newClientOrderId="lost-1")
            fake.faults.silence_user_stream(False)
            await bid(client, "87000.0", newClientOrderId="seen-2")
            assert (await next_event(ws))["o"]["c"] == "seen-2"
            key = fake.listen_key()
            assert fake.expire_listen_key() == 1
            expired = await next_event(ws)
            assert (expired["e"], expired["listenKey"]) == ("listenKeyExpired", key)
            await bid(client, "86000.0", newClientOrderId="after")
            await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 7}))
            assert await next_event(ws) == {"result": [], "id": 7}  # FIFO: no order event came before it
            refreshed = await client.send("PUT", "/fapi/v1/listenKey", "", key=True)
            assert refreshed.code == -1125
            new_key = (await client.send("POST", "/fapi/v1/listenKey", "", key=True)).body["listenKey"]
            assert new_key != key

    run(body)


def test_fake_in_thread_is_driven_from_sync_code() -> None:
    """fake_in_thread serves on its own loop; control and inspection calls work from the test thread."""
    with fake_in_thread() as fake:
        fake.set_book("ETHUSDT", Decimal("3100.00"), Decimal("3100.01"))
        fake.add_account("k2", "s2", Decimal("500"))
        url = f"{fake.rest_url}/fapi/v1/ticker/bookTicker?symbol=ETHUSDT"
        with urllib.request.urlopen(url, timeout=5) as response:
            ticker = json.loads(response.read())
            assert response.headers["X-MBX-USED-WEIGHT-1M"] == "2"
        assert (ticker["bidPrice"], ticker["askPrice"]) == ("3100.00", "3100.01")
        assert fake.balance("k2").wallet == Decimal("500")
        assert (fake.open_orders(), fake.ws_clients()) == ([], 0)
