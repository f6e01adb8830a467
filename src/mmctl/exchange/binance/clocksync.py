"""Keeping request timestamps inside Binance's window: the venue's clock offset, measured and applied.

Signed requests carry `timestamp` and must reach Binance within `recvWindow` of its clock (-1021
otherwise). `ClockSync.sync()` reads GET /fapi/v1/time, takes the offset against the midpoint of the
round trip and hands it to ccxt, which signs with local time + offset. The adapter syncs at start, every
`interval_s` (a few minutes) and at once after a -1021. Offsets are measured against the system's wall
clock because that is what ccxt signs with.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from mmctl.clock import Clock
from mmctl.exchange.binance.convert import ms

log = structlog.get_logger("mmctl.binance")

SYNC_INTERVAL_S = 300.0


class ClockSync:
    """The venue's clock offset (venue − local, ms), refreshed on demand and periodically."""

    def __init__(
        self,
        fetch_time: Callable[[], Awaitable[Any]],
        apply: Callable[[int], None],
        clock: Clock,
        interval_s: float = SYNC_INTERVAL_S,
    ) -> None:
        self.fetch_time = fetch_time
        self.apply = apply
        self.clock = clock
        self.interval_s = interval_s
        self.offset_ms: int | None = None
        self.round_trip_ms: float | None = None
        self.synced_at: float | None = None  # clock.monotonic()
        self.syncs = 0
        self._lock = asyncio.Lock()

    async def sync(self) -> int:
        """Measure and apply the offset now (concurrent callers share one measurement)."""
        started_at = self.clock.monotonic()
        async with self._lock:
            if self.synced_at is not None and self.synced_at >= started_at:
                return self.offset_ms or 0
            before = time.time() * 1000
            answer = await self.fetch_time()
            after = time.time() * 1000
            server = ms(answer["serverTime"])
            self.offset_ms = round(server - (before + after) / 2)
            self.round_trip_ms = after - before
            self.synced_at = self.clock.monotonic()
            self.syncs += 1
            self.apply(self.offset_ms)
            return self.offset_ms

    def venue_now_ms(self) -> int:
        """The venue's clock now, by the last offset."""
        return int(time.time() * 1000) + (self.offset_ms or 0)

    async def run(self) -> None:
        """Re-sync every `interval_s` until cancelled."""
        while True:
            await self.clock.sleep(self.interval_s)
            try:
                await self.sync()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the loop's one error boundary: keep the last offset, try later
                log.warning("clock_sync_failed", error=str(e))
