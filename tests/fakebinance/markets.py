"""The fake venue's symbols: Binance's filters, leverage brackets, exchangeInfo, and the filter checks.

Default symbols copy the shape of Binance USDⓈ-M's real BTCUSDT, ETHUSDT, XRPUSDT, SOLUSDT, BNBUSDT and
DOGEUSDT entries (tick, step, precisions, min notional, brackets); more can be built with
`dataclasses.replace(DEFAULT_SYMBOLS["XRPUSDT"], symbol="ADAUSDT", base_asset="ADA", ...)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .amounts import CTX, decimals_of, fixed, is_multiple
from .errors import BinanceError


@dataclass(frozen=True, slots=True)
class Bracket:
    """One leverage bracket: up to `notional_cap` of position notional at most `initial_leverage`."""

    bracket: int
    initial_leverage: int
    notional_floor: Decimal
    notional_cap: Decimal
    maint_margin_ratio: Decimal
    cum: Decimal


def brackets(rows: list[tuple[int, int, str]]) -> tuple[Bracket, ...]:
    """Brackets from `(initial_leverage, notional_cap, maint_margin_ratio)` rows, floors and cum derived."""
    out: list[Bracket] = []
    floor = Decimal(0)
    cum = Decimal(0)
    prev_mmr = Decimal(0)
    for i, (lev, cap, mmr_text) in enumerate(rows, start=1):
        mmr = Decimal(mmr_text)
        cum = cum + CTX.multiply(floor, mmr - prev_mmr)
        out.append(Bracket(i, lev, floor, Decimal(cap), mmr, cum))
        floor, prev_mmr = Decimal(cap), mmr
    return tuple(out)


BTC_BRACKETS = brackets(
    [
        (125, 50_000, "0.004"),
        (100, 600_000, "0.005"),
        (75, 3_000_000, "0.0065"),
        (50, 12_000_000, "0.01"),
        (25, 70_000_000, "0.02"),
        (20, 100_000_000, "0.025"),
        (10, 230_000_000, "0.05"),
        (5, 480_000_000, "0.1"),
        (4, 600_000_000, "0.125"),
        (3, 800_000_000, "0.15"),
        (2, 1_200_000_000, "0.25"),
        (1, 1_800_000_000, "0.5"),
    ]
)
ETH_BRACKETS = brackets(
    [
        (125, 50_000, "0.004"),
        (100, 500_000, "0.005"),
        (75, 2_000_000, "0.0065"),
        (50, 10_000_000, "0.01"),
        (25, 50_000_000, "0.02"),
        (10, 100_000_000, "0.05"),
        (5, 300_000_000, "0.1"),
        (1, 800_000_000, "0.5"),
    ]
)
ALT_BRACKETS = brackets(
    [
        (75, 5_000, "0.005"),
        (50, 50_000, "0.01"),
        (25, 250_000, "0.02"),
        (10, 1_000_000, "0.05"),
        (5, 5_000_000, "0.1"),
        (1, 50_000_000, "0.5"),
    ]
)


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """A USDⓈ-M perpetual's trading rules and the fake's starting book for it."""

    symbol: str
    base_asset: str
    price_precision: int
    quantity_precision: int
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    start_price: Decimal
    max_num_orders: int = 200
    multiplier_up: Decimal = Decimal("1.0500")
    multiplier_down: Decimal = Decimal("0.9500")
    brackets: tuple[Bracket, ...] = field(default=ALT_BRACKETS)
    quote_asset: str = "USDT"

    @property
    def max_leverage(self) -> int:
        """The first bracket's leverage: the most this symbol allows."""
        return self.brackets[0].initial_leverage

    def price_str(self, price: Decimal) -> str:
        """A price as Binance prints it for this symbol."""
        return fixed(price, self.price_precision)

    def qty_str(self, qty: Decimal) -> str:
        """A quantity as Binance prints it for this symbol."""
        return fixed(qty, self.quantity_precision)

    def quote_str(self, quote: Decimal) -> str:
        """A quote amount (price x quantity) with every decimal it can have."""
        return fixed(quote, self.price_precision + self.quantity_precision)

    def bracket_for(self, notional: Decimal) -> Bracket:
        """The bracket a position of `notional` (absolute) falls in."""
        for b in self.brackets:
            if notional < b.notional_cap:
                return b
        return self.brackets[-1]

    def max_notional_at(self, leverage: int) -> Decimal:
        """The largest position notional allowed at `leverage`."""
        allowed = [b.notional_cap for b in self.brackets if b.initial_leverage >= leverage]
        return max(allowed) if allowed else self.brackets[0].notional_cap


def _spec(
    symbol: str,
    base: str,
    pp: int,
    qp: int,
    tick: str,
    step: str,
    notional: str,
    price: str,
    *,
    min_price: str,
    max_price: str,
    max_qty: str,
    market_max_qty: str,
    bracket_rows: tuple[Bracket, ...] = ALT_BRACKETS,
) -> SymbolSpec:
    return SymbolSpec(
        symbol=symbol,
        base_asset=base,
        price_precision=pp,
        quantity_precision=qp,
        tick_size=Decimal(tick),
        min_price=Decimal(min_price),
        max_price=Decimal(max_price),
        step_size=Decimal(step),
        min_qty=Decimal(step),
        max_qty=Decimal(max_qty),
        market_max_qty=Decimal(market_max_qty),
        min_notional=Decimal(notional),
        start_price=Decimal(price),
        brackets=bracket_rows,
    )


