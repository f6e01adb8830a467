"""Raw Binance answers become exact Decimal model types, whatever the decimal context."""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest

from mmctl.exchange.binance.convert import (
    ConversionError,
    balance,
    book_top,
    dec,
    fill_from_event,
    fill_from_trade,
    income_row,
    order,
    order_from_event,
    position,
    text,
)
from mmctl.exchange.binance.markets import MarketIndex
from mmctl.exchange.binance.orders import order_params
from mmctl.model import IncomeType, OrderRequest, OrderStatus, OrderType, Side, StpMode
from mmctl.pnl.income_types import is_transfer, line_of

BTC = "BTC/USDT:USDT"


def symbol_of(venue_id: str) -> str:
    return {"BTCUSDT": BTC}.get(venue_id, venue_id)


BTC_INFO = {
    "symbol": "BTCUSDT",
    "pair": "BTCUSDT",
    "contractType": "PERPETUAL",
    "status": "TRADING",
    "baseAsset": "BTC",
    "quoteAsset": "USDT",
    "marginAsset": "USDT",
    "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "556.80", "maxPrice": "4529764", "tickSize": "0.10"},
        {"filterType": "LOT_SIZE", "stepSize": "0.001", "maxQty": "1000", "minQty": "0.001"},
        {"filterType": "MARKET_LOT_SIZE", "stepSize": "0.001", "maxQty": "120", "minQty": "0.001"},
        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
        {"filterType": "MIN_NOTIONAL", "notional": "100"},
        {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500"},
    ],
}
QUARTERLY = {**BTC_INFO, "symbol": "BTCUSDT_261225", "contractType": "CURRENT_QUARTER"}
BRACKETS = [
    {
        "symbol": "BTCUSDT",
        "brackets": [
            {"bracket": 2, "initialLeverage": 100, "notionalCap": 600000, "maintMarginRatio": 0.005},
            {"bracket": 1, "initialLeverage": 125, "notionalCap": 50000, "maintMarginRatio": 0.004},
        ],
    }
]


def test_markets_carry_the_filters_and_brackets_of_perpetuals_only() -> None:
    """Tick, step, minimums, max orders, price limits, percent band and brackets; quarterlies are left out."""
    index = MarketIndex.build({"symbols": [BTC_INFO, QUARTERLY]}, BRACKETS)
    assert list(index.rules) == [BTC]
    rules = index.lookup("BTCUSDT")
    assert rules == index.lookup(BTC)
    assert (rules.tick_size, rules.step_size, rules.min_qty, rules.max_qty) == (
        Decimal("0.1"),
        Decimal("0.001"),
        Decimal("0.001"),
        Decimal("1000"),
    )
    assert (rules.min_notional, rules.max_open_orders, rules.market_max_qty) == (
        Decimal(100),
        200,
        Decimal(120),
    )
    assert (rules.min_price, rules.max_price) == (Decimal("556.8"), Decimal("4529764"))
    assert (rules.multiplier_up, rules.multiplier_down) == (Decimal("1.05"), Decimal("0.95"))
    assert rules.max_leverage == 125
    assert rules.notional_cap(125) == Decimal(50000)
    assert rules.brackets[0].maint_margin_rate == Decimal("0.004")


def test_raw_strings_stay_exact_in_a_hostile_decimal_context() -> None:
    """Conversions do not round, even with a 3-digit context that traps inexact results."""
    with decimal.localcontext() as ctx:
        ctx.prec = 3
        ctx.traps[decimal.Inexact] = True
        ctx.rounding = decimal.ROUND_UP
        assert dec("60000.123456789") == Decimal("60000.123456789")
        assert dec(0.0065) == Decimal("0.0065")
        assert text(Decimal("60000.10")) == "60000.1"
        assert text(Decimal("6E+4")) == "60000"
    with pytest.raises(ConversionError):
        dec("nan")
    with pytest.raises(ConversionError):
        dec(None)


REST_ORDER = {
    "orderId": 4000000001,
    "symbol": "BTCUSDT",
    "status": "PARTIALLY_FILLED",
    "clientOrderId": "mm.b.b0.1",
    "price": "59990.00",
    "avgPrice": "59990.00",
    "origQty": "0.004",
    "executedQty": "0.003",
    "cumQuote": "179.97",
    "timeInForce": "GTX",
    "type": "LIMIT",
    "reduceOnly": False,
    "side": "BUY",
    "origType": "LIMIT",
    "time": 1700000000000,
    "updateTime": 1700000001000,
}


def test_rest_orders_convert_with_their_state() -> None:
    """An order answer keeps ids, sides, amounts, post-only and both times."""
    o = order(REST_ORDER, symbol_of)
    assert (o.id, o.client_order_id, o.symbol, o.side, o.type) == (
        "4000000001",
        "mm.b.b0.1",
        BTC,
        Side.BUY,
        OrderType.LIMIT,
    )
    assert (o.price, o.qty, o.filled, o.avg_price, o.status) == (
        Decimal("59990"),
        Decimal("0.004"),
        Decimal("0.003"),
        Decimal("59990"),
        OrderStatus.PARTIALLY_FILLED,
    )
    assert (o.post_only, o.reduce_only, o.created_ms, o.updated_ms) == (
        True,
        False,
        1700000000000,
        1700000001000,
    )
    market = order(
        {**REST_ORDER, "type": "MARKET", "origType": "MARKET", "price": "0", "avgPrice": "0"}, symbol_of
    )
    assert (market.type, market.price, market.avg_price) == (OrderType.MARKET, None, None)


