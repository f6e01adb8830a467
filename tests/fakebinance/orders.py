"""Orders on the fake venue and how Binance renders them: REST order objects and ORDER_TRADE_UPDATE."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .amounts import ZERO, avg_price, money
from .markets import SymbolSpec

OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})


@dataclass(slots=True, eq=False)
class Order:
    """One order. `seq` is its queue priority (an amend gives it a new, later one)."""

    order_id: int
    client_order_id: str
    account_key: str
    symbol: str
    side: str  # BUY | SELL
    type: str  # LIMIT | MARKET
    time_in_force: str  # GTC | IOC | FOK | GTX
    price: Decimal
    orig_qty: Decimal
    reduce_only: bool
    time: int
    update_time: int
    seq: int
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    amendments: int = 0

    @property
    def is_open(self) -> bool:
        """Still resting on the book."""
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        """Quantity still to fill."""
        return self.orig_qty - self.executed_qty

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return 1 if self.side == "BUY" else -1


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of an order, as the user stream and userTrades report it."""

    trade_id: int
    qty: Decimal
    price: Decimal
    maker: bool
    commission: Decimal
    realized_pnl: Decimal
    time: int


def order_json(order: Order, spec: SymbolSpec, *, with_time: bool = False) -> dict[str, Any]:
    """An order as POST/PUT/DELETE /fapi/v1/order answer it (`with_time` adds GET's `time`)."""
    out: dict[str, Any] = {
        "orderId": order.order_id,
        "symbol": order.symbol,
        "status": order.status,
        "clientOrderId": order.client_order_id,
        "price": spec.price_str(order.price),
        "avgPrice": avg_price(order.cum_quote, order.executed_qty, spec.price_precision),
        "origQty": spec.qty_str(order.orig_qty),
        "executedQty": spec.qty_str(order.executed_qty),
        "cumQty": spec.qty_str(order.executed_qty),
        "cumQuote": spec.quote_str(order.cum_quote),
        "timeInForce": order.time_in_force,
        "type": order.type,
        "reduceOnly": order.reduce_only,
        "closePosition": False,
        "side": order.side,
        "positionSide": "BOTH",
        "stopPrice": spec.price_str(ZERO),
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "origType": order.type,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "updateTime": order.update_time,
    }
    if with_time:
        del out["cumQty"]
        out["time"] = order.time
    return out


def order_update_event(
    order: Order,
    spec: SymbolSpec,
    execution_type: str,
    event_time: int,
    fill: Fill | None,
    bids_notional: Decimal,
    asks_notional: Decimal,
) -> dict[str, Any]:
    """An ORDER_TRADE_UPDATE user-stream event for `order` (with the trade's fields when `fill` is set)."""
    o: dict[str, Any] = {
        "s": order.symbol,
        "c": order.client_order_id,
        "S": order.side,
        "o": order.type,
        "f": order.time_in_force,
        "q": spec.qty_str(order.orig_qty),
        "p": spec.price_str(order.price),
        "ap": avg_price(order.cum_quote, order.executed_qty, spec.price_precision),
        "sp": "0",
        "x": execution_type,
        "X": order.status,
        "i": order.order_id,
        "l": spec.qty_str(fill.qty if fill else ZERO),
        "z": spec.qty_str(order.executed_qty),
        "L": spec.price_str(fill.price if fill else ZERO),
        "T": event_time,
        "t": fill.trade_id if fill else 0,
        "b": money(bids_notional),
        "a": money(asks_notional),
        "m": fill.maker if fill else False,
        "R": order.reduce_only,
        "wt": "CONTRACT_PRICE",
        "ot": order.type,
        "ps": "BOTH",
        "cp": False,
        "rp": money(fill.realized_pnl if fill else ZERO),
        "pP": False,
        "si": 0,
        "ss": 0,
        "V": "EXPIRE_MAKER",
        "pm": "NONE",
        "gtd": 0,
    }
    if fill is not None:
        o["N"] = "USDT"
        o["n"] = money(fill.commission)
    return {"e": "ORDER_TRADE_UPDATE", "E": event_time, "T": event_time, "o": o}
