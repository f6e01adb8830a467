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
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from types import TracebackType

from mmctl.clock import Clock, SystemClock
from mmctl.exchange.base import Exchange
from mmctl.model import BookTop


class BookSubscription:
    """One subscriber's conflated stream of a symbol's top of book (unified symbol in `symbol`)."""

    def __init__(self, hub: MarketDataHub, symbol: str, latest: BookTop | None) -> None:
        self.symbol = symbol
        self._hub = hub
        self._latest = latest
        self._wakeup = asyncio.Event()
        self._ended = False
        self._error: BaseException | None = None

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

    @property
    def closed(self) -> bool:
        """True once the subscription will deliver nothing new (closed, or its upstream ended)."""
        return self._ended

    async def aclose(self) -> None:
        """Unsubscribe (idempotent); the upstream stops when this was its last subscriber."""
        self._end(None)
        self._latest, self._error = None, None
        await self._hub._unsubscribe(self)

    async def __aenter__(self) -> BookSubscription:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _offer(self, top: BookTop) -> None:
        if not self._ended:
            self._latest = top
            self._wakeup.set()

    def _end(self, error: BaseException | None) -> None:
        if not self._ended:
            self._ended = True
            self._error = copy.copy(error) if error is not None else None
            self._wakeup.set()


class _Upstream:
    """The hub's one `watch_book` stream of a symbol and the subscribers it feeds."""

    def __init__(self, symbol: str, stream: AsyncIterator[BookTop]) -> None:
        self.symbol = symbol
        self.stream = stream
        self.subscribers: dict[BookSubscription, None] = {}  # an ordered set
        self.task: asyncio.Task[None] | None = None


class MarketDataHub:
    """Shared top-of-book subscriptions over one `Exchange` (one account, or one public data client)."""

    def __init__(self, exchange: Exchange, clock: Clock | None = None) -> None:
        self.exchange = exchange
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._upstreams: dict[str, _Upstream] = {}
        self._last: dict[str, tuple[BookTop, float]] = {}
        self._closed = False

    def subscribe(self, symbol: str) -> BookSubscription:
        """Subscribe to `symbol` (either form; `UnknownSymbol` if the exchange has no such market)."""
        unified = self.exchange.market(symbol).symbol
        if self._closed:
            sub = BookSubscription(self, unified, None)
            sub._end(None)
            return sub
        upstream = self._upstreams.get(unified)
        latest: BookTop | None = None
        if upstream is None:
            upstream = self._start(unified)
        elif unified in self._last:
            latest = self._last[unified][0]
        sub = BookSubscription(self, unified, latest)
        upstream.subscribers[sub] = None
        return sub

    def last_update(self, symbol: str) -> tuple[BookTop, float] | None:
        """The latest book seen for `symbol` and when it arrived (`clock.monotonic()`), or None."""
        return self._last.get(self.exchange.market(symbol).symbol)

    def subscriptions(self) -> dict[str, int]:
        """Open subscriptions per unified symbol."""
        return {s: len(u.subscribers) for s, u in self._upstreams.items() if u.subscribers}

    def upstream_count(self) -> int:
        """How many `watch_book` streams the hub holds open."""
        return len(self._upstreams)

    async def aclose(self) -> None:
        """End every subscription and stop every upstream; later subscriptions end at once."""
        self._closed = True
        upstreams, self._upstreams = list(self._upstreams.values()), {}
        for upstream in upstreams:
            for sub in upstream.subscribers:
                sub._end(None)
            upstream.subscribers.clear()
            await _stop(upstream)

    # --- machinery ----------------------------------------------------------------------------------

    def _start(self, symbol: str) -> _Upstream:
        upstream = _Upstream(symbol, self.exchange.watch_book(symbol))
        upstream.task = asyncio.get_running_loop().create_task(self._pump(upstream), name=f"book-{symbol}")
        self._upstreams[symbol] = upstream
        return upstream

    async def _pump(self, upstream: _Upstream) -> None:
        error: Exception | None = None
        try:
            async for top in upstream.stream:
                self._last[upstream.symbol] = (top, self.clock.monotonic())
                for sub in upstream.subscribers:
                    sub._offer(top)
        except Exception as e:  # handed to every subscriber, which raises it
            error = e
        if self._upstreams.get(upstream.symbol) is upstream:
            del self._upstreams[upstream.symbol]
        for sub in upstream.subscribers:
            sub._end(error)
        upstream.subscribers.clear()
        await _close_stream(upstream.stream)

    async def _unsubscribe(self, sub: BookSubscription) -> None:
        upstream = self._upstreams.get(sub.symbol)
        if upstream is None or sub not in upstream.subscribers:
            return
        del upstream.subscribers[sub]
        if not upstream.subscribers:
            del self._upstreams[sub.symbol]
            await _stop(upstream)


async def _stop(upstream: _Upstream) -> None:
    task = upstream.task
    if task is not None and task is not asyncio.current_task():
        task.cancel()
        await asyncio.wait([task])
    await _close_stream(upstream.stream)


async def _close_stream(stream: AsyncIterator[BookTop]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
