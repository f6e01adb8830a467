"""Binance's request parameters for orders, from mmctl's requests (pure).

Every value is a string in plain notation (`"60000.1"`, never `6.00001E+4`), so what is signed and sent is
exactly the Decimal the caller asked for. Post-only is `timeInForce=GTX`; the self-trade prevention mode
is always explicit; `newOrderRespType=RESULT` makes a market order's answer carry its fills.
"""

from __future__ import annotations

from mmctl.errors import UnknownOrder
from mmctl.exchange.binance.convert import text
from mmctl.model import Amend, MarketRules, OrderRequest, OrderType, Side


def order_params(req: OrderRequest, rules: MarketRules) -> dict[str, str]:
    """POST /fapi/v1/order (or one batchOrders leg) for `req` on `rules`' market."""
    params = {
        "symbol": rules.id,
        "side": "BUY" if req.side is Side.BUY else "SELL",
        "type": "MARKET" if req.type is OrderType.MARKET else "LIMIT",
        "quantity": text(req.qty),
        "newClientOrderId": req.client_order_id,
        "newOrderRespType": "RESULT",
        "selfTradePreventionMode": req.stp_mode.value,
    }
    if req.type is OrderType.LIMIT and req.price is not None:
        params["price"] = text(req.price)
        params["timeInForce"] = "GTX" if req.post_only else "GTC"
    if req.reduce_only:
        params["reduceOnly"] = "true"
    return params


def amend_params(amend: Amend, rules: MarketRules) -> dict[str, str]:
    """PUT /fapi/v1/order for `amend`: the order named by its client id (never `orderId`: ccxt's
    `edit_order` would send the text "None" for a missing id), both quantity and price (Binance requires
    both)."""
    return {
        "symbol": rules.id,
        "side": "BUY" if amend.side is Side.BUY else "SELL",
        "origClientOrderId": amend.client_order_id,
        "quantity": text(amend.qty),
        "price": text(amend.price),
    }


def order_ref(venue_id: str, order_id: str | None, client_order_id: str | None) -> dict[str, str]:
    """The parameters naming one order: by venue id when given, else by client id."""
    params = {"symbol": venue_id}
    if order_id is not None:
        params["orderId"] = str(order_id)
    elif client_order_id is not None:
        params["origClientOrderId"] = client_order_id
    else:
        raise UnknownOrder("give an order id or a client order id")
    return params
