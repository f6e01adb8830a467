"""Public trade subscriptions shared by every venue (paper and Binance): what `Exchange.watch_trades`
returns. Neutral module: stdlib and `mmctl.model` only.

Trades are not conflated as book tops are: every subscriber receives every trade of its symbol, in the
order the venue published them. Each subscriber has its own bounded buffer of `TRADE_BUFFER` trades; a
trade arriving when the buffer is full (the subscriber has not read for that long) pushes out the oldest
buffered trade, and `dropped` counts the trades lost that way, so a reader can tell a gap (and a health
check can report it) instead of the process growing without bound behind a stuck reader.

A subscription is registered when it is created (not at its first `__anext__`), so nothing published in
between is lost, and is held weakly: one dropped without `aclose()` simply stops receiving. `close()` on a
fanout ends every subscription after the trades already buffered.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque

from mmctl.model import Trade

TRADE_BUFFER = 10_000
"""Trades one subscriber may have unread before the oldest are dropped (and counted)."""


class TradeWatch:
    """One subscriber's stream of a symbol's public trades: every trade, in order, at most `maxlen`
    unread (see the module docstring); unsubscribes on `aclose()`."""

    def __init__(self, fanout: TradeFanout, symbol: str, maxlen: int = TRADE_BUFFER) -> None:
        if maxlen < 1:
            raise ValueError(f"a trade buffer holds at least one trade, got {maxlen}")
        self.symbol = symbol
        self.dropped = 0  # trades pushed out of a full buffer, unread
        self._fanout = fanout
        self._queue: deque[Trade] = deque()
        self._maxlen = maxlen
        self._wakeup = asyncio.Event()
        self._closed = False

    def __aiter__(self) -> TradeWatch:
        return self

    async def __anext__(self) -> Trade:
        queue = self._queue
        while not queue:
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return queue.popleft()

    @property
    def pending(self) -> int:
        """Trades buffered and not yet read."""
        return len(self._queue)

    def push(self, trade: Trade) -> None:
        """Buffer `trade`; with the buffer full, the oldest buffered trade is dropped and counted."""
        if self._closed:
            return
        queue = self._queue
        if len(queue) >= self._maxlen:
            queue.popleft()
            self.dropped += 1
        queue.append(trade)
        self._wakeup.set()

    def end(self) -> None:
        """No more trades after those buffered."""
        self._closed = True
        self._wakeup.set()

    async def aclose(self) -> None:
        """Unsubscribe; nothing more is delivered, not even what was buffered."""
        self._fanout.unsubscribe(self)
        self._queue.clear()
        self.end()


class TradeFanout:
    """Trade subscriptions per (unified) symbol; `publish` hands a trade to each of its symbol's."""

    def __init__(self, maxlen: int = TRADE_BUFFER) -> None:
        self.maxlen = maxlen
        self._watchers: dict[str, weakref.WeakSet[TradeWatch]] = {}
        self._closed = False

    def watch(self, symbol: str) -> TradeWatch:
        """A new subscription to `symbol`'s trades (ended at once when the fanout is closed)."""
        watch = TradeWatch(self, symbol, self.maxlen)
        if self._closed:
            watch.end()
        else:
            self._watchers.setdefault(symbol, weakref.WeakSet()).add(watch)
        return watch

    def has_watchers(self, symbol: str) -> bool:
        """True while `symbol` has a live subscription."""
        return bool(self._watchers.get(symbol))

    def unsubscribe(self, watch: TradeWatch) -> None:
        watchers = self._watchers.get(watch.symbol)
        if watchers is not None:
            watchers.discard(watch)
            if not watchers:
                del self._watchers[watch.symbol]

    def publish(self, trade: Trade) -> None:
        """Hand `trade` (its symbol in the form subscriptions were made with) to each subscriber."""
        watchers = self._watchers.get(trade.symbol)
        if watchers:
            for watch in list(watchers):
                watch.push(trade)

    def close(self) -> None:
        """End every subscription (after its buffered trades); later ones end at once."""
        self._closed = True
        for watchers in self._watchers.values():
            for watch in list(watchers):
                watch.end()
        self._watchers.clear()
