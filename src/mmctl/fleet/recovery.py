"""Recovery at daemon start: bring the store up to date with one account's venue, and leave nothing on the
venue that no bot will own, before any bot of the account starts.

`recover_account`, for one account, in this order:
1. Read what the store knows: the account's bots and desired states, the orders it has `submitting` or
   open, the newest recorded fill per symbol (and the trade ids at that millisecond), the newest income
   row.
2. Read the venue's open orders and sort them by client id (`mmctl.bots.ids.parse`): an mmctl order of a
   bot that will run on this account and symbol is *adopted* (left for that bot's start, which resyncs
   its orders and cancels its leftovers); any other mmctl order is *cancelled*, and the cancels confirmed
   by reading the open orders again; an order without an mmctl id is *foreign*: reported, never touched.
3. Resolve every order the store has open or `submitting` that the venue does not show open, by looking
   its client id up (`fetch_order`): its real state, or `not_found` when the venue has no record of it
   (a submit that never reached the venue).
4. Walk the account's trades on every symbol of interest (the bots' symbols, the open and submitting
   orders' symbols, the symbols with recorded fills) from the newest recorded fill on
   (`mmctl.fleet.trade_walk`: `my_trades` paged until exhausted, reading on through trades that share a
   millisecond across a page boundary, window by window up to now on a venue that answers one window
   per request, never further back than that venue keeps). On a symbol without a recorded fill, a
   windowed venue (Binance: a week per request) is walked from the earliest time an mmctl order can
   have traded there: the earliest order the store has on the account and symbol (any status), the
   creation of the venue's open orders on it, and after an unclean end of the previous run the time of
   its last commit (an order sent just before a crash may be unrecorded), less `CLOCK_MARGIN_MS`; with
   none of these, no order of mmctl can have traded there and the symbol is not walked. A venue without
   a window (the paper venue, whose time may be a replay's) is walked from `first_since_ms`. Each fill
   is recorded once (the store is unique by account, symbol and trade id), attributed to the bot its
   client id names (None for a foreign id); a trade without a client id (Binance's userTrades) is
   matched by venue order id. The orders those fills belong to are brought up to date.
5. Record the income ledger rows since the newest recorded one (`iter_income`), read the positions.

Trade queries on Binance: one per symbol whose newest recorded fill is less than a week old (the usual
restart); at worst, a symbol walked from the 180-day floor, 26 (one per week) plus one per further page of
`page_size` trades, so an account costs at most 26 per symbol of interest plus its pages.

Request classes (`mmctl.exchange.priority`): reading the open orders, the cancels and their confirming
read are SAFETY, the work a stop does; every other read is START, what getting the bots going costs.
Every record goes through `Store.write`: when `recover_account` returns, all of it is durable, so a bot
may rebuild its inventory from the store.

A venue failure raises `RecoveryFailed` naming the account and the step. What was recorded before it
stays recorded (each record is true on its own) and running recovery again finishes the job: fills and
income rows are unique, order snapshots never move an order back from a final state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from mmctl.bots.ids import parse
from mmctl.clock import Clock, now_ms
from mmctl.errors import Action, MmctlError, UnknownOrder, UnknownSymbol
from mmctl.exchange.base import MAX_CANCEL_BATCH, Exchange
from mmctl.exchange.priority import Priority, request_class
from mmctl.fleet.recovery_report import RecoveryReport
from mmctl.fleet.trade_walk import CLOCK_MARGIN_MS, PAGE, iter_trades
from mmctl.model import Fill, Order, Position
from mmctl.pnl.income import iter_income
from mmctl.store.base import Store, StoreReads
from mmctl.store.records import (
    NOT_FOUND,
    SUBMITTING,
    BotRecord,
    DesiredState,
    NewFill,
    NewIncome,
    OrderRecord,
    OrderSnapshot,
    OrderStatusChange,
    Write,
)

__all__ = ["PAGE", "RecoveryFailed", "RecoveryReport", "recover_account"]

T = TypeVar("T")

WRITE_CHUNK = 1000  # records handed to the store at once
CANCEL_ATTEMPTS = 2  # cancel rounds before an order that stays open fails the recovery

FOUND = "recovery: state read from the venue"
CANCELLED = "recovery: cancelled, no bot will own it"
NEVER_PLACED = "recovery: never placed (the venue has no order with this client id)"
GONE = "recovery: no longer known to the venue"

VENUE_ERRORS = (MmctlError, OSError, TimeoutError)


class RecoveryFailed(MmctlError):
    """An account's recovery could not finish: its bots must not start until a retry succeeds."""

    action = Action.STOP


