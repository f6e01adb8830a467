"""One bot's quoting step and the book of its live orders: desired quotes → diff → cancel, amend, place.

`Quoter` knows which orders the bot has on the venue (from its own placements and amends and the order
stream, resynced from `open_orders` after anything ambiguous), turns the strategy's desired quotes into
the minimal plan (`mmctl.bots.orders.reconcile` with amends), and executes it in venue-sized batches:
cancels first (they free margin and open-order slots), then amends, then places. Per-order rejections
are normal (a post-only reject is re-quoted next tick); anything else raises to the bot's single error
handler.

Amends (`amend`): an amended order keeps its client id and takes the venue's new price, size and state;
its `created_ms` in the book restarts (it is a fresh quote for `max_order_age_s`; the venue's own creation
time is unchanged and recorded). Per order: the venue cancelled it instead (a post-only amend that would
cross, a size at or below the filled part) → it leaves the book and counts as a rejection, so the next
book wakes the bot to place the level again; rejected (filters, margin) → the order is as it was, the
next tick decides again; unknown → it is gone; Binance's -5026 (amended too often) → cancelled here and
placed anew in the same step; -5027 (nothing to change: the book was behind the venue) → resync. Fills
during an amend are booked once whatever the order of the answer and the stream: `FillBook` books each
order's cumulative filled quantity, and the book keeps the larger filled part it has seen.

Every placement goes through `mmctl.bots.submits.Submitter` (recorded before it leaves; an ambiguous
submit is looked up by client id before the next step sends anything), and every cancel's outcome and
every order state a recovery fetches is recorded too (`mmctl.bots.recorder`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from mmctl.bots import ids
from mmctl.bots.events import EventLog
from mmctl.bots.orders import Amendment, LiveOrder, batches, live_orders, reconcile
from mmctl.bots.recorder import NULL_RECORDER, Recorder
from mmctl.bots.shared_cancels import SharedCancels
from mmctl.bots.submits import Submitter
from mmctl.bots.trades import unbooked_trades
from mmctl.clock import Clock, now_ms
from mmctl.errors import ExchangeError, OrderRejected, PostOnlyWouldCross, StopIncomplete, UnknownOrder
from mmctl.exchange.base import MAX_CANCEL_BATCH, Exchange
from mmctl.model import ZERO, Fill, Order, OrderStatus, OrderUpdate, Side
from mmctl.pnl.position import CTX
from mmctl.strategies.base import Quote

CLOSED_MEMORY = 512  # closed ids remembered to ignore late events about them
AMEND_LIMIT = -5026  # Binance: the order was amended too many times (cancel it, place a new one)
NOTHING_TO_AMEND = -5027  # Binance: the amend changes nothing (the order is already so)
_SIDE_TEXT = {side: side.value for side in Side}  # `Side.value` is a slow enum property on a hot path


@dataclass
class QuoteStats:
    placed: int = 0
    cancelled: int = 0
    rejected: int = 0
    post_only_rejects: int = 0
    ticks: int = 0
    amended: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "placed": self.placed,
            "cancelled": self.cancelled,
            "rejected": self.rejected,
            "post_only_rejects": self.post_only_rejects,
            "ticks": self.ticks,
            "amended": self.amended,
        }


FreshOpenOrders = Callable[[str], Awaitable[list[Order]]]
"""`symbol` → the symbol's open orders as seen by a request sent after the call (the account's shared
confirmation query: bots stopping at the same moment share one request)."""


class Quoter:
    def __init__(
        self,
        bot: str,
        symbol: str,
        exchange: Exchange,
        clock: Clock,
        events: EventLog,
        fresh_open_orders: FreshOpenOrders | None = None,
        *,
        recorder: Recorder = NULL_RECORDER,
        account: str = "",
        shared_cancels: SharedCancels | None = None,
    ) -> None:
        self.bot = bot
        self._shared_cancels = shared_cancels
        self.account = account or exchange.name
        self.symbol = symbol
        self.exchange = exchange
        self.clock = clock
        self.events = events
        self.live: dict[str, LiveOrder] = {}
        self.stats = QuoteStats()
        self.last_accepted_ms: int | None = None  # when the venue last took a placement or an amend
        self.needs_resync = True
        self._fresh_open_orders = fresh_open_orders
        self._ids = ids.ClientIdGenerator(bot, now_ms(clock))
        self.recorder = recorder
        self.submits = Submitter(bot, self.account, exchange, clock, recorder, events)
        self._filled: dict[str, Decimal] = {}  # cumulative filled quantity booked per order
        self._restored = False  # `_filled` was restored: trim it at the next resync
        self._closed: dict[str, None] = {}  # recently closed or cancelled ids, oldest first (bounded)

    @property
    def ids(self) -> ids.ClientIdGenerator:
        """The bot's client id generator (held exits draw their ids from it too)."""
        return self._ids

    def new_id(self, side: Side, level: int) -> str:
        """A fresh client order id of this bot."""
        return self._ids.new_id(side, level)

    # --- live-order book ------------------------------------------------------------------------------

    def owns(self, client_order_id: str) -> bool:
        own = ids.parse(client_order_id)
        return own is not None and own.bot == self.bot

    async def resync(self) -> None:
        """Replace the live-order book with the venue's view of this bot's open orders."""
        self._adopt(await self.exchange.open_orders(self.symbol))

    async def _resync_confirmed(self) -> None:
        """`resync` from a venue view taken after this moment, shared with other bots confirming now."""
        if self._fresh_open_orders is None:
            await self.resync()
        else:
            self._adopt(await self._fresh_open_orders(self.symbol))

    def _adopt(self, orders: list[Order]) -> None:
        now = now_ms(self.clock)
        known = self.live
        self.live = {}
        for lo in live_orders(orders, self.bot):
            prev = known.get(lo.client_order_id)
            created = prev.created_ms if prev is not None else now
            self.live[lo.client_order_id] = _with(lo, created_ms=created)
        self.needs_resync = False
        if self._restored:  # keep what the live orders and the latest closed ones need
            self._restored = False
            keep = set(list(self._filled)[-CLOSED_MEMORY // 2 :]) | set(self.live)
            self._filled = {cid: qty for cid, qty in self._filled.items() if cid in keep}

    def restore_booked(self, fills: list[Fill]) -> None:
        """Set (replace) the booked quantity of each order to the sum of its `fills` (recorded before a
        restart), so a stream update of an adopted order books only what it filled beyond them."""
        booked: dict[str, Decimal] = {}
        for fill in fills:  # ordered by each order's latest fill: the trim keeps the recent ones
            booked[fill.client_order_id] = CTX.add(booked.pop(fill.client_order_id, ZERO), fill.qty)
        self._filled = booked
        self._restored = True

    async def _resolve_ambiguous(self) -> None:
        """Look every order of an ambiguous submit or amend up on the venue: one found open is live (at
        the venue's price and size), one found closed or not at all frees its level (`mmctl.bots.submits`)."""
        for cid in list(self.submits.unresolved):
            self._found(cid, await self.submits.resolve(cid), now_ms(self.clock))
        for cid in list(self.submits.unresolved_amends):
            _, amend = self.submits.unresolved_amends[cid]
            order = await self.submits.resolve_amend(cid)
            before = self.live.get(cid)
            amended = order is not None and (order.price, order.qty) == (amend.price, amend.qty)
            created = before.created_ms if before is not None and not amended else now_ms(self.clock)
            self._found(cid, order, created)

    def _found(self, cid: str, order: Order | None, created_ms: int) -> None:
        if order is not None and order.status.is_open:
            for lo in live_orders([order], self.bot):
                self.live[cid] = _with(lo, created_ms=created_ms)
        else:
            self.live.pop(cid, None)
            self._remember_closed(cid)

    def on_update(self, update: OrderUpdate) -> bool:
        """Apply an order-stream event for one of this bot's orders. True when it changes what the bot
        should quote: a fill, or an order closed that the bot did not cancel itself (countdown, manual)."""
        order = update.order
        cid = order.client_order_id
        if not order.status.is_open:
            expected = cid in self._closed  # we cancelled it ourselves
            was_live = self.live.pop(cid, None) is not None
            self._remember_closed(cid)
            return update.fill is not None or (was_live and not expected)
        current = self.live.get(cid)
        if current is not None and order.price is not None:  # every ack and fill: no `replace` here
            self.live[cid] = LiveOrder(
                current.client_order_id,
                current.side,
                current.level,
                order.price,
                order.remaining,
                current.created_ms,
                order.qty,  # an amend changes it: remaining and qty always come from one state
                current.post_only,
                current.reduce_only,
            )
        return update.fill is not None

    # --- one quoting step ------------------------------------------------------------------------------

    async def apply(
        self, desired: list[Quote], *, tolerance_bps: Decimal, max_age_ms: int
    ) -> tuple[int, int]:
        """Make the live orders match `desired`: cancels, then amends, then places; returns (cancelled,
        placed or amended)."""
        if self.submits.pending:  # before anything else is sent
            await self._resolve_ambiguous()
        if self.needs_resync:
            await self.resync()
        self.stats.ticks += 1
        plan = reconcile(
            desired,
            list(self.live.values()),
            tolerance_bps=tolerance_bps,
            max_age_ms=max_age_ms,
            now_ms=now_ms(self.clock),
            amend=True,
        )
        cancelled = await self.cancel([o.client_order_id for o in plan.cancels]) if plan.cancels else 0
        places = list(plan.places)
        amended = 0
        if plan.amends:
            amended, renew = await self.amend(plan.amends)
            places += renew
        placed = await self._place(places) if places else 0
        return cancelled, placed + amended

    async def amend(self, amendments: Sequence[Amendment]) -> tuple[int, list[Quote]]:
        """Amend these orders in place, in venue-sized batches (see the module docstring for each
        outcome); returns (amended, the quotes of orders at the venue's amend limit: cancelled here, for
        the caller to place anew)."""
        done = 0
        renew: list[Amendment] = []
        for batch in _amend_batches(amendments, self.exchange.max_batch):
            try:
                results = await self.submits.amend(self.symbol, [a.to_amend() for a in batch])
            except Exception:
                self.needs_resync = True  # resolved (or resynced) before the next step sends anything
                raise
            now = now_ms(self.clock)
            error: Exception | None = None
            for wanted, res in zip(batch, results, strict=True):
                if res.order is not None:
                    self.last_accepted_ms = now
                    done += self._amended(wanted, res.order, now)
                elif isinstance(res.error, UnknownOrder):  # gone: the stream tells how
                    self.live.pop(res.client_order_id, None)
                    self._remember_closed(res.client_order_id)
                elif isinstance(res.error, OrderRejected):
                    code = res.error.data.get("binance_code")
                    if code == AMEND_LIMIT:
                        renew.append(wanted)
                    elif code == NOTHING_TO_AMEND:
                        self.needs_resync = True
                    else:
                        self._rejected(wanted.quote, res.error, amend=True)
                else:  # no verdict for this amend: resolved before the next step sends anything
                    self.needs_resync = True
                    error = error or res.error or ExchangeError(f"no answer for amend {res.client_order_id}")
            if error is not None:
                self.stats.amended += done
                raise error
        self.stats.amended += done
        if renew:
            await self.cancel([a.order.client_order_id for a in renew])
        return done, [a.quote for a in renew]

    def _amended(self, wanted: Amendment, order: Order, now: int) -> int:
        """Book the venue's answer to one amend; 1 when the order rests amended."""
        cid = order.client_order_id
        lo = wanted.order
        if not order.status.is_open:
            self.live.pop(cid, None)
            self._remember_closed(cid)
            if order.status is OrderStatus.CANCELED:  # the venue cancelled it instead
                self.stats.rejected += 1  # the band no longer holds: the next book wakes the bot
                too_small = wanted.to_amend().qty <= order.filled
                if not too_small:
                    self.stats.post_only_rejects += 1
                why = "size at or below its filled part" if too_small else "post-only price would cross"
                self._order_event(
                    "cancel", f"amend cancelled ({why})", lo.side, lo.level, lo.price, lo.remaining, cid
                )
            return 0
        if cid in self._closed:  # the stream already said it closed
            return 1
        filled = order.filled
        current = self.live.get(cid)
        seen = None if current is None else current.filled
        if seen is not None and seen > filled:  # the stream is ahead of the answer
            filled = seen
        price = order.price if order.price is not None else wanted.quote.price
        self.live[cid] = LiveOrder(
            cid,
            lo.side,
            lo.level,
            price,
            order.qty - filled,
            now,
            order.qty,
            order.post_only,
            order.reduce_only,
        )
        self._order_event("order", "amended", lo.side, lo.level, price, order.qty, cid, was=lo)
        return 1

    async def cancel(self, client_ids: list[str], *, together: bool = False) -> int:
        """Cancel these orders in venue-sized batches; an order already gone counts as done. `together`:
        joined with other bots' cancels on the account and symbol (`SharedCancels`: a mass stop)."""
        shared = self._shared_cancels if together else None
        done = 0
        for batch in [client_ids] if shared is not None else batches(client_ids, MAX_CANCEL_BATCH):
            # joined cancels answer a loop turn later: the stream may have dropped them from live by then
            asked = {cid: self.live.get(cid) for cid in batch} if shared is not None else {}
            for cid in batch:  # ours now: the stream's "canceled" events are expected, not news
                self._remember_closed(cid)
            try:
                if shared is not None:
                    results = await shared.cancel(self.symbol, batch)
                else:
                    results = await self.exchange.cancel_orders(self.symbol, batch)
            except Exception:
                self.needs_resync = True
                raise
            for res in results:
                if res.error is not None and not isinstance(res.error, UnknownOrder):
                    self.needs_resync = True
                    raise res.error
                if res.order is not None:
                    self.recorder.order(self.bot, self.account, res.order)
                gone = self.live.pop(res.client_order_id, None) or asked.get(res.client_order_id)
                if res.error is None and gone is not None:
                    self._order_event(
                        "cancel",
                        "cancelled",
                        gone.side,
                        gone.level,
                        gone.price,
                        gone.remaining,
                        gone.client_order_id,
                    )
                done += 1
        self.stats.cancelled += done
        return done

    async def cancel_and_confirm(self, timeout_s: float) -> int:
        """Cancel every open order of this bot until the venue itself shows none (retrying until
        `timeout_s`); raises `StopIncomplete` listing what may remain."""
        deadline = self.clock.monotonic() + timeout_s
        cancelled = 0
        if self.submits.pending:  # best effort: what is open shows up in the confirmation anyway
            with contextlib.suppress(ExchangeError):
                await self._resolve_ambiguous()
        last: Exception | None = None
        # in sync with the order stream: cancel what we know at once; the confirmation below is the
        # venue's own view, and any order of ours it still shows is cancelled on the next round
        trusted = not self.needs_resync and not self.submits.pending
        while True:
            try:
                if not trusted or not self.live:  # nothing known: the venue's view confirms it
                    await self._resync_confirmed()
                trusted = False
                if not self.live:
                    return cancelled
                cancelled += await self.cancel(list(self.live), together=True)
                await self._resync_confirmed()  # confirm on the venue, not from our own bookkeeping
                if not self.live:
                    return cancelled
            except ExchangeError as e:
                last = e
            if self.clock.monotonic() >= deadline:
                left = list(self.live)
                raise StopIncomplete(
                    f"bot {self.bot}: {len(left)} order(s) may still be open after {timeout_s:g} s"
                    + (f" ({last})" if last else ""),
                    data={"orders": left},
                )
            await self.clock.sleep(0.2)

    def _remember_closed(self, cid: str) -> None:
        self._closed[cid] = None
        if len(self._closed) > CLOSED_MEMORY:
            for old in list(self._closed)[: CLOSED_MEMORY // 2]:
                del self._closed[old]
                self._filled.pop(old, None)

    def unbooked(self, order: Order, fill_qty: Decimal) -> Decimal:
        """How much of a fill event is new: the order's cumulative fill beyond what was booked (a fill
        already recovered from the venue after a gap is not booked twice)."""
        booked = self._filled.get(order.client_order_id, ZERO)
        if order.filled <= booked:
            return ZERO
        self._filled[order.client_order_id] = order.filled
        return min(fill_qty, order.filled - booked)

    async def _place(self, quotes: list[Quote]) -> int:
        placed = 0
        for batch in batches(quotes, self.exchange.max_batch):
            requests = [q.to_request(self.symbol, self._ids.new_id(q.side, q.level)) for q in batch]
            try:
                results = await self.submits.place(requests)
            except Exception:
                self.needs_resync = True  # ambiguous: some may have been placed
                raise
            now = now_ms(self.clock)
            error: Exception | None = None
            for quote, res in zip(batch, results, strict=True):
                cid = res.request.client_order_id
                if res.order is not None:
                    placed += 1
                    self.last_accepted_ms = now
                    self._order_event(
                        "order",
                        "placed",
                        quote.side,
                        quote.level,
                        res.order.price or quote.price,
                        res.order.qty,
                        cid,
                    )
                    if res.order.status.is_open and cid not in self._closed:
                        self.live[cid] = _live(res.order, quote, now)
                elif isinstance(res.error, OrderRejected):
                    self._rejected(quote, res.error)
                else:  # no verdict for this order: resolved before the next step sends anything
                    self.needs_resync = True
                    error = error or res.error or ExchangeError(f"no answer for order {cid}")
            if error is not None:
                self.stats.placed += placed
                raise error
        self.stats.placed += placed
        return placed

    def _order_event(
        self,
        kind: str,
        verb: str,
        side: Side,
        level: int,
        price: Decimal,
        qty: Decimal,
        cid: str,
        *,
        was: LiveOrder | None = None,
    ) -> None:
        """One event per order placed, amended or cancelled (`mmctl events`), with the order's figures
        (each formatted once: this runs for every order of every reaction); an amend also says what the
        order was (`was_price`, `was_qty`: its price and total before)."""
        side_text, price_text, qty_text = _SIDE_TEXT[side], str(price), str(qty)
        message = f"{verb} {side_text} level {level}: {qty_text} @ {price_text}"
        data: dict[str, Any] = {
            "side": side_text,
            "level": level,
            "price": price_text,
            "qty": qty_text,
            "client_order_id": cid,
        }
        if was is not None:
            was_price, was_qty = str(was.price), str(was.qty if was.qty is not None else was.remaining)
            message += f" (was {was_qty} @ {was_price})"
            data["amended"] = True
            data["was_price"], data["was_qty"] = was_price, was_qty
        self.events.add_event(self.bot, kind, message, data)

    def _rejected(self, quote: Quote, error: OrderRejected, *, amend: bool = False) -> None:
        self.stats.rejected += 1
        if isinstance(error, PostOnlyWouldCross):
            self.stats.post_only_rejects += 1
            return  # normal: the market moved; re-quote next tick
        what = " amend" if amend else ""
        self.events.add(
            self.bot,
            "reject",
            f"{quote.side} level {quote.level}{what} rejected: {error.message}",
            code=error.code,
            price=str(quote.price),
            qty=str(quote.qty),
        )

    async def recover_fills(self, maker_fee: Decimal) -> list[Fill]:
        """After a gap in the order stream: ask the venue for every order we believed open and return
        the fills we missed, from the venue's own trade records (price, fee, maker flag). What those
        records do not cover (older than the page `my_trades` returns) is booked at the order's average
        price with the fee estimated at the maker rate."""
        behind: list[tuple[Order, LiveOrder, Decimal]] = []  # order, our view, qty booked so far
        for cid, lo in list(self.live.items()):
            try:
                order = await self.exchange.fetch_order(self.symbol, client_order_id=cid)
            except UnknownOrder:
                continue
            self.recorder.order(self.bot, self.account, order)
            booked = self._filled.get(cid, ZERO)
            if order.filled > booked:
                self._filled[cid] = order.filled
                behind.append((order, lo, booked))
            if order.status.is_open:
                price = order.price if order.price is not None else lo.price
                self.live[cid] = _with(lo, price=price, remaining=order.remaining, qty=order.qty)
            else:
                self.live.pop(cid, None)
                self._remember_closed(cid)
        if not behind:
            return []
        since = min(order.created_ms for order, _, _ in behind)
        trades = await self.exchange.my_trades(self.symbol, since_ms=since, limit=1000)
        missed: list[Fill] = []
        for order, lo, booked in behind:
            missed += unbooked_trades(order, booked, trades, lo.price, maker_fee, now_ms(self.clock))
        return missed

    def open_orders_view(self) -> list[dict[str, Any]]:
        now = now_ms(self.clock)
        rows = sorted(self.live.values(), key=lambda o: (o.side.value, o.level))
        return [
            {
                "client_order_id": o.client_order_id,
                "side": o.side.value,
                "level": o.level,
                "price": str(o.price),
                "qty": str(o.remaining),
                "age_s": round(max(0, now - o.created_ms) / 1000, 1),
            }
            for o in rows
        ]


def _live(order: Order, quote: Quote, created_ms: int) -> LiveOrder:
    return LiveOrder(
        client_order_id=order.client_order_id,
        side=quote.side,
        level=quote.level,
        price=order.price if order.price is not None else quote.price,
        remaining=order.remaining,
        created_ms=created_ms,
        qty=order.qty,
        post_only=order.post_only,
        reduce_only=order.reduce_only,
    )


def _with(lo: LiveOrder, **changes: Any) -> LiveOrder:
    return replace(lo, **changes)


def _amend_batches(amendments: Sequence[Amendment], size: int) -> list[list[Amendment]]:
    """`amendments` in venue-sized batches, the orders moving away from the other side first, so that
    one moving toward it does not meet one of the bot's own orders still at its old price (a post-only
    amend that would cross is cancelled by the venue). Binance handles a batch's orders concurrently:
    when a move toward the other side would cross an opposite order still to be moved away, the two
    kinds go in separate requests (only for a move wider than the spread)."""
    away = [a for a in amendments if _moves_away(a)]
    if not away:
        return batches(amendments, size)
    toward = [a for a in amendments if not _moves_away(a)]
    if any(_crosses(t, away) for t in toward):
        return batches(away, size) + batches(toward, size)
    return batches(away + toward, size)


def _moves_away(a: Amendment) -> bool:
    if a.order.side is Side.BUY:
        return a.quote.price < a.order.price
    return a.quote.price > a.order.price


def _crosses(toward: Amendment, away: Sequence[Amendment]) -> bool:
    """True when `toward`'s new price meets an opposite order of `away` at its current price."""
    price = toward.quote.price
    if toward.order.side is Side.BUY:
        return any(a.order.side is Side.SELL and a.order.price <= price for a in away)
    return any(a.order.side is Side.BUY and a.order.price >= price for a in away)
