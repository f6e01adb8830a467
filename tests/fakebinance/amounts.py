"""Decimal parsing and Binance-style formatting for the fake server (exact in any decimal context)."""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Context, Decimal, InvalidOperation

CTX = Context(prec=40, rounding=ROUND_HALF_EVEN)
"""The one context every division and quantize in the fake uses (ccxt changes the thread's default)."""

ZERO = Decimal(0)
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


def parse_decimal(text: object) -> Decimal | None:
    """A finite Decimal from a request parameter, or None when it is not a number."""
    if isinstance(text, bool) or text is None:
        return None
    raw = str(text).strip()
    if not _NUMBER.match(raw):
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def decimals_of(value: Decimal) -> int:
    """How many digits `value` has after the point (trailing zeros count: "0.010" has 3)."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def fixed(value: Decimal, places: int) -> str:
    """`value` with exactly `places` decimals, rounded half-even, as Binance prints prices and sizes."""
    quantum = Decimal(1).scaleb(-places)
    return format(value.quantize(quantum, rounding=ROUND_HALF_EVEN, context=CTX), "f")


def money(value: Decimal) -> str:
    """A balance or PnL figure with Binance's 8 decimals."""
    return fixed(value, 8)


def round8(value: Decimal) -> Decimal:
    """`value` rounded half-even to 8 decimals (the unit of every wallet change)."""
    return value.quantize(Decimal("1e-8"), rounding=ROUND_HALF_EVEN, context=CTX)


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    """`value` rounded down to a multiple of `step`."""
    return (CTX.divide_int(value, step) * step).quantize(step, rounding=ROUND_DOWN, context=CTX)


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """True when `value` is an exact multiple of `step`."""
    return CTX.remainder(value, step) == 0


def divide(a: Decimal, b: Decimal) -> Decimal:
    """`a / b` in the fake's own context."""
    return CTX.divide(a, b)


def avg_price(cum_quote: Decimal, executed: Decimal, places: int) -> str:
    """The average fill price string: at least `places` decimals, up to 8 when the average needs them."""
    if executed == 0:
        return fixed(ZERO, places)
    avg = divide(cum_quote, executed).quantize(Decimal("1e-8"), rounding=ROUND_HALF_EVEN, context=CTX)
    text = format(avg.normalize(CTX), "f")
    return fixed(avg, max(places, decimals_of(Decimal(text))))
