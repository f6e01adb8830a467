"""The account's live data: top of book per symbol and the user data stream, each watched for freshness.

`BookStreams` runs one task per watched symbol over `watch_bids_asks`: it primes the symbol from REST,
publishes every WebSocket update (conflated: a slow watcher sees the newest top), reconnects with backoff
when the stream fails (publishing REST tops meanwhile), and when the stream has been quiet for `quiet_s`
asks REST; a newer top there means the socket is dead, so it is dropped and re-opened.

`UserStream` keeps the user data stream subscribed (ccxt creates the listenKey and keeps it alive; after
`listenKeyExpired` a new one is made) and publishes each own-order event to every subscriber of
`order_updates()`. Whenever the stream (re)connects, and whenever it has been quiet for `quiet_s` while
orders are pending, it runs the account's REST reconciliation: the updates the stream missed are
published, and if the stream was connected yet missed something it is presumed dead and re-created.
An optional `reconcile_first` step (the account's conditional orders, `algo.AlgoOrders.reconcile`) runs
before the orders' own, so an order a conditional became meanwhile is known when the orders are checked.

Both loops sleep on the injected `Clock`; each has one error boundary, around one iteration. The book
loop's reconnect with backoff is `reconnect.keep_watching`, shared with the public trade streams.
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

import structlog

from mmctl.clock import Clock, now_ms
from mmctl.exchange.binance.convert import book_top, book_update_id
from mmctl.exchange.binance.reconnect import backoff, keep_watching, stop_tasks
from mmctl.exchange.binance.tracker import OrderTracker
from mmctl.exchange.fanout import BookWatch, Fanout, Subscription
from mmctl.model import BookTop, Fill, Order, OrderUpdate

log = structlog.get_logger("mmctl.binance")

T = TypeVar("T")


# --- top of book ----------------------------------------------------------------------------------------


class BookSource(Protocol):
    async def watch_book_ticker(self, symbol: str, last: Mapping[str, Any] | None) -> Mapping[str, Any]:
        """The stream's next raw bookTicker after `last`."""
        ...

    def reset_streams(self, kind: str, reason: str) -> int: ...


class _SymbolBook:
    def __init__(self) -> None:
        self.top: BookTop | None = None
        self.update_id: int | None = None
        self.last_raw: Mapping[str, Any] | None = None  # the stream's last bookTicker
        self.fresh_at: float | None = None  # clock.monotonic() of the last confirmation
        self.watchers: weakref.WeakSet[BookWatch] = weakref.WeakSet()
        self.task: asyncio.Task[None] | None = None
        self.state = "starting"
        self.reconnects = 0
        self.rest_fallbacks = 0


