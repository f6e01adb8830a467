"""Account REST endpoints: leverage and margin settings, position mode, commission, order rate limits,
userTrades, income and the listenKey.

A leverage above the symbol's maximum is -4028 ("Leverage N is not valid"); one whose bracket caps the
notional below the position plus the open orders extending it is -2027, as on Binance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import parsing as rq
from . import trading
from .accounts import Account
from .amounts import CTX, money
from .errors import BinanceError
from .margin import symbol_margin
from .rest import Params, route

if TYPE_CHECKING:
    from .server import FakeBinance

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS


def _acct(account: Account | None) -> Account:
    assert account is not None
    return account


@route("GET", "/fapi/v1/symbolConfig")
def symbol_config(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    acct = _acct(account)
    only = params.get("symbol") or None
    if only is not None:
        fake.venue.spec(only)
    return [
        {
            "symbol": symbol,
            "marginType": "ISOLATED" if symbol in acct.isolated else "CROSSED",
            "isAutoAddMargin": "false",
            "leverage": acct.leverage_of(symbol),
            "maxNotionalValue": str(spec.max_notional_at(acct.leverage_of(symbol))),
        }
        for symbol, spec in fake.venue.specs.items()
        if only in (None, symbol)
    ]


@route("GET", "/fapi/v1/accountConfig")
def account_config(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    return {
        "feeTier": 0,
        "canTrade": True,
        "canDeposit": True,
        "canWithdraw": True,
        "dualSidePosition": _acct(account).hedge_mode,
        "updateTime": 0,
        "multiAssetsMargin": False,
        "tradeGroupId": -1,
    }


@route("GET", "/fapi/v1/commissionRate")
def commission_rate(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    acct = _acct(account)
    symbol = rq.need(params, "symbol")
    fake.venue.spec(symbol)
    return {
        "symbol": symbol,
        "makerCommissionRate": str(acct.maker_fee),
        "takerCommissionRate": str(acct.taker_fee),
        "rpiCommissionRate": "0",
    }


@route("GET", "/fapi/v1/rateLimit/order")
def order_rate_limits(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    return [
        {
            "rateLimitType": "ORDERS",
            "interval": "SECOND",
            "intervalNum": 10,
            "limit": fake.limits.orders_per_10s,
        },
        {
            "rateLimitType": "ORDERS",
            "interval": "MINUTE",
            "intervalNum": 1,
            "limit": fake.limits.orders_per_min,
        },
    ]


@route("POST", "/fapi/v1/leverage")
def change_leverage(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    acct = _acct(account)
    symbol = rq.need(params, "symbol")
    leverage = rq.integer(params, "leverage", required=True)
    assert leverage is not None
    spec = fake.venue.spec(symbol)
    if 1 <= leverage <= spec.max_leverage:  # else -4028 from trading.set_leverage
        _check_bracket(fake, acct, symbol, leverage)
    trading.set_leverage(fake.venue, acct.key, symbol, leverage)
    cap = spec.max_notional_at(leverage)
    return {"leverage": leverage, "maxNotionalValue": str(cap), "symbol": symbol}


MAX_POSITION_AT_LEVERAGE = "Exceeded the maximum allowable position at current leverage."


def _check_bracket(fake: FakeBinance, acct: Account, symbol: str, leverage: int) -> None:
    """-2027 when the symbol's position plus the open orders extending it exceed the notional cap of
    the bracket that allows `leverage` (Binance checks both when leverage is raised)."""
    venue = fake.venue
    orders = venue.open_orders(acct.key, symbol)
    exposure = symbol_margin(acct, venue.specs[symbol], venue.mark(symbol), orders).exposure
    if exposure > venue.specs[symbol].max_notional_at(leverage):
        raise BinanceError(-2027, MAX_POSITION_AT_LEVERAGE)


@route("POST", "/fapi/v1/marginType")
def change_margin_type(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    symbol, margin_type = rq.need(params, "symbol"), rq.need(params, "marginType").upper()
    trading.set_margin_type(fake.venue, _acct(account).key, symbol, margin_type)
    return {"code": 200, "msg": "success"}


@route("GET", "/fapi/v1/positionSide/dual")
def position_mode(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    return {"dualSidePosition": _acct(account).hedge_mode}


@route("POST", "/fapi/v1/positionSide/dual")
def change_position_mode(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    rq.need(params, "dualSidePosition")
    trading.set_dual_side(fake.venue, _acct(account).key, rq.flag(params, "dualSidePosition"))
    return {"code": 200, "msg": "success"}


def _window(fake: FakeBinance, params: Params, max_span: int | None) -> tuple[int, int]:
    start, end = rq.integer(params, "startTime"), rq.integer(params, "endTime")
    now = fake.now_ms()
    if start is None and end is None:
        return now - WEEK_MS, now
    if start is None:
        assert end is not None
        return end - WEEK_MS, end
    if end is None:
        return start, start + WEEK_MS if max_span is not None else now
    if end < start:
        raise BinanceError(-1130, name="startTime")
    if max_span is not None and end - start > max_span:
        raise BinanceError(-1127, "More than 168 hours between startTime and endTime.")
    return start, end


def _limit(params: Params, default: int) -> int:
    limit = rq.integer(params, "limit") or default
    if not 1 <= limit <= 1000:
        raise BinanceError(-1130, name="limit")
    return limit


@route("GET", "/fapi/v1/userTrades")
def user_trades(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    acct = _acct(account)
    symbol = rq.need(params, "symbol")
    spec = fake.venue.spec(symbol)
    limit = _limit(params, 500)
    from_id = rq.integer(params, "fromId")
    rows = [t for t in acct.trades if t.symbol == symbol]
    if from_id is not None:
        rows = [t for t in rows if t.trade_id >= from_id][:limit]
    else:
        start, end = _window(fake, params, WEEK_MS)
        rows = [t for t in rows if start <= t.time <= end]
        rows = rows[:limit] if "startTime" in params else rows[-limit:]
    return [
        {
            "buyer": t.side == "BUY",
            "commission": money(t.commission),
            "commissionAsset": "USDT",
            "id": t.trade_id,
            "maker": t.maker,
            "orderId": t.order_id,
            "price": spec.price_str(t.price),
            "qty": spec.qty_str(t.qty),
            "quoteQty": spec.quote_str(CTX.multiply(t.price, t.qty)),
            "realizedPnl": money(t.realized_pnl),
            "side": t.side,
            "positionSide": "BOTH",
            "symbol": symbol,
            "time": t.time,
        }
        for t in rows
    ]


@route("GET", "/fapi/v1/income")
def income(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    acct = _acct(account)
    symbol, income_type = params.get("symbol") or None, params.get("incomeType") or None
    if symbol is not None:
        fake.venue.spec(symbol)
    limit = _limit(params, 100)
    page = rq.integer(params, "page") or 1
    if page < 1:
        raise BinanceError(-1130, name="page")
    start, end = _window(fake, params, None)
    rows = [
        r
        for r in acct.income
        if start <= r.time <= end and symbol in (None, r.symbol) and income_type in (None, r.income_type)
    ]
    rows.sort(key=lambda r: r.time)
    return [
        {
            "symbol": r.symbol,
            "incomeType": r.income_type,
            "income": money(r.income),
            "asset": r.asset,
            "info": r.info,
            "time": r.time,
            "tranId": r.tran_id,
            "tradeId": r.trade_id,
        }
        for r in rows[(page - 1) * limit : page * limit]
    ]


@route("POST", "/fapi/v1/listenKey", security="USER_STREAM")
def create_listen_key(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    return {"listenKey": fake.hub.create_key(_acct(account).key)}


@route("PUT", "/fapi/v1/listenKey", security="USER_STREAM")
def keepalive_listen_key(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    return {"listenKey": fake.hub.keepalive(_acct(account).key)}


@route("DELETE", "/fapi/v1/listenKey", security="USER_STREAM")
def delete_listen_key(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    fake.hub.delete_key(_acct(account).key)
    return {}
