"""Async subscriptions over the synchronous paper venue: order events and conflated book updates.

A subscription is registered when it is created (not at its first `__anext__`), so events that happen
between `order_updates()` and the first `await` are not lost. Each order-event subscriber has its own
unbounded queue and sees every event; a book watcher keeps only the latest top (a slow consumer sees
the newest book, not a backlog). Subscriptions are held weakly: one that is dropped without `aclose()`
simply stops receiving. `close()` on a registry ends every subscription after its queued items.
"""

from __future__ import annotations

import weakref

from mmctl.exchange.fanout import BookWatch as LatestBook
from mmctl.exchange.fanout import Fanout, Subscription
from mmctl.model import BookTop, OrderUpdate

UpdateSubscription = Subscription[OrderUpdate]
"""One subscriber's stream of order events (`end()`: no more after those queued)."""

UpdateFanout = Fanout[OrderUpdate]
"""Delivers every order event to every live subscription."""


class BookWatch(LatestBook):
    """One watcher of a symbol's top of book, conflating to the latest update; unsubscribes on close."""

    def __init__(self, registry: BookFanout, symbol: str, latest: BookTop | None) -> None:
        super().__init__(latest)
        self._registry = registry
        self.symbol = symbol

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
