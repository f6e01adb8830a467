"""`countdownCancelAll` timers: each (account, symbol) countdown cancels the symbol's orders at expiry.

Timers run on the event loop's clock; `advance(seconds)` moves every pending deadline closer, so a test
can expire a 120 s countdown without waiting for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Timer:
    deadline: float
    handle: asyncio.TimerHandle


class Countdowns:
    """Armed countdowns by (account key, symbol)."""

    def __init__(self, on_expire: Callable[[str, str], None]) -> None:
        self._on_expire = on_expire
        self._timers: dict[tuple[str, str], _Timer] = {}
        self.fired: list[tuple[str, str]] = []

    def arm(self, account_key: str, symbol: str, countdown_ms: int) -> None:
        """Start or refresh the countdown; 0 disarms it."""
        self.disarm(account_key, symbol)
        if countdown_ms > 0:
            loop = asyncio.get_running_loop()
            self._schedule((account_key, symbol), loop.time() + countdown_ms / 1000)

    def disarm(self, account_key: str, symbol: str) -> None:
        """Stop the countdown if one is armed."""
        timer = self._timers.pop((account_key, symbol), None)
        if timer is not None:
            timer.handle.cancel()

    def advance(self, seconds: float) -> None:
        """Move every deadline `seconds` earlier; those now due fire before this returns."""
        now = asyncio.get_running_loop().time()
        for slot, timer in list(self._timers.items()):
            timer.handle.cancel()
            if timer.deadline - seconds <= now:
                self._fire(slot)
            else:
                self._schedule(slot, timer.deadline - seconds)

    def remaining(self, account_key: str | None = None) -> dict[tuple[str, str], float]:
        """Seconds left per (account, symbol)."""
        now = asyncio.get_running_loop().time()
        return {
            slot: max(0.0, t.deadline - now)
            for slot, t in self._timers.items()
            if account_key is None or slot[0] == account_key
        }

    def close(self) -> None:
        """Cancel every timer (server shutdown)."""
        for timer in self._timers.values():
            timer.handle.cancel()
        self._timers.clear()

    def _schedule(self, slot: tuple[str, str], deadline: float) -> None:
        loop = asyncio.get_running_loop()
        handle = loop.call_at(max(deadline, loop.time()), self._fire, slot)
        self._timers[slot] = _Timer(deadline, handle)

    def _fire(self, slot: tuple[str, str]) -> None:
        self._timers.pop(slot, None)
        self.fired.append(slot)
        self._on_expire(*slot)
