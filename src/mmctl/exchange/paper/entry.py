"""Order-entry checks of the paper venue, in Binance's spirit: each raises a classified error and changes
nothing.

Order of checks: request shape (types, client order id, STP mode) → market filters
(`rules.check_order`: size, tick, PRICE_FILTER, PERCENT_PRICE and MIN_NOTIONAL at the mark price) → a
market order's counterparty price within PERCENT_PRICE (-4131) → post-only would cross the book or one of
our own resting orders → reduce-only would increase the position or over-commit it (-2022) → max open
orders → duplicate client order id → the leverage bracket's notional cap → initial margin. Orders that do
not add exposure (reduce-only orders, or orders whose side is already covered by a larger opposite side)
skip the last two.

Amends (Binance's Modify Order): shape → side, "changes nothing" (-5027), the amend count (-5026) and
the market filters on the new price and quantity (`check_amend`); the venue then cancels or applies the
amend, checking reduce-only (`check_amend_reduce_only`) and margin on the way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container
from decimal import ROUND_CEILING, Decimal

from mmctl.errors import (
    FilterRejected,
    InsufficientMargin,
    LeverageRejected,
    OrderRejected,
)
from mmctl.exchange.paper.margin import exposure_sides, initial_margin
from mmctl.exchange.paper.state import LiveOrder, SymbolState
from mmctl.exchange.rejects import reject
from mmctl.exchange.rules import check_order, percent_price_bound, within_percent_price
from mmctl.model import ZERO, Amend, Balance, BookTop, OrderRequest, OrderType, Side, StpMode
from mmctl.pnl.position import CTX, MONEY_QUANTUM, reducible_qty

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
    if not isinstance(req.stp_mode, StpMode):
        raise FilterRejected(
            f"unknown self-trade prevention mode {req.stp_mode!r}", data={"field": "stp_mode"}
        )
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
    if req.type is OrderType.MARKET:
        return top.ask if req.side is Side.BUY else top.bid
    assert req.price is not None
    return limit_taker_price(req.side, req.price, top)


def limit_taker_price(side: Side, price: Decimal, top: BookTop) -> Decimal | None:
    """The book price a limit order at `price` on `side` takes at (None: it does not cross and rests)."""
    if side is Side.BUY:
        return top.ask if price >= top.ask else None
    return top.bid if price <= top.bid else None


def check_rules(req: OrderRequest, st: SymbolState) -> Decimal | None:
    """Market filters, post-only and reduce-only; returns the book price the order takes at, if any."""
    top = st.top
    if req.type is OrderType.MARKET and top is None:
        raise OrderRejected(f"no market price yet for {st.symbol}: a market order cannot fill")
    mark = st.mark_price()
    check_order(req, st.rules, mark)
    fill_at = taker_price(req, top)
    if req.type is OrderType.MARKET and fill_at is not None and mark is not None:
        _check_market_band(req, st, fill_at, mark)
    if req.post_only:
        _check_post_only(req, st, fill_at)
    if req.reduce_only:
        _check_reduce_only(req, st)
    return fill_at


def _check_market_band(req: OrderRequest, st: SymbolState, fill_at: Decimal, mark: Decimal) -> None:
    """Binance -4131: "The counterparty's best price does not meet the PERCENT_PRICE filter limit"."""
    if within_percent_price(req.side, fill_at, mark, st.rules):
        return
    bound = percent_price_bound(req.side, mark, st.rules)
    raise reject(
        -4131,
        f"market {req.side}: the best {st.symbol} price {fill_at} is beyond the PERCENT_PRICE limit {bound} "
        f"around the mark {mark}",
        field="type",
        best_price=str(fill_at),
        limit=str(bound),
    )


def _check_post_only(req: OrderRequest, st: SymbolState, fill_at: Decimal | None) -> None:
    """GTX is rejected (-5022) if it would take from the book or from one of our own resting orders."""
    assert req.price is not None
    top = st.top
    if fill_at is not None and top is not None:
        raise reject(
            -5022,
            f"post-only {req.side} at {req.price} would cross the {st.symbol} book ({top.bid} / {top.ask})",
            client_order_id=req.client_order_id,
        )
    if crosses_own(req.side, req.price, st):
        own = st.best_ask if req.side is Side.BUY else st.best_bid
        raise reject(
            -5022,
            f"post-only {req.side} at {req.price} would cross our own resting {req.side.opposite} at {own} "
            f"on {st.symbol}",
            client_order_id=req.client_order_id,
        )


def crosses_own(side: Side, price: Decimal, st: SymbolState) -> bool:
    """True when a `side` order at `price` would reach one of our own resting orders on the other side."""
    return price >= st.best_ask if side is Side.BUY else price <= st.best_bid


def _check_reduce_only(req: OrderRequest, st: SymbolState) -> None:
    """A reduce-only order must reduce the position, and the open reduce-only orders on its side together
    may not close more than the position. Binance rejects the newcomer: -2022 REDUCE_ONLY_REJECT, "the
    new reduce-only order conflicts with existing open orders; cancel the existing order and resubmit"
    (developers.binance.com/docs/derivatives/usds-margined-futures/error-code). A lone reduce-only order
    larger than the position is accepted and fills at most the position."""
    reducible = reducible_qty(st.position_qty, req.side)
    if reducible == 0:
        raise reject(
            -2022,
            f"reduce-only {req.side} would increase the {st.symbol} position ({st.position_qty})",
            client_order_id=req.client_order_id,
        )
    committed = ZERO
    for order in st.side_list(req.side):
        if order.reduce_only:
            committed = CTX.add(committed, order.remaining)
    if committed > 0 and CTX.add(committed, req.qty) > reducible:
        raise reject(
            -2022,
            f"reduce-only {req.side} of {req.qty} with {committed} already open in reduce-only orders would "
            f"close more than the {st.symbol} position ({st.position_qty})",
            client_order_id=req.client_order_id,
            open_reduce_only=str(committed),
        )


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
    `available` is computed only when the order needs margin (it may walk every symbol).

    The symbol's exposure is `max(longs, shorts, 0)` before the order and `worst` with it; its initial
    margin is that over the leverage (`margin.initial_margin`). Rounded division by the leverage is
    monotonic, so an order that does not raise the exposure cannot raise the margin either."""
    if req.reduce_only:
        return
    notional = CTX.multiply(req.qty, price)
    mine, other = _exposure_sides_of(st, req.side)
    worst = CTX.add(mine, notional)
    base = max(mine, other, ZERO)
    if worst <= base:  # it does not raise the exposure (`raises_exposure`)
        return
    before = CTX.divide(base, st.leverage)
    after = CTX.divide(worst, st.leverage)
    if after <= before:
        return
    cap = st.rules.notional_cap(st.leverage)
    if worst > cap:
        raise LeverageRejected(
            f"order would take {st.symbol} exposure to {worst:.2f} USDT, above the {cap} cap at "
            f"{st.leverage}x leverage",
            data={"client_order_id": req.client_order_id, "notional_cap": str(cap)},
        )
    needed = CTX.subtract(after, before)
    free = available()
    if needed > free:
        raise InsufficientMargin(
            f"order needs {_up(needed)} USDT initial margin at {st.leverage}x, only {free} available",
            data={
                "client_order_id": req.client_order_id,
                "required_margin": str(_up(needed)),
                "available_balance": str(free),
                "notional": str(notional),
                "leverage": st.leverage,
            },
        )


