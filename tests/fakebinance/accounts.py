"""Accounts on the fake venue: wallet, one-way positions, the income ledger and own trades.

Every wallet change is recorded as an income row of the same amount (rounded to 8 decimals first), so
the ledger always sums exactly to the wallet balance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from .amounts import CTX, ZERO, divide, round8


@dataclass(slots=True)
class Position:
    """A one-way (BOTH) position: signed amount, average entry price, realized PnL so far."""

    amount: Decimal = ZERO
    entry_price: Decimal = ZERO
    accumulated_realized: Decimal = ZERO
    update_time: int = 0

    def apply(self, signed_qty: Decimal, price: Decimal) -> Decimal:
        """Book a fill of `signed_qty` at `price`; returns the realized PnL (unrounded)."""
        amt = self.amount
        if amt == 0 or (amt > 0) == (signed_qty > 0):
            total = abs(amt) + abs(signed_qty)
            cost = CTX.add(CTX.multiply(abs(amt), self.entry_price), CTX.multiply(abs(signed_qty), price))
            self.entry_price = divide(cost, total)
            self.amount = amt + signed_qty
            return ZERO
        closed = min(abs(signed_qty), abs(amt))
        direction = Decimal(1) if amt > 0 else Decimal(-1)
        realized = CTX.multiply(closed * direction, CTX.subtract(price, self.entry_price))
        self.amount = amt + signed_qty
        if self.amount == 0:
            self.entry_price = ZERO
        elif (self.amount > 0) != (amt > 0):
            self.entry_price = price
        return realized

    def unrealized(self, mark: Decimal) -> Decimal:
        """Unrealized PnL at `mark`."""
        return CTX.multiply(self.amount, CTX.subtract(mark, self.entry_price)) if self.amount else ZERO


@dataclass(frozen=True, slots=True)
class IncomeRow:
    """One row of GET /fapi/v1/income."""

    symbol: str
    income_type: str  # TRANSFER | REALIZED_PNL | COMMISSION | FUNDING_FEE | ...
    income: Decimal
    asset: str
    info: str
    time: int
    tran_id: int
    trade_id: str


@dataclass(frozen=True, slots=True)
class TradeRow:
    """One row of GET /fapi/v1/userTrades."""

    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    commission: Decimal
    realized_pnl: Decimal
    maker: bool
    time: int


@dataclass(slots=True)
class Account:
    """One API key's futures account."""

    key: str
    secret: str
    wallet: Decimal = ZERO
    maker_fee: Decimal = Decimal("0.0002")
    taker_fee: Decimal = Decimal("0.0005")
    default_leverage: int = 20
    hedge_mode: bool = False
    futures_enabled: bool = True
    ip_allowed: bool = True
    positions: dict[str, Position] = field(default_factory=dict)
    leverage: dict[str, int] = field(default_factory=dict)
    isolated: set[str] = field(default_factory=set)
    income: list[IncomeRow] = field(default_factory=list)
    trades: list[TradeRow] = field(default_factory=list)
    update_time: int = 0

    def position(self, symbol: str) -> Position:
        """The position in `symbol` (created flat on first use)."""
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = Position()
        return pos

    def leverage_of(self, symbol: str) -> int:
        """The symbol's leverage setting."""
        return self.leverage.get(symbol, self.default_leverage)

    def book_income(
        self,
        income_type: str,
        amount: Decimal,
        *,
        symbol: str,
        info: str,
        time: int,
        tran_id: int,
        trade_id: str,
    ) -> Decimal:
        """Change the wallet by `amount` (rounded to 8 decimals) and record the income row; returns it."""
        amount = round8(amount)
        self.wallet += amount
        self.update_time = time
        self.income.append(IncomeRow(symbol, income_type, amount, "USDT", info, time, tran_id, trade_id))
        return amount
