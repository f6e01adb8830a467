"""Cross-margin figures of the paper account: initial margin, exposure, positions and the balance.

A symbol's exposure is the worse of its two sides if every open order on that side filled: the long side
is the signed position notional (at the mark) plus the open buy orders' notional, the short side the
negated position notional plus the open sells (both floored at 0). Initial margin is exposure / leverage,
as Binance charges one-way mode (the larger side of opposite orders). Available balance is
`wallet + unrealized PnL − initial margin`. Simplifications: no open-loss term for orders priced through
the mark, no liquidation.

Order entry asks for the available balance often (every order that adds margin): `available_balance`
gives `balance_view`'s figure without building the view, and each symbol's share of it (initial margin,
unrealized PnL) is recomputed only when one of its inputs changed (`_memo`).
"""

from __future__ import annotations

from decimal import Decimal

from mmctl.exchange.paper.ledger import Wallet
from mmctl.exchange.paper.state import MarginMemo, SymbolState
from mmctl.model import ZERO, Balance, Position, Side
from mmctl.pnl.position import CTX, money, unrealized_pnl


def exposure_sides(st: SymbolState) -> tuple[Decimal, Decimal]:
    """The symbol's long and short worst-case notionals (before the floor at 0)."""
    memo = _memo(st)
    return memo[6], memo[7]


def exposure(st: SymbolState, side: Side | None = None, extra: Decimal = ZERO) -> Decimal:
    """The symbol's worst-case notional, with `extra` notional of a new order on `side` added."""
    longs, shorts = exposure_sides(st)
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


def balance_view(wallet: Wallet, states: list[SymbolState]) -> Balance:
    upnl, used = _totals(states)
    available = CTX.subtract(CTX.add(wallet.balance, upnl), used)
    return Balance(
        asset=wallet.asset,
        wallet=wallet.balance,
        available=available,
        margin_used=used,
        unrealized_pnl=upnl,
    )


def available_balance(wallet: Wallet, states: list[SymbolState]) -> Decimal:
    """`balance_view(wallet, states).available`, without building the view."""
    upnl, used = _totals(states)
    return CTX.subtract(CTX.add(wallet.balance, upnl), used)


def _totals(states: list[SymbolState]) -> tuple[Decimal, Decimal]:
    """The account's unrealized PnL and its initial margin (rounded to 1e-8), summed in symbol order."""
    upnl = used = ZERO
    for st in states:
        memo = _memo(st)
        used = CTX.add(used, memo[8])
        pnl = memo[9]
        if pnl is not None:
            upnl = CTX.add(upnl, pnl)
    return upnl, money(used)


def _memo(st: SymbolState) -> MarginMemo:
    """The symbol's margin figures, recomputed only when one of their inputs changed.

    They are pure functions of the mark, position, entry price, open notionals and leverage, all
    immutable values that every change replaces: the last result is kept in `st.margin_memo` with the
    very objects it came from and reused while each is still the symbol's (`is`), so the figures are
    exactly those a fresh computation gives, and an order entry that touches one symbol recomputes
    only that one. The memo holds its key objects, so their ids cannot be reused while it is kept."""
    mark = st.mark_price() or ZERO
    qty = st.position_qty
    memo = st.margin_memo
    if (
        memo is not None
        and memo[0] is mark
        and memo[1] is qty
        and memo[2] is st.buy_notional
        and memo[3] is st.sell_notional
        and memo[4] is st.entry_price
        and memo[5] == st.leverage
    ):
        return memo
    position_notional = CTX.multiply(qty, mark)
    longs = CTX.add(position_notional, st.buy_notional)
    shorts = CTX.subtract(st.sell_notional, position_notional)
    im = CTX.divide(max(longs, shorts, ZERO), st.leverage)
    pnl = unrealized_pnl(qty, st.entry_price, mark) if qty else None
    memo = (mark, qty, st.buy_notional, st.sell_notional, st.entry_price, st.leverage, longs, shorts, im, pnl)
    st.margin_memo = memo
    return memo
