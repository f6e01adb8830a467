"""A backtest's figures: PnL lines from the venue's income ledger, fills, inventory, drawdown, Sharpe.

`MetricsRecorder` is fed by the engine (`mmctl.backtest.engine`) as the run goes and gives `Metrics` at
the end. Money is Decimal throughout; only the ratios (maker share, time in market, Sharpe) are floats.

- PnL lines (`LedgerTotals`): realized PnL, commission and funding are the sums of the paper venue's
  income rows (REALIZED_PNL, COMMISSION, FUNDING_FEE), signed as wallet changes (a paid commission is
  negative), read as the run goes so that no row is missed to the ledger's retention. They sum exactly
  to the wallet's change; `unrealized_pnl` is the position's at the end mark (the last book's mid, at
  the venue's 1e-8 rounding); `net_pnl` is their sum, exactly the change of equity.
- Equity = wallet + unrealized PnL at the mid. `max_drawdown` is the largest fall of equity from an
  earlier peak, over every book update (not only the samples): between two fills or funding payments
  equity is linear in the mid, so the extremes of the mid and its largest fall (rise, for a short)
  within each such stretch give the exact figure (computed without the unrealized PnL's rounding to
  1e-8, then rounded to 1e-8).
- Sharpe: equity at the start and at each full hour after it (start + k h); hourly returns
  (E_k - E_{k-1}) / E_{k-1}; mean / sample standard deviation × sqrt(24 × 365). None with fewer than
  two returns or a zero deviation. The last partial hour is not a return.
- Time in market: the fraction of the run (first to last event) during which the position was not 0.
- Series for the report: equity, mid and inventory at the start, at each minute boundary after it
  (start + k min: the state after every event before it) and at the end; every fill.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise

from mmctl.model import ZERO, Fill, IncomeRow, IncomeType, Side
from mmctl.pnl.position import CTX, money, unrealized_pnl

SAMPLE_MS = 60_000
HOUR_MS = 3_600_000
ANNUALISE = math.sqrt(24 * 365)
RATIO_DIGITS = 6  # floats in the result are rounded to this many decimals
PAGE = 1000  # income rows per page of the venue's ledger query

IncomePages = Callable[[int, int], list[IncomeRow]]
"""(since_ms, page) -> that page of the venue's income rows from `since_ms`, oldest first."""


@dataclass(frozen=True, slots=True)
class Sample:
    """The account at one moment: equity (quote), the mid, the bot's position (base)."""

    ts_ms: int
    equity: Decimal
    mid: Decimal
    inventory: Decimal


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One of the bot's fills, as the report marks it. `fee` is positive when paid."""

    ts_ms: int
    side: Side
    price: Decimal
    qty: Decimal
    maker: bool
    fee: Decimal
    realized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class OrderCounts:
    """What the bot asked of the venue and how it went (counted when the requests reached it)."""

    placed: int = 0
    amended: int = 0
    cancelled: int = 0
    rejected: int = 0  # placements and amends refused, and amends the venue turned into cancels
    post_only_rejects: int = 0  # of those, post-only orders that would have crossed
    ticks: int = 0  # quoting steps the bot ran


@dataclass(frozen=True, slots=True)
class Metrics:
    """The run's figures (see the module docstring). Ratios are None when undefined."""

    start_equity: Decimal
    end_equity: Decimal
    realized_pnl: Decimal
    commission: Decimal
    funding: Decimal
    unrealized_pnl: Decimal
    net_pnl: Decimal
    volume: Decimal
    fills: int
    maker_fills: int
    taker_fills: int
    maker_share: float | None  # maker fills / fills
    max_inventory: Decimal  # largest |position|
    end_inventory: Decimal
    end_mark: Decimal | None
    max_drawdown: Decimal
    sharpe: float | None
    hourly_returns: int
    time_in_market: float
    events: int
    orders: OrderCounts