def _up(amount: Decimal) -> Decimal:
    """A margin figure rounded up to 1e-8 USDT (never shown smaller than it is)."""
    return amount.quantize(MONEY_QUANTUM, rounding=ROUND_CEILING, context=CTX)


def check_leverage(st: SymbolState, leverage: int, balance: Balance) -> None:
    """A new leverage must be an integer in 1..max, fit the position in its bracket, and be affordable."""
    top = st.rules.max_leverage
    if isinstance(leverage, bool) or not isinstance(leverage, int) or not 1 <= leverage <= top:
        raise LeverageRejected(
            f"leverage must be an integer from 1 to {top} for {st.symbol}, got {leverage!r}",
            data={"field": "leverage", "max_leverage": top},
        )
    mark = st.mark_price() or ZERO
    notional = CTX.multiply(CTX.abs(st.position_qty), mark)
    cap = st.rules.notional_cap(leverage)
    if notional > cap:
        raise LeverageRejected(
            f"the {st.symbol} position's notional {notional:.2f} USDT exceeds the {cap} cap at {leverage}x",
            data={"field": "leverage", "notional_cap": str(cap)},
        )
    extra = CTX.subtract(initial_margin(st, leverage), initial_margin(st))
    if extra > 0 and extra > balance.available:
        raise LeverageRejected(
            f"{leverage}x on {st.symbol} needs {extra:.8f} USDT more margin than is available",
            data={"field": "leverage"},
        )


