"""The Binance adapter's conditional orders (Binance's Algo Service) on the fake server through real ccxt:
the exact parameters sent, what each port call costs against `mmctl.exchange.weights`, recovery of a
trigger the user stream missed, and the conversion of Binance's documented payloads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest

from mmctl.exchange.binance.algo import conditional, conditional_from_event
from mmctl.exchange.binance.convert import ConversionError
from mmctl.exchange.conditional import (
    ConditionalKind,
    ConditionalOrder,
    ConditionalRequest,
    ConditionalStatus,
    WorkingType,
)
from mmctl.exchange.weights import cost
from mmctl.model import OrderRequest, OrderType, OrderUpdate, Side

from .harness import DEADLINE_S, Venue, binance_venue, eventually

BTC = "BTC/USDT:USDT"
BID, ASK = Decimal("60000.0"), Decimal("60000.1")
SIZE = Decimal("0.002")


def stop(cid: str, trigger: str = "59900.0", **kw: Any) -> ConditionalRequest:
    fields: dict[str, Any] = {"qty": SIZE, "trigger_price": Decimal(trigger)}
    fields.update(kw)
    return ConditionalRequest(
        symbol=BTC, side=Side.SELL, kind=ConditionalKind.STOP_MARKET, client_id=cid, **fields
    )


async def go_long(v: Venue) -> None:
    await v.driver.set_book(BTC, BID, ASK)
    (result,) = await v.exchange.place_orders(
        [OrderRequest(BTC, Side.BUY, SIZE, None, "long", type=OrderType.MARKET)]
    )
    assert result.ok


async def first(stream: AsyncIterator[Any], match: Callable[[Any], bool]) -> Any:
    async def find() -> Any:
        async for item in stream:
            if match(item):
                return item
        raise AssertionError("stream ended")

    return await asyncio.wait_for(find(), DEADLINE_S)


def sent(v: Venue, method: str, path: str) -> list[dict[str, str]]:
    """The parameters of each such request, without the signing fields."""
    drop = {"timestamp", "recvWindow", "signature"}
    return [{k: p for k, p in r.params.items() if k not in drop} for r in v.fake.requests(path, method)]


async def test_each_kind_is_sent_with_binances_own_parameters() -> None:
    """A stop, a close-position take-profit and a trailing stop go to POST /fapi/v1/algoOrder with
    Binance's names and exact decimal text (no reduceOnly beside closePosition)."""
    async with binance_venue() as v:
        await go_long(v)
        ex = v.exchange
        await ex.place_conditional(stop("sl", "59900.0"))
        await ex.place_conditional(
            ConditionalRequest(
                symbol=BTC,
                side=Side.SELL,
                kind=ConditionalKind.TAKE_PROFIT_MARKET,
                trigger_price=Decimal("61000.50"),
                close_position=True,
                working_type=WorkingType.CONTRACT_PRICE,
                client_id="tp",
            )
        )
        await ex.place_conditional(
            ConditionalRequest(
                symbol=BTC,
                side=Side.SELL,
                kind=ConditionalKind.TRAILING_STOP_MARKET,
                callback_rate=Decimal("0.50"),
                activate_price=Decimal("60500.0"),
                qty=SIZE,
                client_id="ts",
            )
        )
        assert sent(v, "POST", "/fapi/v1/algoOrder") == [
            {
                "algoType": "CONDITIONAL",
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "STOP_MARKET",
                "workingType": "MARK_PRICE",
                "clientAlgoId": "sl",
                "quantity": "0.002",
                "reduceOnly": "true",
                "triggerPrice": "59900",
            },
            {
                "algoType": "CONDITIONAL",
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "TAKE_PROFIT_MARKET",
                "workingType": "CONTRACT_PRICE",
                "clientAlgoId": "tp",
                "closePosition": "true",
                "triggerPrice": "61000.5",
            },
            {
                "algoType": "CONDITIONAL",
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "TRAILING_STOP_MARKET",
                "workingType": "MARK_PRICE",
                "clientAlgoId": "ts",
                "quantity": "0.002",
                "reduceOnly": "true",
                "callbackRate": "0.5",
                "activatePrice": "60500",
            },
        ]
        listed = await ex.open_conditionals(BTC)
        assert [
            (c.client_id, c.close_position, c.qty, c.callback_rate, c.activate_price) for c in listed
        ] == [
            ("sl", False, SIZE, None, None),
            ("tp", True, None, None, None),
            ("ts", False, SIZE, Decimal("0.5"), Decimal("60500.0")),
        ]


