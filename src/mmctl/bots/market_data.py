"""One book subscription per symbol, shared by every bot that quotes it.

Without a hub, N bots on one symbol would hold N `watch_book` streams (N websocket subscriptions on
Binance) and parse every update N times. `MarketDataHub(exchange)` holds exactly one upstream
`exchange.watch_book(symbol)` per symbol while at least one subscriber wants it (started by the first
`subscribe`, stopped when the last subscription closes) and fans each update out to that symbol's
subscribers. A `BookSubscription` conflates like the port's streams: a slow reader gets the newest book,
never a backlog. A subscriber that joins a running upstream starts from the latest book already seen.

If the upstream ends, every subscription of the symbol ends after its pending book; if it fails, each
subscription raises (a copy of) the error once after its pending book. The next `subscribe` starts a
fresh upstream. `last_update(symbol)` keeps the latest book and when it arrived (the hub's clock,
monotonic) for staleness checks. Subscriptions are held strongly: close them (`aclose()` or `async with`).

Wake only whom a book concerns. A subscriber may instead pass callbacks (`subscribe(symbol, on_book=...,
on_quiet=...)`) and register a band (`set_band`): the books, in integer ticks, that cannot change what it
would do, until a deadline on the hub's clock. For each update the hub reads the top in ticks once and
compares it with every band (integer comparisons). A subscriber outside its band (or with none) gets
`on_book(top, mid, arrived)` at once, synchronously, and its band is used up; subscribers whose band was
left are called before those that had none. Those inside get `on_quiet(top, mid, arrived)` for their
bookkeeping (a risk guard's mid history and data age), in one batch scheduled after the woken tasks, so a
quiet subscriber costs the woken ones a comparison, not a task switch. `mid` is computed once per update.
A callback subscriber joining a running upstream gets the latest book through `on_book` at the next loop
turn; it waits for its end with `wait_closed()`.

Public trades, for the strategies that read them, have a hub of their own with the same sharing (one
upstream `watch_trades` per symbol while it has subscribers) but no conflation: `subscribe_trades(symbol,
on_trade)` calls `on_trade(trade)` for every trade, in order (`mmctl.bots.trade_data`). Bots whose
strategy reads only the book never open one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

from mmctl.bots.trade_data import TradeCallback, TradeHub, TradeSubscription
from mmctl.bots.upstreams import Subscriber, Upstream, Upstreams
from mmctl.clock import Clock, SystemClock
from mmctl.exchange.base import Exchange
from mmctl.model import BookTop
from mmctl.strategies.base import BookBand, microprice
from mmctl.strategies.ticks import Grid

BookCallback = Callable[[BookTop, Decimal, float], None]  # (top, its mid, when it arrived on the hub clock)


class BookSubscription(Subscriber):
    """One subscriber's conflated stream of a symbol's top of book (unified symbol in `symbol`)."""

    def __init__(
        self,
        hub: MarketDataHub,
        symbol: str,
        latest: BookTop | None,
        on_book: BookCallback | None = None,
        on_quiet: BookCallback | None = None,
    ) -> None:
        super().__init__(hub._upstreams, symbol)
        self._latest = latest
        self.on_book = on_book
        self.on_quiet = on_quiet
        self.band: BookBand | None = None  # books that need no `on_book`, until `band_until`
        self.band_until = 0.0

    def set_band(self, band: BookBand | None, until: float = float("inf")) -> None:
        """Books inside `band` arriving before `until` (hub clock) go to `on_quiet`; None: every book
        goes to `on_book`. Only for a subscription with callbacks."""
        if self.on_book is None:
            raise ValueError("a band needs a subscription with callbacks (on_book)")
        self.band, self.band_until = band, until

    def __aiter__(self) -> BookSubscription:
        return self

    async def __anext__(self) -> BookTop:
        while self._latest is None:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            if self._ended:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        top, self._latest = self._latest, None
        return top

    async def aclose(self) -> None:
        """Unsubscribe (idempotent); the upstream stops when this was its last subscriber."""
        self._latest = None
        await super().aclose()

    def _offer(self, top: BookTop) -> None:
        if not self._ended:
            self._latest = top
            self._wakeup.set()

    def _deliver(self, top: BookTop, mid: Decimal, arrived: float) -> None:
        """A book that may concern the subscriber: its callback, or its queue."""
        if self._ended:
            return
        if self.on_book is None:
            self._latest = top
            self._wakeup.set()
        else:
            self.band = None  # used up: the subscriber registers a new one when it has looked
            self.on_book(top, mid, arrived)


class _Upstream(Upstream[AsyncIterator[BookTop], BookSubscription]):
    """The hub's one `watch_book` stream of a symbol and the subscribers it feeds."""

    def __init__(self, symbol: str, stream: AsyncIterator[BookTop], grid: Grid) -> None:
        super().__init__(symbol, stream)
        self.grid = grid  # the symbol's price ticks