class LedgerTotals:
    """Running sums of the venue's income rows by type, read incrementally by time and row id."""

    def __init__(self) -> None:
        self.realized = ZERO
        self.commission = ZERO
        self.funding = ZERO
        self.other = ZERO  # transfers: none in a backtest, kept so the lines always add up
        self._since_ms = 0
        self._page = 1
        self._last_id = 0

    def read(self, income: IncomePages) -> None:
        """Add every row not read yet. `income(since_ms, page)` is the venue's `income` query (oldest
        first, pages of `PAGE` rows from `since_ms`)."""
        while True:
            rows = income(self._since_ms, self._page)
            for row in rows:
                if int(row.id) > self._last_id:
                    self._add(row)
                    self._last_id = int(row.id)
            if len(rows) < PAGE:
                return
            if rows[-1].ts_ms == self._since_ms:  # a whole page at one millisecond: the next page
                self._page += 1
            else:
                self._since_ms, self._page = rows[-1].ts_ms, 1

    def _add(self, row: IncomeRow) -> None:
        if row.type is IncomeType.REALIZED_PNL:
            self.realized = CTX.add(self.realized, row.amount)
        elif row.type is IncomeType.COMMISSION:
            self.commission = CTX.add(self.commission, row.amount)
        elif row.type is IncomeType.FUNDING_FEE:
            self.funding = CTX.add(self.funding, row.amount)
        else:
            self.other = CTX.add(self.other, row.amount)


