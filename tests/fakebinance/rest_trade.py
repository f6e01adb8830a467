"""Order REST endpoints: order POST/GET/DELETE/PUT, batchOrders POST/PUT/DELETE, open/all orders,
cancel-all and countdownCancelAll."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import parsing as rq
from . import trading
from .accounts import Account
from .errors import BinanceError
from .orders import Order, order_json
from .rest import Params, route

if TYPE_CHECKING:
    from .server import FakeBinance

BATCH_MAX = 5
BATCH_CANCEL_MAX = 10


def _key(account: Account | None) -> str:
    assert account is not None
    return account.key


def _rendered(fake: FakeBinance, order: Order, *, with_time: bool = False) -> dict[str, Any]:
    return order_json(order, fake.venue.specs[order.symbol], with_time=with_time)


@route("POST", "/fapi/v1/order")
def new_order(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    return _rendered(fake, trading.place(fake.venue, _key(account), rq.new_order(params)))


@route("PUT", "/fapi/v1/order")
def modify_order(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    return _rendered(fake, trading.amend(fake.venue, _key(account), rq.amend(params)))


@route("GET", "/fapi/v1/order")
def query_order(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    symbol = rq.need(params, "symbol")
    fake.venue.spec(symbol)
    order = trading.find(fake.venue, _key(account), symbol, rq.order_ref(params), missing=-2013)
    return _rendered(fake, order, with_time=True)


@route("DELETE", "/fapi/v1/order")
def cancel_order(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    symbol = rq.need(params, "symbol")
    return _rendered(fake, trading.cancel(fake.venue, _key(account), symbol, rq.order_ref(params)))


def _legs(params: Params) -> list[dict[str, Any]]:
    legs = rq.json_list(params, "batchOrders")
    if not legs or len(legs) > BATCH_MAX:
        raise BinanceError(-4082)
    if not all(isinstance(leg, dict) for leg in legs):
        raise BinanceError(-1130, name="batchOrders")
    return legs


@route("POST", "/fapi/v1/batchOrders")
def batch_new(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    out: list[dict[str, Any]] = []
    for leg in _legs(params):
        try:
            out.append(_rendered(fake, trading.place(fake.venue, _key(account), rq.new_order(leg))))
        except BinanceError as e:
            out.append(e.body())
    return out


@route("PUT", "/fapi/v1/batchOrders")
def batch_modify(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    out: list[dict[str, Any]] = []
    for leg in _legs(params):
        try:
            out.append(_rendered(fake, trading.amend(fake.venue, _key(account), rq.amend(leg))))
        except BinanceError as e:
            out.append(e.body())
    return out


@route("DELETE", "/fapi/v1/batchOrders")
def batch_cancel(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    symbol = rq.need(params, "symbol")
    fake.venue.spec(symbol)
    if rq.has_param(params, "orderIdList"):
        refs = [rq.OrderRef(_int_id(i), None) for i in rq.json_list(params, "orderIdList")]
    elif rq.has_param(params, "origClientOrderIdList"):
        refs = [rq.OrderRef(None, str(c)) for c in rq.json_list(params, "origClientOrderIdList")]
    else:
        raise BinanceError(-1102, name="orderIdList")
    if not refs or len(refs) > BATCH_CANCEL_MAX:
        raise BinanceError(-1130, name="orderIdList")
    out: list[dict[str, Any]] = []
    for ref in refs:
        try:
            out.append(_rendered(fake, trading.cancel(fake.venue, _key(account), symbol, ref)))
        except BinanceError as e:
            out.append(e.body())
    return out


def _int_id(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise BinanceError(-1130, name="orderIdList") from None


@route("GET", "/fapi/v1/openOrder")
def query_open_order(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    symbol = rq.need(params, "symbol")
    fake.venue.spec(symbol)
    order = trading.find(fake.venue, _key(account), symbol, rq.order_ref(params), missing=-2013)
    if not order.is_open:
        raise BinanceError(-2013)
    return _rendered(fake, order, with_time=True)


@route("GET", "/fapi/v1/openOrders")
def open_orders(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    symbol = params.get("symbol") or None
    if symbol is not None:
        fake.venue.spec(symbol)
    return [_rendered(fake, o, with_time=True) for o in fake.venue.open_orders(_key(account), symbol)]


@route("GET", "/fapi/v1/allOrders")
def all_orders(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    symbol = rq.need(params, "symbol")
    fake.venue.spec(symbol)
    limit = rq.integer(params, "limit") or 500
    if not 1 <= limit <= 1000:
        raise BinanceError(-1130, name="limit")
    from_id = rq.integer(params, "orderId") or 0
    start = rq.integer(params, "startTime")
    end = rq.integer(params, "endTime")
    orders = [
        o
        for o in fake.venue.orders.values()
        if o.account_key == _key(account)
        and o.symbol == symbol
        and o.order_id >= from_id
        and (start is None or o.time >= start)
        and (end is None or o.time <= end)
    ]
    orders.sort(key=lambda o: o.order_id)
    return [_rendered(fake, o, with_time=True) for o in orders[-limit:]]


@route("DELETE", "/fapi/v1/allOpenOrders")
def cancel_all(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    trading.cancel_all(fake.venue, _key(account), rq.need(params, "symbol"))
    return {"code": 200, "msg": "The operation of cancel all open order is done."}


@route("POST", "/fapi/v1/countdownCancelAll")
def countdown_cancel_all(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    symbol = rq.need(params, "symbol")
    fake.venue.spec(symbol)
    countdown = rq.integer(params, "countdownTime", required=True)
    assert countdown is not None
    if countdown < 0:
        raise BinanceError(-1130, name="countdownTime")
    fake.countdowns.arm(_key(account), symbol, countdown)
    return {"symbol": symbol, "countdownTime": str(countdown)}
