"""What a strategy is: a pure function from book, position and parameters to desired quotes.

A `Strategy` names its parameter class (a `StrategyParams` dataclass), checks parameters against a
market's rules, and proposes `Quote`s. It does no I/O and keeps no state: the bot runtime calls it when a
book update may change its quotes and diffs the result against its live orders (`mmctl.bots.orders`).
Every quote is placed post-only.

A strategy that reads more than the book (volatility or order-arrival estimates, indicators on candles)
says so with `needs` and keeps that state in a per-bot `Signals` object it creates with `signals`: the
runtime (and the backtester) feeds it every book, the bot's own fills and, when asked, every public
trade, in time order, and passes it back to `quotes`. A stateless strategy returns None from `signals`
and ignores the argument. Third-party strategies register through the entry point group `mmctl.strategies`
(`mmctl.strategies.registry`).

A strategy that manages positions may also name exits to hold on the venue (`HoldsExits.held_exits`):
conditional close-position orders that trigger at a price even while the daemon is down. The runtime
keeps them in step (`mmctl.bots.held_exits`) and cancels them with the bot's orders on every stop.

`quote_bands` tells the runtime which book updates cannot change the diff: the `BookBand` (in integer
ticks) within which every desired price stays inside the window the runtime gives for it (its refresh
tolerance around the live order's price). The market-data hub compares each new book with the band and
wakes the bot only outside it; the per-level bands let the woken bot cancel the orders the book made
stale before it computes anything else (`mmctl.bots.stale`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from mmctl.model import BookTop, Fill, MarketRules, OrderRequest, Side, Trade
from mmctl.strategies.params import StrategyParams
from mmctl.strategies.ticks import Grid

P = TypeVar("P", bound=StrategyParams)


@dataclass(frozen=True, slots=True)
class Quote:
    """One desired order: `level` 0 is the one nearest the reference price on its side.

    A quote is a post-only limit order unless it says otherwise: `post_only=False` with a price at or
    through the opposite best price is a marketable limit (a taker entry or exit, at most that price);
    `reduce_only` only ever shrinks the position (an exit). `ticks` is the price in ticks of `grid` when
    the strategy computed it on the grid (not part of the quote's identity: a quote equals another with
    the same side, level, price, size and flags)."""

    side: Side
    level: int
    price: Decimal
    qty: Decimal
    ticks: int | None = field(default=None, compare=False, repr=False)
    grid: Grid | None = field(default=None, compare=False, repr=False)
    post_only: bool = True
    reduce_only: bool = False

    def to_request(self, symbol: str, client_order_id: str) -> OrderRequest:
        """The limit order that places this quote."""
        return OrderRequest(
            symbol=symbol,
            side=self.side,
            qty=self.qty,
            price=self.price,
            client_order_id=client_order_id,
            post_only=self.post_only,
            reduce_only=self.reduce_only,
        )


UNBOUNDED = 10**40  # "no bound" in a `BookBand` (far beyond any price in ticks)
NEAREST = Context(prec=28, rounding=ROUND_HALF_EVEN)  # how a reference price (mid, microprice) is computed

PriceWindows = Mapping[tuple[Side, int], tuple[int, int]]  # (side, level) -> lowest, highest price in ticks


def microprice(book: BookTop) -> Decimal:
    """The book's microprice as strategies compute it: 28 digits, half-even, whatever the thread's
    decimal context."""
    with localcontext(NEAREST):
        return book.microprice


@dataclass(frozen=True, slots=True)
class BookBand:
    """Books, in ticks of the market's price grid, under which a strategy's quotes stay put: bid + ask
    (twice the mid) within [mid2_lo, mid2_hi] and twice the `microprice` within [micro2_lo, micro2_hi],
    inclusive. A crossed or empty book is never inside."""

    mid2_lo: int = -UNBOUNDED
    mid2_hi: int = UNBOUNDED
    micro2_lo: int = -UNBOUNDED
    micro2_hi: int = UNBOUNDED

    @property
    def watches_micro(self) -> bool:
        """True when the band bounds the microprice (the caller must then check `admits_micro`)."""
        return self.micro2_lo > -UNBOUNDED or self.micro2_hi < UNBOUNDED

    def admits(self, bid: int, ask: int) -> bool:
        """True when a book with this bid and ask (ticks) passes the band's bid and ask conditions."""
        return 0 < bid < ask and self.mid2_lo <= bid + ask <= self.mid2_hi

    def admits_micro(self, num: int, den: int) -> bool:
        """True when a microprice of num / den ticks (den > 0) is inside the band."""
        twice = 2 * num
        return self.micro2_lo * den <= twice <= self.micro2_hi * den

    def narrowed(self, mid2_lo: int, mid2_hi: int) -> BookBand:
        """This band with its mid range cut to [mid2_lo, mid2_hi]."""
        return BookBand(
            max(self.mid2_lo, mid2_lo), min(self.mid2_hi, mid2_hi), self.micro2_lo, self.micro2_hi
        )