class MarketDataHub:
    """Shared top-of-book subscriptions over one `Exchange` (one account, or one public data client)."""

    def __init__(self, exchange: Exchange, clock: Clock | None = None) -> None:
        self.exchange = exchange
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._upstreams: Upstreams[_Upstream] = Upstreams("book", self._pump)
        self._last: dict[str, tuple[BookTop, float]] = {}
        self.trades = TradeHub(exchange, self.clock)  # public trades, for strategies that read them

    def subscribe(
        self, symbol: str, *, on_book: BookCallback | None = None, on_quiet: BookCallback | None = None
    ) -> BookSubscription:
        """Subscribe to `symbol` (either form; `UnknownSymbol` if the exchange has no such market).
        With `on_book`, books are delivered by calling it (and `on_quiet` inside a band), not queued."""
        unified = self.exchange.market(symbol).symbol
        if self._upstreams.closed:
            sub = BookSubscription(self, unified, None, on_book, on_quiet)
            sub._end(None)
            return sub
        upstream = self._upstreams.get(unified)
        latest: BookTop | None = None
        if upstream is None:
            upstream = self._start(unified)
        elif unified in self._last:
            latest = self._last[unified][0]
        sub = BookSubscription(self, unified, None if on_book else latest, on_book, on_quiet)
        upstream.subscribers[sub] = None
        if on_book is not None and latest is not None:
            asyncio.get_running_loop().call_soon(self._greet, sub)
        return sub

    def subscribe_trades(self, symbol: str, on_trade: TradeCallback) -> TradeSubscription:
        """Call `on_trade` with every public trade of `symbol`, in order, through the symbol's one
        shared `watch_trades` stream (`mmctl.bots.trade_data.TradeHub.subscribe`)."""
        return self.trades.subscribe(symbol, on_trade)

    def last_update(self, symbol: str) -> tuple[BookTop, float] | None:
        """The latest book seen for `symbol` and when it arrived (`clock.monotonic()`), or None."""
        return self._last.get(self.exchange.market(symbol).symbol)

    def subscriptions(self) -> dict[str, int]:
        """Open subscriptions per unified symbol."""
        return self._upstreams.subscriptions()

    def upstream_count(self) -> int:
        """How many `watch_book` streams the hub holds open."""
        return len(self._upstreams)

    async def aclose(self) -> None:
        """End every subscription and stop every upstream; later subscriptions end at once."""
        self._upstreams.closed = True  # no new book upstream while the trade hub closes
        await self.trades.aclose()
        await self._upstreams.aclose()

    # --- machinery ----------------------------------------------------------------------------------

    def _start(self, symbol: str) -> _Upstream:
        grid = Grid.of(self.exchange.market(symbol).tick_size)
        return self._upstreams.start(_Upstream(symbol, self.exchange.watch_book(symbol), grid))

    async def _pump(self, upstream: _Upstream) -> None:
        error: Exception | None = None
        try:
            async for top in upstream.stream:
                arrived = self.clock.monotonic()
                self._last[upstream.symbol] = (top, arrived)
                _fan_out(upstream, top, arrived)
        except Exception as e:  # handed to every subscriber, which raises it
            error = e
        await self._upstreams.ended(upstream, error)

    def _greet(self, sub: BookSubscription) -> None:
        """A callback subscriber that joined a running upstream starts from the latest book."""
        last = self._last.get(sub.symbol)
        if last is not None:
            sub._deliver(last[0], last[0].mid, self.clock.monotonic())


def _fan_out(upstream: _Upstream, top: BookTop, arrived: float) -> None:
    """Hand `top` to the subscribers it concerns (see the module docstring)."""
    quiet: list[BookSubscription] = []
    unbanded: list[BookSubscription] = []
    look = _Look(upstream.grid, top)
    for sub in upstream.subscribers:
        band = sub.band
        if band is None:
            if sub.on_book is None:
                sub._offer(top)
            else:
                unbanded.append(sub)
        elif arrived < sub.band_until and look.inside(band):
            quiet.append(sub)
        else:
            sub._deliver(top, look.mid, arrived)
    for sub in unbanded:
        sub._deliver(top, look.mid, arrived)
    if quiet:
        asyncio.get_running_loop().call_soon(_settle, quiet, top, look.mid, arrived)


class _Look:
    """One update as the bands see it, each figure computed once, when first needed."""

    __slots__ = ("_grid", "_looked", "_micro", "_mid", "_ticks", "top")

    def __init__(self, grid: Grid, top: BookTop) -> None:
        self._grid = grid
        self.top = top
        self._mid: Decimal | None = None
        self._looked = False
        self._ticks: tuple[int, int] | None = None  # bid and ask in ticks; None off the grid
        self._micro: tuple[int, int] | None = None

    @property
    def mid(self) -> Decimal:
        if self._mid is None:
            self._mid = self.top.mid
        return self._mid

    def inside(self, band: BookBand) -> bool:
        """True when the book is inside `band` (an off-grid book never is)."""
        if not self._looked:
            self._looked = True
            bid, ask = self._grid.index(self.top.bid), self._grid.index(self.top.ask)
            self._ticks = None if bid is None or ask is None else (bid, ask)
        if self._ticks is None or not band.admits(*self._ticks):
            return False
        if not band.watches_micro:
            return True
        if self._micro is None:
            self._micro = self._grid.index_ratio(microprice(self.top))
        return band.admits_micro(*self._micro)


def _settle(quiet: list[BookSubscription], top: BookTop, mid: Decimal, arrived: float) -> None:
    """The quiet subscribers' bookkeeping for `top`, after the woken ones have run."""
    for sub in quiet:
        if not sub._ended and sub.on_quiet is not None:
            sub.on_quiet(top, mid, arrived)
