"""What a Binance USDⓈ-M account holds and did: positions, balance, income and its own trades
(`BinanceExchange`'s account reads), each one REST request read from Binance's raw strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from mmctl.exchange.binance import convert
from mmctl.model import Balance, Fill, IncomeRow, IncomeType, MarketRules, Position

if TYPE_CHECKING:
    from mmctl.exchange.binance.clocksync import ClockSync
    from mmctl.exchange.binance.markets import MarketIndex

INCOME_RETENTION_MS = 95 * 86_400_000  # Binance keeps three months of income; older exists only in mmctl
USER_TRADES_WINDOW_MS = 7 * 86_400_000  # the span of one userTrades request from a startTime


class AccountVenue(Protocol):
    """What the account reads need from the Binance account."""

    index: MarketIndex
    time: ClockSync

    def market(self, symbol: str) -> MarketRules: ...

    def symbol_of(self, venue_id: str) -> str: ...

    async def call(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Any: ...

    async def leverage(self, symbol: str) -> int: ...


async def positions(venue: AccountVenue) -> list[Position]:
    """Every open position on a known market (GET v3 positionRisk), by symbol."""
    rows = await venue.call("fapiPrivateV3GetPositionRisk", {})
    out = []
    for row in rows or ():
        symbol = venue.symbol_of(str(row.get("symbol")))
        if convert.dec(row.get("positionAmt") or "0") != 0 and symbol in venue.index.rules:
            out.append(convert.position(row, symbol, await venue.leverage(symbol)))
    return sorted(out, key=lambda p: p.symbol)


async def position(venue: AccountVenue, symbol: str) -> Position:
    """The one-way position of `symbol` (flat when Binance lists none)."""
    rules = venue.market(symbol)
    rows = await venue.call("fapiPrivateV3GetPositionRisk", {"symbol": rules.id})
    leverage = await venue.leverage(rules.symbol)
    for row in rows or ():
        if row.get("symbol") == rules.id and row.get("positionSide", "BOTH") == "BOTH":
            return convert.position(row, rules.symbol, leverage)
    return convert.flat_position(rules.symbol, leverage)


async def balance(venue: AccountVenue) -> Balance:
    """The account's balance (GET v3 account)."""
    return convert.balance(await venue.call("fapiPrivateV3GetAccount", {}))


async def income(
    venue: AccountVenue,
    since_ms: int,
    *,
    until_ms: int | None = None,
    income_type: IncomeType | None = None,
    symbol: str | None = None,
    limit: int = 1000,
    page: int = 1,
) -> list[IncomeRow]:
    """One GET /fapi/v1/income page (the start clamped to Binance's three months of history)."""
    params: dict[str, Any] = {
        "startTime": max(since_ms, venue.time.venue_now_ms() - INCOME_RETENTION_MS),
        "limit": max(1, min(1000, limit)),
        "page": max(1, page),
    }
    if until_ms is not None:
        params["endTime"] = until_ms
    if income_type is not None:
        params["incomeType"] = income_type.value
    if symbol is not None:
        params["symbol"] = venue.market(symbol).id
    answer = await venue.call("fapiPrivateGetIncome", params)
    rows = [convert.income_row(raw, venue.symbol_of) for raw in answer or ()]
    return sorted(rows, key=lambda r: r.ts_ms)  # stable: Binance's order within a millisecond


async def my_trades(
    venue: AccountVenue, symbol: str, *, since_ms: int | None = None, limit: int = 500
) -> list[Fill]:
    """GET /fapi/v1/userTrades (weight 5), one request: with `since_ms`, the first `limit` trades of
    the 7 days from it (`USER_TRADES_WINDOW_MS`; `mmctl.fleet.trade_walk` steps window by window). Its
    rows carry no client order id, so each fill's `client_order_id` is empty (match by `order_id`)."""
    params: dict[str, Any] = {"symbol": venue.market(symbol).id, "limit": max(1, min(1000, limit))}
    if since_ms is not None:
        params["startTime"] = since_ms
    answer = await venue.call("fapiPrivateGetUserTrades", params)
    fills = [convert.fill_from_trade(raw, "", venue.symbol_of) for raw in answer or ()]
    return sorted(fills, key=lambda f: f.ts_ms)
