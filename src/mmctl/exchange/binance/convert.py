"""Raw Binance USDⓈ-M JSON → mmctl's Decimal model types, exactly, in any decimal context.

Binance sends prices, quantities and money as JSON strings; ccxt's unified results turn them into floats,
so the adapter reads the raw answers (or a unified result's `info`) and converts them here. `dec` builds a
`Decimal` from the string itself (exact, context-free); the few JSON numbers Binance sends (bracket caps
and ratios) go through their shortest repr, which is the text Binance sent. Pure functions, no I/O.

`symbol_of` arguments map a venue id (`BTCUSDT`) to the unified symbol (`BTC/USDT:USDT`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from mmctl.exchange.rules import EXACT
from mmctl.model import (
    ZERO,
    Balance,
    BookTop,
    Fill,
    IncomeRow,
    IncomeType,
    LeverageBracket,
    MarketRules,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
)
from mmctl.pnl.income_types import TRANSFER_TYPES

SymbolOf = Callable[[str], str]

STATUS = {
    "NEW": OrderStatus.NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,  # self-trade prevention
    "NEW_INSURANCE": OrderStatus.FILLED,  # liquidation with the insurance fund
    "NEW_ADL": OrderStatus.FILLED,  # auto-deleveraging
}

INCOME_TYPES: dict[str, IncomeType] = {
    **{t.value: t for t in IncomeType},
    **dict.fromkeys(TRANSFER_TYPES, IncomeType.TRANSFER),
    "INSURANCE_CLEAR": IncomeType.REALIZED_PNL,  # a liquidation's clearance: a trading loss
    "DELIVERED_SETTELMENT": IncomeType.REALIZED_PNL,  # (sic, Binance's spelling)
    "COMMISSION_REBATE": IncomeType.COMMISSION,
    "API_REBATE": IncomeType.COMMISSION,
    "FEE_RETURN": IncomeType.COMMISSION,
    "POSITION_LIMIT_INCREASE_FEE": IncomeType.COMMISSION,
}
"""Binance's income types onto mmctl's four (`IncomeRow.type`, for code that knows only those); every
other type (bonuses, rewards, options, types Binance adds later) is a TRANSFER there. The row keeps the
type itself (`IncomeRow.venue_type`), which is what PnL reports go by (`mmctl.pnl.income_types`): in
them only money moved without trading (`TRANSFER_TYPES`) is a transfer, and every type other than
REALIZED_PNL, COMMISSION and FUNDING_FEE is a line of its own, counted in net."""


class ConversionError(ValueError):
    """A field of a Binance answer is missing or not what Binance documents."""


def dec(value: Any) -> Decimal:
    """An exact Decimal from a Binance number: a string (as sent), an int, or a JSON float."""
    if isinstance(value, bool) or value is None:
        raise ConversionError(f"expected a number, got {value!r}")
    text = repr(value) if isinstance(value, float) else str(value).strip()
    try:
        out = Decimal(text)
    except InvalidOperation:
        raise ConversionError(f"expected a number, got {value!r}") from None
    if not out.is_finite():
        raise ConversionError(f"expected a finite number, got {value!r}")
    return out


def plain(value: Decimal) -> Decimal:
    """`value` without trailing zeros and without an exponent (`"0.10"` → 0.1, `"10.0"` → 10), exactly
    in any decimal context."""
    if value == value.to_integral_value(rounding=ROUND_DOWN, context=EXACT):
        return value.quantize(Decimal(1), context=EXACT)
    return value.normalize(context=EXACT)


def text(value: Decimal) -> str:
    """How a Decimal is sent to Binance: plain notation, no exponent, no trailing zeros."""
    return format(plain(value), "f")


def ms(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        raise ConversionError(f"expected a timestamp, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConversionError(f"expected a timestamp, got {value!r}") from None


def _field(raw: Mapping[str, Any], key: str) -> Any:
    try:
        return raw[key]
    except KeyError:
        raise ConversionError(f"field {key!r} missing from {sorted(raw)}") from None


def _positive_or_none(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    d = dec(value)
    return d if d > 0 else None


def side(value: Any) -> Side:
    if value == "BUY":
        return Side.BUY
    if value == "SELL":
        return Side.SELL
    raise ConversionError(f"expected BUY or SELL, got {value!r}")


def status(value: Any) -> OrderStatus:
    try:
        return STATUS[str(value)]
    except KeyError:
        raise ConversionError(f"unknown order status {value!r}") from None


def order_type(value: Any) -> OrderType:
    return OrderType.MARKET if str(value).endswith("MARKET") else OrderType.LIMIT


# --- orders -----------------------------------------------------------------------------------------


def order(raw: Mapping[str, Any], symbol_of: SymbolOf) -> Order:
    """An order from a REST answer (POST/GET/DELETE order, openOrders, batchOrders legs)."""
    updated = ms(raw.get("updateTime") or raw.get("time") or 0)
    return Order(
        id=str(_field(raw, "orderId")),
        client_order_id=str(_field(raw, "clientOrderId")),
        symbol=symbol_of(str(_field(raw, "symbol"))),
        side=side(_field(raw, "side")),
        type=order_type(raw.get("origType") or _field(raw, "type")),
        price=_positive_or_none(raw.get("price")),
        qty=dec(_field(raw, "origQty")),
        filled=dec(raw.get("executedQty", "0")),
        avg_price=_positive_or_none(raw.get("avgPrice")),
        status=status(_field(raw, "status")),
        post_only=raw.get("timeInForce") == "GTX",
        reduce_only=bool(raw.get("reduceOnly", False)),
        created_ms=ms(raw.get("time") or updated),
        updated_ms=updated,
    )


def order_from_event(o: Mapping[str, Any], symbol_of: SymbolOf, created_ms: int | None = None) -> Order:
    """An order from the `o` object of an ORDER_TRADE_UPDATE user-stream event.

    The event does not carry the order's creation time: pass it when known (else the event time)."""
    updated = ms(_field(o, "T"))
    return Order(
        id=str(_field(o, "i")),
        client_order_id=str(_field(o, "c")),
        symbol=symbol_of(str(_field(o, "s"))),
        side=side(_field(o, "S")),
        type=order_type(o.get("ot") or _field(o, "o")),
        price=_positive_or_none(o.get("p")),
        qty=dec(_field(o, "q")),
        filled=dec(o.get("z", "0")),
        avg_price=_positive_or_none(o.get("ap")),
        status=status(_field(o, "X")),
        post_only=o.get("f") == "GTX",
        reduce_only=bool(o.get("R", False)),
        created_ms=created_ms if created_ms is not None else updated,
        updated_ms=updated,
    )


