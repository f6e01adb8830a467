"""One backtested bot's loop on simulated time: the events through the venue, the band test, the timers
and the ticks (see `mmctl.backtest.engine` for what runs and what is modelled).

When the bot ticks, as in its daemon loop (`mmctl.bots.bot`, `mmctl.bots.reaction`): woken by a book
outside its band (every book while it has none: paused, pulled, after a refused request, or a strategy
that cannot tell), by a fill or an order the venue closed, by a funding payment, by a change of its
signals' version since its band was computed (on a book or a trade), and by its heartbeat (`heartbeat_s`
from the start; a beat is skipped when it provably changes nothing: the band holds, no order is older
than `max_order_age_s` and the data is fresher than `stale_data_s`); never sooner than
`quote_interval_ms` after the last tick that sent requests. A tick: the latest book to the risk monitor,
its verdict (a loss or drawdown stop ends quoting for good; a pause or a pull cancels the quotes and
waits), the strategy's quotes, `reconcile(..., amend=True)` against the live orders, the requests, and
`band_after_tick` for the next books.

Latency: the requests a tick decides at t reach the venue together at t + `latency_ms`, in their order,
before the first event at or after that time; the venue's answers and order events (fills) reach the bot
at once. While its requests are on the way the bot waits for their answers (no tick), as its loop awaits
them; whatever wakes it meanwhile makes it tick when they arrive. Requests still on their way when the
data ends reach the venue after the last event.

Timers (all in venue milliseconds, run before the first event at or after their time, ties in this
order): the venue's funding (credited to the bot's inventory: it holds the whole position), request
arrival, tick, heartbeat, the hourly equity sample and the minute samples of the report's series.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mmctl.backtest.desk import Batch, OrderDesk, away_first
from mmctl.backtest.gate import RiskGate, RiskNote
from mmctl.backtest.metrics import (
    HOUR_MS,
    SAMPLE_MS,
    FillRecord,
    LedgerTotals,
    Metrics,
    MetricsRecorder,
    Sample,
)
from mmctl.bots.bands import band_after_tick
from mmctl.bots.ids import ClientIdGenerator
from mmctl.bots.inventory import Inventory
from mmctl.bots.orders import reconcile
from mmctl.bots.risk import RiskAction, RiskVerdict
from mmctl.errors import MmctlError, UnknownSymbol, ValidationError
from mmctl.exchange.paper.venue import PaperVenue
from mmctl.model import BookTop, IncomeRow, IncomeType, Trade
from mmctl.pnl.position import CTX
from mmctl.strategies import get_strategy
from mmctl.strategies.base import BookBand, Quote, Signals, Strategy, microprice
from mmctl.strategies.ticks import Grid
from mmctl.timefmt import iso_utc

if TYPE_CHECKING:
    from mmctl.backtest.engine import BacktestSpec

NEVER = 2**62  # "no timer" in ms

Event = BookTop | Trade


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a run leaves: the data range, the figures, the series, the fills and the risk notes."""

    first_ms: int
    last_ms: int
    metrics: Metrics
    samples: tuple[Sample, ...]
    fills: tuple[FillRecord, ...]
    stop: RiskNote | None
    notes: tuple[RiskNote, ...]
    open_orders: int


@dataclass(slots=True)
class _Quotes:
    """The strategy's last quotes and the inputs they were computed for."""

    key: tuple[object, ...] = ()
    quotes: list[Quote] = field(default_factory=list)


