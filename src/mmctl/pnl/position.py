"""Exact position and money arithmetic shared by the paper venue and the bots: amounts to 8 decimals,
fees, and one-way position math.

Every amount that moves the wallet (realized PnL, commission, funding) is quantized to 1e-8 USDT, like
Binance's income rows, so the wallet and the sum of the ledger stay exactly equal. All operations use
`CTX` (34 digits, half-even) rather than the thread's decimal context, which ccxt changes.

Position rule (Binance one-way mode): the entry price is the quantity-weighted average while the position
grows, stays unchanged while it shrinks, and becomes the fill price for the part of a fill that flips the
position through zero. Realized PnL is `closed qty × (fill − entry)` for a long, the negative for a short.

The entry price is kept as Binance keeps and shows it (`entryPrice` of `/fapi/v3/positionRisk` and `ep` of
ACCOUNT_UPDATE): at most 8 decimal places (the coin-margined positionRisk example shows "11707.70000003"),
trailing zeros dropped (the USDⓈ-M examples show "0.385", "22185.2", flat "0.0"). The average is rounded
to 8 places with halves away from zero (half-up): the audit of issue 9 compared the venue with Binance's
figures and found exact half-way averages 1e-8 apart under half-even. Later averages and realized PnL use
the kept value, as Binance's do.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal

from mmctl.model import ZERO, Side

CTX = Context(prec=34, rounding=ROUND_HALF_EVEN)
MONEY_QUANTUM = Decimal("0.00000001")
ENTRY_PLACES = 8  # decimal places Binance keeps in an entry price
ENTRY_QUANTUM = Decimal("0.00000001")
_HALF_UP = Context(prec=34, rounding=ROUND_HALF_UP)
_HALF_DOWN = Context(prec=34, rounding=ROUND_HALF_DOWN)
_ONE_PLACE = Decimal("0.1")


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
        return PositionChange(new_qty, _average(cost, CTX.add(held, fill_qty)), ZERO)
    closed = min(fill_qty, CTX.abs(qty))
    per_unit = CTX.subtract(price, entry) if qty > 0 else CTX.subtract(entry, price)
    realized = money(CTX.multiply(closed, per_unit))
    if new_qty == 0:
        return PositionChange(ZERO, ZERO, realized)
    if (new_qty > 0) != (qty > 0):  # flipped through zero: the rest opens at the fill price
        return PositionChange(new_qty, entry_price(price), realized)
    return PositionChange(new_qty, entry, realized)


def entry_price(value: Decimal) -> Decimal:
    """`value` as Binance keeps an entry price: 8 decimal places, halves up, trailing zeros dropped (one
    decimal kept, so `str()` reads like Binance's field: "2.102725", "90000.0")."""
    return _shown(_HALF_UP.quantize(value, ENTRY_QUANTUM))


def _average(cost: Decimal, qty: Decimal) -> Decimal:
    """cost / qty as an entry price, rounded once from the exact quotient. The 34-digit quotient rounds
    the same way unless it lands exactly on a half-way point it did not start on; then the exact
    fraction decides."""
    quotient = CTX.divide(cost, qty)
    kept = _HALF_UP.quantize(quotient, ENTRY_QUANTUM)
    if kept != _HALF_DOWN.quantize(quotient, ENTRY_QUANTUM):  # the quotient is a half-way point
        kept = _half_up_exact(cost, qty)
    return _shown(kept)


def _half_up_exact(cost: Decimal, qty: Decimal) -> Decimal:
    n1, d1 = cost.as_integer_ratio()
    n2, d2 = qty.as_integer_ratio()
    num, den = n1 * d2, d1 * n2
    if den < 0:
        num, den = -num, -den
    scaled, rest = divmod(abs(num) * 10**ENTRY_PLACES, den)
    if 2 * rest >= den:
        scaled += 1
    return Decimal(f"{'-' if num < 0 else ''}{scaled}E-{ENTRY_PLACES}")


def _shown(kept: Decimal) -> Decimal:
    """Trailing zeros dropped, at least one decimal place kept."""
    stripped = CTX.normalize(kept)
    return stripped if stripped != stripped.to_integral_value() else CTX.quantize(stripped, _ONE_PLACE)


def reducible_qty(position_qty: Decimal, side: Side) -> Decimal:
    """How much an order on `side` can fill without increasing the position (reduce-only limit)."""
    if side is Side.SELL:
        return position_qty if position_qty > 0 else ZERO
    return -position_qty if position_qty < 0 else ZERO


def unrealized_pnl(qty: Decimal, entry: Decimal, mark: Decimal) -> Decimal:
    return money(CTX.multiply(qty, CTX.subtract(mark, entry)))
