"""Cross-margin figures of an account: initial margin of positions and orders, maintenance, available.

Open orders reserve margin as Binance does in one-way mode: per symbol, the larger of the long and the
short worst case (position notional plus the orders that would extend it) divided by the leverage.
Reduce-only orders reserve nothing. The same worst case is the exposure a leverage change is checked
against: above the notional cap of the new leverage's bracket Binance answers -2027.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from .accounts import Account
from .amounts import CTX, ZERO, divide
from .markets import SymbolSpec
from .orders import Order


@dataclass(frozen=True, slots=True)
class SymbolMargin:
    """One symbol's contribution to the account's margin."""

    symbol: str
    notional: Decimal  # signed position notional at mark
    unrealized: Decimal
    position_im: Decimal
    order_im: Decimal
    maint: Decimal
    bids_notional: Decimal
    asks_notional: Decimal

    @property
    def exposure(self) -> Decimal:
        """The largest position the symbol could reach: the position notional plus the open orders that
        would extend it, on the worse side (what a leverage bracket's notional cap must cover)."""
        return max(ZERO, self.notional + self.bids_notional, -self.notional + self.asks_notional)


@dataclass(frozen=True, slots=True)
class MarginSummary:
    """The account-wide figures GET /fapi/v3/account reports."""

    wallet: Decimal
    symbols: dict[str, SymbolMargin]

    @property
    def unrealized(self) -> Decimal:
        return sum((s.unrealized for s in self.symbols.values()), ZERO)

    @property
    def position_im(self) -> Decimal:
        return sum((s.position_im for s in self.symbols.values()), ZERO)

    @property
    def order_im(self) -> Decimal:
        return sum((s.order_im for s in self.symbols.values()), ZERO)

    @property
    def initial_margin(self) -> Decimal:
        return self.position_im + self.order_im

    @property
    def maint(self) -> Decimal:
        return sum((s.maint for s in self.symbols.values()), ZERO)

    @property
    def margin_balance(self) -> Decimal:
        return self.wallet + self.unrealized

    @property
    def available(self) -> Decimal:
        return self.margin_balance - self.initial_margin


def symbol_margin(account: Account, spec: SymbolSpec, mark: Decimal, orders: Iterable[Order]) -> SymbolMargin:
    """Margin figures of `account` in one symbol given its open `orders` there."""
    pos = account.position(spec.symbol)
    lev = Decimal(account.leverage_of(spec.symbol))
    bids = asks = ZERO
    for o in orders:
        if o.reduce_only or not o.is_open:
            continue
        notional = CTX.multiply(o.remaining, o.price)
        if o.side == "BUY":
            bids += notional
        else:
            asks += notional
    notional = CTX.multiply(pos.amount, mark)
    long_case = max(ZERO, notional + bids)
    short_case = max(ZERO, -notional + asks)
    position_im = divide(abs(notional), lev)
    total_im = divide(max(long_case, short_case), lev)
    bracket = spec.bracket_for(abs(notional))
    maint = max(ZERO, CTX.multiply(abs(notional), bracket.maint_margin_ratio) - bracket.cum)
    return SymbolMargin(
        symbol=spec.symbol,
        notional=notional,
        unrealized=pos.unrealized(mark),
        position_im=position_im,
        order_im=max(ZERO, total_im - position_im),
        maint=maint,
        bids_notional=bids,
        asks_notional=asks,
    )


def summarize(
    account: Account,
    specs: Mapping[str, SymbolSpec],
    marks: Mapping[str, Decimal],
    orders_by_symbol: Mapping[str, list[Order]],
) -> MarginSummary:
    """Every symbol the account has a position or an order in, and its wallet."""
    symbols = {s for s, p in account.positions.items() if p.amount != 0}
    symbols |= {
        s for s, orders in orders_by_symbol.items() if any(o.account_key == account.key for o in orders)
    }
    per = {
        s: symbol_margin(
            account,
            specs[s],
            marks[s],
            [o for o in orders_by_symbol.get(s, []) if o.account_key == account.key],
        )
        for s in sorted(symbols)
    }
    return MarginSummary(account.wallet, per)
