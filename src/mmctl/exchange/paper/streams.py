"""Async subscriptions over the synchronous paper venue: order events and conflated book updates.

A subscription is registered when it is created (not at its first `__anext__`), so events that happen
between `order_updates()` and the first `await` are not lost. Each order-event subscriber has its own
unbounded queue and sees every event; a book watcher keeps only the latest top (a slow consumer sees
the newest book, not a backlog). Subscriptions are held weakly: one that is dropped without `aclose()`
simply stops receiving. `close()` on a registry ends every subscription after its queued items.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque

from mmctl.model import BookTop, OrderUpdate


class UpdateSubscription:
    """One subscriber's stream of order events."""

    def __init__(self, registry: UpdateFanout) -> None:
        self._registry = registry
        self._queue: deque[OrderUpdate] = deque()
        self._wakeup = asyncio.Event()
        self._closed = False

    def __aiter__(self) -> UpdateSubscription:
        return self

    async def __anext__(self) -> OrderUpdate:
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._queue.popleft()

    def push(self, update: OrderUpdate) -> None:
        if not self._closed:
            self._queue.append(update)
            self._wakeup.set()

    def end(self) -> None:
        """No more events after those queued."""
        self._closed = True
        self._wakeup.set()

    async def aclose(self) -> None:
        """Unsubscribe and drop anything queued."""
        self._registry.unsubscribe(self)
        self._queue.clear()
        self.end()


class UpdateFanout:
    """Delivers every order event to every live subscription."""

    def __init__(self) -> None:
        self._subscribers: weakref.WeakSet[UpdateSubscription] = weakref.WeakSet()
        self._closed = False

    def subscribe(self) -> UpdateSubscription:
        sub = UpdateSubscription(self)
        if self._closed:
            sub.end()
        else:
            self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: UpdateSubscription) -> None:
        self._subscribers.discard(sub)

    def publish(self, update: OrderUpdate) -> None:
        for sub in self._subscribers:
            sub.push(update)

    def close(self) -> None:
        self._closed = True
        for sub in list(self._subscribers):
            sub.end()
        self._subscribers.clear()


class BookWatch:
    """One watcher of a symbol's top of book, conflating to the latest update."""

    def __init__(self, registry: BookFanout, symbol: str, latest: BookTop | None) -> None:
        self._registry = registry
        self.symbol = symbol
        self._latest = latest
        self._wakeup = asyncio.Event()
        self._closed = False

    def __aiter__(self) -> BookWatch:
        return self

    async def __anext__(self) -> BookTop:
        while self._latest is None:
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        top, self._latest = self._latest, None
        return top

    def offer(self, top: BookTop) -> None:
        self._latest = top
        self._wakeup.set()

    def end(self) -> None:
        self._closed = True
        self._latest = None
        self._wakeup.set()

    async def aclose(self) -> None:
        self._registry.unsubscribe(self)
        self.end()


class BookFanout:
    """Book watchers per symbol; `publish` is installed as the venue's book hook."""

    def __init__(self) -> None:
        self._watchers: dict[str, weakref.WeakSet[BookWatch]] = {}
        self._closed = False

    def watch(self, symbol: str, latest: BookTop | None) -> BookWatch:
        watch = BookWatch(self, symbol, latest)
        if self._closed:
            watch.end()
        else:
            self._watchers.setdefault(symbol, weakref.WeakSet()).add(watch)
        return watch

    def has_watchers(self, symbol: str) -> bool:
        return symbol in self._watchers

    def unsubscribe(self, watch: BookWatch) -> None:
        watchers = self._watchers.get(watch.symbol)
        if watchers is not None:
            watchers.discard(watch)

    def publish(self, top: BookTop) -> None:
        watchers = self._watchers.get(top.symbol)
        if watchers:
            for watch in watchers:
                watch.offer(top)

    def close(self) -> None:
        self._closed = True
        for watchers in self._watchers.values():
            for watch in list(watchers):
                watch.end()
        self._watchers.clear()
