"""Side-aware rounding to a market's tick and step, and the venue's order filters, as pure functions.

Bids round down to the tick and asks round up (a rounded quote never moves toward the other side);
sizes round down to the step. Every result is exact whatever the thread's decimal context (ccxt changes
it; callers may lower its precision or set traps): every operation runs in `EXACT`, whose precision is so
large that integer division, remainders, sums and products never round. Used by strategies and by every
adapter.

The filters follow Binance USDⓈ-M's exchangeInfo filters ("Filters" in
developers.binance.com/docs/derivatives/usds-margined-futures/common-definition): LOT_SIZE and
MARKET_LOT_SIZE, PRICE_FILTER (tick, minPrice, maxPrice), PERCENT_PRICE (a buy's price <= mark ×
multiplierUp, a sell's >= mark × multiplierDown) and MIN_NOTIONAL ("since MARKET orders have no price,
the mark price is used"). Each failure is the error `mmctl.exchange.rejects` maps Binance's code to
(`FilterRejected`), with the code in its message and in `data["binance_code"]`.
"""

from __future__ import annotations

from decimal import (
    MAX_EMAX,
    MAX_PREC,
    MIN_EMIN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)

from mmctl.errors import FilterRejected
from mmctl.exchange.rejects import reject
from mmctl.model import ZERO, MarketRules, OrderRequest, OrderType, Side

