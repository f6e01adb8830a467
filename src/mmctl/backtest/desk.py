"""The backtested bot's side of the paper venue: its live orders, its requests as they reach the venue, and
the venue's answers and order events.

`OrderDesk.apply` carries out one tick's `Batch` as the quoter sends it (`mmctl.bots.quoting`): cancels,
then amends (those moving away from the other side first), then places with fresh client ids
(`ClientIdGenerator`), then, for a stop with on_loss = flatten, one reduce-only market order for the
bot's position (`mmctl.bots.flatten`). The answers update the live orders as the quoter books them
(`live_orders` of each placed order; an amended order is a fresh quote for `max_order_age_s`); a refused
placement or amend is counted and makes the next book wake the bot. `on_update`, the venue's order
listener, books each fill into the bot's `Inventory`, the metrics and the strategy's signals, and wakes
the bot on a fill or on an order the venue closed by itself (`Quoter.on_update`, `FillBook.on_update`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mmctl.backtest.metrics import MetricsRecorder, OrderCounts
from mmctl.bots.ids import ClientIdGenerator
from mmctl.bots.inventory import Inventory
from mmctl.bots.orders import Amendment, LiveOrder, live_orders
from mmctl.errors import OrderRejected, PostOnlyWouldCross, UnknownOrder
from mmctl.exchange.paper.venue import PaperVenue
from mmctl.exchange.rules import round_qty
from mmctl.model import MarketRules, OrderRequest, OrderStatus, OrderType, OrderUpdate, Side
from mmctl.strategies.base import Quote, Signals

Note = Callable[[int, str, str | None, str], None]  # (ms, action, guard, reason): a line for the result


@dataclass(slots=True)
class Batch:
    """The requests of one tick, in the order they reach the venue."""

    cancels: list[str]
    amends: list[Amendment]
    places: list[Quote]
    flatten: bool = False


@dataclass(slots=True)
class Tally:
    """`OrderCounts` as the run goes."""

    placed: int = 0
    amended: int = 0
    cancelled: int = 0
    rejected: int = 0
    post_only_rejects: int = 0
    ticks: int = 0

    def frozen(self) -> OrderCounts:
        return OrderCounts(
            self.placed, self.amended, self.cancelled, self.rejected, self.post_only_rejects, self.ticks
        )


class OrderDesk:
    """The bot's live orders and its traffic with the venue (see the module docstring)."""

    def __init__(
        self,
        venue: PaperVenue,
        rules: MarketRules,
        bot: str,
        ids: ClientIdGenerator,
        inventory: Inventory,
        metrics: MetricsRecorder,
        signals: Signals | None,
        *,
        wake: Callable[[int], None],
        refused: Callable[[], None],
        note: Note,
    ) -> None:
        self.venue = venue
        self.rules = rules
        self.symbol = rules.symbol
        self.bot = bot
        self.ids = ids
        self.inventory = inventory
        self.metrics = metrics
        self.signals = signals
        self.wake = wake
        self.refused = refused
        self.note = note
        self.live: dict[str, LiveOrder] = {}
        self.counts = Tally()
        venue.add_listener(self.on_update)

    def apply(self, batch: Batch, now: int) -> None:
        """The venue takes the batch at `now`: cancels, amends, places (then a flatten), as the quoter sends
        them; the answers update the bot's live orders."""
        venue, symbol, live, counts = self.venue, self.symbol, self.live, self.counts
        venue.advance_to(now)
        for cid in batch.cancels:
            live.pop(cid, None)  # ours to cancel: the venue's event about it is no news
            try:
                venue.cancel(symbol, client_order_id=cid)
            except UnknownOrder:
                continue  # filled or gone meanwhile
            counts.cancelled += 1
        for amendment in batch.amends:
            self._amend(amendment, now)
        for quote in batch.places:
            self._place(quote)
        if batch.flatten:
            self._flatten()

    def _amend(self, amendment: Amendment, now: int) -> None:
        lo = amendment.order
        cid = lo.client_order_id
        counts = self.counts
        try:
            order = self.venue.amend(self.symbol, amendment.to_amend())
        except UnknownOrder:
            self.live.pop(cid, None)
            return
        except OrderRejected as e:
            self._rejected(post_only=isinstance(e, PostOnlyWouldCross))
            return
        if not order.status.is_open:
            self.live.pop(cid, None)
            if order.status is OrderStatus.CANCELED:  # instead: post-only would cross, or cut to its fill
                self._rejected(post_only=amendment.to_amend().qty > order.filled)
            return
        counts.amended += 1
        price = order.price if order.price is not None else amendment.quote.price
        self.live[cid] = LiveOrder(
            cid, lo.side, lo.level, price, order.remaining, now, order.qty, order.post_only, order.reduce_only
        )

    def _place(self, quote: Quote) -> None:
        cid = self.ids.new_id(quote.side, quote.level)
        try:
            order = self.venue.place(quote.to_request(self.symbol, cid))
        except OrderRejected as e:
            self._rejected(post_only=isinstance(e, PostOnlyWouldCross))
            return
        self.counts.placed += 1
        if order.status.is_open:
            for lo in live_orders([order], self.bot):
                self.live[cid] = lo

    def _rejected(self, *, post_only: bool) -> None:
        """A placement or amend refused (`post_only`: it would have crossed): the band no longer holds,
        the next book wakes the bot."""
        self.counts.rejected += 1
        if post_only:
            self.counts.post_only_rejects += 1
        self.refused()

    def _flatten(self) -> None:
        """Close the bot's position with one reduce-only market order (`mmctl.bots.flatten`)."""
        own = self.inventory.qty
        qty = round_qty(abs(own), self.rules.step_size)
        if qty <= 0:
            return
        side = Side.SELL if own > 0 else Side.BUY
        cid = self.ids.new_id(side, 0)
        request = OrderRequest(self.symbol, side, qty, None, cid, OrderType.MARKET, reduce_only=True)
        try:
            self.venue.place(request)
        except OrderRejected as e:
            self.note(self.venue.now_ms, "flatten", None, f"flatten rejected: {e.message}")
            return
        self.counts.placed += 1

    def on_update(self, update: OrderUpdate) -> None:
        """The venue's order event: book the fill, update the live order; a fill or an order the venue
        closed wakes the bot (`Quoter.on_update`, `FillBook.on_update`)."""
        order = update.order
        cid = order.client_order_id
        fill = update.fill
        wake = fill is not None
        if fill is not None:
            inventory = self.inventory
            inventory.apply(fill)
            self.metrics.fill(fill, inventory.qty, inventory.entry_price, self.venue.wallet.balance)
            if self.signals is not None:
                self.signals.on_fill(fill, inventory.qty)
        if not order.status.is_open:
            if self.live.pop(cid, None) is not None:
                wake = True
        else:
            current = self.live.get(cid)
            if current is not None and order.price is not None:
                self.live[cid] = LiveOrder(
                    cid,
                    current.side,
                    current.level,
                    order.price,
                    order.remaining,
                    current.created_ms,
                    order.qty,
                    current.post_only,
                    current.reduce_only,
                )
        if wake:
            self.wake(self.venue.now_ms)


def away_first(amends: Sequence[Amendment]) -> list[Amendment]:
    """Amends moving away from the other side first, as the quoter batches them (`_amend_batches`): one
    moving toward it must not meet one of the bot's own orders still at its old price."""
    away = [a for a in amends if _moves_away(a)]
    return away + [a for a in amends if not _moves_away(a)] if away else list(amends)


def _moves_away(a: Amendment) -> bool:
    if a.order.side is Side.BUY:
        return a.quote.price < a.order.price
    return a.quote.price > a.order.price
