"""Integer ticks and steps: exact conversions between Decimal amounts and indexes on a market's grid.

The hot path of a bot (quote math, matching desired to live orders, the market-data hub's wake-up test)
works on integers: a price is `k` ticks, a size `k` steps. A `Grid` converts exactly in both directions,
never through the thread's decimal context (ccxt changes it): `index` reads a Decimal as its exact
integer ratio, `value` builds `k × increment` carrying the increment's exponent (`0.010`, not `1E-2`), as
the venue expects and as `Decimal.quantize(increment)` would. `ceil_div` rounds an integer fraction up.
"""

from __future__ import annotations

from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal

Ratio = tuple[int, int]  # (numerator, denominator > 0), an exact rational

_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)  # products of integers and an increment
_MEMO = 1024  # conversions remembered per grid, each way (the same prices recur all day)
_SHARED: dict[str, Grid] = {}  # by the increment as written: 0.1 and 0.10 price differently


def ratio(value: Decimal) -> Ratio:
    """`value` as an exact fraction with a positive denominator (`ValueError` if it is not finite)."""
    try:
        return value.as_integer_ratio()
    except (ValueError, OverflowError) as e:
        raise ValueError(f"not a finite amount: {value}") from e


def ceil_div(num: int, den: int) -> int:
    """ceil(num / den) for den > 0."""
    return -(-num // den)


class Grid:
    """The multiples of one increment (a tick or a step): index `k` stands for `k × increment`."""

    __slots__ = ("_index_memo", "_value_memo", "den", "increment", "num")

    def __init__(self, increment: Decimal) -> None:
        if not increment.is_finite() or increment <= 0:
            raise ValueError(f"a grid needs a positive increment, got {increment}")
        self.increment = increment
        self.num, self.den = ratio(increment)  # increment = num / den
        self._index_memo: dict[Decimal, int | None] = {}
        self._value_memo: dict[int, Decimal] = {}

    @classmethod
    def of(cls, increment: Decimal) -> Grid:
        """The grid of `increment`, shared by everyone who asks (its memos serve every bot of a market)."""
        key = str(increment)
        grid = _SHARED.get(key)
        if grid is None:
            if len(_SHARED) >= _MEMO:
                _SHARED.clear()
            grid = _SHARED[key] = cls(increment)
        return grid

    def index(self, value: Decimal) -> int | None:
        """The exact index of `value`, or None when it is not a multiple of the increment (or not finite)."""
        if not value.is_finite():
            return None
        n, d = value.as_integer_ratio()
        k, rest = divmod(n * self.den, d * self.num)
        return None if rest else k

    def index_of_kept(self, value: Decimal) -> int | None:
        """`index`, remembered: for amounts held and compared again and again (a live order's price);
        a Decimal caches its hash, so a repeated lookup costs less than the conversion. A fresh Decimal
        (a new book's price) is cheaper through `index`."""
        memo = self._index_memo
        found = memo.get(value, memo)
        if found is not memo:
            return found  # type: ignore[return-value]
        index = self.index(value)
        if len(memo) >= _MEMO:
            memo.clear()
        memo[value] = index
        return index

    def index_ratio(self, value: Decimal) -> Ratio:
        """`value / increment` as an exact fraction (for amounts that may lie off the grid)."""
        n, d = ratio(value)
        return n * self.den, d * self.num

    def value(self, index: int) -> Decimal:
        """`index × increment`, exactly, with the increment's exponent."""
        memo = self._value_memo
        found = memo.get(index)
        if found is None:
            found = _EXACT.multiply(Decimal(index), self.increment)
            if len(memo) >= _MEMO:
                memo.clear()
            memo[index] = found
        return found