EVENT = {
    "s": "BTCUSDT",
    "c": "mm.b.b0.1",
    "S": "SELL",
    "o": "LIMIT",
    "f": "GTX",
    "q": "0.004",
    "p": "60010.0",
    "ap": "60010.0",
    "x": "TRADE",
    "X": "PARTIALLY_FILLED",
    "i": 77,
    "l": "0.001",
    "z": "0.003",
    "L": "60010.0",
    "n": "0.01200200",
    "N": "USDT",
    "T": 1700000002000,
    "t": 991,
    "m": True,
    "R": False,
    "rp": "1.25",
    "ot": "LIMIT",
}


def test_user_stream_events_give_the_order_and_its_fill() -> None:
    """ORDER_TRADE_UPDATE gives the cumulative order state and the execution with fee and realized PnL."""
    o = order_from_event(EVENT, symbol_of, created_ms=1700000000000)
    assert (o.filled, o.status, o.created_ms, o.updated_ms, o.side) == (
        Decimal("0.003"),
        OrderStatus.PARTIALLY_FILLED,
        1700000000000,
        1700000002000,
        Side.SELL,
    )
    fill = fill_from_event(EVENT, symbol_of)
    assert fill is not None
    assert (fill.trade_id, fill.order_id, fill.qty, fill.price, fill.fee, fill.maker, fill.realized_pnl) == (
        "991",
        "77",
        Decimal("0.001"),
        Decimal("60010.0"),
        Decimal("0.012002"),
        True,
        Decimal("1.25"),
    )
    assert fill_from_event({**EVENT, "x": "NEW", "l": "0"}, symbol_of) is None


def test_user_trades_become_fills_with_the_given_client_id() -> None:
    """A userTrades row (no client id in it) becomes a Fill for the client id the caller knows."""
    row = {
        "symbol": "BTCUSDT",
        "id": 698759,
        "orderId": 25851813,
        "side": "SELL",
        "price": "7819.01",
        "qty": "0.002",
        "realizedPnl": "-0.91539999",
        "commission": "0.07819010",
        "commissionAsset": "USDT",
        "maker": False,
        "time": 1569514978020,
    }
    fill = fill_from_trade(row, "mm.b.s0.9", symbol_of)
    assert (fill.client_order_id, fill.trade_id, fill.fee, fill.realized_pnl) == (
        "mm.b.s0.9",
        "698759",
        Decimal("0.0781901"),
        Decimal("-0.91539999"),
    )


def test_account_position_book_and_income_rows_convert() -> None:
    """Balance from the USDT asset row, a one-way position, a book ticker, signed income rows (every
    Binance income type kept, mapped onto mmctl's four)."""
    account = {
        "totalWalletBalance": "1.0",
        "assets": [
            {
                "asset": "USDT",
                "walletBalance": "10000.12345678",
                "unrealizedProfit": "-1.5",
                "initialMargin": "12.0",
                "availableBalance": "9986.62345678",
            }
        ],
    }
    b = balance(account)
    assert (b.wallet, b.available, b.margin_used, b.unrealized_pnl) == (
        Decimal("10000.12345678"),
        Decimal("9986.62345678"),
        Decimal("12.0"),
        Decimal("-1.5"),
    )
    p = position(
        {"symbol": "BTCUSDT", "positionAmt": "-0.010", "entryPrice": "60000.1", "markPrice": "60100",
         "unRealizedProfit": "-0.999", "liquidationPrice": "0"},
        BTC,
        20,
    )  # fmt: skip
    assert (p.qty, p.entry_price, p.leverage, p.liquidation_price) == (
        Decimal("-0.010"),
        Decimal("60000.1"),
        20,
        None,
    )
    top = book_top(
        {"u": 5, "s": "BTCUSDT", "b": "60000.0", "B": "1.5", "a": "60000.1", "A": "2", "T": 9}, BTC, 0
    )
    assert (top.bid, top.ask, top.bid_qty, top.ts_ms) == (
        Decimal("60000.0"),
        Decimal("60000.1"),
        Decimal("1.5"),
        9,
    )
    row = income_row(
        {"symbol": "BTCUSDT", "incomeType": "COMMISSION", "income": "-0.03000000", "asset": "USDT",
         "time": 1, "tranId": 9689322392, "tradeId": "2059192"},
        symbol_of,
    )  # fmt: skip
    assert (row.id, row.type, row.amount, row.symbol, row.trade_id) == (
        "9689322392",
        IncomeType.COMMISSION,
        Decimal("-0.03"),
        BTC,
        "2059192",
    )
    for kind, bucket in (
        ("INSURANCE_CLEAR", "REALIZED_PNL"),
        ("API_REBATE", "COMMISSION"),
        ("NEW", "TRANSFER"),
    ):
        raw = {"incomeType": kind, "income": "1", "time": 1, "tranId": 1}
        assert income_row(raw, symbol_of).type == bucket
        assert income_row(raw, symbol_of).venue_type == kind


