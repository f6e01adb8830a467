"""Order entry on the fake venue with Binance USDⓈ-M's rules: place, amend, cancel, query, settings.

Checks run in the order Binance applies them: position side, client id, filters (-1111, -4014, -4003...),
percent price, min notional (-4164), reduce-only (-2022), open-order limit (-2025), post-only would
cross (-5022), FOK (-5021), margin (-2019). Amend follows Binance's modify rules (Modify Order, PUT
/fapi/v1/order): the order loses its queue priority; nothing to change is -5027 and the 10000th amend
-5026; filters are checked on the new values; a GTX order whose new price would cross is cancelled; a
partly filled order whose new quantity is at or below the executed quantity is cancelled; a rejected
amend leaves the order as it was; the AMENDMENT event precedes any trade a GTC amend through the book
makes.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from .errors import BinanceError
from .markets import check_notional, check_percent_price, check_price, check_qty
from .orders import Order
from .parsing import Amend, NewOrder, OrderRef
from .venue import Venue

_ALNUM = string.ascii_letters + string.digits
MAX_AMENDMENTS = 9_999  # "One order can only be modified for less than 10000 times"


def crosses(venue: Venue, symbol: str, side: str, price: Decimal) -> bool:
    """True when a limit order at `price` would take liquidity from the book."""
    book = venue.books[symbol]
    return price >= book.ask if side == "BUY" else price <= book.bid


def place(venue: Venue, key: str, req: NewOrder) -> Order:
    """Validate and book a new order; takers fill at once. Raises BinanceError on rejection."""
    spec = venue.spec(req.symbol)
    account = venue.account(key)
    _check_position_side(account.hedge_mode, req.position_side)
    if req.client_order_id is not None and any(
        o.client_order_id == req.client_order_id for o in venue.open_orders(key, req.symbol)
    ):
        raise BinanceError(-4116)
    book = venue.books[req.symbol]
    is_market = req.type == "MARKET"
    if req.price is not None:
        check_price(spec, req.price)
    check_qty(spec, req.quantity, market=is_market)
    if req.price is not None:
        check_percent_price(spec, req.price, venue.mark(req.symbol))
    exec_price = req.price if req.price is not None else (book.ask if req.side == "BUY" else book.bid)
    if not req.reduce_only:
        check_notional(spec, exec_price, req.quantity)
    amount = account.position(req.symbol).amount
    if req.reduce_only and (amount == 0 or (amount > 0) == (req.side == "BUY")):
        raise BinanceError(-2022)
    if len(venue.open_orders(key, req.symbol)) >= spec.max_num_orders:
        raise BinanceError(-2025)
    taker = is_market or crosses(venue, req.symbol, req.side, exec_price)
    if req.time_in_force == "GTX" and taker:
        raise BinanceError(-5022)
    if req.time_in_force == "FOK" and not taker:
        raise BinanceError(-5021)
    now = venue.now_ms()
    order = Order(
        order_id=venue.next_id("order"),
        client_order_id=req.client_order_id or _random_client_id(),
        account_key=key,
        symbol=req.symbol,
        side=req.side,
        type=req.type,
        time_in_force=req.time_in_force,
        price=req.price if req.price is not None else Decimal(0),
        orig_qty=req.quantity,
        reduce_only=req.reduce_only,
        time=now,
        update_time=now,
        seq=venue.next_id("seq"),
    )
    probe = replace(order, price=exec_price)  # a market order's margin is taken at the book's price
    resting = venue.resting[req.symbol]
    _check_margin(venue, key, lambda: resting.append(probe), lambda: resting.remove(probe))
    resting.remove(probe)
    venue.accept(order)
    if taker:
        venue.fill(order, order.remaining, book.ask if req.side == "BUY" else book.bid, maker=False)
    elif req.time_in_force == "IOC":
        venue.close(order, "EXPIRED")
    return order


def amend(venue: Venue, key: str, req: Amend) -> Order:
    """Modify a resting LIMIT order's price and quantity with Binance's semantics."""
    spec = venue.spec(req.symbol)
    order = find(venue, key, req.symbol, req.ref, missing=-2013)
    if not order.is_open:
        raise BinanceError(-2013)
    if order.type != "LIMIT":
        raise BinanceError(-1116)
    if req.side != order.side:
        raise BinanceError(-1130, name="side")
    if req.price == order.price and req.quantity == order.orig_qty:
        raise BinanceError(-5027)
    if order.amendments >= MAX_AMENDMENTS:
        raise BinanceError(-5026)
    check_price(spec, req.price)
    check_qty(spec, req.quantity, market=False)
    check_percent_price(spec, req.price, venue.mark(req.symbol))
    if not order.reduce_only:
        check_notional(spec, req.price, req.quantity)
    if req.quantity <= order.executed_qty:
        venue.close(order, "CANCELED")
        return order
    if crosses(venue, req.symbol, order.side, req.price) and order.time_in_force == "GTX":
        venue.close(order, "CANCELED")
        return order
    old_price, old_qty = order.price, order.orig_qty

    def apply() -> None:
        order.price, order.orig_qty = req.price, req.quantity

    def undo() -> None:
        order.price, order.orig_qty = old_price, old_qty

    _check_margin(venue, key, apply, undo)
    order.seq = venue.next_id("seq")
    order.amendments += 1
    order.update_time = venue.now_ms()
    venue.emit_order(order, "AMENDMENT")
    if crosses(venue, req.symbol, order.side, req.price):
        book = venue.books[req.symbol]
        venue.fill(order, order.remaining, book.ask if order.side == "BUY" else book.bid, maker=False)
    return order


def cancel(venue: Venue, key: str, symbol: str, ref: OrderRef) -> Order:
    """Cancel one open order (-2011 when it is unknown or no longer open)."""
    venue.spec(symbol)
    order = find(venue, key, symbol, ref, missing=-2011)
    if not order.is_open:
        raise BinanceError(-2011)
    venue.close(order, "CANCELED")
    return order


def cancel_all(venue: Venue, key: str, symbol: str) -> list[Order]:
    """Cancel every open order of the account in `symbol`."""
    venue.spec(symbol)
    orders = venue.open_orders(key, symbol)
    for o in orders:
        venue.close(o, "CANCELED")
    return orders


def find(venue: Venue, key: str, symbol: str, ref: OrderRef, *, missing: int) -> Order:
    """The account's order in `symbol` by id or client id (a client id means the latest such order)."""
    if ref.order_id is not None:
        order = venue.orders.get(ref.order_id)
        if order is None or order.account_key != key or order.symbol != symbol:
            raise BinanceError(missing)
        if ref.client_order_id is not None and order.client_order_id != ref.client_order_id:
            raise BinanceError(missing)
        return order
    matches = [
        o
        for o in venue.orders.values()
        if o.account_key == key and o.symbol == symbol and o.client_order_id == ref.client_order_id
    ]
    if not matches:
        raise BinanceError(missing)
    return max(matches, key=lambda o: (o.is_open, o.order_id))


