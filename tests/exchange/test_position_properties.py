"""One-way position accounting against a hand-written exact reference (fractions), on random fills.

Binance's rule: the entry price is the quantity-weighted average while the position grows, unchanged while
it shrinks, and the fill price for what remains after a flip through zero; realized PnL is the closed
quantity times the price move in the position's favour.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from mmctl.model import Side
from mmctl.pnl.position import apply_fill

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


def reference(
    qty: Fraction, entry: Fraction, side: Side, x: Fraction, p: Fraction
) -> tuple[Fraction, Fraction, Fraction]:
    """Exact Binance one-way rule: (new qty, new entry, realized)."""
    s = 1 if side is Side.BUY else -1
    if qty == 0 or (qty > 0) == (s > 0):
        return qty + s * x, (abs(qty) * entry + x * p) / (abs(qty) + x), Fraction(0)
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
    """apply_fill tracks the exact reference: qty exactly, entry to 1e-20, each realized PnL to 1e-8."""
    qty, entry = Decimal(0), Decimal(0)
    ref_qty, ref_entry = Fraction(0), Fraction(0)
    for side, steps, ticks in sequence:
        x, p = Decimal(steps) / 1000, Decimal(ticks) / 10
        change = apply_fill(qty, entry, side, x, p)
        ref_qty, ref_entry, ref_realized = reference(ref_qty, ref_entry, side, Fraction(x), Fraction(p))
        qty, entry = change.qty, change.entry_price
        assert Fraction(qty) == ref_qty
        assert abs(Fraction(entry) - ref_entry) < Fraction(1, 10**20)
        assert abs(Fraction(change.realized_pnl) - ref_realized) <= ONE_E8


@settings(max_examples=60)
@given(sequence=fills)
def test_venue_position_follows_the_reference_through_maker_fills(
    sequence: list[tuple[Side, int, int]],
) -> None:
    """Quotes filled by public trades leave the venue's position and realized PnL on the reference."""
    venue = make_venue("100000000")
    book(venue, "40000.0", "90000.0")
    ref_qty, ref_entry, ref_realized_total = Fraction(0), Fraction(0), Fraction(0)
    for side, steps, ticks in sequence:
        x, p = Decimal(steps) / 1000, Decimal(ticks) / 10
        venue.place(limit(side, str(p), str(x), post_only=False))  # inside the wide book: rests
        trade(venue, side.opposite, str(p), str(x))
        ref_qty, ref_entry, realized = reference(ref_qty, ref_entry, side, Fraction(x), Fraction(p))
        ref_realized_total += realized
    position = venue.position(BTC)
    assert Fraction(position.qty) == ref_qty
    assert abs(Fraction(position.entry_price) - ref_entry) < Fraction(1, 10**20)
    realized_rows = sum(Fraction(r.amount) for r in venue.wallet.rows if r.type == "REALIZED_PNL")
    assert abs(realized_rows - ref_realized_total) <= ONE_E8 * len(sequence)
