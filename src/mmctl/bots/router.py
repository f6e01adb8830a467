"""One order-event subscription per account, routed to the bot whose client order id an event carries.

Without it every bot would read (and parse) every event of the account: O(bots²) work per fill. The
router parses each id once and calls the owning bot's handler; events of manual orders and of bots
that are not registered are dropped. A handler that raises is reported to that bot alone. If the
account's stream ends or fails, the router resubscribes with backoff and, once subscribed again, calls
every bot's gap handler (events may have been missed: the bots recover their fills from the venue).
`healthy` is False while it is down. Its task runs while at least one bot is registered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from mmctl.bots.ids import parse
from mmctl.clock import Clock, SystemClock
from mmctl.exchange.base import Exchange
from mmctl.model import OrderUpdate

BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class Route:
    on_update: Callable[[OrderUpdate], None]
    on_gap: Callable[[str], None]  # called with the reason when events may have been missed


class OrderRouter:
    def __init__(self, exchange: Exchange, clock: Clock | None = None) -> None:
        self.exchange = exchange
        self.clock: Clock = clock or SystemClock()
        self._routes: dict[str, Route] = {}
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.healthy = True
        self.gaps = 0
        self.last_error: str | None = None

    async def register(
        self, bot: str, on_update: Callable[[OrderUpdate], None], on_gap: Callable[[str], None] | None = None
    ) -> None:
        """Route `bot`'s events; returns once the account's stream is subscribed (idempotent)."""
        self._routes[bot] = Route(on_update, on_gap or (lambda _: None))
        if self._task is None or self._task.done():
            self._subscribed.clear()
            self._task = asyncio.create_task(self._run(), name=f"orders-{self.exchange.name}")
        await self._subscribed.wait()

    async def unregister(self, bot: str) -> None:
        self._routes.pop(bot, None)
        if not self._routes and self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _run(self) -> None:
        attempt = 0
        gap: str | None = None
        while True:
            stream = self.exchange.order_updates()
            self._subscribed.set()
            self.healthy = True
            if gap is not None:  # subscribed again: whatever happened before now is on the venue
                self._notify_gap(gap)
            try:
                async for update in stream:
                    self.healthy, attempt = True, 0
                    self._dispatch(update)
                reason = "the account's order stream ended"
            except asyncio.CancelledError:
                raise
            except Exception as e:
                reason = f"the account's order stream failed: {e}"
            self.healthy, self.last_error, gap = False, reason, reason
            self.gaps += 1
            await self.clock.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
            attempt += 1

    def _notify_gap(self, reason: str) -> None:
        for route in list(self._routes.values()):
            with contextlib.suppress(Exception):
                route.on_gap(reason)

    def _dispatch(self, update: OrderUpdate) -> None:
        own = parse(update.order.client_order_id)
        route = self._routes.get(own.bot) if own is not None else None
        if route is None:
            return
        try:
            route.on_update(update)
        except Exception as e:  # one bot's bug must not cut the others off their fills
            with contextlib.suppress(Exception):
                route.on_gap(f"handling an order event failed: {type(e).__name__}: {e}")
