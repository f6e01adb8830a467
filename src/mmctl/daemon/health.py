"""Health checks and the event-loop lag monitor behind `daemon.health`.

A check is a named pass/fail with a human-readable detail. Providers (the daemon itself, later each
account and bot) contribute checks; the verdict is "ok" only when every check passes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


CheckProvider = Callable[[], list[Check]]

LOOP_LAG_LIMIT_MS = 500.0


class LoopLagMonitor:
    """Measures how late the event loop wakes a timer: the best single figure of daemon liveness."""

    def __init__(self, interval_s: float = 0.5) -> None:
        self.interval_s = interval_s
        self.last_ms = 0.0
        self.max_recent_ms = 0.0
        self._samples: list[float] = []

    async def run(self) -> None:
        while True:
            t0 = time.monotonic()
            await asyncio.sleep(self.interval_s)
            lag = max(0.0, (time.monotonic() - t0 - self.interval_s) * 1000)
            self.last_ms = lag
            self._samples = [*self._samples[-19:], lag]
            self.max_recent_ms = max(self._samples)

    def check(self) -> Check:
        ok = self.max_recent_ms < LOOP_LAG_LIMIT_MS
        return Check("event_loop_lag", ok, f"max {self.max_recent_ms:.1f} ms over the last 10 s")


def verdict(checks: list[Check]) -> str:
    return "ok" if all(c.ok for c in checks) else "failing"