EXACT = Context(
    prec=MAX_PREC,
    rounding=ROUND_HALF_EVEN,
    Emax=MAX_EMAX,
    Emin=MIN_EMIN,
    capitals=1,
    clamp=0,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
"""Exact for sums, products, `divmod` and `remainder` of finite Decimals. Never use it for `/`: a
non-terminating quotient would be computed to MAX_PREC digits."""


def floor_to(value: Decimal, increment: Decimal) -> Decimal:
    """Largest multiple of `increment` <= value (with the increment's exponent)."""
    quotient, rest = EXACT.divmod(_finite(value), _positive(increment))
    if rest < 0:
        quotient = EXACT.subtract(quotient, 1)
    return EXACT.multiply(quotient, increment)


def ceil_to(value: Decimal, increment: Decimal) -> Decimal:
    """Smallest multiple of `increment` >= value (with the increment's exponent)."""
    quotient, rest = EXACT.divmod(_finite(value), _positive(increment))
    if rest > 0:
        quotient = EXACT.add(quotient, 1)
    return EXACT.multiply(quotient, increment)


def round_price(price: Decimal, side: Side, tick: Decimal) -> Decimal:
    """Bids down, asks up, to the tick grid."""
    return floor_to(price, tick) if side is Side.BUY else ceil_to(price, tick)


def round_qty(qty: Decimal, step: Decimal) -> Decimal:
    """Sizes down to the step grid."""
    return floor_to(qty, step)


def on_grid(value: Decimal, increment: Decimal) -> bool:
    """True when `value` is an exact multiple of `increment` (finite, non-zero)."""
    try:
        return EXACT.remainder(value, increment) == 0
    except (InvalidOperation, TypeError) as e:
        raise ValueError(f"cannot test {value!r} against the increment {increment!r}") from e


def notional(price: Decimal, qty: Decimal) -> Decimal:
    """price × qty, exactly."""
    return EXACT.multiply(price, qty)


def meets_minimums(price: Decimal, qty: Decimal, rules: MarketRules) -> bool:
    """True when the size is at least the minimum quantity and the notional at least the minimum."""
    return qty >= rules.min_qty and notional(price, qty) >= rules.min_notional


def min_qty_for(price: Decimal, rules: MarketRules) -> Decimal:
    """The smallest on-step size that satisfies both minimums at `price` (> 0)."""
    step = rules.step_size
    quotient, rest = EXACT.divmod(rules.min_notional, _positive(EXACT.multiply(_finite(price), step)))
    if rest > 0:
        quotient = EXACT.add(quotient, 1)
    return max(rules.min_qty, EXACT.multiply(quotient, step))


def check_order(req: OrderRequest, rules: MarketRules, mark_price: Decimal | None = None) -> None:
    """Raise `FilterRejected` naming the broken rule if `req` breaks a market filter.

    `mark_price` (when known) prices a market order's notional and bounds a limit order's price
    (PERCENT_PRICE). Reduce-only orders are exempt from the notional minimum, as on Binance (-4164 says
    "unless you choose reduce only"), so a small remainder of a position can always be closed."""
    _check_qty(req, rules)
    price = req.price
    if req.type is OrderType.LIMIT:
        if price is None or price <= 0:
            raise FilterRejected("a limit order needs a positive price", data={"field": "price"})
        _check_price(req.side, price, rules, mark_price)
    else:
        price = mark_price
    if price is not None and not req.reduce_only and notional(price, req.qty) < rules.min_notional:
        raise reject(
            -4164,
            f"order notional {notional(price, req.qty)} is below the minimum {rules.min_notional} for "
            f"{rules.symbol}",
            field="notional",
            min_notional=str(rules.min_notional),
        )


def percent_price_bound(side: Side, mark_price: Decimal, rules: MarketRules) -> Decimal | None:
    """PERCENT_PRICE's limit for `side` at `mark_price`: a buy's highest price, a sell's lowest (None if
    the filter is off)."""
    multiplier = rules.multiplier_up if side is Side.BUY else rules.multiplier_down
    if multiplier <= 0:
        return None
    return EXACT.multiply(mark_price, multiplier)


def within_percent_price(side: Side, price: Decimal, mark_price: Decimal, rules: MarketRules) -> bool:
    bound = percent_price_bound(side, mark_price, rules)
    if bound is None:
        return True
    return price <= bound if side is Side.BUY else price >= bound


def _check_qty(req: OrderRequest, rules: MarketRules) -> None:
    if req.qty <= 0:
        raise reject(-4003, f"quantity must be positive, got {req.qty}", field="qty")
    if not on_grid(req.qty, rules.step_size):
        raise reject(
            -4023,
            f"quantity {req.qty} is not a multiple of the step size {rules.step_size} for {rules.symbol}",
            field="qty",
            step_size=str(rules.step_size),
        )
    if req.qty < rules.min_qty:
        raise reject(
            -4004,
            f"quantity {req.qty} is below the minimum {rules.min_qty} for {rules.symbol}",
            field="qty",
            min_qty=str(rules.min_qty),
        )
    max_qty = rules.market_max_qty if req.type is OrderType.MARKET and rules.market_max_qty else rules.max_qty
    if req.qty > max_qty:
        raise reject(
            -4005,
            f"quantity {req.qty} is above the maximum {max_qty} for {rules.symbol}",
            field="qty",
            max_qty=str(max_qty),
        )


def _check_price(side: Side, price: Decimal, rules: MarketRules, mark_price: Decimal | None) -> None:
    if not on_grid(price, rules.tick_size):
        raise reject(
            -4014,
            f"price {price} is not a multiple of the tick size {rules.tick_size} for {rules.symbol}",
            field="price",
            tick_size=str(rules.tick_size),
        )
    if rules.min_price > 0 and price < rules.min_price:
        raise reject(
            -4013,
            f"price {price} is below the minimum price {rules.min_price} for {rules.symbol}",
            field="price",
            min_price=str(rules.min_price),
        )
    if rules.max_price > 0 and price > rules.max_price:
        raise reject(
            -4002,
            f"price {price} is above the maximum price {rules.max_price} for {rules.symbol}",
            field="price",
            max_price=str(rules.max_price),
        )
    if mark_price is None or within_percent_price(side, price, mark_price, rules):
        return
    bound = percent_price_bound(side, mark_price, rules)
    if side is Side.BUY:
        code, what = -4016, f"buy price {price} is above the mark price cap {bound}"
    else:
        code, what = -4024, f"sell price {price} is below the mark price floor {bound}"
    raise reject(
        code, f"{what} for {rules.symbol}", field="price", limit=str(bound), mark_price=str(mark_price)
    )


def _finite(value: Decimal) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"expected a finite Decimal, got {value!r}")
    return value


def _positive(value: Decimal) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite() or value <= ZERO:
        raise ValueError(f"expected a positive finite Decimal, got {value!r}")
    return value
