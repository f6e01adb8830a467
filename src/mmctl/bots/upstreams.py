"""One upstream stream per symbol, shared by its subscribers: the bookkeeping both market-data hubs use.

`Upstreams` holds a hub's upstreams by unified symbol. The hub makes the `Upstream` (the exchange's
stream plus whatever its delivery needs) and `start`s it: one task runs the hub's pump over it while it
has subscribers. The pump is the hub's own (the book hub conflates and wakes by bands, the trade hub
hands over every trade in order); when its stream ends it calls `ended`, with the error if it failed,
which forgets the upstream, ends every subscriber (each raises a copy of the error) and closes the
stream. `unsubscribe` stops the upstream (cancel its task, close its stream) when its last subscriber
leaves; `aclose` ends every subscriber, stops every upstream and makes later subscriptions end at once.

`Subscriber` is the part of a subscription this needs: its end (`closed`, `wait_closed`) and its
`aclose`. Subscriptions are held strongly: close them (`aclose()` or `async with`).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Coroutine, Iterator
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

StreamT = TypeVar("StreamT")
SubT = TypeVar("SubT", bound="Subscriber")
UpT = TypeVar("UpT", bound="Upstream[Any, Any]")


class Subscriber:
    """One subscriber of a symbol's shared upstream: how it ends."""

    def __init__(self, upstreams: Upstreams[Any], symbol: str) -> None:
        self.symbol = symbol  # unified
        self._upstreams = upstreams
        self._ended = False
        self._error: BaseException | None = None
        self._wakeup = asyncio.Event()

    @property
    def closed(self) -> bool:
        """True once the subscription will deliver nothing new (closed, or its upstream ended)."""
        return self._ended

    async def wait_closed(self) -> None:
        """Return when the subscription has ended; raise the error that ended it, if any."""
        while not self._ended:
            self._wakeup.clear()
            await self._wakeup.wait()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    async def aclose(self) -> None:
        """Unsubscribe (idempotent); the upstream stops when this was its last subscriber."""
        self._end(None)
        self._error = None
        await self._upstreams.unsubscribe(self)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _end(self, error: BaseException | None) -> None:
        if not self._ended:
            self._ended = True
            self._error = copy.copy(error) if error is not None else None
            self._wakeup.set()


class Upstream(Generic[StreamT, SubT]):
    """A hub's one stream of a symbol and the subscribers it feeds."""

    def __init__(self, symbol: str, stream: StreamT) -> None:
        self.symbol = symbol
        self.stream = stream
        self.subscribers: dict[SubT, None] = {}  # an ordered set
        self.task: asyncio.Task[None] | None = None


class Upstreams(Generic[UpT]):
    """A hub's upstreams by unified symbol; `kind` names their tasks (`<kind>-<symbol>`)."""

    def __init__(self, kind: str, pump: Callable[[UpT], Coroutine[Any, Any, None]]) -> None:
        self.kind = kind
        self.pump = pump
        self.closed = False  # no new upstreams: set by `aclose` (a hub may set it earlier)
        self._by_symbol: dict[str, UpT] = {}

    def get(self, symbol: str) -> UpT | None:
        return self._by_symbol.get(symbol)

    def start(self, upstream: UpT) -> UpT:
        """Run the pump over `upstream` in a task of its own, as the symbol's upstream."""
        name = f"{self.kind}-{upstream.symbol}"
        upstream.task = asyncio.get_running_loop().create_task(self.pump(upstream), name=name)
        self._by_symbol[upstream.symbol] = upstream
        return upstream

    def __len__(self) -> int:
        return len(self._by_symbol)

    def __iter__(self) -> Iterator[UpT]:
        return iter(self._by_symbol.values())

    def subscriptions(self) -> dict[str, int]:
        """Open subscriptions per unified symbol."""
        return {s: len(u.subscribers) for s, u in self._by_symbol.items() if u.subscribers}

    async def ended(self, upstream: UpT, error: Exception | None) -> None:
        """The pump's end: its stream ended (or failed with `error`, which every subscriber raises)."""
        if self._by_symbol.get(upstream.symbol) is upstream:
            del self._by_symbol[upstream.symbol]
        for sub in upstream.subscribers:
            sub._end(error)
        upstream.subscribers.clear()
        await _close_stream(upstream.stream)

    async def unsubscribe(self, sub: Subscriber) -> None:
        upstream = self._by_symbol.get(sub.symbol)
        if upstream is None or sub not in upstream.subscribers:
            return
        del upstream.subscribers[sub]
        if not upstream.subscribers:
            del self._by_symbol[sub.symbol]
            await _stop(upstream)

    async def aclose(self) -> None:
        """End every subscription and stop every upstream; later subscriptions end at once."""
        self.closed = True
        upstreams, self._by_symbol = list(self._by_symbol.values()), {}
        for upstream in upstreams:
            for sub in upstream.subscribers:
                sub._end(None)
            upstream.subscribers.clear()
            await _stop(upstream)


async def _stop(upstream: Upstream[Any, Any]) -> None:
    task = upstream.task
    if task is not None and task is not asyncio.current_task():
        task.cancel()
        await asyncio.wait([task])
    await _close_stream(upstream.stream)


async def _close_stream(stream: object) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