class BookStreams:
    """Top of book for every watched symbol (see the module docstring)."""

    def __init__(
        self,
        source: BookSource,
        rest_ticker: Callable[[str], Awaitable[Mapping[str, Any]]],
        clock: Clock,
        *,
        quiet_s: float = 15.0,
    ) -> None:
        self.source = source
        self.rest_ticker = rest_ticker
        self.clock = clock
        self.quiet_s = quiet_s
        self._books: dict[str, _SymbolBook] = {}
        self._closed = False

    def latest(self, symbol: str) -> BookTop | None:
        book = self._books.get(symbol)
        return book.top if book is not None else None

    def watch(self, symbol: str) -> BookWatch:
        book = self._books.get(symbol)
        if book is None:
            book = self._books[symbol] = _SymbolBook()
        watch = BookWatch(book.top)
        if self._closed:
            watch.end()
            return watch
        book.watchers.add(watch)
        if book.task is None:
            book.task = asyncio.get_running_loop().create_task(self._run(symbol, book), name=f"book-{symbol}")
        return watch

    def subscribed(self) -> list[str]:
        return [s for s, b in self._books.items() if b.task is not None]

    def age_s(self) -> float | None:
        """Seconds since the stalest subscribed symbol was last confirmed (None before any data)."""
        times = [b.fresh_at for b in self._books.values() if b.task is not None]
        if not times or any(t is None for t in times):
            return None
        return max(0.0, self.clock.monotonic() - min(t for t in times if t is not None))

    def states(self) -> dict[str, str]:
        return {s: b.state for s, b in sorted(self._books.items()) if b.task is not None}

    async def close(self) -> None:
        self._closed = True
        await stop_tasks(b.task for b in self._books.values() if b.task is not None)
        for book in self._books.values():
            for watch in list(book.watchers):
                watch.end()

    # --- the loop -------------------------------------------------------------------------------------

    async def _run(self, symbol: str, book: _SymbolBook) -> None:
        await self._from_rest(symbol, book, prime=True)

        async def watch(progress: Callable[[], None]) -> None:
            try:
                raw = await asyncio.wait_for(
                    self.source.watch_book_ticker(symbol, book.last_raw), self.quiet_s
                )
            except TimeoutError:  # quiet: a newer top on REST means the socket is dead
                if await self._from_rest(symbol, book) and book.state == "streaming":
                    book.reconnects += 1
                    self.source.reset_streams("public", f"{symbol} book stream silent for {self.quiet_s:g} s")
                return
            book.state, book.last_raw = "streaming", raw
            progress()
            self._offer(symbol, book, raw)

        async def failed(e: Exception) -> None:  # the stream failed: REST meanwhile
            book.state = "reconnecting"
            book.reconnects += 1
            log.warning("book_stream_failed", symbol=symbol, error=str(e))
            await self._from_rest(symbol, book)

        await keep_watching(watch, failed, self.clock, lambda: not self._closed)

    async def _from_rest(self, symbol: str, book: _SymbolBook, *, prime: bool = False) -> bool:
        """Confirm the top from REST; True when REST knew a newer top than the stream had delivered."""
        try:
            raw = await self.rest_ticker(symbol)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # REST is the fallback: its failure leaves the last top in place
            log.warning("book_rest_failed", symbol=symbol, error=str(e))
            return False
        if not prime:
            book.rest_fallbacks += 1
        return self._offer(symbol, book, raw)

    def _offer(self, symbol: str, book: _SymbolBook, raw: Mapping[str, Any]) -> bool:
        """Publish `raw` unless it is older than what was published; True when it was newer."""
        update_id = book_update_id(raw)
        book.fresh_at = self.clock.monotonic()
        if update_id is not None and book.update_id is not None and update_id <= book.update_id:
            return False
        top = book_top(raw, symbol, now_ms(self.clock))
        if update_id is None and top == book.top:
            return False
        book.top, book.update_id = top, update_id if update_id is not None else book.update_id
        for watch in list(book.watchers):
            watch.offer(top)
        return True


# --- the user data stream -------------------------------------------------------------------------------


class UserSource(Protocol):
    async def run_user_stream(self, on_connected: Callable[[], None]) -> None: ...

    def reset_streams(self, kind: str, reason: str) -> int: ...

    def forget_listen_key(self) -> None: ...


Reconcile = Callable[[], Awaitable[list[OrderUpdate]]]


