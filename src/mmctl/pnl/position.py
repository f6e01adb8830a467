"""Exact position and money arithmetic shared by the paper venue and the bots: amounts to 8 decimals,
fees, and one-way position math.

Every amount that moves the wallet (realized PnL, commission, funding) is quantized to 1e-8 USDT, like
Binance's income rows, so the wallet and the sum of the ledger stay exactly equal. All operations use
`CTX` (34 digits, half-even) rather than the thread's decimal context, which ccxt changes.

Position rule (Binance one-way mode): the entry price is the quantity-weighted average while the position
grows, stays unchanged while it shrinks, and becomes the fill price for the part of a fill that flips the
position through zero. Realized PnL is `closed qty × (fill − entry)` for a long, the negative for a short.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal

from mmctl.model import ZERO, Side

CTX = Context(prec=34, rounding=ROUND_HALF_EVEN)
MONEY_QUANTUM = Decimal("0.00000001")


def money(amount: Decimal) -> Decimal:
    """`amount` rounded half-even to 1e-8, the precision of every wallet movement."""
    return amount.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN, context=CTX)


def fee_for(price: Decimal, qty: Decimal, rate: Decimal) -> Decimal:
    """Commission of a fill (positive = paid; a negative maker rate is a rebate)."""
    return money(CTX.multiply(CTX.multiply(price, qty), rate))


def funding_payment(position_qty: Decimal, mark: Decimal, rate: Decimal) -> Decimal:
    """Wallet change from one funding settlement: longs pay a positive rate, shorts receive it."""
    return money(CTX.minus(CTX.multiply(CTX.multiply(position_qty, mark), rate)))


@dataclass(frozen=True, slots=True)
class PositionChange:
    """A position after a fill, and the PnL the fill realized (fees excluded, quantized)."""

    qty: Decimal
    entry_price: Decimal
    realized_pnl: Decimal


def apply_fill(qty: Decimal, entry: Decimal, side: Side, fill_qty: Decimal, price: Decimal) -> PositionChange:
    """The one-way position after a fill of `fill_qty` on `side` at `price` (see module docstring)."""
    signed_fill = fill_qty if side is Side.BUY else -fill_qty
    new_qty = CTX.add(qty, signed_fill)
    if qty == 0 or (qty > 0) == (side is Side.BUY):
        held = CTX.abs(qty)
        cost = CTX.add(CTX.multiply(held, entry), CTX.multiply(fill_qty, price))
        return PositionChange(new_qty, CTX.divide(cost, CTX.add(held, fill_qty)), ZERO)
    closed = min(fill_qty, CTX.abs(qty))
    per_unit = CTX.subtract(price, entry) if qty > 0 else CTX.subtract(entry, price)
    realized = money(CTX.multiply(closed, per_unit))
    if new_qty == 0:
        return PositionChange(ZERO, ZERO, realized)
    if (new_qty > 0) != (qty > 0):  # flipped through zero: the rest opens at the fill price
        return PositionChange(new_qty, price, realized)
    return PositionChange(new_qty, entry, realized)


def reducible_qty(position_qty: Decimal, side: Side) -> Decimal:
    """How much an order on `side` can fill without increasing the position (reduce-only limit)."""
    if side is Side.SELL:
        return position_qty if position_qty > 0 else ZERO
    return -position_qty if position_qty < 0 else ZERO


def unrealized_pnl(qty: Decimal, entry: Decimal, mark: Decimal) -> Decimal:
    return money(CTX.multiply(qty, CTX.subtract(mark, entry)))