class MetricsRecorder:
    """Collects a run's figures; the engine calls `book2` for every book while the position is not 0."""

    def __init__(self, start_ms: int, balance: Decimal) -> None:
        self.start_ms = start_ms
        self.start_equity = balance
        self.wallet = balance
        self.qty = ZERO
        self.entry = ZERO
        self.mid2: Decimal | None = None  # bid + ask of the latest book
        self.holding = False  # the position is not 0: `book2` must see every book
        self.fills: list[FillRecord] = []
        self.samples: list[Sample] = []
        self.hourly: list[Decimal] = []
        self.max_inventory = ZERO
        self._in_market_ms = 0
        self._entered_ms = 0
        # drawdown: peak equity so far, the largest fall, and the current stretch of constant position
        self._peak: Decimal | None = None
        self._drawdown = ZERO
        self._hi = ZERO
        self._lo = ZERO
        self._worst = ZERO  # largest fall (long) or rise (short) of bid + ask within the stretch

    # --- the hot path -----------------------------------------------------------------------------

    def book2(self, mid2: Decimal) -> None:
        """A book with bid + ask = `mid2` while holding a position."""
        self.mid2 = mid2
        if mid2 > self._hi:
            self._hi = mid2
        elif mid2 < self._lo:
            self._lo = mid2
        if self.qty > 0:
            fall = self._hi - mid2
            if fall > self._worst:
                self._worst = fall
        else:
            rise = mid2 - self._lo
            if rise > self._worst:
                self._worst = rise

    # --- changes of the account -------------------------------------------------------------------

    def first_book(self, mid2: Decimal) -> None:
        """The first book: equity starts being measured."""
        self.mid2 = mid2
        self._start_stretch()

    def fill(self, fill: Fill, qty: Decimal, entry: Decimal, wallet: Decimal) -> None:
        """One of the bot's fills, with the position, entry price and wallet after it."""
        self._end_stretch()
        self.fills.append(
            FillRecord(fill.ts_ms, fill.side, fill.price, fill.qty, fill.maker, fill.fee, fill.realized_pnl)
        )
        if qty and not self.qty:
            self._entered_ms = fill.ts_ms
        elif self.qty and not qty:
            self._in_market_ms += fill.ts_ms - self._entered_ms
        self.qty, self.entry, self.wallet = qty, entry, wallet
        self.holding = qty != 0
        size = abs(qty)
        if size > self.max_inventory:
            self.max_inventory = size
        self._start_stretch()

    def wallet_moved(self, wallet: Decimal) -> None:
        """The wallet changed without a fill (a funding payment)."""
        self._end_stretch()
        self.wallet = wallet
        self._start_stretch()

    def sample(self, ts_ms: int) -> None:
        """A point of the report's series (at a minute boundary, or the end)."""
        if self.mid2 is None:
            return
        mid = CTX.divide(self.mid2, 2)
        self.samples.append(Sample(ts_ms, self.equity(mid), mid, self.qty))

    def hour(self) -> None:
        """Equity at an hour boundary (or the start), for the hourly returns."""
        if self.mid2 is not None:
            self.hourly.append(self.equity(CTX.divide(self.mid2, 2)))

    def equity(self, mid: Decimal) -> Decimal:
        """Wallet plus unrealized PnL at `mid`, as the venue rounds it."""
        if not self.qty:
            return self.wallet
        return CTX.add(self.wallet, unrealized_pnl(self.qty, self.entry, mid))

    # --- drawdown ---------------------------------------------------------------------------------

    def _exact_equity(self, mid2: Decimal) -> Decimal:
        return CTX.add(self.wallet, CTX.multiply(self.qty, CTX.subtract(CTX.divide(mid2, 2), self.entry)))

    def _start_stretch(self) -> None:
        if self.mid2 is None:
            return
        self._hi = self._lo = self.mid2
        self._worst = ZERO
        if self._peak is None:
            self._peak = self._exact_equity(self.mid2)

    def _end_stretch(self) -> None:
        """Fold the stretch since the last change into the peak and the drawdown."""
        peak = self._peak
        if peak is None:
            return
        low, high = self._exact_equity(self._lo), self._exact_equity(self._hi)
        lowest, highest = min(low, high), max(low, high)
        within = CTX.multiply(CTX.abs(self.qty), CTX.divide(self._worst, 2))
        self._drawdown = max(self._drawdown, CTX.subtract(peak, lowest), within)
        self._peak = max(peak, highest)

    # --- the end ----------------------------------------------------------------------------------

    def finish(self, end_ms: int, ledger: LedgerTotals, events: int, orders: OrderCounts) -> Metrics:
        """The run's `Metrics`; `ledger` must have read every row."""
        self._end_stretch()
        if self.qty:
            self._in_market_ms += end_ms - self._entered_ms
            self._entered_ms = end_ms
        mid = None if self.mid2 is None else CTX.divide(self.mid2, 2)
        unrealized = unrealized_pnl(self.qty, self.entry, mid) if mid is not None and self.qty else ZERO
        booked = CTX.add(CTX.add(ledger.realized, ledger.commission), CTX.add(ledger.funding, ledger.other))
        net = CTX.add(booked, unrealized)
        makers = sum(1 for f in self.fills if f.maker)
        volume = ZERO
        for f in self.fills:
            volume = CTX.add(volume, CTX.multiply(f.price, f.qty))
        span = end_ms - self.start_ms
        return Metrics(
            start_equity=self.start_equity,
            end_equity=CTX.add(self.start_equity, net),
            realized_pnl=ledger.realized,
            commission=ledger.commission,
            funding=ledger.funding,
            unrealized_pnl=unrealized,
            net_pnl=net,
            volume=volume,
            fills=len(self.fills),
            maker_fills=makers,
            taker_fills=len(self.fills) - makers,
            maker_share=_ratio(makers / len(self.fills)) if self.fills else None,
            max_inventory=self.max_inventory,
            end_inventory=self.qty,
            end_mark=mid,
            max_drawdown=money(self._drawdown),
            sharpe=sharpe(self.hourly),
            hourly_returns=max(0, len(self.hourly) - 1),
            time_in_market=_ratio(self._in_market_ms / span) if span > 0 else 0.0,
            events=events,
            orders=orders,
        )


def sharpe(equity: list[Decimal]) -> float | None:
    """Annualised Sharpe ratio of the returns between consecutive equity figures (hourly), or None."""
    returns = [float(b - a) / float(a) for a, b in pairwise(equity) if a > 0]
    if len(returns) < 2:
        return None
    deviation = statistics.stdev(returns)
    if deviation == 0 or not math.isfinite(deviation):
        return None
    return _ratio(statistics.fmean(returns) / deviation * ANNUALISE)


def _ratio(value: float) -> float:
    return round(value, RATIO_DIGITS)