class SimBot:
    """One run: the venue, the bot's state and the timers, on simulated milliseconds."""

    def __init__(self, spec: BacktestSpec) -> None:
        self.spec = spec
        self.rules = spec.rules()
        self.symbol = self.rules.symbol
        self.strategy: Strategy[Any] = get_strategy(spec.strategy)
        self.params = spec.params
        self.grid = Grid.of(self.rules.tick_size)
        self.signals: Signals | None = self.strategy.signals(self.params, self.rules)
        needs = self.strategy.needs(self.params)
        self.wants_trades = self.signals is not None and needs.wants_trades
        self.book_time = needs.book_time  # quotes read the book's time: never reused for a later book
        self.inventory = Inventory()
        self.breaker = self.params.max_move_bps > 0  # the breaker needs every mid (`RiskGate`)
        self.ledger = LedgerTotals()
        self.floor_ms = self.params.quote_interval_ms
        self.max_age_ms = self.params.max_order_age_s * 1000
        self.tolerance = self.params.refresh_tolerance_bps
        self.stale_ms = self.params.stale_data_s * 1000
        self.beat_every = max(1, round(spec.heartbeat_s * 1000))
        self.memo = _Quotes()
        # the bot's state
        self.book: BookTop | None = None
        self.band: BookBand | None = None  # the books that leave the bot asleep, until `band_until`
        self.band_until = -math.inf  # ms: books from then on wake it (its oldest order is too old)
        self.band_lo = self.band_hi = Decimal(0)  # the band's bid + ask range as prices
        self.band_stirs = False  # a book inside the range may still wake it (microprice, signals, breaker)
        self.woken = False
        self.last_quote = -NEVER
        self.band_version = 0  # the signals' version the band was computed for
        self.flight: Batch | None = None
        # timers (ms); `due` is the earliest
        self.arrive_ms = NEVER
        self.tick_ms = NEVER
        self.beat_ms = NEVER
        self.funding_ms = NEVER
        self.sample_ms = NEVER
        self.hour_ms = NEVER
        self.due = NEVER
        self.start_ms = 0

    # --- the run ----------------------------------------------------------------------------------------

    def run(self, events: Iterable[Event]) -> Outcome:
        it = iter(events)
        first = next(it, None)
        if first is None:
            raise ValidationError("no market data to backtest", data={"field": "data"})
        self._start(first.ts_ms)
        try:
            last, count = self._until_first_book(first, it)
            if self.book is None:
                raise ValidationError(
                    f"no book updates of {self.rules.id} in the data", data={"field": "data"}
                )
            last, count = self._feed(it, last, count)
        except UnknownSymbol as e:
            raise ValidationError(
                f"market data of another symbol in a backtest of {self.rules.id}: {e.message}",
                data={"field": "data"},
            ) from e
        return self._finish(first.ts_ms, last, count)

    def _start(self, ts: int) -> None:
        spec = self.spec
        self.venue = venue = PaperVenue(
            {self.symbol: self.rules},
            balance=spec.balance,
            start_ms=ts,
            funding_rate=spec.funding_rate,
            funding_interval_s=spec.funding_interval_s,
        )
        try:
            venue.set_leverage(self.symbol, self.params.leverage)
        except MmctlError as e:
            raise ValidationError(e.message, data={"field": "leverage"}) from e
        self.gate = RiskGate(self.params, ts)
        self.metrics = MetricsRecorder(ts, spec.balance)
        self.desk = OrderDesk(
            venue,
            self.rules,
            spec.bot,
            ClientIdGenerator(spec.bot, ts),
            self.inventory,
            self.metrics,
            self.signals,
            wake=self._wake,
            refused=self._refused,
            note=self.gate.note,
        )
        self.start_ms = ts
        self.funding_ms = venue.next_funding_ms
        self.beat_ms = ts + self.beat_every
        self.sample_ms = ts + SAMPLE_MS
        self.hour_ms = ts + HOUR_MS
        self.due = min(self.funding_ms, self.beat_ms, self.sample_ms, self.hour_ms)

    def _until_first_book(self, first: Event, rest: Iterator[Event]) -> tuple[int, int]:
        """The events up to the first book (the bot starts there); (last event time, events)."""
        last, count = first.ts_ms, 0
        event: Event | None = first
        while event is not None:
            ts = event.ts_ms
            if ts < last:
                raise _out_of_order(ts, last)
            last = ts
            count += 1
            if ts >= self.due:
                self._run_due(ts)
            if type(event) is BookTop:
                self.venue.on_book(event)
                self._first_book(event)
                break
            self._trade(event)  # type: ignore[arg-type]
            event = next(rest, None)
        return last, count

    def _feed(self, rest: Iterator[Event], last: int, count: int) -> tuple[int, int]:
        """Every further event through the venue and the bot; (last event time, events). The hot path:
        a book inside the band costs the venue's two comparisons and a few Decimal operations here."""
        venue_book = self.venue.on_book
        tick = self.rules.tick_size
        add, remainder = CTX.add, CTX.remainder
        metrics = self.metrics
        signals = self.signals
        gate = self.gate
        breaker = self.breaker
        for event in rest:
            ts = event.ts_ms
            if ts < last:
                raise _out_of_order(ts, last)
            last = ts
            count += 1
            if ts >= self.due:
                self._run_due(ts)
            if type(event) is not BookTop:
                self._trade(event)  # type: ignore[arg-type]
                continue
            venue_book(event)
            self.book = event
            bid, ask = event.bid, event.ask
            mid2 = add(bid, ask)
            if metrics.holding:
                metrics.book2(mid2)
            if signals is not None:
                signals.on_book(event)  # a new version wakes the bot through `band_stirs`
            if breaker:
                gate.on_book(event)
            if self.woken:
                continue
            # the hub's test (`BookBand.admits` on the book in ticks), on Decimals: a book off the tick
            # grid is never inside
            if (
                ts >= self.band_until
                or not self.band_lo <= mid2 <= self.band_hi
                or not 0 < bid < ask
                or remainder(bid, tick)
                or remainder(mid2, tick)
                or (self.band_stirs and self._stirred(event))
            ):
                self._wake(ts)
        return last, count

    def _trade(self, trade: Trade) -> None:
        self.venue.on_trade(trade)
        signals = self.signals
        if self.wants_trades and signals is not None:
            signals.on_trade(trade)
            if signals.version != self.band_version and not self.woken:
                self._wake(trade.ts_ms)

    def _stirred(self, book: BookTop) -> bool:
        """A book inside the band's mid range that still wakes the bot: its microprice is outside the
        band, the strategy's signals changed since the band was computed, or the mids so far trip the
        circuit breaker (as the hub and `BookReaction.on_quiet` see it)."""
        signals = self.signals
        if signals is not None and signals.version != self.band_version:
            return True
        band = self.band
        if band is not None and band.watches_micro:
            micro = self.grid.index_ratio(microprice(book))
            if not band.admits_micro(*micro):
                return True
        return self.breaker and self.gate.monitor.move_tripped()

    def _first_book(self, book: BookTop) -> None:
        """The bot starts quoting at the first book, once the params pass the market's checks."""
        self.strategy.check_against_market(self.params, self.rules, book.mid)
        self.book = book
        self.metrics.first_book(CTX.add(book.bid, book.ask))
        self.metrics.sample(book.ts_ms)
        self.metrics.hour()
        if self.signals is not None:
            self.signals.on_book(book)
        if self.breaker:
            self.gate.on_book(book)
        self._wake(book.ts_ms)

    def _finish(self, first: int, last: int, count: int) -> Outcome:
        self._run_due(last)
        if self.flight is not None:  # requests still on their way when the data ends still arrive
            arrival = self.arrive_ms
            if self.funding_ms <= arrival:
                self._funding(self.funding_ms)
            self._arrive(arrival)
        end = max(last, self.venue.now_ms)
        metrics = self.metrics
        if not metrics.samples or metrics.samples[-1].ts_ms < end:
            metrics.sample(end)
        self.ledger.read(self._income)
        figures = metrics.finish(end, self.ledger, count, self.desk.counts.frozen())
        return Outcome(
            first_ms=first,
            last_ms=last,
            metrics=figures,
            samples=tuple(metrics.samples),
            fills=tuple(metrics.fills),
            stop=self.gate.halt,
            notes=tuple(self.gate.notes),
            open_orders=len(self.venue.open_orders(self.symbol)),
        )

    def _income(self, since_ms: int, page: int) -> list[IncomeRow]:
        return self.venue.income(since_ms, limit=1000, page=page)

    # --- timers -----------------------------------------------------------------------------------------

    def _run_due(self, until: int) -> None:
        """Run every timer due at or before `until`, in time order (ties: funding, arrival, tick, beat,
        hour, sample)."""
        while True:
            t = min(self.funding_ms, self.arrive_ms, self.tick_ms, self.beat_ms, self.hour_ms, self.sample_ms)
            if t > until:
                break
            if t == self.funding_ms:
                self._funding(t)
            elif t == self.arrive_ms:
                self._arrive(t)
            elif t == self.tick_ms:
                self._tick(t)
            elif t == self.beat_ms:
                self.beat_ms = NEVER
                if self._beat_matters(t):
                    self._wake(t)
                else:
                    self._schedule_beat(t)
            elif t == self.hour_ms:
                self.hour_ms += HOUR_MS
                self.metrics.hour()
                self.ledger.read(self._income)  # as the run goes: the venue keeps rows for 90 days
            else:
                self.sample_ms += SAMPLE_MS
                self.metrics.sample(t)
        self.due = t

    def _wake(self, now: int) -> None:
        """Something may change the quotes: tick as soon as the re-quote floor allows (after the answers to
        requests on their way)."""
        self.woken = True
        if self.tick_ms == NEVER and self.flight is None and self.gate.halt is None:
            self.tick_ms = at = max(now, self.last_quote + self.floor_ms)
            if at < self.due:
                self.due = at

    def _funding(self, t: int) -> None:
        venue = self.venue
        venue.advance_to(t)
        self.funding_ms = venue.next_funding_ms
        rows = venue.income(t, until_ms=t, income_type=IncomeType.FUNDING_FEE, symbol=self.symbol)
        if rows:
            for row in rows:  # the bot holds the whole position: the whole payment is its share
                self.inventory.add_funding(row.amount)
            self.metrics.wallet_moved(venue.wallet.balance)
            self._wake(t)

    def _beat_matters(self, now: int) -> bool:
        """False when a heartbeat tick now would change nothing: the latest book is inside the band (it
        would have woken the bot otherwise), no order is too old and the data is not stale."""
        book = self.book
        if self.band is None or now >= self.band_until or book is None:
            return True
        return self.stale_ms > 0 and now - book.ts_ms >= self.stale_ms

    def _schedule_beat(self, now: int) -> None:
        """The next heartbeat that may change something (see the module docstring)."""
        if self.gate.halt is not None:
            self.beat_ms = NEVER
            return
        if self.band is None:
            due = now + 1
        else:
            due = NEVER if math.isinf(self.band_until) else math.ceil(self.band_until)
            if self.stale_ms > 0 and self.book is not None:
                due = min(due, self.book.ts_ms + self.stale_ms)
            due = max(due, now + 1)
        if due >= NEVER:
            self.beat_ms = NEVER
            return
        every = self.beat_every
        self.beat_ms = beat = self.start_ms + -(-(due - self.start_ms) // every) * every
        if beat < self.due:
            self.due = beat

    # --- the tick -----------------------------------------------------------------------------------------

    def _tick(self, now: int) -> None:
        """One step of the bot's loop: risk, quotes, diff, requests; then the band for the next books."""
        self.tick_ms = NEVER
        self.woken = False
        book, gate = self.book, self.gate
        if book is None or gate.halt is not None:
            return
        self.desk.counts.ticks += 1
        halt = gate.check(now, book, self.inventory)
        if halt is not None:
            self._stop(now, halt)
            return
        quoting = gate.quoting
        desired = self._quotes(book) if quoting else []
        live = list(self.desk.live.values())
        plan = reconcile(
            desired, live, tolerance_bps=self.tolerance, max_age_ms=self.max_age_ms, now_ms=now, amend=True
        )
        self._set_band(None)
        if quoting:
            band, until_s, _ = band_after_tick(
                self.strategy,
                self.params,
                book,
                self.rules,
                plan,
                self.inventory,
                gate.monitor,
                now_ms=now,
                now_s=now / 1000,
                signals=self.signals,
                stale_test=False,
            )
            self._set_band(band, until_s * 1000)
        if self.signals is not None:
            self.band_version = self.signals.version
        if not plan.empty:
            self.last_quote = now
            batch = Batch(
                [o.client_order_id for o in plan.cancels], away_first(plan.amends), list(plan.places)
            )
            self._send(batch, now)
        self._schedule_beat(now)

    def _set_band(self, band: BookBand | None, until_ms: float = -math.inf) -> None:
        """Books inside `band` before `until_ms` leave the bot asleep; None: every book wakes it."""
        self.band = band
        if band is None:
            self.band_until, self.band_stirs = -math.inf, False
            return
        self.band_until = until_ms
        self.band_lo, self.band_hi = self.grid.value(band.mid2_lo), self.grid.value(band.mid2_hi)
        self.band_stirs = band.watches_micro or self.breaker or self.signals is not None

    def _stop(self, now: int, verdict: RiskVerdict) -> None:
        """A loss guard tripped: cancel everything (and flatten if asked); no more quoting."""
        self._set_band(None)
        self.beat_ms = NEVER
        batch = Batch(list(self.desk.live), [], [], flatten=verdict.action is RiskAction.FLATTEN)
        if batch.cancels or batch.flatten:
            self._send(batch, now)

    def _refused(self) -> None:
        """A request was refused: the band no longer holds, the next book wakes the bot."""
        self._set_band(None)

    def _quotes(self, book: BookTop) -> list[Quote]:
        """The strategy's quotes, remembered while their inputs stay the same (`BookReaction.quotes_for`)."""
        signals = self.signals
        version = 0 if signals is None else signals.version
        qty = self.inventory.qty
        at = book.ts_ms if self.book_time else 0  # a session horizon: the same prices later quote otherwise
        key = (book.bid, book.ask, book.bid_qty, book.ask_qty, qty, version, at)
        memo = self.memo
        if key != memo.key:
            memo.quotes = self.strategy.quotes(self.params, book, qty, self.rules, signals)
            memo.key = key
        return memo.quotes

    # --- requests (`mmctl.backtest.desk` carries them out) -----------------------------------------

    def _send(self, batch: Batch, now: int) -> None:
        latency = self.spec.latency_ms
        if latency == 0:
            self.desk.apply(batch, now)
            return
        self.flight = batch
        self.arrive_ms = at = now + latency
        if at < self.due:
            self.due = at

    def _arrive(self, now: int) -> None:
        batch, self.flight = self.flight, None
        self.arrive_ms = NEVER
        if batch is not None:
            self.desk.apply(batch, now)
        if self.woken and self.gate.halt is None:
            self.woken = False
            self._wake(now)


def _out_of_order(ts: int, last: int) -> ValidationError:
    return ValidationError(
        f"market data out of time order: {iso_utc(ts)} after {iso_utc(last)}", data={"field": "data"}
    )
