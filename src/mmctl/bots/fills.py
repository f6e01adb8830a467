"""A bot's fill bookkeeping: every fill booked into its inventory exactly once, from the order stream,
or, after a gap in that stream, from the venue's own view of the bot's orders.

Fills are counted against each order's cumulative filled quantity, so a fill reported both by the
stream and by a recovery is never booked twice. Each booked fill is recorded (`mmctl.bots.recorder`)
with the quantity booked. After a restart `restore` rebuilds the inventory from the bot's recorded
fills and seeds those per-order quantities, so an adopted order's earlier fills are not booked again.
`on_booked(fill, position_after)`, when set, is called with each fill booked live (from the stream or a
recovery; not by `restore`), after the inventory took it: the bot feeds its strategy's signals there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import fields, replace
from decimal import Decimal

from mmctl.bots.events import EventLog
from mmctl.bots.inventory import Inventory
from mmctl.bots.quoting import Quoter
from mmctl.bots.recorder import NULL_RECORDER, Recorder
from mmctl.model import Fill, OrderUpdate, Side

_SIDE_TEXT = {side: side.value for side in Side}  # `Side.value` is a slow enum property


class FillBook:
    def __init__(
        self,
        bot: str,
        quoter: Quoter,
        inventory: Inventory,
        events: EventLog,
        wake: Callable[[], None],
        *,
        recorder: Recorder = NULL_RECORDER,
    ) -> None:
        self.bot = bot
        self.recorder = recorder
        self.quoter = quoter
        self.inventory = inventory
        self.events = events
        self.wake = wake
        self.recover_due = False  # order events may have been missed: recover at the next tick
        self.on_booked: Callable[[Fill, Decimal], None] | None = None  # (fill, position after it)
        self._booked = asyncio.Event()

    def on_update(self, update: OrderUpdate) -> None:
        """An order-stream event for one of the bot's orders; wakes the bot when it changes quoting."""
        relevant = self.quoter.on_update(update)
        fill = update.fill
        if fill is not None:
            qty = self.quoter.unbooked(update.order, fill.qty)
            if qty <= 0:
                return  # already booked (recovered from the venue after a gap)
            self._book(replace(fill, qty=qty) if qty != fill.qty else fill, "")
        if relevant:
            self.wake()

    def on_gap(self, reason: str) -> None:
        self.events.add(self.bot, "error", f"order events may have been missed ({reason}); recovering")
        self.recover_due = True
        self.quoter.needs_resync = True
        self.wake()

    async def recover(self, maker_fee: Decimal) -> None:
        """Book what the venue says the bot's orders filled beyond what the stream delivered, from its
        trade records; `maker_fee` only estimates a fill those records no longer show."""
        for fill in await self.quoter.recover_fills(maker_fee):
            self._book(fill, " (recovered after a gap)")
        self.recover_due = False

    def restore(self, fills: list[Fill]) -> None:
        """Rebuild the inventory (position, entry, realized PnL, fees, fill count, volume) from `fills`,
        oldest first, replacing what it held (funding stays: it is not a fill), and seed the quoter's
        per-order booked quantities from them. Restoring the same fills twice changes nothing."""
        rebuilt = Inventory(funding=self.inventory.funding, lifetime_funding=self.inventory.lifetime_funding)
        for fill in fills:
            rebuilt.apply(fill)
        for f in fields(Inventory):  # in place: the account's funding split holds this object
            setattr(self.inventory, f.name, getattr(rebuilt, f.name))
        self.quoter.restore_booked(fills)

    async def wait_for(self, qty: Decimal, timeout_s: float) -> None:
        """Wait (briefly) until booked fills bring the position to `qty`."""

        async def settled() -> None:
            while self.inventory.qty != qty:
                self._booked.clear()
                await self._booked.wait()

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(settled(), timeout_s)

    def _book(self, fill: Fill, note: str) -> None:
        self.inventory.apply(fill)
        self.recorder.fill(self.bot, self.quoter.account, fill)
        self._booked.set()
        side, qty, price = _SIDE_TEXT[fill.side], str(fill.qty), str(fill.price)  # each formatted once
        self.events.add_event(
            self.bot,
            "fill",
            f"{side} {qty} @ {price}{note}",
            {
                "price": price,
                "qty": qty,
                "side": side,
                "fee": str(fill.fee),
                "maker": fill.maker,
                "client_order_id": fill.client_order_id,
                "recovered": bool(note),
            },
        )
        if self.on_booked is not None:  # last: the fill is booked and recorded whatever the hook does
            self.on_booked(fill, self.inventory.qty)
