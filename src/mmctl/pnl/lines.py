"""The lines of a PnL report and their exact arithmetic.

Each income type of the venue's ledger adds to one line (`mmctl.pnl.income_types`): `realized`
(REALIZED_PNL), `commission` (COMMISSION), `funding` (FUNDING_FEE), `transfers` (money moved without
trading: shown apart and never counted as profit), and every other type a line of its own named after
it in lower case (`insurance_clear`). `net` is the sum of every line but `transfers`.

Sums are exact whatever the decimal context: `ExactSum` adds integers at the smallest exponent seen, so
a report over a million rows equals the ledger to the last unit. Core layer: stdlib only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from mmctl.pnl.income_types import FIXED_LINES
from mmctl.pnl.income_types import NET as NET
from mmctl.pnl.income_types import TRANSFERS as TRANSFERS
from mmctl.pnl.income_types import line_of as line_of

UNITS_EXPONENT = -8  # the store sums plain amounts as integers of 1e-8


def line_order(names: Iterable[str]) -> list[str]:
    """Report order: the fixed lines but `transfers`, the other types' lines by name, `transfers` (every
    fixed line is included, present in `names` or not; `net` is left out)."""
    others = sorted(set(names) - {*FIXED_LINES, NET})
    return [*(n for n in FIXED_LINES if n != TRANSFERS), *others, TRANSFERS]


class ExactSum:
    """A sum of Decimals kept as an integer times 10**exponent: exact in any decimal context."""

    __slots__ = ("exponent", "units")

    def __init__(self) -> None:
        self.units = 0
        self.exponent = 0

    def add_units(self, units: int, exponent: int) -> None:
        """Add `units` × 10**`exponent`."""
        if not units:
            return
        if exponent < self.exponent:
            self.units *= 10 ** (self.exponent - exponent)
            self.exponent = exponent
        self.units += units * 10 ** (exponent - self.exponent)

    def add(self, value: Decimal) -> None:
        sign, digits, exponent = value.as_tuple()
        if not isinstance(exponent, int):
            raise ValueError(f"cannot add {value}: not finite")
        units = int("".join(map(str, digits)) or "0")
        self.add_units(-units if sign else units, exponent)

    def add_sum(self, other: ExactSum) -> None:
        self.add_units(other.units, other.exponent)

    @property
    def value(self) -> Decimal:
        return Decimal(f"{self.units}E{self.exponent}")


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    total = ExactSum()
    for v in values:
        total.add(v)
    return total.value


class Lines:
    """One exact sum per report line (a whole report's, a bucket's or a bot's)."""

    __slots__ = ("sums",)

    def __init__(self) -> None:
        self.sums: dict[str, ExactSum] = {}

    def _sum(self, line: str) -> ExactSum:
        s = self.sums.get(line)
        if s is None:
            s = self.sums[line] = ExactSum()
        return s

    def add_units(self, line: str, units: int, exponent: int = UNITS_EXPONENT) -> None:
        self._sum(line).add_units(units, exponent)

    def add(self, line: str, amount: Decimal) -> None:
        self._sum(line).add(amount)

    def merge(self, other: Lines) -> None:
        for line, s in other.sums.items():
            self._sum(line).add_sum(s)

    def value(self, line: str) -> Decimal:
        s = self.sums.get(line)
        return Decimal(0) if s is None else s.value

    def net(self) -> Decimal:
        total = ExactSum()
        for line, s in self.sums.items():
            if line != TRANSFERS:
                total.add_sum(s)
        return total.value

    def names(self) -> list[str]:
        """The fixed lines and every line something was added to (zero or not), in report order."""
        return line_order(self.sums)

    def as_dict(self, names: Sequence[str] | None = None) -> dict[str, Decimal]:
        """The lines `names` (default `names()`; zeros included), then `net` (always every line's)."""
        shown = self.names() if names is None else names
        return {**{name: self.value(name) for name in shown}, NET: self.net()}


def plain(value: Decimal) -> str:
    """`value` in plain notation without trailing zeros (`-12.5`, `0`, `0.00000001`): exact."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    ds = list(digits)
    while exponent < 0 and len(ds) > 1 and ds[-1] == 0:
        ds.pop()
        exponent += 1
    if ds == [0]:
        return "0"
    return format(Decimal((sign, tuple(ds), exponent)), "f")


def plain_lines(lines: Mapping[str, Decimal]) -> dict[str, str]:
    return {k: plain(v) for k, v in lines.items()}