# Every incomeType Binance documents for GET /fapi/v1/income, a made-up future one, what mmctl folds it
# into (`IncomeRow.type`) and the report line it adds to (transfers are outside net).
INCOME_KINDS = [
    ("REALIZED_PNL", IncomeType.REALIZED_PNL, "realized"),
    ("COMMISSION", IncomeType.COMMISSION, "commission"),
    ("FUNDING_FEE", IncomeType.FUNDING_FEE, "funding"),
    ("TRANSFER", IncomeType.TRANSFER, "transfers"),
    ("INTERNAL_TRANSFER", IncomeType.TRANSFER, "transfers"),
    ("CROSS_COLLATERAL_TRANSFER", IncomeType.TRANSFER, "transfers"),
    ("STRATEGY_UMFUTURES_TRANSFER", IncomeType.TRANSFER, "transfers"),
    ("COIN_SWAP_DEPOSIT", IncomeType.TRANSFER, "transfers"),
    ("COIN_SWAP_WITHDRAW", IncomeType.TRANSFER, "transfers"),
    ("AUTO_EXCHANGE", IncomeType.TRANSFER, "transfers"),
    ("INSURANCE_CLEAR", IncomeType.REALIZED_PNL, "insurance_clear"),
    ("DELIVERED_SETTELMENT", IncomeType.REALIZED_PNL, "delivered_settelment"),
    ("COMMISSION_REBATE", IncomeType.COMMISSION, "commission_rebate"),
    ("API_REBATE", IncomeType.COMMISSION, "api_rebate"),
    ("FEE_RETURN", IncomeType.COMMISSION, "fee_return"),
    ("POSITION_LIMIT_INCREASE_FEE", IncomeType.COMMISSION, "position_limit_increase_fee"),
    ("WELCOME_BONUS", IncomeType.TRANSFER, "welcome_bonus"),
    ("REFERRAL_KICKBACK", IncomeType.TRANSFER, "referral_kickback"),
    ("CONTEST_REWARD", IncomeType.TRANSFER, "contest_reward"),
    ("OPTIONS_PREMIUM_FEE", IncomeType.TRANSFER, "options_premium_fee"),
    ("OPTIONS_SETTLE_PROFIT", IncomeType.TRANSFER, "options_settle_profit"),
    ("BFUSD_REWARD", IncomeType.TRANSFER, "bfusd_reward"),
    ("SOME_FUTURE_TYPE", IncomeType.TRANSFER, "some_future_type"),
    ("NET", IncomeType.TRANSFER, "type_net"),  # a name that would clash with a report field
]


@pytest.mark.parametrize(("kind", "folded", "line"), INCOME_KINDS)
def test_each_income_type_keeps_its_own_type_and_line(kind: str, folded: IncomeType, line: str) -> None:
    """An income row keeps Binance's incomeType verbatim, folds it into mmctl's four for code that knows
    only those, and reports it on its own line unless it is REALIZED_PNL, COMMISSION, FUNDING_FEE or a
    transfer."""
    raw = {"symbol": "BTCUSDT", "incomeType": kind, "income": "-0.50000000", "asset": "USDT",
           "time": 7, "tranId": 42, "tradeId": ""}  # fmt: skip
    row = income_row(raw, symbol_of)
    assert (row.venue_type, row.type, row.id, row.amount, row.trade_id) == (
        kind, folded, "42", Decimal("-0.5"), None,
    )  # fmt: skip
    assert line_of(row.venue_type) == line
    assert is_transfer(kind) == (line == "transfers")


def test_an_income_row_without_its_type_is_a_conversion_error() -> None:
    """A row with no or an empty incomeType is refused rather than guessed."""
    base = {"income": "1", "time": 1, "tranId": 1}
    for raw in (base, {**base, "incomeType": ""}, {**base, "incomeType": None}):
        with pytest.raises(ConversionError):
            income_row(raw, symbol_of)


def test_order_parameters_are_plain_strings() -> None:
    """Prices and sizes are sent as plain decimal text; post-only is GTX; STP and reduce-only explicit."""
    rules = MarketIndex.build({"symbols": [BTC_INFO]}, BRACKETS).lookup(BTC)
    req = OrderRequest(BTC, Side.SELL, Decimal("0.0010"), Decimal("6.00001E+4"), "cid", post_only=True,
                       reduce_only=True, stp_mode=StpMode.EXPIRE_TAKER)  # fmt: skip
    assert order_params(req, rules) == {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "quantity": "0.001",
        "price": "60000.1",
        "timeInForce": "GTX",
        "newClientOrderId": "cid",
        "newOrderRespType": "RESULT",
        "selfTradePreventionMode": "EXPIRE_TAKER",
        "reduceOnly": "true",
    }
