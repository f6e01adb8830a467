"""Algo Service REST endpoints (conditional orders): algoOrder POST/GET/DELETE, algoOpenOrders DELETE,
openAlgoOrders GET. Field names and answers as Binance's (developers.binance.com/docs/derivatives/
usds-margined-futures/trade/rest-api: New Algo Order, Cancel Algo Order, Cancel All Algo Open Orders,
Current All Algo Open Orders, Query Algo Order)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import parsing as rq
from .accounts import Account
from .algo import algo_json
from .errors import BinanceError
from .rest import Params, route

if TYPE_CHECKING:
    from .server import FakeBinance


def _key(account: Account | None) -> str:
    assert account is not None
    return account.key


@route("POST", "/fapi/v1/algoOrder")
def new_algo_order(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    order = fake.algo.place(_key(account), params)
    return algo_json(order, fake.venue.specs[order.symbol])


@route("GET", "/fapi/v1/algoOrder")
def query_algo_order(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    order = fake.algo.find(_key(account), params, missing=-2013)
    return algo_json(order, fake.venue.specs[order.symbol])


@route("DELETE", "/fapi/v1/algoOrder")
def cancel_algo_order(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    order = fake.algo.cancel(_key(account), params)
    return {"algoId": order.algo_id, "clientAlgoId": order.client_algo_id, "code": "200", "msg": "success"}


@route("DELETE", "/fapi/v1/algoOpenOrders")
def cancel_all_algo_orders(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    fake.algo.cancel_all(_key(account), rq.need(params, "symbol"))
    return {"code": 200, "msg": "The operation of cancel all open order is done."}


@route("GET", "/fapi/v1/openAlgoOrders")
def open_algo_orders(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    symbol = params.get("symbol") or None
    if symbol is not None:
        fake.venue.spec(symbol)
    algo_type = params.get("algoType") or None
    if algo_type not in (None, "CONDITIONAL"):
        raise BinanceError(-1130, name="algoType")
    return [algo_json(o, fake.venue.specs[o.symbol]) for o in fake.algo.open_orders(_key(account), symbol)]
