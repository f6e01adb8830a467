"""Public REST endpoints: ping, time, exchangeInfo, bookTicker, depth, premiumIndex, ticker price/24hr."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .accounts import Account
from .amounts import ZERO, fixed
from .errors import BinanceError
from .markets import bracket_info, symbol_info
from .rest import Params, route

if TYPE_CHECKING:
    from .server import FakeBinance

DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


@route("GET", "/fapi/v1/ping", security="NONE")
def ping(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    return {}


@route("GET", "/fapi/v1/time", security="NONE")
def server_time(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    return {"serverTime": fake.now_ms()}


@route("GET", "/fapi/v1/exchangeInfo", security="NONE")
def exchange_info(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    limits = fake.limits
    return {
        "timezone": "UTC",
        "serverTime": fake.now_ms(),
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": limits.weight_per_min,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": limits.orders_per_min,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "SECOND",
                "intervalNum": 10,
                "limit": limits.orders_per_10s,
            },
        ],
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": [symbol_info(s) for s in fake.venue.specs.values()],
    }


def _symbols(fake: FakeBinance, params: Params) -> tuple[list[str], bool]:
    """The symbols a public query asks for, and whether it named one."""
    symbol = params.get("symbol")
    if symbol:
        fake.venue.spec(symbol)
        return [symbol], True
    return list(fake.venue.specs), False


@route("GET", "/fapi/v1/ticker/bookTicker", security="NONE")
def book_ticker(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    symbols, single = _symbols(fake, params)
    rows = []
    for symbol in symbols:
        spec, book = fake.venue.specs[symbol], fake.venue.books[symbol]
        rows.append(
            {
                "symbol": symbol,
                "bidPrice": spec.price_str(book.bid),
                "bidQty": spec.qty_str(book.bid_qty),
                "askPrice": spec.price_str(book.ask),
                "askQty": spec.qty_str(book.ask_qty),
                "time": book.time,
                "lastUpdateId": book.update_id,
            }
        )
    return rows[0] if single else rows


@route("GET", "/fapi/v1/depth", security="NONE")
def depth(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    symbol = params.get("symbol")
    if not symbol:
        raise BinanceError(-1102, name="symbol")
    spec = fake.venue.spec(symbol)
    try:
        limit = int(params.get("limit", "500"))
    except ValueError:
        raise BinanceError(-1130, name="limit") from None
    if limit not in DEPTH_LIMITS:
        raise BinanceError(-1130, name="limit")
    book = fake.venue.books[symbol]
    levels = min(limit, 100)
    bids = [
        [spec.price_str(book.bid - i * spec.tick_size), spec.qty_str(book.bid_qty)] for i in range(levels)
    ]
    asks = [
        [spec.price_str(book.ask + i * spec.tick_size), spec.qty_str(book.ask_qty)] for i in range(levels)
    ]
    bids = [b for b in bids if Decimal(b[0]) > 0]
    return {"lastUpdateId": book.update_id, "E": fake.now_ms(), "T": book.time, "bids": bids, "asks": asks}


@route("GET", "/fapi/v1/premiumIndex", security="NONE")
def premium_index(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    symbols, single = _symbols(fake, params)
    now = fake.now_ms()
    next_funding = (now // 28_800_000 + 1) * 28_800_000
    rows = []
    for symbol in symbols:
        mark = fixed(fake.venue.mark(symbol), 8)
        rows.append(
            {
                "symbol": symbol,
                "markPrice": mark,
                "indexPrice": mark,
                "estimatedSettlePrice": mark,
                "lastFundingRate": "0.00010000",
                "interestRate": "0.00010000",
                "nextFundingTime": next_funding,
                "time": now,
            }
        )
    return rows[0] if single else rows


@route("GET", "/fapi/v1/ticker/price", "/fapi/v2/ticker/price", security="NONE")
def ticker_price(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    symbols, single = _symbols(fake, params)
    rows = [
        {"symbol": s, "price": fake.venue.specs[s].price_str(fake.venue.mark(s)), "time": fake.now_ms()}
        for s in symbols
    ]
    return rows[0] if single else rows


@route("GET", "/fapi/v1/ticker/24hr", security="NONE")
def ticker_24hr(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    symbols, single = _symbols(fake, params)
    now = fake.now_ms()
    rows = []
    for symbol in symbols:
        spec = fake.venue.specs[symbol]
        last = spec.price_str(fake.venue.mark(symbol))
        rows.append(
            {
                "symbol": symbol,
                "priceChange": spec.price_str(ZERO),
                "priceChangePercent": "0.000",
                "weightedAvgPrice": last,
                "lastPrice": last,
                "lastQty": spec.qty_str(ZERO),
                "openPrice": last,
                "highPrice": last,
                "lowPrice": last,
                "volume": spec.qty_str(ZERO),
                "quoteVolume": "0.00",
                "openTime": now - 86_400_000,
                "closeTime": now,
                "firstId": 0,
                "lastId": 0,
                "count": 0,
            }
        )
    return rows[0] if single else rows


@route("GET", "/fapi/v1/leverageBracket")
def leverage_bracket(fake: FakeBinance, params: Params, account: Account | None) -> Any:
    symbols, single = _symbols(fake, params)
    rows = [bracket_info(fake.venue.specs[s]) for s in symbols]
    return rows[0] if single else rows
