"""A bot's own inventory and PnL, from its own fills only (several bots may share one venue position).

Realized PnL follows the venue's one-way rule (`mmctl.pnl.position.apply_fill`); fees are what the
bot's fills paid (negative for rebates); funding is the bot's share of the account's funding payments on
the symbol (`mmctl.pnl.funding`, credited by the account's funding poll), signed like the wallet change.
`reset_session` starts the "since start" counters afresh while the position itself carries over.

The inventory remembers its position after each fill for a while (`POSITION_HISTORY` changes), so a
funding payment found later is split by the positions held at its settlement time (`qty_at`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from mmctl.model import ZERO, Fill
from mmctl.pnl.position import CTX, apply_fill, money, unrealized_pnl

POSITION_HISTORY = 4096  # position changes kept for `qty_at` (the funding poll runs every minute or so)


@dataclass
class Inventory:
    qty: Decimal = ZERO
    entry_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO  # since the bot's last start, fees excluded
    fees: Decimal = ZERO  # since the bot's last start
    fills: int = 0
    volume: Decimal = ZERO  # quote notional traded since the last start
    lifetime_realized: Decimal = ZERO  # since the daemon loaded the bot (daily figures derive from these)
    lifetime_fees: Decimal = ZERO
    funding: Decimal = ZERO  # since the bot's last start: + received, - paid
    lifetime_funding: Decimal = ZERO
    # (fill time ms, position after it), oldest first; `_base_qty` is the position before the oldest
    _history: deque[tuple[int, Decimal]] = field(
        default_factory=lambda: deque(maxlen=POSITION_HISTORY), repr=False
    )
    _base_qty: Decimal = field(default=ZERO, repr=False)

    def apply(self, fill: Fill) -> None:
        if len(self._history) == self._history.maxlen:
            self._base_qty = self._history[0][1]
        change = apply_fill(self.qty, self.entry_price, fill.side, fill.qty, fill.price)
        self._history.append((fill.ts_ms, change.qty))
        self.qty, self.entry_price = change.qty, change.entry_price
        self.realized_pnl = CTX.add(self.realized_pnl, change.realized_pnl)
        self.fees = CTX.add(self.fees, fill.fee)
        self.lifetime_realized = CTX.add(self.lifetime_realized, change.realized_pnl)
        self.lifetime_fees = CTX.add(self.lifetime_fees, fill.fee)
        self.fills += 1
        self.volume = CTX.add(self.volume, money(CTX.multiply(fill.price, fill.qty)))

    def qty_at(self, ts_ms: int) -> Decimal:
        """The position held at `ts_ms` (fills at `ts_ms` included), as far back as the history goes."""
        qty = self._base_qty
        for at, after in self._history:
            if at > ts_ms:
                break
            qty = after
        return qty

    def add_funding(self, amount: Decimal) -> None:
        """Credit this bot's share of a funding payment (negative when paid)."""
        self.funding = CTX.add(self.funding, amount)
        self.lifetime_funding = CTX.add(self.lifetime_funding, amount)

    def unrealized(self, mark: Decimal | None) -> Decimal:
        if mark is None or self.qty == 0:
            return ZERO
        return unrealized_pnl(self.qty, self.entry_price, mark)

    def net(self, mark: Decimal | None) -> Decimal:
        """Net PnL since the last start: realized minus fees plus funding plus unrealized at `mark`."""
        booked = CTX.add(CTX.subtract(self.realized_pnl, self.fees), self.funding)
        return CTX.add(booked, self.unrealized(mark))

    def lifetime_net(self, mark: Decimal | None) -> Decimal:
        """Net PnL since the daemon loaded the bot, funding included."""
        booked = CTX.add(CTX.subtract(self.lifetime_realized, self.lifetime_fees), self.lifetime_funding)
        return CTX.add(booked, self.unrealized(mark))

    def reset_session(self) -> None:
        self.realized_pnl = ZERO
        self.fees = ZERO
        self.funding = ZERO
        self.fills = 0
        self.volume = ZERO