@dataclass(frozen=True, slots=True)
class _Known:
    """What the store knows about the account when recovery starts."""

    bots: dict[str, BotRecord]
    open_orders: list[OrderRecord]
    last_fill_ms: dict[str, int]
    fills_at_last: dict[str, frozenset[str]]
    last_income_ms: int | None


def _read_known(account: str) -> Callable[[StoreReads], _Known]:
    def read(r: StoreReads) -> _Known:
        last = r.last_fill_ms(account)
        at_last = {
            symbol: frozenset(
                f.fill.trade_id for f in r.fills(account=account, symbol=symbol, since_ms=ms, limit=None)
            )
            for symbol, ms in last.items()
        }
        return _Known(
            bots={b.name: b for b in r.bots() if b.account == account},
            open_orders=r.orders(account=account, open_only=True, limit=None),
            last_fill_ms=last,
            fills_at_last=at_last,
            last_income_ms=r.last_income_ms().get(account),
        )

    return read


async def recover_account(
    account: str,
    exchange: Exchange,
    store: Store,
    clock: Clock,
    *,
    autostart: bool = True,
    will_run: Callable[[str], bool] | None = None,
    first_since_ms: int = 0,
    page_size: int = PAGE,
) -> RecoveryReport:
    """Reconcile `account` (served by `exchange`) with `store` before any of its bots starts.

    A bot will run, so its open orders on its own symbol are adopted, when `autostart` is on, the store
    has it on this account with desired state running, and `will_run(name)` (default: always) agrees;
    every other mmctl order on the venue is cancelled and confirmed gone. `first_since_ms`: the earliest
    trade walked on a symbol without recorded fills (on a windowed venue, never before the earliest time
    an mmctl order can have traded there: see the module docstring), and where the income walk starts
    without recorded income (0: all the venue keeps). `page_size`: the `limit` of each trades and income
    request (1..1000). Raises `RecoveryFailed` (naming the account and the step) on a venue failure,
    `StoreError` if the store fails.
    """
    if not 1 <= page_size <= PAGE:
        raise ValueError(f"page_size must be 1..{PAGE}, got {page_size}")
    started = clock.monotonic()
    known = await store.read(_read_known(account))
    recovery = _Recovery(account, exchange, store, clock, known, page_size, first_since_ms)
    return await recovery.run(lambda name: autostart and (will_run is None or will_run(name)), started)


