"""Side-aware rounding to a market's tick and step, and the venue's order filters, as pure functions.

Bids round down to the tick and asks round up (a rounded quote never moves toward the other side);
sizes round down to the step. Rounding is explicit in every operation: ccxt changes the thread's
decimal context, so nothing here relies on it. Used by strategies and by every adapter.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from mmctl.errors import FilterRejected
from mmctl.model import MarketRules, OrderRequest, OrderType, Side


def floor_to(value: Decimal, increment: Decimal) -> Decimal:
    """Largest multiple of `increment` <= value."""
    return (value / increment).to_integral_value(rounding=ROUND_FLOOR) * increment


def ceil_to(value: Decimal, increment: Decimal) -> Decimal:
    """Smallest multiple of `increment` >= value."""
    return (value / increment).to_integral_value(rounding=ROUND_CEILING) * increment


def round_price(price: Decimal, side: Side, tick: Decimal) -> Decimal:
    """Bids down, asks up, to the tick grid."""
    return floor_to(price, tick) if side is Side.BUY else ceil_to(price, tick)


def round_qty(qty: Decimal, step: Decimal) -> Decimal:
    """Sizes down to the step grid."""
    return floor_to(qty, step)


def on_grid(value: Decimal, increment: Decimal) -> bool:
    return value % increment == 0


def meets_minimums(price: Decimal, qty: Decimal, rules: MarketRules) -> bool:
    """True when the size is at least the minimum quantity and the notional at least the minimum."""
    return qty >= rules.min_qty and price * qty >= rules.min_notional


def min_qty_for(price: Decimal, rules: MarketRules) -> Decimal:
    """The smallest on-step size that satisfies both minimums at `price`."""
    by_notional = ceil_to(rules.min_notional / price, rules.step_size)
    return max(rules.min_qty, by_notional)


def check_order(req: OrderRequest, rules: MarketRules, reference_price: Decimal | None = None) -> None:
    """Raise `FilterRejected` naming the broken rule if `req` breaks a market filter.

    Market orders have no price; their notional is checked at `reference_price` when one is given.
    Reduce-only orders are exempt from the notional minimum, as on Binance (-4164 says "unless you choose
    reduce only"), so a small remainder of a position can always be closed."""
    if req.qty <= 0:
        raise FilterRejected(f"quantity must be positive, got {req.qty}", data={"field": "qty"})
    if not on_grid(req.qty, rules.step_size):
        raise FilterRejected(
            f"quantity {req.qty} is not a multiple of the step size {rules.step_size} for {rules.symbol}",
            data={"field": "qty", "step_size": str(rules.step_size)},
        )
    if req.qty < rules.min_qty:
        raise FilterRejected(
            f"quantity {req.qty} is below the minimum {rules.min_qty} for {rules.symbol}",
            data={"field": "qty", "min_qty": str(rules.min_qty)},
        )
    max_qty = rules.market_max_qty if req.type is OrderType.MARKET and rules.market_max_qty else rules.max_qty
    if req.qty > max_qty:
        raise FilterRejected(
            f"quantity {req.qty} is above the maximum {max_qty} for {rules.symbol}",
            data={"field": "qty", "max_qty": str(max_qty)},
        )
    price = req.price
    if req.type is OrderType.LIMIT:
        if price is None or price <= 0:
            raise FilterRejected("a limit order needs a positive price", data={"field": "price"})
        if not on_grid(price, rules.tick_size):
            raise FilterRejected(
                f"price {price} is not a multiple of the tick size {rules.tick_size} for {rules.symbol}",
                data={"field": "price", "tick_size": str(rules.tick_size)},
            )
    else:
        price = reference_price
    if price is not None and not req.reduce_only and price * req.qty < rules.min_notional:
        raise FilterRejected(
            f"order notional {price * req.qty} is below the minimum {rules.min_notional} for {rules.symbol}",
            data={"field": "notional", "min_notional": str(rules.min_notional)},
        )