class UserStream:
    """Own order events for every subscriber, with reconciliation after gaps (see the module docstring)."""

    def __init__(
        self,
        source: UserSource,
        tracker: OrderTracker,
        reconcile: Reconcile,
        clock: Clock,
        *,
        quiet_s: float = 30.0,
        needs_watch: Callable[[], bool] = lambda: True,
        reconcile_first: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self.source = source
        self.tracker = tracker
        self.reconcile_with_venue = reconcile
        self.reconcile_first = reconcile_first
        self.clock = clock
        self.quiet_s = quiet_s
        self.needs_watch = needs_watch
        self.fanout: Fanout[OrderUpdate] = Fanout()
        self.state = "stopped"
        self.connects = 0
        self.drops = 0
        self.reconciliations = 0
        self.dead_streams = 0
        self.last_error: str | None = None
        self.last_message_at: float | None = None
        self._last_check_at = 0.0
        self._lock = asyncio.Lock()
        self._up = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._context = contextvars.copy_context()
        self._closed = False

    def subscribe(self) -> Subscription[OrderUpdate]:
        self.start()
        return self.fanout.subscribe()

    def start(self) -> None:
        if self._tasks or self._closed:
            return
        loop = asyncio.get_running_loop()
        self._context = contextvars.copy_context()
        self._tasks = [
            loop.create_task(self._run(), name="user-stream"),
            loop.create_task(self._watch_quiet(), name="user-stream-watch"),
        ]

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    async def wait_connected(self, timeout_s: float) -> bool:
        """Wait (at most `timeout_s`) for the stream to be connected; True when it is."""
        try:
            await asyncio.wait_for(self._up.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def age_s(self) -> float | None:
        """Seconds since the stream (or a reconciliation) last confirmed the account's orders."""
        if self.last_message_at is None:
            return None
        return max(0.0, self.clock.monotonic() - max(self.last_message_at, self._last_check_at))

    # --- inputs from the socket -----------------------------------------------------------------------

    def touch(self) -> None:
        """Any message on the user stream: it is alive."""
        self.last_message_at = self.clock.monotonic()

    def deliver(self, order: Order, fill: Fill | None) -> None:
        """An ORDER_TRADE_UPDATE: deliver it unless its fill was already recovered."""
        self.touch()
        update = self.tracker.on_event(order, fill)
        if update is not None:
            self.fanout.publish(update)

    def expired(self) -> None:
        """`listenKeyExpired`: the stream is over; reconnect with a new listenKey."""
        self.source.forget_listen_key()
        self.source.reset_streams("private", "listenKey expired")

    # --- loops ----------------------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while not self._closed:
            self.state = "connecting"
            try:
                await self.source.run_user_stream(self._connected)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the loop's one error boundary: the stream dropped; reconnect
                self.last_error = str(e)
                log.warning("user_stream_dropped", error=str(e))
            if self.state == "connected":
                attempt = 0
            self._up.clear()
            self.drops += 1
            self.state = "reconnecting"
            await self.clock.sleep(backoff(attempt))
            attempt += 1

    def _connected(self) -> None:
        self.state = "connected"
        self._up.set()
        self.connects += 1
        self.touch()
        # runs inside ccxt's task: the reconciliation gets the stream owner's context, not ccxt's
        task = asyncio.get_running_loop().create_task(
            self._reconcile_after_connect(), name="user-reconcile", context=self._context.copy()
        )
        self._tasks = [t for t in self._tasks if not t.done()] + [task]

    async def _reconcile_after_connect(self) -> None:
        try:
            await self.reconcile()
        except Exception as e:  # the task's one error boundary: the quiet watch tries again later
            self.last_error = f"reconciliation failed: {e}"
            log.warning("user_stream_reconcile_failed", error=str(e))

    async def _watch_quiet(self) -> None:
        while not self._closed:
            await self.clock.sleep(max(0.05, self.quiet_s / 4))
            age = self.age_s()
            if self.state != "connected" or age is None or age < self.quiet_s or not self.needs_watch():
                continue
            try:
                missed = await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the loop's one error boundary: try again after the next quiet spell
                self.last_error = f"reconciliation failed: {e}"
                self._last_check_at = self.clock.monotonic()
                log.warning("user_stream_reconcile_failed", error=str(e))
                continue
            if missed:  # connected, silent, and events were missed: the stream is dead
                self.dead_streams += 1
                log.warning("user_stream_dead", missed=missed)
                self.source.forget_listen_key()
                self.source.reset_streams("private", f"silent while {missed} event(s) were missed")

    async def reconcile(self) -> int:
        """Ask the venue for what the stream may have missed and publish it; returns how many updates.
        `reconcile_first` (the conditional orders, which publish their own) runs before the orders'."""
        async with self._lock:
            first = await self.reconcile_first() if self.reconcile_first is not None else 0
            updates = await self.reconcile_with_venue()
            self.reconciliations += 1
            self._last_check_at = self.clock.monotonic()
        for update in updates:
            self.fanout.publish(update)
        return first + len(updates)

    async def close(self) -> None:
        self._closed = True
        tasks, self._tasks = self._tasks, []
        await stop_tasks(tasks)
        self.fanout.close()
        self.state = "stopped"