class _Recovery:
    """One account's recovery: the steps of the module docstring, and what they learned."""

    def __init__(
        self,
        account: str,
        exchange: Exchange,
        store: Store,
        clock: Clock,
        known: _Known,
        page_size: int,
        first_since_ms: int,
    ) -> None:
        self.account = account
        self.exchange = exchange
        self.store = store
        self.clock = clock
        self.known = known
        self.page_size = page_size
        self.first_since_ms = first_since_ms
        self.records = {o.client_order_id: o for o in known.open_orders}
        self.views: dict[str, tuple[Order, str]] = {}  # own orders' venue state by client id, and why
        self.missing: dict[str, str] = {}  # client id -> detail, for orders the venue has no record of
        self.cids: dict[tuple[str, str], str] = {}  # (symbol, venue order id) -> client id ("" unknown)
        self.filled: dict[str, str] = {}  # own client id -> symbol, for orders with fills recorded now
        self.written: dict[str, Order | None] = {}  # client id -> the state last recorded
        self.starts: dict[str, int | None] = {}  # symbol -> where its trade walk starts (None: no walk)

    # --- the steps ------------------------------------------------------------------------------------

    async def run(self, will_run: Callable[[str], bool], started: float) -> RecoveryReport:
        with request_class(Priority.START):
            await self._venue("loading markets", self.exchange.load_markets())
        with request_class(Priority.SAFETY):
            venue_open = await self._venue("reading open orders", self.exchange.open_orders())
        adopted, orphans, foreign = self._sort(venue_open, will_run)
        cancelled = await self._cancel(orphans)
        updated = await self._write_orders()  # the cancels are on record even if a later step fails
        with request_class(Priority.START):
            submitting = await self._resolve_store_orders()
            symbols = self._symbols_of_interest(venue_open)
            self.starts = await self._walk_starts(symbols, venue_open)
            fills = sum([await self._recover_fills(symbol) for symbol in symbols])
            await self._refresh_filled_orders()
            income = await self._recover_income()
            positions = await self._venue("reading positions", self.exchange.positions())
        updated += await self._write_orders()
        return RecoveryReport(
            account=self.account,
            adopted=tuple(o.client_order_id for o in adopted),
            cancelled=tuple(cancelled),
            fills_recovered=fills,
            income_recovered=income,
            submitting_resolved={cid: self._status_of(cid) for cid in submitting},
            orders_updated=updated,
            foreign_orders=tuple(foreign),
            positions=tuple(_sorted_positions(positions)),
            duration_ms=max(0, round((self.clock.monotonic() - started) * 1000)),
        )

    def _sort(
        self, venue_open: list[Order], will_run: Callable[[str], bool]
    ) -> tuple[list[Order], list[Order], list[Order]]:
        """Adopted, orphaned (to cancel) and foreign open orders."""
        bot_symbols = {name: self._unified(b.symbol) for name, b in self.known.bots.items()}
        adopted: list[Order] = []
        orphans: list[Order] = []
        foreign: list[Order] = []
        for order in venue_open:
            own = parse(order.client_order_id)
            if own is None:
                foreign.append(order)
                continue
            self._learn(order, FOUND)
            record = self.known.bots.get(own.bot)
            runs = (
                record is not None
                and record.desired_state is DesiredState.RUNNING
                and bot_symbols[own.bot] == order.symbol
                and will_run(own.bot)
            )
            (adopted if runs else orphans).append(order)
        return adopted, orphans, foreign

    async def _cancel(self, orphans: list[Order]) -> list[str]:
        """Cancel the orphans (SAFETY) and confirm on a fresh read of the open orders; one more round for
        any still open, then `RecoveryFailed` naming them."""
        pending = {o.client_order_id: o.symbol for o in orphans}
        cancelled: list[str] = []
        with request_class(Priority.SAFETY):
            for _ in range(CANCEL_ATTEMPTS):
                if not pending:
                    break
                for symbol, ids in _by_symbol(pending).items():
                    for i in range(0, len(ids), MAX_CANCEL_BATCH):
                        batch = ids[i : i + MAX_CANCEL_BATCH]
                        results = await self._venue(
                            f"cancelling {len(batch)} orphan order(s) on {symbol}",
                            self.exchange.cancel_orders(symbol, batch),
                        )
                        for result in results:
                            if result.order is not None:
                                self._learn(result.order, CANCELLED)
                                cancelled.append(result.client_order_id)
                still = await self._venue("confirming the cancels", self.exchange.open_orders())
                open_ids = {o.client_order_id for o in still}
                for order in still:
                    if order.client_order_id in pending:
                        self._learn(order, FOUND)
                pending = {cid: s for cid, s in pending.items() if cid in open_ids}
        if pending:
            raise RecoveryFailed(
                f"recovery of account {self.account!r} failed: {len(pending)} orphan order(s) still open "
                f"after {CANCEL_ATTEMPTS} cancel rounds: {', '.join(sorted(pending))}",
                data={"account": self.account, "step": "cancel", "orders": sorted(pending)},
            )
        return list(dict.fromkeys(cancelled))

    async def _resolve_store_orders(self) -> list[str]:
        """Look up every order the store has open that the venue did not show open; the client ids of
        the store's `submitting` orders."""
        for record in self.known.open_orders:
            cid = record.client_order_id
            if cid in self.views:
                continue
            listed = self._listed(record.symbol)
            order = await self._fetch(record.symbol, client_order_id=cid) if listed else None
            if order is not None:
                self._learn(order, FOUND)
            else:
                self.missing[cid] = NEVER_PLACED if record.status == SUBMITTING else GONE
        return [o.client_order_id for o in self.known.open_orders if o.status == SUBMITTING]

    def _symbols_of_interest(self, venue_open: list[Order]) -> list[str]:
        """The symbols to walk trades on, among those the venue lists (a bot on a symbol it does not
        list fails its own start; recorded fills on a delisted one cannot change)."""
        symbols = {b.symbol for b in self.known.bots.values()}
        symbols.update(o.symbol for o in self.known.open_orders)
        symbols.update(self.known.last_fill_ms)
        symbols.update(o.symbol for o in venue_open)
        return sorted({self._unified(s) for s in symbols if self._listed(s)})

    async def _walk_starts(self, symbols: list[str], venue_open: list[Order]) -> dict[str, int | None]:
        """Where the trade walk starts on each symbol (step 4 of the module docstring); None: not walked."""
        starts: dict[str, int | None] = {
            s: self.known.last_fill_ms.get(s, self.first_since_ms) for s in symbols
        }
        unfilled = [s for s in symbols if s not in self.known.last_fill_ms]
        if not unfilled or self.exchange.trade_window_ms is None:
            return starts
        recorded = await self.store.read(lambda r: r.first_order_ms(self.account))
        earliest: dict[str, int] = {}
        for symbol, ms in [*recorded.items(), *((o.symbol, o.created_ms) for o in venue_open)]:
            unified = self._unified(symbol)
            earliest[unified] = min(ms, earliest.get(unified, ms))
        previous = self.store.previous_run
        crashed = None if previous.clean else previous.ended_ms
        for symbol in unfilled:
            bounds = [ms for ms in (earliest.get(symbol), crashed) if ms is not None]
            starts[symbol] = max(self.first_since_ms, min(bounds) - CLOCK_MARGIN_MS) if bounds else None
        return starts

    async def _recover_fills(self, symbol: str) -> int:
        """Record the symbol's trades since its newest recorded fill; how many were new."""
        trades = await self._trades(symbol)
        attributed = [await self._attribute(fill) for fill in trades]
        ops = [NewFill(self.account, bot, fill) for bot, fill in attributed]
        results = await self._write_all(ops)
        for (bot, fill), new in zip(attributed, results, strict=True):
            if new and bot is not None and parse(fill.client_order_id) is not None:
                self.filled[fill.client_order_id] = fill.symbol
        return sum(1 for new in results if new)

    async def _trades(self, symbol: str) -> list[Fill]:
        """Every trade on `symbol` from its walk's start on (the newest recorded fill's millisecond when
        there is one), not yet recorded."""
        since = self.starts.get(symbol)
        if since is None:
            return []
        walk = iter_trades(
            self.exchange,
            symbol,
            since,
            now_ms=now_ms(self.clock),
            seen=self.known.fills_at_last.get(symbol, ()),
            page_size=self.page_size,
        )
        try:
            return [fill async for fill in walk]
        except VENUE_ERRORS as e:
            raise self._failed(f"reading trades on {symbol} since {since}", e) from e

    async def _attribute(self, fill: Fill) -> tuple[str | None, Fill]:
        """The bot a fill belongs to, and the fill with its client order id filled in when the venue's
        trade record lacks it (matched by venue order id)."""
        cid = fill.client_order_id
        if not cid:
            key = (fill.symbol, fill.order_id)
            if key not in self.cids:
                order = await self._fetch(fill.symbol, order_id=fill.order_id)
                self.cids[key] = "" if order is None else order.client_order_id
                if order is not None and parse(order.client_order_id) is not None:
                    self._learn(order, FOUND)
            cid = self.cids[key]
            fill = replace(fill, client_order_id=cid) if cid else fill
        record = self.records.get(cid)
        if record is not None:
            return record.bot, fill
        own = parse(cid)
        return (None if own is None else own.bot), fill

    async def _refresh_filled_orders(self) -> None:
        """Bring the orders that fills were recorded for up to date (unless the venue was just read)."""
        for cid, symbol in self.filled.items():
            if cid in self.views and not self.views[cid][0].status.is_open:
                continue  # final already (cancelled or looked up after it closed)
            order = await self._fetch(symbol, client_order_id=cid)
            if order is not None:
                self._learn(order, FOUND)

    async def _recover_income(self) -> int:
        """Record the income rows since the newest recorded one; how many were new."""
        since = self.known.last_income_ms
        rows = []
        try:
            async for row in iter_income(
                self.exchange, self.first_since_ms if since is None else since, page_size=self.page_size
            ):
                rows.append(row)
        except VENUE_ERRORS as e:
            raise self._failed("reading the income ledger", e) from e
        results = await self._write_all([NewIncome(self.account, row) for row in rows])
        return sum(1 for new in results if new)

    async def _write_orders(self) -> int:
        """Record every order state learned since the last call; how many of the store's open (not
        submitting) orders changed state."""
        ops: list[Write[bool]] = []
        ids: list[str] = []
        for cid, (order, detail) in self.views.items():
            if self.written.get(cid) is not order:
                ops.append(OrderSnapshot(self._bot_of(cid), self.account, order, detail))
                ids.append(cid)
                self.written[cid] = order
        ts = now_ms(self.clock)
        for cid, detail in self.missing.items():
            if cid not in self.written:
                ops.append(OrderStatusChange(cid, NOT_FOUND, ts, detail))
                ids.append(cid)
                self.written[cid] = None
        results = await self._write_all(ops)
        return sum(
            1
            for cid, changed in zip(ids, results, strict=True)
            if changed and cid in self.records and self.records[cid].status != SUBMITTING
        )

    # --- helpers --------------------------------------------------------------------------------------

    def _learn(self, order: Order, detail: str) -> None:
        self.views[order.client_order_id] = (order, detail)
        self.cids[(order.symbol, order.id)] = order.client_order_id

    def _status_of(self, cid: str) -> str:
        """What a looked-up order turned out to be (every submitting order is in `views` or `missing`)."""
        return self.views[cid][0].status.value if cid in self.views else NOT_FOUND

    def _bot_of(self, cid: str) -> str | None:
        record = self.records.get(cid)
        if record is not None:
            return record.bot
        own = parse(cid)
        return None if own is None else own.bot

    def _listed(self, symbol: str) -> bool:
        try:
            self.exchange.market(symbol)
        except UnknownSymbol:
            return False
        return True

    def _unified(self, symbol: str) -> str:
        try:
            return self.exchange.market(symbol).symbol
        except UnknownSymbol:
            return symbol

    async def _fetch(
        self, symbol: str, *, client_order_id: str | None = None, order_id: str | None = None
    ) -> Order | None:
        """The venue's view of one order; None when the venue has no record of it."""
        try:
            return await self.exchange.fetch_order(symbol, order_id=order_id, client_order_id=client_order_id)
        except UnknownOrder:
            return None
        except VENUE_ERRORS as e:
            raise self._failed(f"looking up order {client_order_id or order_id} on {symbol}", e) from e

    async def _venue(self, what: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except VENUE_ERRORS as e:
            raise self._failed(what, e) from e

    def _failed(self, what: str, error: BaseException) -> RecoveryFailed:
        return RecoveryFailed(
            f"recovery of account {self.account!r} failed while {what}: {error}",
            data={"account": self.account, "step": what},
        )

    async def _write_all(self, ops: Sequence[Write[bool]]) -> list[bool]:
        """Write `ops` (queued together, committed in batches) and return their results once durable."""
        results: list[bool] = []
        for i in range(0, len(ops), WRITE_CHUNK):
            chunk = ops[i : i + WRITE_CHUNK]
            results.extend(await asyncio.gather(*(self.store.write(op) for op in chunk)))
        return results


def _by_symbol(pending: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for cid, symbol in pending.items():
        out.setdefault(symbol, []).append(cid)
    return out


def _sorted_positions(positions: Iterable[Position]) -> list[Position]:
    return sorted(positions, key=lambda p: p.symbol)