@dataclass(frozen=True, slots=True)
class QuoteBands:
    """What `Strategy.quote_bands` tells the runtime about the books near the one it was asked about.

    `band`: the books under which the quotes keep their levels and sizes with every price inside its
    window (what `quote_band` returns). `sizing`: the books under which the ladder itself (each level's
    size and how its price follows the reference) stays what it is, for the same params and position.
    `levels[(side, level)]`: for each quoted level with a window, the books under which that level stays
    quoted with its price inside its window, the ladder being the same. So a book inside `sizing` and
    outside `levels[key]` moves that level's desired price out of its window (or unquotes it): an order
    resting there is no longer kept by the diff, whatever else the book changes."""

    band: BookBand
    sizing: BookBand
    levels: Mapping[tuple[Side, int], BookBand]


@dataclass(frozen=True, slots=True)
class DataNeeds:
    """The market data a strategy reads besides the book top: public trades, and candles of
    `candle_interval_s` seconds built from them (0: no candles). Candles imply trades. `book_time`: its
    quotes depend on the book's time too (a session horizon), so the runtime never reuses quotes made
    for the same prices at an earlier time."""

    trades: bool = False
    candle_interval_s: int = 0
    book_time: bool = False

    @property
    def wants_trades(self) -> bool:
        return self.trades or self.candle_interval_s > 0


BOOK_ONLY = DataNeeds()


class Signals(Protocol):
    """A bot's own state derived from market data (estimators, indicators), fed by the runtime in time
    order and read by its strategy's `quotes`. `version` changes whenever anything `quotes` reads changed
    (the runtime recomputes quotes only when the book, the position, the params or `version` changed)."""

    @property
    def version(self) -> int: ...

    def on_book(self, book: BookTop) -> None:
        """Observe a book top (every update of the bot's symbol)."""
        ...

    def on_trade(self, trade: Trade) -> None:
        """Observe a public trade on the bot's symbol (only when the strategy's `needs` asks for trades)."""
        ...

    def on_fill(self, fill: Fill, position: Decimal) -> None:
        """Observe one of the bot's own fills and its position after it (entry prices, exits)."""
        ...


@dataclass(frozen=True, slots=True)
class HeldExit:
    """An exit held on the venue for the whole position: `stop` triggers when the mark price moves
    against the position to `trigger_price`, `take_profit` when it moves in its favour to it."""

    kind: Literal["stop", "take_profit"]
    trigger_price: Decimal


@runtime_checkable
class HoldsExits(Protocol):
    """A strategy with exits held on the venue (optional: the runtime asks only strategies that have it)."""

    def held_exits(
        self, params: Any, position: Decimal, rules: MarketRules, signals: Signals | None
    ) -> list[HeldExit]:
        """The exits to hold for this position now (none when flat); prices on the tick grid."""
        ...


class Strategy(Protocol[P]):
    """A quoting strategy. Implementations are stateless; the registry holds one instance of each."""

    @property
    def name(self) -> str:
        """The name users type (`--strategy market_maker`)."""
        ...

    @property
    def description(self) -> str:
        """One line for `mmctl strategies`: what the strategy does."""
        ...

    @property
    def params_cls(self) -> type[P]:
        """The strategy's parameter dataclass (parse it with `mmctl.strategies.params.parse_params`)."""
        ...

    def needs(self, params: P) -> DataNeeds:
        """The market data the strategy reads with these params besides the book top."""
        ...

    def signals(self, params: P, rules: MarketRules) -> Signals | None:
        """A fresh per-bot `Signals` for these params, or None for a strategy that reads only the book."""
        ...

    def check_against_market(self, params: P, rules: MarketRules, reference_price: Decimal) -> None:
        """Raise `ValidationError` naming the field if `params` cannot quote this market at this price."""
        ...

    def quotes(
        self,
        params: P,
        book: BookTop,
        position: Decimal,
        rules: MarketRules,
        signals: Signals | None = None,
    ) -> list[Quote]:
        """The desired quotes for this book and position (and the bot's `signals`, from `signals()`): on
        the market's grids, above its minimums."""
        ...

    def quote_bands(
        self,
        params: P,
        book: BookTop,
        position: Decimal,
        rules: MarketRules,
        windows: PriceWindows,
        signals: Signals | None = None,
    ) -> QuoteBands | None:
        """The books under which `quotes` (same params, position and rules) keeps the same set of
        (side, level)s and sizes, with each price inside `windows[(side, level)]` (ticks, inclusive),
        and the per-level detail (`QuoteBands`); `book` must be inside. None when the strategy cannot
        tell: the bot then wakes on every book. A strategy with `signals` answers for the signals as they
        are now; the runtime asks again when their `version` changes."""
        ...