async def test_each_conditional_call_costs_what_the_weights_table_says() -> None:
    """The IP weight and new orders the fake charges for each conditional port call equal
    `weights.cost` for it (placing counts one order, cancel-all two requests, listing all symbols 40)."""
    async with binance_venue() as v:
        await v.driver.set_book(BTC, BID, ASK)
        ex = v.exchange

        async def charged(call: Callable[[], Any]) -> tuple[int, int]:
            before = len(v.fake.request_log)
            await call()
            log = v.fake.request_log[before:]
            return sum(r.weight for r in log), sum(r.orders for r in log)

        def priced(method: str, **kw: Any) -> tuple[int, int]:
            c = cost(method, **kw)
            return c.weight, c.orders_10s

        assert await charged(lambda: ex.place_conditional(stop("a"))) == priced("place_conditional")
        assert await charged(lambda: ex.place_conditional(stop("b"))) == priced("place_conditional")
        assert await charged(lambda: ex.open_conditionals(BTC)) == priced("open_conditionals")
        assert await charged(lambda: ex.open_conditionals()) == priced(
            "open_conditionals", symbol_given=False
        )
        assert await charged(lambda: ex.cancel_conditional(BTC, "a")) == priced("cancel_conditional")
        assert await charged(lambda: ex.cancel_all_conditionals(BTC)) == priced("cancel_all_conditionals")


async def test_a_trigger_the_silent_stream_missed_is_recovered_with_its_fill() -> None:
    """A stop that triggers while the user stream is silent is found by the reconciliation: its final
    state reaches the conditional stream and the fill of the order it became reaches the order stream,
    once, with the stop's client id."""
    async with binance_venue(user_quiet_s=0.3) as v:
        await go_long(v)
        ex = v.exchange
        conds = ex.conditional_updates()
        orders = ex.order_updates()
        await ex.place_conditional(stop("sl-q"))
        await first(conds, lambda c: c.status is ConditionalStatus.NEW)
        v.fake.faults.silence_user_stream(True)
        await v.driver.set_book(BTC, Decimal("59899.9"), Decimal("59900.0"))
        done: ConditionalOrder = await first(conds, lambda c: c.status.is_final)
        assert (done.client_id, done.status, done.order_client_id) == (
            "sl-q",
            ConditionalStatus.FINISHED,
            "sl-q",
        )
        update: OrderUpdate = await first(
            orders, lambda u: u.fill is not None and u.order.client_order_id == "sl-q"
        )
        assert update.fill is not None
        assert (update.fill.qty, update.fill.price, update.fill.maker) == (SIZE, Decimal("59899.9"), False)
        assert update.order.id == done.order_id
        await eventually(lambda: ex.user.dead_streams >= 1, "the silent stream to be declared dead")
        assert ex.algo.recovered >= 1
        v.fake.faults.silence_user_stream(False)
        await eventually(lambda: ex.user.state == "connected", "the user stream to reconnect")
        assert (await ex.position(BTC)).qty == 0


# --- conversions of Binance's documented payloads -------------------------------------------------------

