"""One-way position accounting against a hand-written exact reference (fractions), on random fills.

Binance's rule: the entry price is the quantity-weighted average while the position grows (kept at 8
decimal places, half-up, as `/fapi/v3/positionRisk` reports it), unchanged while it shrinks, and the fill
price for what remains after a flip through zero; realized PnL is the closed quantity times the price move
from that entry price in the position's favour.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmctl.model import Side
from mmctl.pnl.position import apply_fill, entry_price

from .builders import BTC, book, limit, make_venue, trade

ONE_E8 = Fraction(1, 10**8)

fills = st.lists(
    st.tuples(
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(min_value=2, max_value=40),  # qty in 0.001 steps (≥ the 100 USDT minimum)
        st.integers(min_value=500_000, max_value=700_000),  # price in 0.1 ticks
    ),
    min_size=1,
    max_size=40,
)


def half_up_8(value: Fraction) -> Fraction:
    """A positive price rounded to 8 decimal places, halves away from zero."""
    return Fraction(math.floor(value * 10**8 + Fraction(1, 2)), 10**8)


def reference(
    qty: Fraction, entry: Fraction, side: Side, x: Fraction, p: Fraction
) -> tuple[Fraction, Fraction, Fraction]:
    """Exact Binance one-way rule: (new qty, new entry, realized)."""
    s = 1 if side is Side.BUY else -1
    if qty == 0 or (qty > 0) == (s > 0):
        return qty + s * x, half_up_8((abs(qty) * entry + x * p) / (abs(qty) + x)), Fraction(0)
    closed = min(x, abs(qty))
    realized = closed * (p - entry) * (1 if qty > 0 else -1)
    new_qty = qty + s * x
    if new_qty == 0:
        return Fraction(0), Fraction(0), realized
    if (new_qty > 0) != (qty > 0):
        return new_qty, p, realized
    return new_qty, entry, realized


@settings(max_examples=150)
@given(sequence=fills)
def test_entry_price_and_realized_pnl_match_the_reference(sequence: list[tuple[Side, int, int]]) -> None:
    """apply_fill tracks the exact reference: qty and entry exactly, each realized PnL to 1e-8."""
    qty, entry = Decimal(0), Decimal(0)
    ref_qty, ref_entry = Fraction(0), Fraction(0)
    for side, steps, ticks in sequence:
        x, p = Decimal(steps) / 1000, Decimal(ticks) / 10
        change = apply_fill(qty, entry, side, x, p)
        ref_qty, ref_entry, ref_realized = reference(ref_qty, ref_entry, side, Fraction(x), Fraction(p))
        qty, entry = change.qty, change.entry_price
        assert Fraction(qty) == ref_qty
        assert Fraction(entry) == ref_entry
        assert abs(Fraction(change.realized_pnl) - ref_realized) <= ONE_E8


@settings(max_examples=60)
@given(sequence=fills)
def test_venue_position_follows_the_reference_through_maker_fills(
    sequence: list[tuple[Side, int, int]],
) -> None:
    """Quotes filled by public trades leave the venue's position and realized PnL on the reference."""
    venue = make_venue("100000000")
    ref_qty, ref_entry, ref_realized_total = Fraction(0), Fraction(0), Fraction(0)
    for side, steps, ticks in sequence:
        x, p = Decimal(steps) / 1000, Decimal(ticks) / 10
        book(venue, str(p - 1000), str(p + 1000))  # the mark at p keeps the price inside PERCENT_PRICE
        venue.place(limit(side, str(p), str(x), post_only=False))  # inside the wide book: rests
        trade(venue, side.opposite, str(p), str(x))
        ref_qty, ref_entry, realized = reference(ref_qty, ref_entry, side, Fraction(x), Fraction(p))
        ref_realized_total += realized
    position = venue.position(BTC)
    assert Fraction(position.qty) == ref_qty
    assert Fraction(position.entry_price) == ref_entry
    realized_rows = sum(Fraction(r.amount) for r in venue.wallet.rows if r.type == "REALIZED_PNL")
    assert abs(realized_rows - ref_realized_total) <= ONE_E8 * len(sequence)


def test_entry_price_is_shown_as_binance_shows_it() -> None:
    """An average that passed through 2.10266667 prints as 2.102725, never with 34 significant digits."""
    qty, entry = Decimal(0), Decimal(0)
    for fill_qty, price in (("1", "2.1026"), ("2", "2.1027"), ("1", "2.1029")):
        change = apply_fill(qty, entry, Side.BUY, Decimal(fill_qty), Decimal(price))
        qty, entry = change.qty, change.entry_price
    assert str(entry) == "2.102725"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("2.100000025", "2.10000003"),  # a half-way case rounds up, not to even
        ("2.100000035", "2.10000004"),
        ("2.1000000249999", "2.10000002"),
        ("90000", "90000.0"),
        ("0.385077", "0.385077"),
        ("58039.50000000", "58039.5"),
    ],
)
def test_entry_price_keeps_eight_decimals_rounded_half_up(raw: str, shown: str) -> None:
    """entry_price() rounds to 8 decimals with halves up and drops trailing zeros (one decimal kept)."""
    assert str(entry_price(Decimal(raw))) == shown


def test_half_way_average_rounds_up_through_apply_fill() -> None:
    """Buying 1 at 2.10000002 and 1 at 2.10000003 averages 2.100000025, kept as 2.10000003."""
    first = apply_fill(Decimal(0), Decimal(0), Side.BUY, Decimal(1), Decimal("2.10000002"))
    second = apply_fill(first.qty, first.entry_price, Side.BUY, Decimal(1), Decimal("2.10000003"))
    assert second.entry_price == Decimal("2.10000003")


def test_a_quotient_rounded_onto_a_half_way_point_is_decided_exactly() -> None:
    """An average just under a half-way point (its 34-digit quotient lands on the tie) rounds down."""
    just_under = Decimal("1.000000004999999999999999999999999")  # cost 3.000000014999…9 over 3 units
    change = apply_fill(Decimal(1), just_under, Side.BUY, Decimal(2), Decimal("1.000000005"))
    assert change.entry_price == Decimal("1.0")
    assert str(change.entry_price) == "1.0"