# --- amend (Binance's Modify Order) -------------------------------------------------------------------

MAX_AMENDMENTS = 9_999
"""The most times one order can be amended: Binance's "one order can only be modified for less than 10000
times" (Modify Order, developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api)."""


def check_amend_shape(amend: object) -> Amend:
    """Reject amends whose fields have the wrong types before any arithmetic touches them."""
    if not isinstance(amend, Amend):
        raise FilterRejected(f"expected an Amend, got {type(amend).__name__}")
    if not isinstance(amend.side, Side):
        raise FilterRejected(f"side must be buy or sell, got {amend.side!r}", data={"field": "side"})
    if not _finite_decimal(amend.qty):
        raise FilterRejected(f"quantity must be a finite Decimal, got {amend.qty!r}", data={"field": "qty"})
    if not _finite_decimal(amend.price):
        raise FilterRejected(f"price must be a finite Decimal, got {amend.price!r}", data={"field": "price"})
    if not isinstance(amend.client_order_id, str) or not amend.client_order_id:
        raise FilterRejected("an amend names its order by client order id", data={"field": "client_order_id"})
    return amend


def amend_probe(amend: Amend, order: LiveOrder, qty: Decimal | None = None) -> OrderRequest:
    """The order as the amend would make it, as a request (`qty` defaults to the new total)."""
    return OrderRequest(
        order.symbol,
        order.side,
        amend.qty if qty is None else qty,
        amend.price,
        order.client_order_id,
        post_only=order.post_only,
        reduce_only=order.reduce_only,
    )


def check_amend(amend: Amend, order: LiveOrder, st: SymbolState) -> None:
    """What rejects an amend before anything changes, in Binance's words: the side must be the order's,
    an amend must change something (-5027 "No need to modify the order"), an order takes fewer than
    10000 amends (-5026), and "when the new quantity or price doesn't satisfy PRICE_FILTER /
    PERCENT_FILTER / LOT_SIZE, amendment will be rejected and the order will stay as it is" (the notional
    minimum too, as for a new order)."""
    cid = order.client_order_id
    if amend.side is not order.side:
        raise FilterRejected(
            f"amend of {cid} says {amend.side}, the order is a {order.side}", data={"field": "side"}
        )
    if amend.price == order.price and amend.qty == order.qty:
        raise _amend_reject(-5027, f"amend of {cid} changes neither price nor quantity", cid)
    if order.amendments >= MAX_AMENDMENTS:
        raise _amend_reject(-5026, f"{cid} was already amended {order.amendments} times: cancel it", cid)
    check_order(amend_probe(amend, order), st.rules, st.mark_price())


def check_amend_reduce_only(order: LiveOrder, remaining: Decimal, st: SymbolState) -> None:
    """A reduce-only order amended to a larger size must not, with the other open reduce-only orders on
    its side, close more than the position (-2022, as for a new one). `order` is off the book."""
    committed = ZERO
    for other in st.side_list(order.side):
        if other.reduce_only:
            committed = CTX.add(committed, other.remaining)
    reducible = reducible_qty(st.position_qty, order.side)
    if committed > 0 and CTX.add(committed, remaining) > reducible:
        raise reject(
            -2022,
            f"reduce-only {order.side} {order.client_order_id} amended to {remaining} left with {committed} "
            f"in other reduce-only orders would close more than the {st.symbol} position "
            f"({st.position_qty})",
            client_order_id=order.client_order_id,
            open_reduce_only=str(committed),
        )


def _amend_reject(code: int, message: str, client_order_id: str) -> OrderRejected:
    # -5026/-5027 concern amends only; Binance's docs list them without a short name.
    return OrderRejected(
        f"{message} (Binance {code})", data={"binance_code": code, "client_order_id": client_order_id}
    )


def raises_exposure(st: SymbolState, side: Side, notional: Decimal) -> bool:
    """True when an order of `notional` on `side` raises the symbol's exposure `max(longs, shorts, 0)`:
    its side goes beyond the other side (or 0). An order that does not needs no margin (`check_margin`)."""
    mine, other = _exposure_sides_of(st, side)
    return CTX.add(mine, notional) > max(other, ZERO)


def _exposure_sides_of(st: SymbolState, side: Side) -> tuple[Decimal, Decimal]:
    """The symbol's exposure on `side` and on the other side (`margin.exposure_sides`)."""
    longs, shorts = exposure_sides(st)
    return (longs, shorts) if side is Side.BUY else (shorts, longs)