def fill_from_event(o: Mapping[str, Any], symbol_of: SymbolOf) -> Fill | None:
    """The execution an ORDER_TRADE_UPDATE reports (`x` = TRADE, last filled qty `l` > 0), else None.

    Binance's `n` (commission) is positive when paid; `rp` is the realized PnL before fees."""
    if o.get("x") != "TRADE":
        return None
    qty = dec(o.get("l", "0"))
    if qty <= 0:
        return None
    return Fill(
        trade_id=str(_field(o, "t")),
        order_id=str(_field(o, "i")),
        client_order_id=str(_field(o, "c")),
        symbol=symbol_of(str(_field(o, "s"))),
        side=side(_field(o, "S")),
        price=dec(_field(o, "L")),
        qty=qty,
        fee=dec(o.get("n") or "0"),
        fee_asset=str(o.get("N") or "USDT"),
        maker=bool(o.get("m", False)),
        realized_pnl=dec(o.get("rp") or "0"),
        ts_ms=ms(_field(o, "T")),
    )


def fill_from_trade(row: Mapping[str, Any], client_order_id: str, symbol_of: SymbolOf) -> Fill:
    """A fill from a GET /fapi/v1/userTrades row (which does not carry the client order id)."""
    return Fill(
        trade_id=str(_field(row, "id")),
        order_id=str(_field(row, "orderId")),
        client_order_id=client_order_id,
        symbol=symbol_of(str(_field(row, "symbol"))),
        side=side(_field(row, "side")),
        price=dec(_field(row, "price")),
        qty=dec(_field(row, "qty")),
        fee=dec(row.get("commission") or "0"),
        fee_asset=str(row.get("commissionAsset") or "USDT"),
        maker=bool(row.get("maker", False)),
        realized_pnl=dec(row.get("realizedPnl") or "0"),
        ts_ms=ms(_field(row, "time")),
    )


