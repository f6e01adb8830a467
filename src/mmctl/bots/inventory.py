"""A bot's own inventory and PnL, from its own fills only (several bots may share one venue position).

Realized PnL follows the venue's one-way rule (`mmctl.pnl.position.apply_fill`); fees are what the
bot's fills paid (negative for rebates). `reset_session` starts the "since start" counters afresh while
the position itself carries over.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from mmctl.model import ZERO, Fill
from mmctl.pnl.position import CTX, apply_fill, money, unrealized_pnl


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

    def apply(self, fill: Fill) -> None:
        change = apply_fill(self.qty, self.entry_price, fill.side, fill.qty, fill.price)
        self.qty, self.entry_price = change.qty, change.entry_price
        self.realized_pnl = CTX.add(self.realized_pnl, change.realized_pnl)
        self.fees = CTX.add(self.fees, fill.fee)
        self.lifetime_realized = CTX.add(self.lifetime_realized, change.realized_pnl)
        self.lifetime_fees = CTX.add(self.lifetime_fees, fill.fee)
        self.fills += 1
        self.volume = CTX.add(self.volume, money(CTX.multiply(fill.price, fill.qty)))

    def unrealized(self, mark: Decimal | None) -> Decimal:
        if mark is None or self.qty == 0:
            return ZERO
        return unrealized_pnl(self.qty, self.entry_price, mark)

    def net(self, mark: Decimal | None) -> Decimal:
        """Net PnL since the last start: realized minus fees plus unrealized at `mark`."""
        return CTX.add(CTX.subtract(self.realized_pnl, self.fees), self.unrealized(mark))

    def lifetime_net(self, mark: Decimal | None) -> Decimal:
        return CTX.add(CTX.subtract(self.lifetime_realized, self.lifetime_fees), self.unrealized(mark))

    def reset_session(self) -> None:
        self.realized_pnl = ZERO
        self.fees = ZERO
        self.fills = 0
        self.volume = ZERO