DEFAULT_SYMBOLS: dict[str, SymbolSpec] = {
    s.symbol: s
    for s in (
        _spec(
            "BTCUSDT",
            "BTC",
            2,
            3,
            "0.10",
            "0.001",
            "100",
            "90000.00",
            min_price="261.10",
            max_price="809484",
            max_qty="1000",
            market_max_qty="120",
            bracket_rows=BTC_BRACKETS,
        ),
        _spec(
            "ETHUSDT",
            "ETH",
            2,
            3,
            "0.01",
            "0.001",
            "20",
            "3000.00",
            min_price="37.13",
            max_price="306177",
            max_qty="10000",
            market_max_qty="2000",
            bracket_rows=ETH_BRACKETS,
        ),
        _spec(
            "XRPUSDT",
            "XRP",
            4,
            1,
            "0.0001",
            "0.1",
            "5",
            "2.0000",
            min_price="0.0143",
            max_price="100000",
            max_qty="10000000",
            market_max_qty="2000000",
        ),
        _spec(
            "SOLUSDT",
            "SOL",
            4,
            0,
            "0.0100",
            "1",
            "5",
            "150.0000",
            min_price="0.4200",
            max_price="6857",
            max_qty="1000000",
            market_max_qty="5000",
        ),
        _spec(
            "BNBUSDT",
            "BNB",
            3,
            2,
            "0.010",
            "0.01",
            "5",
            "600.000",
            min_price="6.600",
            max_price="100000",
            max_qty="100000",
            market_max_qty="2000",
        ),
        _spec(
            "DOGEUSDT",
            "DOGE",
            6,
            0,
            "0.000010",
            "1",
            "5",
            "0.200000",
            min_price="0.002440",
            max_price="30",
            max_qty="50000000",
            market_max_qty="30000000",
        ),
    )
}


def symbol_info(spec: SymbolSpec) -> dict[str, Any]:
    """One entry of exchangeInfo's `symbols`, shaped as Binance sends it."""
    return {
        "symbol": spec.symbol,
        "pair": spec.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": spec.base_asset,
        "quoteAsset": spec.quote_asset,
        "marginAsset": spec.quote_asset,
        "pricePrecision": spec.price_precision,
        "quantityPrecision": spec.quantity_precision,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": ["PoW"],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": str(spec.min_price),
                "maxPrice": str(spec.max_price),
                "tickSize": str(spec.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "stepSize": str(spec.step_size),
                "maxQty": str(spec.max_qty),
                "minQty": str(spec.min_qty),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "stepSize": str(spec.step_size),
                "maxQty": str(spec.market_max_qty),
                "minQty": str(spec.min_qty),
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": spec.max_num_orders},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": str(spec.min_notional)},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": str(spec.multiplier_up),
                "multiplierDown": str(spec.multiplier_down),
                "multiplierDecimal": "4",
            },
            {"filterType": "POSITION_RISK_CONTROL", "positionControlSide": "NONE"},
        ],
        "orderTypes": [
            "LIMIT",
            "MARKET",
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "permissionSets": ["GRID", "COPY"],
    }


def bracket_info(spec: SymbolSpec) -> dict[str, Any]:
    """One entry of GET /fapi/v1/leverageBracket (Binance sends these figures as JSON numbers)."""
    return {
        "symbol": spec.symbol,
        "notionalCoef": 1.0,
        "brackets": [
            {
                "bracket": b.bracket,
                "initialLeverage": b.initial_leverage,
                "notionalCap": int(b.notional_cap),
                "notionalFloor": int(b.notional_floor),
                "maintMarginRatio": float(b.maint_margin_ratio),
                "cum": float(b.cum),
            }
            for b in spec.brackets
        ],
    }


def check_price(spec: SymbolSpec, price: Decimal) -> None:
    """PRICE_FILTER and precision, as Binance checks a limit price."""
    if price <= 0:
        raise BinanceError(-4001, "Price less than 0.")
    if decimals_of(price.normalize(CTX)) > spec.price_precision:
        raise BinanceError(-1111)
    if price < spec.min_price:
        raise BinanceError(-4013)
    if price > spec.max_price:
        raise BinanceError(-4016, bound=spec.price_str(spec.max_price))
    if not is_multiple(price, spec.tick_size):
        raise BinanceError(-4014)


def check_qty(spec: SymbolSpec, qty: Decimal, *, market: bool) -> None:
    """LOT_SIZE (MARKET_LOT_SIZE for market orders) and precision of a quantity."""
    if decimals_of(qty.normalize(CTX)) > spec.quantity_precision:
        raise BinanceError(-1111)
    if qty <= 0:
        raise BinanceError(-4003)
    if qty < spec.min_qty:
        raise BinanceError(-4004)
    if qty > (spec.market_max_qty if market else spec.max_qty):
        raise BinanceError(-4005)
    if not is_multiple(qty, spec.step_size):
        raise BinanceError(-4023)


def check_percent_price(spec: SymbolSpec, price: Decimal, mark: Decimal) -> None:
    """PERCENT_PRICE: a limit price within [mark x multiplierDown, mark x multiplierUp]."""
    high = CTX.multiply(mark, spec.multiplier_up)
    low = CTX.multiply(mark, spec.multiplier_down)
    if price > high:
        raise BinanceError(-4016, bound=spec.price_str(high))
    if price < low:
        raise BinanceError(-4024, bound=spec.price_str(low))


def check_notional(spec: SymbolSpec, price: Decimal, qty: Decimal) -> None:
    """MIN_NOTIONAL: price x quantity at least the symbol's minimum (callers skip reduce-only orders)."""
    if CTX.multiply(price, qty) < spec.min_notional:
        raise BinanceError(-4164, notional=str(spec.min_notional))
