"""Typed order requests parsed from Binance's string parameters (missing or malformed ones raise -1102)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .amounts import parse_decimal
from .errors import BinanceError

CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
CLIENT_ID_LEGAL = r"^[\.A-Z\:/a-z0-9_-]{1,36}$"
CONDITIONAL_TYPES = frozenset(
    {"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"}
)

Params = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class NewOrder:
    """POST /fapi/v1/order (or one batchOrders leg)."""

    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal | None
    time_in_force: str
    reduce_only: bool
    client_order_id: str | None
    position_side: str | None


@dataclass(frozen=True, slots=True)
class OrderRef:
    """Which order a query, cancel or amend means: by exchange id or by client id."""

    order_id: int | None
    client_order_id: str | None


@dataclass(frozen=True, slots=True)
class Amend:
    """PUT /fapi/v1/order (or one batch leg): both quantity and price are required."""

    symbol: str
    ref: OrderRef
    side: str
    quantity: Decimal
    price: Decimal


def text(params: Params, name: str, *, required: bool = True) -> str | None:
    """A string parameter (-1102 when required and absent or empty)."""
    value = params.get(name)
    if value is None or str(value) == "":
        if required:
            raise BinanceError(-1102, name=name)
        return None
    return str(value)


def need(params: Params, name: str) -> str:
    """A required string parameter."""
    value = text(params, name)
    assert value is not None
    return value


def number(params: Params, name: str, *, required: bool = True) -> Decimal | None:
    """A decimal parameter (-1102 when required and absent, or malformed)."""
    raw = text(params, name, required=required)
    if raw is None:
        return None
    value = parse_decimal(raw)
    if value is None:
        raise BinanceError(-1102, name=name)
    return value


def integer(params: Params, name: str, *, required: bool = False) -> int | None:
    """An integer parameter (-1102 when malformed)."""
    raw = text(params, name, required=required)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise BinanceError(-1102, name=name) from None


def flag(params: Params, name: str) -> bool:
    """A boolean parameter ("true"/"false", any case; JSON booleans in batch legs)."""
    value = params.get(name)
    if isinstance(value, bool):
        return value
    if value is None or value == "":
        return False
    lowered = str(value).lower()
    if lowered not in ("true", "false"):
        raise BinanceError(-1130, name=name)
    return lowered == "true"


def new_order(params: Params) -> NewOrder:
    """Parse an order placement; type, side and time-in-force checked, values checked by the venue."""
    symbol = need(params, "symbol")
    side = need(params, "side")
    if side not in ("BUY", "SELL"):
        raise BinanceError(-1117)
    order_type = need(params, "type")
    if order_type in CONDITIONAL_TYPES:
        raise BinanceError(-4120)
    if order_type not in ("LIMIT", "MARKET"):
        raise BinanceError(-1116)
    qty = number(params, "quantity")
    assert qty is not None
    price = number(params, "price", required=order_type == "LIMIT")
    tif = text(params, "timeInForce", required=order_type == "LIMIT") or "GTC"
    if tif not in ("GTC", "IOC", "FOK", "GTX"):
        raise BinanceError(-1115)
    client_id = text(params, "newClientOrderId", required=False)
    if client_id is not None and not CLIENT_ID.match(client_id):
        raise BinanceError(-1100, name="newClientOrderId", legal=CLIENT_ID_LEGAL)
    return NewOrder(
        symbol=symbol,
        side=side,
        type=order_type,
        quantity=qty,
        price=price if order_type == "LIMIT" else None,
        time_in_force=tif if order_type == "LIMIT" else "GTC",
        reduce_only=flag(params, "reduceOnly"),
        client_order_id=client_id,
        position_side=text(params, "positionSide", required=False),
    )


def order_ref(params: Params, *, client_key: str = "origClientOrderId") -> OrderRef:
    """`orderId` or `origClientOrderId` (-1102 when neither is sent)."""
    raw_id = text(params, "orderId", required=False)
    client = text(params, client_key, required=False)
    if raw_id is None and client is None:
        raise BinanceError(-1102, name="orderId")
    order_id: int | None = None
    if raw_id is not None:
        try:
            order_id = int(raw_id)
        except ValueError:
            raise BinanceError(-1102, name="orderId") from None
    return OrderRef(order_id, client)


def amend(params: Params) -> Amend:
    """Parse a modify-order request."""
    side = need(params, "side")
    if side not in ("BUY", "SELL"):
        raise BinanceError(-1117)
    qty = number(params, "quantity")
    price = number(params, "price")
    assert qty is not None
    assert price is not None
    return Amend(need(params, "symbol"), order_ref(params), side, qty, price)


def json_list(params: Params, name: str) -> list[Any]:
    """A parameter holding a JSON array (batchOrders, orderIdList); the name is matched in any case."""
    lowered = {k.lower(): v for k, v in params.items()}
    raw = lowered.get(name.lower())
    if raw is None or raw == "":
        raise BinanceError(-1102, name=name)
    try:
        value = json.loads(str(raw))
    except ValueError:
        raise BinanceError(-1130, name=name) from None
    if not isinstance(value, list):
        raise BinanceError(-1130, name=name)
    return value


def has_param(params: Params, name: str) -> bool:
    """True when `name` (any case) was sent."""
    return any(k.lower() == name.lower() for k in params)
