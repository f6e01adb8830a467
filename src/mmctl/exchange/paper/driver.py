"""Drives the paper venue from a market feed on the injected clock.

For a `MarketFeed`, simulated time runs `speed` times faster than the clock from the moment the driver
starts: simulated now = feed.start_ms + elapsed clock seconds × speed. The driver releases every event
whose time has come, advances the venue to simulated now (so funding and countdowns fire even when no
event arrives), and sleeps on the clock until the next event or timer is due, at most `MAX_SLEEP_S` of
clock time at once. With a `ManualClock` the sequence of events is a pure function of how the clock is
advanced. A `LiveFeed` is pushed through as its events arrive.

`start_ms` (default: the feed's start) is the simulated time at which pacing begins: a restored account
resumes at its saved venue time. `catch_up(until_ms)` first runs the feed unpaced up to `until_ms` (the
market during the daemon's downtime), then pacing continues from there. `on_settle` is called before
every await, i.e. whenever other tasks could look at the venue: the persistence saves the account there.
The driver only yields once every event at or before the venue's time has been delivered, so "every
market event up to `venue.now_ms` was delivered, none after" holds whenever anyone else runs.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterator

from mmctl.clock import Clock
from mmctl.exchange.paper.feed import LiveFeed, MarketEvent, MarketFeed
from mmctl.exchange.paper.venue import PaperVenue
from mmctl.model import BookTop

log = logging.getLogger(__name__)

MAX_SLEEP_S = 1.0  # clock seconds; bounds how late a newly armed countdown can fire
CLOCK_TOLERANCE_S = 1e-6  # float error of clock arithmetic: events due this close to now are released
MIN_SLEEP_S = 1e-6  # never spin: an event due "now" after float rounding waits a microsecond
YIELD_EVERY = 2_000  # events released before letting other tasks run


class FeedDriver:
    """Runs one feed into one venue until cancelled or the feed fails."""

    def __init__(
        self,
        venue: PaperVenue,
        feed: MarketFeed | LiveFeed,
        clock: Clock,
        speed: float = 1.0,
        *,
        start_ms: int | None = None,
        on_settle: Callable[[], None] | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.venue = venue
        self.feed = feed
        self.clock = clock
        self.last_event_monotonic: float | None = None  # a live feed's last event, on the daemon's clock
        self.speed = speed
        self.state = "idle"  # idle → running → finished (feed exhausted) | failed | stopped
        self.error: str | None = None
        self.events_released = 0
        self._settle = on_settle or _nothing
        self._wall0 = clock.monotonic()  # simulated time starts when the driver is created
        self._sim0 = start_ms
        self._events: Iterator[MarketEvent] | None = None
        self._pending: MarketEvent | None = None

    def _next(self) -> MarketEvent | None:
        assert not isinstance(self.feed, LiveFeed)
        if self._events is None:
            self._events = self.feed.events()
            self._pending = next(self._events, None)
        return self._pending

    def _advance(self) -> MarketEvent | None:
        assert self._events is not None
        self._pending = next(self._events, None)
        return self._pending

    async def catch_up(self, until_ms: int) -> int:
        """Run the feed unpaced up to venue time `until_ms` (funding and countdowns fire on the way);
        pacing then starts from `until_ms` at this moment. Returns the number of events delivered."""
        if isinstance(self.feed, LiveFeed):
            return 0
        released = 0
        pending = self._next()
        while pending is not None and pending.ts_ms <= until_ms:
            self._push(pending)
            pending = self._advance()
            released += 1
            if released % YIELD_EVERY == 0 and (pending is None or pending.ts_ms > self.venue.now_ms):
                self._settle()
                await asyncio.sleep(0)
        self.venue.advance_to(until_ms)
        self._settle()
        self._sim0 = max(until_ms, self.venue.now_ms)
        self._wall0 = self.clock.monotonic()
        return released

    async def run(self) -> None:
        self.state = "running"
        try:
            if isinstance(self.feed, LiveFeed):
                await self._run_live(self.feed)
            else:
                await self._run_paced(self.feed)
        except asyncio.CancelledError:
            self.state = "stopped"
            raise
        except Exception as e:  # a broken feed must not take the daemon down: report it in health()
            self.state = "failed"
            self.error = f"{type(e).__name__}: {e}"
            log.warning("paper market feed %s failed: %s", self.feed.name, self.error)

    async def _run_paced(self, feed: MarketFeed) -> None:
        wall0 = self._wall0
        sim0 = feed.start_ms if self._sim0 is None else self._sim0
        pending = self._next()
        while True:
            elapsed = self.clock.monotonic() - wall0 + CLOCK_TOLERANCE_S
            sim_now = sim0 + math.floor(elapsed * self.speed * 1000)
            released = 0
            while pending is not None and pending.ts_ms <= sim_now:
                self._push(pending)
                pending = self._advance()
                released += 1
                if released >= YIELD_EVERY and (pending is None or pending.ts_ms > self.venue.now_ms):
                    released = 0
                    self._settle()
                    await asyncio.sleep(0)
            if pending is None and self.state == "running":
                self.state = "finished"
            self.venue.advance_to(sim_now)
            self._settle()
            due = min(
                self.venue.next_timer_ms, pending.ts_ms if pending is not None else self.venue.next_timer_ms
            )
            wait = (due - sim0) / 1000 / self.speed - (self.clock.monotonic() - wall0 + CLOCK_TOLERANCE_S)
            await self.clock.sleep(min(max(wait, MIN_SLEEP_S), MAX_SLEEP_S))

    async def _run_live(self, feed: LiveFeed) -> None:
        async for event in feed.stream():
            self.last_event_monotonic = self.clock.monotonic()
            self._push(event)
            self._settle()
        self.state = "finished"

    def _push(self, event: MarketEvent) -> None:
        if type(event) is BookTop:
            self.venue.on_book(event)
        else:
            self.venue.on_trade(event)  # type: ignore[arg-type]
        self.events_released += 1


def _nothing() -> None:
    return None
