"""Market feeds for the paper venue: sources of timestamped `BookTop` and `Trade` events.

Two kinds plug into `PaperExchange`:
- `MarketFeed`: a recorded or simulated source (synthetic market, replay of Binance CSVs). It yields
  events in time order from `start_ms`; the driver releases each one when the injected clock reaches
  its time (scaled by `speed`), so simulations run on simulated time.
- `ResumableFeed`: a `MarketFeed` that can say where it is (`state(after_ms)`), so a paper account's
  market continues deterministically after a daemon restart.
- `LiveFeed`: a source that produces events as they happen (e.g. public Binance data through another
  adapter); the driver pushes each one into the venue as it arrives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol, runtime_checkable

from mmctl.model import BookTop, Trade

MarketEvent = BookTop | Trade


class MarketFeed(Protocol):
    """Time-ordered market events, released on the clock by the driver."""

    @property
    def name(self) -> str:
        """A short description for health output (e.g. "synthetic seed=1")."""
        ...

    @property
    def start_ms(self) -> int:
        """Venue time of the first event: the paper venue's clock starts here."""
        ...

    def events(self) -> Iterator[MarketEvent]:
        """A fresh iterator over the events, oldest first (may be endless)."""
        ...


@runtime_checkable
class LiveFeed(Protocol):
    """Market events as they happen in real time."""

    @property
    def name(self) -> str: ...

    def stream(self) -> AsyncIterator[MarketEvent]:
        """Events as they arrive; ends when the feed closes."""
        ...


@runtime_checkable
class ResumableFeed(Protocol):
    """A `MarketFeed` that can continue after a restart (synthetic and replay feeds)."""

    def state(self, after_ms: int) -> dict[str, Any]:
        """A JSON-able document from which a new feed continues with exactly the events after `after_ms`,
        given that every event at or before it was delivered."""
        ...