# --- market data ------------------------------------------------------------------------------------


def book_top(raw: Mapping[str, Any], symbol: str, fallback_ms: int) -> BookTop:
    """A top of book from a bookTicker (WS `b/B/a/A`, or REST `bidPrice/bidQty/askPrice/askQty`)."""
    if "b" in raw:
        bid, bid_qty, ask, ask_qty = raw["b"], raw["B"], raw["a"], raw["A"]
        ts = raw.get("T") or raw.get("E") or fallback_ms
    else:
        bid, bid_qty = _field(raw, "bidPrice"), _field(raw, "bidQty")
        ask, ask_qty = _field(raw, "askPrice"), _field(raw, "askQty")
        ts = raw.get("time") or fallback_ms
    return BookTop(symbol, dec(bid), dec(bid_qty), dec(ask), dec(ask_qty), ms(ts))


def book_update_id(raw: Mapping[str, Any]) -> int | None:
    """The order book update id of a bookTicker (`u` on the stream, `lastUpdateId` on REST)."""
    value = raw.get("u", raw.get("lastUpdateId"))
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


# --- markets ----------------------------------------------------------------------------------------


def filters(raw_symbol: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """A symbol's exchangeInfo filters by filterType."""
    out: dict[str, Mapping[str, Any]] = {}
    for f in raw_symbol.get("filters") or ():
        if isinstance(f, Mapping) and "filterType" in f:
            out[str(f["filterType"])] = f
    return out


def is_usdm_perpetual(raw_symbol: Mapping[str, Any]) -> bool:
    """True for a trading USDⓈ-M perpetual (what mmctl quotes)."""
    return (
        raw_symbol.get("contractType") == "PERPETUAL"
        and raw_symbol.get("status") == "TRADING"
        and raw_symbol.get("marginAsset", raw_symbol.get("quoteAsset")) == raw_symbol.get("quoteAsset")
    )


def brackets(raw: Sequence[Mapping[str, Any]]) -> tuple[LeverageBracket, ...]:
    """Leverage brackets from one symbol's GET /fapi/v1/leverageBracket `brackets`, ascending cap."""
    out = [
        LeverageBracket(
            max_leverage=int(_field(b, "initialLeverage")),
            notional_cap=dec(_field(b, "notionalCap")),
            maint_margin_rate=dec(_field(b, "maintMarginRatio")),
        )
        for b in raw
    ]
    return tuple(sorted(out, key=lambda b: b.notional_cap))


def market_rules(
    raw_symbol: Mapping[str, Any],
    unified: str,
    leverage_brackets: tuple[LeverageBracket, ...],
    maker_fee: Decimal,
    taker_fee: Decimal,
) -> MarketRules:
    """A market's rules from its exchangeInfo entry (filters) and its leverage brackets."""
    by_type = filters(raw_symbol)
    price_f, lot = by_type.get("PRICE_FILTER", {}), by_type.get("LOT_SIZE", {})
    market_lot = by_type.get("MARKET_LOT_SIZE", {})
    notional = by_type.get("MIN_NOTIONAL", {})
    max_orders = by_type.get("MAX_NUM_ORDERS", {})
    band = by_type.get("PERCENT_PRICE", {})
    market_max = _positive_or_none(market_lot.get("maxQty"))
    max_qty = plain(dec(_field(lot, "maxQty")))
    return MarketRules(
        symbol=unified,
        id=str(_field(raw_symbol, "symbol")),
        base=str(_field(raw_symbol, "baseAsset")),
        quote=str(_field(raw_symbol, "quoteAsset")),
        tick_size=plain(dec(_field(price_f, "tickSize"))),
        step_size=plain(dec(_field(lot, "stepSize"))),
        min_qty=plain(dec(_field(lot, "minQty"))),
        max_qty=max_qty,
        min_notional=plain(dec(notional.get("notional", notional.get("minNotional", "0")))),
        max_open_orders=int(max_orders.get("limit", 200)),
        brackets=leverage_brackets,
        maker_fee=maker_fee,
        taker_fee=taker_fee,
        market_max_qty=plain(market_max) if market_max is not None and market_max != max_qty else None,
        min_price=plain(dec(price_f.get("minPrice") or "0")),
        max_price=plain(dec(price_f.get("maxPrice") or "0")),
        multiplier_up=plain(dec(band.get("multiplierUp") or "0")),
        multiplier_down=plain(dec(band.get("multiplierDown") or "0")),
    )


# --- account ----------------------------------------------------------------------------------------


def position(row: Mapping[str, Any], symbol: str, leverage: int) -> Position:
    """A one-way position from a GET /fapi/v3/positionRisk row."""
    return Position(
        symbol=symbol,
        qty=dec(_field(row, "positionAmt")),
        entry_price=dec(row.get("entryPrice") or "0"),
        mark_price=dec(row.get("markPrice") or "0"),
        unrealized_pnl=dec(row.get("unRealizedProfit") or "0"),
        leverage=leverage,
        liquidation_price=_positive_or_none(row.get("liquidationPrice")),
    )


def flat_position(symbol: str, leverage: int) -> Position:
    return Position(symbol, ZERO, ZERO, ZERO, ZERO, leverage)


def balance(raw: Mapping[str, Any], asset: str = "USDT") -> Balance:
    """The settlement asset's balance from GET /fapi/v3/account (its `assets` row, else the totals)."""
    for row in raw.get("assets") or ():
        if isinstance(row, Mapping) and row.get("asset") == asset:
            return Balance(
                asset=asset,
                wallet=dec(_field(row, "walletBalance")),
                available=dec(row.get("availableBalance") or "0"),
                margin_used=dec(row.get("initialMargin") or "0"),
                unrealized_pnl=dec(row.get("unrealizedProfit") or "0"),
            )
    return Balance(
        asset=asset,
        wallet=dec(_field(raw, "totalWalletBalance")),
        available=dec(raw.get("availableBalance") or "0"),
        margin_used=dec(raw.get("totalInitialMargin") or "0"),
        unrealized_pnl=dec(raw.get("totalUnrealizedProfit") or "0"),
    )


def income_row(raw: Mapping[str, Any], symbol_of: SymbolOf) -> IncomeRow:
    """A GET /fapi/v1/income row. Every row is kept (a page keeps its size, so a walker can tell the
    last page, and the rows still sum to the wallet's change), with Binance's `incomeType` as its
    `venue_type` and that mapped by `INCOME_TYPES` as its `type`.

    Its id is Binance's `tranId`, unique only within an income type: dedupe on `(venue_type, id)`."""
    venue_type = str(_field(raw, "incomeType") or "").strip()
    if not venue_type:
        raise ConversionError(f"income row {raw.get('tranId')!r} has an empty incomeType")
    venue_symbol = str(raw.get("symbol") or "")
    trade_id = str(raw.get("tradeId") or "") or None
    return IncomeRow(
        id=str(_field(raw, "tranId")),
        ts_ms=ms(_field(raw, "time")),
        symbol=symbol_of(venue_symbol) if venue_symbol else "",
        type=INCOME_TYPES.get(venue_type, IncomeType.TRANSFER),
        amount=dec(_field(raw, "income")),
        asset=str(raw.get("asset") or "USDT"),
        trade_id=trade_id,
        venue_type=venue_type,
    )
