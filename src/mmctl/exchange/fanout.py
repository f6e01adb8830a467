"""Subscriptions to an account's live data, shared by every venue (paper and Binance): every order event
to every subscriber, book tops conflated. Neutral module: stdlib and `mmctl.model` only.

A subscription is registered when it is created (not at its first `__anext__`), so nothing published in
between is lost. Each order-event subscriber has its own queue and sees every event; a book watcher keeps
only the latest top (a slow consumer sees the newest book, not a backlog). Subscriptions are held weakly:
one dropped without `aclose()` simply stops receiving.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from typing import Generic, TypeVar

from mmctl.model import BookTop

T = TypeVar("T")


class Subscription(Generic[T]):
    """One subscriber's queue of events; iterating ends after `end()` once the queue is drained."""

    def __init__(self, fanout: Fanout[T]) -> None:
        self._fanout = fanout
        self._queue: deque[T] = deque()
        self._wakeup = asyncio.Event()
        self._closed = False

    def __aiter__(self) -> Subscription[T]:
        return self

    async def __anext__(self) -> T:
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._queue.popleft()

    def push(self, item: T) -> None:
        if not self._closed:
            self._queue.append(item)
            self._wakeup.set()

    def end(self) -> None:
        self._closed = True
        self._wakeup.set()

    async def aclose(self) -> None:
        self._fanout.subscribers.discard(self)
        self._queue.clear()
        self.end()


class Fanout(Generic[T]):
    """Delivers every published item to every live subscription (held weakly)."""

    def __init__(self) -> None:
        self.subscribers: weakref.WeakSet[Subscription[T]] = weakref.WeakSet()
        self.closed = False

    def subscribe(self) -> Subscription[T]:
        sub = Subscription(self)
        if self.closed:
            sub.end()
        else:
            self.subscribers.add(sub)
        return sub

    def publish(self, item: T) -> None:
        for sub in list(self.subscribers):
            sub.push(item)

    def close(self) -> None:
        self.closed = True
        for sub in list(self.subscribers):
            sub.end()
        self.subscribers.clear()


class BookWatch:
    """One watcher of a symbol's top of book, conflating to the latest."""

    def __init__(self, latest: BookTop | None) -> None:
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
        self.end()
