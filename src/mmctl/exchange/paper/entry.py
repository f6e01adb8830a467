"""Order-entry checks of the paper venue, in Binance's spirit: each raises a classified error and changes
nothing.

Order of checks: request shape (types, client order id) → market filters (`rules.check_order`) →
post-only would cross → reduce-only would increase → max open orders → duplicate client order id →
the leverage bracket's notional cap → initial margin. Orders that do not add exposure (reduce-only
orders, or orders whose side is already covered by a larger opposite side) skip the last two.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container
from decimal import Decimal

from mmctl.errors import (
    FilterRejected,
    InsufficientMargin,
    LeverageRejected,
    OrderRejected,
    PostOnlyWouldCross,
    ReduceOnlyRejected,
)
from mmctl.exchange.paper.margin import exposure, initial_margin
from mmctl.exchange.paper.state import SymbolState
from mmctl.exchange.rules import check_order
from mmctl.model import ZERO, Balance, BookTop, OrderRequest, OrderType, Side
from mmctl.pnl.position import reducible_qty

CLIENT_ORDER_ID = re.compile(r"[.A-Za-z0-9:/_-]{1,36}")  # Binance's newClientOrderId rule


def check_shape(req: object) -> OrderRequest:
    """Reject requests whose fields have the wrong types or forms before any arithmetic touches them."""
    if not isinstance(req, OrderRequest):
        raise FilterRejected(f"expected an OrderRequest, got {type(req).__name__}")
    if not isinstance(req.side, Side):
        raise FilterRejected(f"side must be buy or sell, got {req.side!r}", data={"field": "side"})
    if not isinstance(req.type, OrderType):
        raise FilterRejected(f"order type must be limit or market, got {req.type!r}", data={"field": "type"})
    if not _finite_decimal(req.qty):
        raise FilterRejected(f"quantity must be a finite Decimal, got {req.qty!r}", data={"field": "qty"})
    if req.price is not None and not _finite_decimal(req.price):
        raise FilterRejected(f"price must be a finite Decimal, got {req.price!r}", data={"field": "price"})
    if req.type is OrderType.MARKET and req.price is not None:
        raise FilterRejected("a market order takes no price", data={"field": "price"})
    if req.type is OrderType.MARKET and req.post_only:
        raise FilterRejected("post-only (GTX) applies to limit orders only", data={"field": "post_only"})
    cid = req.client_order_id
    if not isinstance(cid, str) or (cid and not CLIENT_ORDER_ID.fullmatch(cid)):
        raise FilterRejected(
            f"client order id {cid!r} must be 1-36 characters of [.A-Za-z0-9:/_-]",
            data={"field": "client_order_id"},
        )
    return req


def _finite_decimal(value: object) -> bool:
    return isinstance(value, Decimal) and value.is_finite()


def taker_price(req: OrderRequest, top: BookTop | None) -> Decimal | None:
    """The book price a market order, or a limit order that crosses the book, would fill at (None: rests)."""
    if top is None:
        return None
    opposite = top.ask if req.side is Side.BUY else top.bid
    if req.type is OrderType.MARKET:
        return opposite
    assert req.price is not None
    crosses = req.price >= top.ask if req.side is Side.BUY else req.price <= top.bid
    return opposite if crosses else None


def check_rules(req: OrderRequest, st: SymbolState) -> Decimal | None:
    """Market filters, post-only and reduce-only; returns the taker price if the order takes liquidity."""
    top = st.top
    if req.type is OrderType.MARKET and top is None:
        raise OrderRejected(f"no market price yet for {st.symbol}: a market order cannot fill")
    fill_at = taker_price(req, top)
    check_order(req, st.rules, fill_at)
    if req.post_only and fill_at is not None and top is not None:
        raise PostOnlyWouldCross(
            f"post-only {req.side} at {req.price} would cross the {st.symbol} book ({top.bid} / {top.ask})",
            data={"client_order_id": req.client_order_id},
        )
    if req.reduce_only and reducible_qty(st.position_qty, req.side) == 0:
        raise ReduceOnlyRejected(
            f"reduce-only {req.side} would increase the {st.symbol} position ({st.position_qty})",
            data={"client_order_id": req.client_order_id},
        )
    return fill_at


def check_capacity(req: OrderRequest, st: SymbolState, open_client_ids: Container[str]) -> None:
    if req.type is OrderType.LIMIT and len(st.bids) + len(st.asks) >= st.rules.max_open_orders:
        raise FilterRejected(
            f"{st.symbol} already has the maximum of {st.rules.max_open_orders} open orders",
            data={"field": "max_open_orders"},
        )
    if req.client_order_id and req.client_order_id in open_client_ids:
        raise OrderRejected(
            f"client order id {req.client_order_id!r} is already used by an open order",
            data={"field": "client_order_id", "client_order_id": req.client_order_id},
        )


def check_margin(
    req: OrderRequest, st: SymbolState, price: Decimal, available: Callable[[], Decimal]
) -> None:
    """Leverage-bracket cap and initial margin for an order that adds exposure at `price`.
    `available` is computed only when the order needs margin (it walks every symbol)."""
    if req.reduce_only:
        return
    notional = req.qty * price
    before = initial_margin(st)
    after = initial_margin(st, side=req.side, extra=notional)
    if after <= before:
        return
    worst = exposure(st, req.side, notional)
    cap = st.rules.notional_cap(st.leverage)
    if worst > cap:
        raise LeverageRejected(
            f"order would take {st.symbol} exposure to {worst:.2f} USDT, above the {cap} cap at "
            f"{st.leverage}x leverage",
            data={"client_order_id": req.client_order_id, "notional_cap": str(cap)},
        )
    needed = after - before
    free = available()
    if needed > free:
        raise InsufficientMargin(
            f"order needs {needed:.8f} USDT initial margin, only {free:.8f} available",
            data={"client_order_id": req.client_order_id},
        )


def check_leverage(st: SymbolState, leverage: int, balance: Balance) -> None:
    """A new leverage must be an integer in 1..max, fit the position in its bracket, and be affordable."""
    top = st.rules.max_leverage
    if isinstance(leverage, bool) or not isinstance(leverage, int) or not 1 <= leverage <= top:
        raise LeverageRejected(
            f"leverage must be an integer from 1 to {top} for {st.symbol}, got {leverage!r}",
            data={"field": "leverage", "max_leverage": top},
        )
    mark = st.mark_price() or ZERO
    notional = abs(st.position_qty) * mark
    cap = st.rules.notional_cap(leverage)
    if notional > cap:
        raise LeverageRejected(
            f"the {st.symbol} position's notional {notional:.2f} USDT exceeds the {cap} cap at {leverage}x",
            data={"field": "leverage", "notional_cap": str(cap)},
        )
    extra = initial_margin(st, leverage) - initial_margin(st)
    if extra > 0 and extra > balance.available:
        raise LeverageRejected(
            f"{leverage}x on {st.symbol} needs {extra:.8f} USDT more margin than is available",
            data={"field": "leverage"},
        )