def set_leverage(venue: Venue, key: str, symbol: str, leverage: int) -> int:
    """POST /fapi/v1/leverage (-4028 outside 1..the symbol's maximum)."""
    spec = venue.spec(symbol)
    if not 1 <= leverage <= spec.max_leverage:
        raise BinanceError(-4028, leverage=leverage)
    venue.account(key).leverage[symbol] = leverage
    return leverage


def set_margin_type(venue: Venue, key: str, symbol: str, margin_type: str) -> None:
    """POST /fapi/v1/marginType: ISOLATED or CROSSED (-4046 when already so)."""
    venue.spec(symbol)
    if margin_type not in ("ISOLATED", "CROSSED"):
        raise BinanceError(-1130, name="marginType")
    account = venue.account(key)
    isolated = margin_type == "ISOLATED"
    if isolated == (symbol in account.isolated):
        raise BinanceError(-4046)
    if venue.open_orders(key, symbol):
        raise BinanceError(-4047)
    if account.position(symbol).amount != 0:
        raise BinanceError(-4048)
    if isolated:
        account.isolated.add(symbol)
    else:
        account.isolated.discard(symbol)


def set_dual_side(venue: Venue, key: str, dual: bool) -> None:
    """POST /fapi/v1/positionSide/dual (-4059 when unchanged, -4067/-4068 with orders/positions)."""
    account = venue.account(key)
    if dual == account.hedge_mode:
        raise BinanceError(-4059)
    if venue.open_orders(key):
        raise BinanceError(-4067)
    if any(p.amount != 0 for p in account.positions.values()):
        raise BinanceError(-4068)
    account.hedge_mode = dual


def _check_position_side(hedge_mode: bool, position_side: str | None) -> None:
    if hedge_mode:
        # Hedge-mode trading is not simulated: the fake only models one-way (BOTH) positions.
        raise BinanceError(-4061)
    if position_side not in (None, "BOTH"):
        raise BinanceError(-4061)


def _check_margin(venue: Venue, key: str, apply: Callable[[], None], undo: Callable[[], None]) -> None:
    """Apply a change; if it raises the initial margin beyond what is available, undo it and raise -2019."""
    before = venue.margin(key).initial_margin
    apply()
    after = venue.margin(key)
    if after.available < 0 and after.initial_margin > before:
        undo()
        raise BinanceError(-2019)


def _random_client_id() -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(22))