DOC_ALGO_UPDATE = {  # developers.binance.com ... user-data-streams/Event-Algo-Order-Update, type changed
    "caid": "Q5xaq5EGKgXXa0fD7fs0Ip",
    "aid": 2148719,
    "at": "CONDITIONAL",
    "o": "TAKE_PROFIT_MARKET",
    "s": "BTCUSDT",
    "S": "SELL",
    "ps": "BOTH",
    "f": "GTC",
    "q": "0.01",
    "X": "CANCELED",
    "ai": "",
    "ap": "0.00000",
    "aq": "0.00000",
    "act": "0",
    "tp": "750",
    "p": "750",
    "V": "EXPIRE_MAKER",
    "wt": "CONTRACT_PRICE",
    "pm": "NONE",
    "cp": False,
    "pP": False,
    "R": False,
    "tt": 0,
    "gtd": 0,
    "rm": "Reduce Only reject",
}

DOC_OPEN_ALGO_ORDER = {  # ... trade/rest-api/Current-All-Algo-Open-Orders, type changed
    "algoId": 2148627,
    "clientAlgoId": "MRumok0dkhrP4kCm12AHaB",
    "algoType": "CONDITIONAL",
    "orderType": "STOP_MARKET",
    "symbol": "BTCUSDT",
    "side": "BUY",
    "positionSide": "BOTH",
    "timeInForce": "GTC",
    "quantity": "0.01",
    "algoStatus": "NEW",
    "actualOrderId": "",
    "actualPrice": "0.00000",
    "triggerPrice": "750.000",
    "price": "750.000",
    "icebergQuantity": None,
    "selfTradePreventionMode": "EXPIRE_MAKER",
    "workingType": "MARK_PRICE",
    "priceMatch": "NONE",
    "closePosition": False,
    "priceProtect": False,
    "reduceOnly": True,
    "createTime": 1750514941540,
    "updateTime": 1750514941541,
    "triggerTime": 0,
    "goodTillDate": 0,
}


def symbol_of(venue_id: str) -> str:
    return {"BTCUSDT": BTC}[venue_id]


def test_binances_documented_payloads_convert_exactly() -> None:
    """An openAlgoOrders row and an ALGO_UPDATE convert with exact decimals, Binance's status names and
    the event time standing in for the creation time the event does not carry."""
    rest = conditional(DOC_OPEN_ALGO_ORDER, symbol_of)
    assert (rest.id, rest.client_id, rest.kind, rest.side, rest.status) == (
        "2148627",
        "MRumok0dkhrP4kCm12AHaB",
        ConditionalKind.STOP_MARKET,
        Side.BUY,
        ConditionalStatus.NEW,
    )
    assert (str(rest.trigger_price), str(rest.qty), rest.reduce_only, rest.working_type) == (
        "750.000",
        "0.01",
        True,
        WorkingType.MARK_PRICE,
    )
    assert (rest.created_ms, rest.updated_ms, rest.order_id) == (1750514941540, 1750514941541, None)
    event = conditional_from_event(DOC_ALGO_UPDATE, 1750515742297, symbol_of)
    assert (event.status, event.kind, event.reason, event.created_ms) == (
        ConditionalStatus.CANCELED,
        ConditionalKind.TAKE_PROFIT_MARKET,
        "Reduce Only reject",
        1750515742297,
    )
    triggering = conditional_from_event({**DOC_ALGO_UPDATE, "X": "TRIGGERED", "ai": "8886774"}, 1, symbol_of)
    assert (triggering.order_id, triggering.order_client_id) == ("8886774", "Q5xaq5EGKgXXa0fD7fs0Ip")


def test_a_kind_mmctl_does_not_place_is_not_converted() -> None:
    """Binance's STOP and TAKE_PROFIT limit types (placed by hand) raise `ConversionError`, which the
    adapter uses to leave them out."""
    with pytest.raises(ConversionError):
        conditional({**DOC_OPEN_ALGO_ORDER, "orderType": "TAKE_PROFIT"}, symbol_of)
    with pytest.raises(ConversionError):
        conditional_from_event({**DOC_ALGO_UPDATE, "o": "STOP"}, 1, symbol_of)
