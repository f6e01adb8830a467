"""Rounding and filter checks in `mmctl.exchange.rules` are exact whatever the thread's decimal context.

ccxt changes the thread's context (rounding, and callers may lower the precision or set traps). Every
function is run inside a random context and compared with an exact reference computed with fractions
outside it.
"""

from __future__ import annotations

import decimal
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmctl.errors import FilterRejected
from mmctl.exchange.paper import BUILTIN_MARKETS, builtin_markets
from mmctl.exchange.rules import (
    ceil_to,
    check_order,
    floor_to,
    meets_minimums,
    min_qty_for,
    on_grid,
    round_price,
    round_qty,
)
from mmctl.model import MarketRules, OrderRequest, Side

MARKETS = list(builtin_markets(Decimal("0.0002"), Decimal("0.0005")).values())
INCREMENTS = sorted(
    {s.tick_size for s in BUILTIN_MARKETS}
    | {s.step_size for s in BUILTIN_MARKETS}
    | {Decimal("0.25"), Decimal("5"), Decimal("1E+1"), Decimal("0.000000001")}
)
ROUNDINGS = [
    decimal.ROUND_CEILING,
    decimal.ROUND_DOWN,
    decimal.ROUND_FLOOR,
    decimal.ROUND_HALF_DOWN,
    decimal.ROUND_HALF_EVEN,
    decimal.ROUND_HALF_UP,
    decimal.ROUND_UP,
    decimal.ROUND_05UP,
]
SIGNALS = [
    decimal.Clamped,
    decimal.DivisionByZero,
    decimal.Inexact,
    decimal.InvalidOperation,
    decimal.Overflow,
    decimal.Rounded,
    decimal.Subnormal,
    decimal.Underflow,
    decimal.FloatOperation,
]


@st.composite
def contexts(draw: st.DrawFn) -> decimal.Context:
    """A hostile thread context: low or high precision, any rounding, any traps, narrow exponents."""
    traps = draw(st.lists(st.sampled_from(SIGNALS), unique=True))
    return decimal.Context(
        prec=draw(st.integers(min_value=1, max_value=60)),
        rounding=draw(st.sampled_from(ROUNDINGS)),
        Emax=draw(st.sampled_from([6, 99, 999999])),
        Emin=draw(st.sampled_from([-6, -99, -999999])),
        capitals=1,
        clamp=draw(st.integers(min_value=0, max_value=1)),
        traps=traps,
    )


values = st.decimals(min_value=Decimal("-10000000"), max_value=Decimal("10000000"), places=30).filter(
    lambda d: d.is_finite()
)
positive = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("5000000"), places=12)


def ref_floor(value: Decimal, inc: Decimal) -> Fraction:
    return math.floor(Fraction(value) / Fraction(inc)) * Fraction(inc)


def ref_ceil(value: Decimal, inc: Decimal) -> Fraction:
    return math.ceil(Fraction(value) / Fraction(inc)) * Fraction(inc)


def test_the_audit_case_rounds_down_in_the_default_context() -> None:
    """round_price(90000.09999999999999999999999999, BUY, 0.1) is 90000.0, not 90000.1 (division rounding)."""
    price = Decimal("90000.09999999999999999999999999")
    assert round_price(price, Side.BUY, Decimal("0.1")) == Decimal("90000.0")
    assert round_price(price, Side.SELL, Decimal("0.1")) == Decimal("90000.1")


@settings(max_examples=300, deadline=None)
@given(ctx=contexts(), value=values, inc=st.sampled_from(INCREMENTS))
def test_floor_and_ceil_are_exact_in_any_context(ctx: decimal.Context, value: Decimal, inc: Decimal) -> None:
    """floor_to/ceil_to/round_price/round_qty equal the exact multiples, keeping the increment's exponent."""
    with decimal.localcontext(ctx):
        down, up = floor_to(value, inc), ceil_to(value, inc)
        bid, ask = round_price(value, Side.BUY, inc), round_price(value, Side.SELL, inc)
        qty = round_qty(value, inc)
        grid = on_grid(value, inc)
    assert (Fraction(down), Fraction(up)) == (ref_floor(value, inc), ref_ceil(value, inc))
    assert (bid, ask, qty) == (down, up, down)
    assert down.as_tuple().exponent == inc.as_tuple().exponent
    assert grid == (Fraction(value) % Fraction(inc) == 0)


@settings(max_examples=200, deadline=None)
@given(ctx=contexts(), rules=st.sampled_from(MARKETS), price=positive, qty=positive)
def test_notional_checks_are_exact_in_any_context(
    ctx: decimal.Context, rules: MarketRules, price: Decimal, qty: Decimal
) -> None:
    """meets_minimums and min_qty_for agree with exact fractions inside any context."""
    with decimal.localcontext(ctx):
        meets = meets_minimums(price, qty, rules)
        smallest = min_qty_for(price, rules)
    exact = Fraction(qty) >= Fraction(rules.min_qty) and Fraction(price) * Fraction(qty) >= Fraction(
        rules.min_notional
    )
    assert meets == exact
    by_notional = math.ceil(Fraction(rules.min_notional) / Fraction(price) / Fraction(rules.step_size))
    assert Fraction(smallest) == max(Fraction(rules.min_qty), by_notional * Fraction(rules.step_size))


@settings(max_examples=200, deadline=None)
@given(ctx=contexts(), rules=st.sampled_from(MARKETS), price=positive, qty=positive)
def test_check_order_gives_the_same_verdict_in_any_context(
    ctx: decimal.Context, rules: MarketRules, price: Decimal, qty: Decimal
) -> None:
    """check_order accepts or rejects the same rounded order in a hostile context as in a sane one."""
    request = OrderRequest(
        rules.symbol,
        Side.BUY,
        round_qty(qty, rules.step_size),
        max(round_price(price, Side.BUY, rules.tick_size), rules.tick_size),
        "x",
    )

    def verdict() -> str | None:
        try:
            check_order(request, rules)
        except FilterRejected as e:
            return str(e)
        return None

    expected = verdict()
    with decimal.localcontext(ctx):
        assert verdict() == expected


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_non_finite_values_are_refused(bad: Decimal) -> None:
    """Rounding a non-finite value is a caller error, reported as ValueError."""
    with pytest.raises(ValueError, match="finite"):
        floor_to(bad, Decimal("0.1"))
    with pytest.raises(ValueError, match="finite"):
        floor_to(Decimal("1"), bad)
