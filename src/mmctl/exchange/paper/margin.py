"""Cross-margin figures of the paper account: initial margin, exposure, positions and the balance.

A symbol's exposure is the worse of its two sides if every open order on that side filled: the long side
is the signed position notional (at the mark) plus the open buy orders' notional, the short side the
negated position notional plus the open sells (both floored at 0). Initial margin is exposure / leverage,
as Binance charges one-way mode (the larger side of opposite orders). Available balance is
`wallet + unrealized PnL − initial margin`. Simplifications: no open-loss term for orders priced through
the mark, no liquidation.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from mmctl.exchange.paper.ledger import Wallet
from mmctl.exchange.paper.state import SymbolState
from mmctl.model import ZERO, Balance, Position, Side
from mmctl.pnl.position import CTX, money, unrealized_pnl


def exposure(st: SymbolState, side: Side | None = None, extra: Decimal = ZERO) -> Decimal:
    """The symbol's worst-case notional, with `extra` notional of a new order on `side` added."""
    mark = st.mark_price() or ZERO
    position_notional = CTX.multiply(st.position_qty, mark)
    longs = CTX.add(position_notional, st.buy_notional)
    shorts = CTX.subtract(st.sell_notional, position_notional)
    if side is Side.BUY:
        longs = CTX.add(longs, extra)
    elif side is Side.SELL:
        shorts = CTX.add(shorts, extra)
    return max(longs, shorts, ZERO)


def initial_margin(
    st: SymbolState, leverage: int | None = None, side: Side | None = None, extra: Decimal = ZERO
) -> Decimal:
    return CTX.divide(exposure(st, side, extra), leverage or st.leverage)


def position_view(st: SymbolState) -> Position:
    mark = st.mark_price() or ZERO
    upnl = unrealized_pnl(st.position_qty, st.entry_price, mark) if st.position_qty else ZERO
    return Position(
        symbol=st.symbol,
        qty=st.position_qty,
        entry_price=st.entry_price,
        mark_price=mark,
        unrealized_pnl=upnl,
        leverage=st.leverage,
    )


def total_unrealized(states: Iterable[SymbolState]) -> Decimal:
    total = ZERO
    for st in states:
        if st.position_qty:
            total = CTX.add(total, position_view(st).unrealized_pnl)
    return total


def total_initial_margin(states: Iterable[SymbolState]) -> Decimal:
    total = ZERO
    for st in states:
        total = CTX.add(total, initial_margin(st))
    return total


def balance_view(wallet: Wallet, states: list[SymbolState]) -> Balance:
    upnl = total_unrealized(states)
    used = money(total_initial_margin(states))
    available = CTX.subtract(CTX.add(wallet.balance, upnl), used)
    return Balance(
        asset=wallet.asset,
        wallet=wallet.balance,
        available=available,
        margin_used=used,
        unrealized_pnl=upnl,
    )


def available_balance(wallet: Wallet, states: list[SymbolState]) -> Decimal:
    return balance_view(wallet, states).available
