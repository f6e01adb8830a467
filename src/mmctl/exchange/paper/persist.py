"""Durable persistence of one paper account into the `Store`: the venue's state survives the daemon.

`PaperPersistence.attach()` installs itself as the exchange's `on_change` hook, which `PaperExchange`
calls at the end of every synchronous stretch that may have changed the account, before any other task
can see the change (see `mmctl.exchange.paper.exchange`). When the account changed (`venue.revision`
moved) it queues ONE `PutPaperState` write holding:
- the compact state (`mmctl.exchange.paper.snapshot`: wallet, positions, leverage, open orders,
  countdowns, clock, feed resume state, epoch), re-serialized each time: its size is bounded by the
  open orders and symbols, never by the account's history;
- only what is new since the last save, row by row: the venue's new income rows (into the store's
  `income` table, so "wallet = epoch start balance + Σ the epoch's income rows" holds in the store), its
  new trades (`paper_trades`) and newly closed orders (`paper_orders`).
One write, one transaction: the rows and the state that counts them are durable together or not at all.
The store commits in queue order, so whatever a bot records after seeing a change commits after the
venue state containing it. Plain book ticks change nothing and cost nothing here.

Also, every `CLOCK_SAVE_S` seconds of the clock the state is saved when only venue time moved, so that
after a crash the restart re-simulates at most that much market before the downtime proper.

Writes use `submit_nowait` (the hook runs in synchronous code): a full queue is exceeded, never waited
for. A store that failed makes the save a no-op (logged once): the daemon stops its bots, and their
cancels must still work.
"""

from __future__ import annotations

import logging
import weakref
from typing import TYPE_CHECKING, Any

from mmctl.clock import Clock, now_ms
from mmctl.errors import StoreError
from mmctl.exchange.paper import snapshot
from mmctl.exchange.paper.feed import ResumableFeed
from mmctl.exchange.paper.snapshot import Epoch, OrderTexts
from mmctl.model import Fill
from mmctl.store.base import Store
from mmctl.store.records import PaperOrderRow, PutPaperState

if TYPE_CHECKING:
    from mmctl.exchange.paper.exchange import PaperExchange

log = logging.getLogger(__name__)

CLOCK_SAVE_S = 5.0
_BY_EXCHANGE: weakref.WeakKeyDictionary[PaperExchange, PaperPersistence] = weakref.WeakKeyDictionary()


def persistence_of(exchange: PaperExchange) -> PaperPersistence | None:
    """The persistence attached to `exchange`, if any."""
    return _BY_EXCHANGE.get(exchange)


class PaperPersistence:
    """Saves one paper account (`account`, in epoch `epoch`) into `store` whenever it changes."""

    def __init__(
        self, exchange: PaperExchange, store: Store, account: str, clock: Clock, epoch: Epoch, market: str
    ) -> None:
        self.exchange = exchange
        self.store = store
        self.account = account
        self.clock = clock
        self.epoch = epoch
        self.market = market
        self.saves = 0
        self._failed = False
        self._order_texts = OrderTexts()
        self.rebase(epoch)

    def attach(self) -> None:
        """Save on every account change of the exchange from now on."""
        self.exchange.on_change = self.settle
        self.exchange.on_close = self.save
        _BY_EXCHANGE[self.exchange] = self

    def rebase(self, epoch: Epoch) -> None:
        """Take the exchange's current venue as already saved up to now (after a restore or a reset):
        only later rows count as new."""
        venue = self.exchange.venue
        self.epoch = epoch
        self._revision = venue.revision
        self._income_id = venue.wallet.last_id
        self._trade_id = venue.last_trade_id
        self._closed = venue.orders.closed_count
        self._saved_now = venue.now_ms
        self._saved_at = self.clock.monotonic()

    def settle(self) -> None:
        """The exchange's hook: save when the account changed (or only time moved for a while)."""
        venue = self.exchange.venue
        changed = venue.revision != self._revision
        if changed or (venue.now_ms != self._saved_now and self._since_save() >= CLOCK_SAVE_S):
            self.save()

    def _since_save(self) -> float:
        return self.clock.monotonic() - self._saved_at

    def state_text(self) -> str:
        """The compact state as saved now (JSON text)."""
        venue = self.exchange.venue
        feed = self.exchange.feed
        feed_state: dict[str, Any] = (
            feed.state(venue.now_ms) if isinstance(feed, ResumableFeed) else {"kind": "none"}
        )
        return snapshot.dumps(
            self.account,
            self.market,
            venue,
            self.epoch,
            feed_state,
            saved_wall_ms=now_ms(self.clock),
            order_texts=self._order_texts,
        )

    def save(self) -> None:
        """Queue the account's state with everything new since the last save (one write)."""
        venue = self.exchange.venue
        income = tuple(venue.wallet.rows_after(self._income_id))
        trades = self._new_trades()
        closed = tuple(
            PaperOrderRow(int(o.id), o.client_order_id, o.symbol, snapshot.order_json(o))
            for o in venue.orders.closed_since(self._closed)
        )
        op = PutPaperState(
            self.account,
            self.state_text(),
            now_ms(self.clock),
            epoch=self.epoch.n,
            income=income,
            trades=trades,
            closed_orders=closed,
        )
        try:
            self.store.submit_nowait(op)
        except StoreError as e:
            if not self._failed:
                self._failed = True
                level = logging.WARNING if self.store.failed is not None else logging.INFO
                log.log(level, "paper account %s: its state is no longer saved: %s", self.account, e)
            return
        self.saves += 1
        self._revision = venue.revision
        self._income_id = venue.wallet.last_id
        self._trade_id = venue.last_trade_id
        self._closed = venue.orders.closed_count
        self._saved_now = venue.now_ms
        self._saved_at = self.clock.monotonic()

    def _new_trades(self) -> tuple[Fill, ...]:
        trades = self.exchange.venue.trades
        new: list[Fill] = []
        for fill in reversed(trades):
            if int(fill.trade_id) <= self._trade_id:
                break
            new.append(fill)
        new.reverse()
        return tuple(new)
