"""Integer ticks and steps (mmctl.strategies.ticks): exact conversions both ways, whatever the context."""

from __future__ import annotations

from decimal import ROUND_UP, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmctl.strategies.ticks import Grid, ceil_div

D = Decimal
INCREMENTS = ["0.1", "0.10", "0.01", "0.5", "0.25", "1", "5", "1E+1", "0.00001", "0.001"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(INCREMENTS), st.integers(-(10**15), 10**15))
def test_value_and_index_are_inverse_and_value_carries_the_increments_exponent(inc: str, k: int) -> None:
    """`value(k)` is k × increment written as `quantize(increment)` writes it, and `index` reads it
    back, remembered or not."""
    grid = Grid(D(inc))
    with localcontext() as ctx:
        ctx.prec = 60
        expected = (k * D(inc)).quantize(D(inc))
    value = grid.value(k)
    assert str(value) == str(expected)
    assert grid.index(value) == k
    assert grid.index_of_kept(value) == k
    assert grid.index_of_kept(value) == k  # from the memo


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(INCREMENTS), st.integers(-(10**9), 10**9), st.integers(1, 999))
def test_off_grid_amounts_have_no_index_and_round_to_the_neighbouring_indexes(
    inc: str, k: int, frac: int
) -> None:
    """An amount between two multiples has no index; its exact ratio to the increment lies between them."""
    grid = Grid(D(inc))
    with localcontext() as ctx:
        ctx.prec = 60
        amount = (D(k) + D(frac) / 1000) * D(inc)
    assert grid.index(amount) is None
    assert grid.index_of_kept(amount) is None
    n, d = grid.index_ratio(amount)
    assert D(n) / D(d) == D(k) + D(frac) / 1000


def test_conversions_ignore_the_threads_decimal_context() -> None:
    """A coarse, rounding-up thread context (ccxt sets its own) changes no conversion."""
    grid = Grid(D("0.01"))
    with localcontext() as ctx:
        ctx.prec, ctx.rounding = 3, ROUND_UP
        assert str(grid.value(1234567)) == "12345.67"
        assert grid.index(D("12345.67")) == 1234567


def test_a_grid_needs_a_positive_finite_increment() -> None:
    """Zero, negative and non-finite increments are refused."""
    for bad in ("0", "-0.1", "NaN", "Infinity"):
        with pytest.raises(ValueError, match="positive increment"):
            Grid(D(bad))
    assert Grid(D("0.1")).index(D("NaN")) is None


def test_ceil_div_rounds_an_exact_fraction_up() -> None:
    """`ceil_div` rounds up, negatives included, and leaves a whole quotient alone."""
    assert (ceil_div(7, 2), ceil_div(-7, 2), ceil_div(6, 2)) == (4, -3, 3)


def test_shared_grids_keep_the_increments_exponent() -> None:
    """`Grid.of` shares one grid per increment as written: 0.1 and 0.10 are two grids that write prices
    differently."""
    assert Grid.of(D("0.1")) is Grid.of(D("0.1"))
    assert str(Grid.of(D("0.1")).value(5)) == "0.5"
    assert str(Grid.of(D("0.10")).value(5)) == "0.50"
