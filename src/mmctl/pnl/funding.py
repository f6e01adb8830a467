"""Attributing one funding payment of an account to the bots quoting that symbol on it.

The venue keeps one net position per account and symbol and charges funding on it; several bots (and
perhaps a position opened by hand) make up that net. Each bot's share is the payment times its own
position over the account's position at the funding time; what no bot holds is `unattributed`.

Exact whatever the decimal context: the arithmetic runs on integers in units of the payment's own last
digit (at least 1e-8), on the payment's size (its sign is applied last, so negating a payment negates
every share). Each share is the floor of its exact value; the units the floors leave over go one each
to the bots with the largest remainders, ties to the bot whose name sorts first. The bots
together get their exact total rounded half-even, so `sum(shares) + unattributed == amount` always, and
with no position besides the bots' the whole payment is attributed.

Core layer: pure, stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from math import floor

MIN_EXPONENT = -8  # shares are carried at least to 1e-8 (Binance's income precision)


@dataclass(frozen=True, slots=True)
class FundingSplit:
    """One payment split: each bot's share and the rest; `sum(shares) + unattributed == amount`."""

    amount: Decimal
    shares: Mapping[str, Decimal] = field(default_factory=dict)
    unattributed: Decimal = Decimal(0)


def allocate_funding(
    amount: Decimal, positions: Mapping[str, Decimal], account_qty: Decimal | None = None
) -> FundingSplit:
    """Split `amount` over the bots in `positions` (bot name → its signed position at the funding time).

    `account_qty` is the account's net position on the symbol at that time; None means the bots' sum (no
    position besides theirs). A bot with a position against the net gets a share of the opposite sign,
    as it would have received funding had it held its position alone. With a zero account position
    nothing can be attributed."""
    exponent = min(_exponent(amount), MIN_EXPONENT)
    signed = _to_units(amount, exponent)
    sign, units = (-1 if signed < 0 else 1), abs(signed)  # split the size: negating the payment negates
    held = {name: Fraction(q) for name, q in positions.items() if q}
    total = sum(held.values(), Fraction(0))
    divisor = total if account_qty is None else Fraction(account_qty)
    if not held or divisor == 0:
        return FundingSplit(amount, {name: Decimal(0) for name in positions}, amount)
    exact = {name: units * q / divisor for name, q in held.items()}
    floors = {name: floor(v) for name, v in exact.items()}
    target = round(sum(exact.values(), Fraction(0)))  # Fraction rounds half to even
    spare = target - sum(floors.values())  # 0 <= spare <= number of bots (see the module docstring)
    by_remainder = sorted(exact, key=lambda name: (-(exact[name] - floors[name]), name))
    for name in by_remainder[:spare]:
        floors[name] += 1
    shares = {name: _from_units(sign * floors.get(name, 0), exponent) for name in positions}
    return FundingSplit(amount, shares, _from_units(sign * (units - target), exponent))


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):
        raise ValueError(f"funding amount must be finite, got {value}")
    return exponent


def _to_units(value: Decimal, exponent: int) -> int:
    sign, digits, own = value.as_tuple()
    assert isinstance(own, int)
    magnitude = int("".join(map(str, digits)) or "0") * int(10 ** (own - exponent))  # own >= exponent
    return -magnitude if sign else magnitude


def _from_units(units: int, exponent: int) -> Decimal:
    """`units` × 10**exponent, built from a string: exact in any decimal context."""
    return Decimal(f"{units}E{exponent}")
