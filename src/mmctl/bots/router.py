"""One order-event subscription per account, routed to the bot whose client order id an event carries.

Without it every bot would read (and parse) every event of the account: O(bots²) work per fill. The
router parses each id once and calls the owning bot's handler. Every event is recorded
(`mmctl.bots.recorder`): the order's state with the owning bot; for an order no registered bot owns (a
manual order, a bot not loaded or not running) its state and fill with no bot, so the store knows every
order on the account (a bot's own fills are recorded by the bot as it books them). A handler that raises
is reported to that bot alone. If the account's stream ends or fails, the router resubscribes with
backoff and, once subscribed again, calls every bot's gap handler (events may have been missed: the bots
recover their fills from the venue). `healthy` is False while it is down.

Its task runs while at least one bot is registered or, once `open()` is called (the daemon does so
before its start-up recovery reads the venue), until `close()`: then no event of the account is missed
while the daemon runs, whether or not a bot quotes. A bot that is loaded but not registered (stopped,
starting) still gets its events through `fallback` (the manager's lookup), so a fill on a leftover order
is booked into its inventory. `held()` buffers events while a bot's inventory is rebuilt from the store
and delivers them afterwards in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from mmctl.bots.ids import parse
from mmctl.bots.recorder import NULL_RECORDER, Recorder
from mmctl.clock import Clock, SystemClock
from mmctl.exchange.base import Exchange
from mmctl.model import OrderUpdate

BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class Route:
    on_update: Callable[[OrderUpdate], None]
    on_gap: Callable[[str], None]  # called with the reason when events may have been missed


class OrderRouter:
    def __init__(
        self,
        exchange: Exchange,
        clock: Clock | None = None,
        *,
        recorder: Recorder = NULL_RECORDER,
        account: str = "",
    ) -> None:
        self.exchange = exchange
        self.clock: Clock = clock or SystemClock()
        self.recorder = recorder
        self.account = account or exchange.name
        self._routes: dict[str, Route] = {}
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._persistent = False  # `open()`: subscribed until `close()`, bots or not
        self._held: list[OrderUpdate] | None = None  # events buffered by `held()`
        self.fallback: Callable[[str], Route | None] = lambda _bot: None  # loaded bots not registered
        self.healthy = True
        self.gaps = 0
        self.last_error: str | None = None

    def record_to(self, recorder: Recorder, account: str) -> None:
        """Record the account's order events with `recorder` under the account name `account`."""
        self.recorder, self.account = recorder, account

    async def register(
        self, bot: str, on_update: Callable[[OrderUpdate], None], on_gap: Callable[[str], None] | None = None
    ) -> None:
        """Route `bot`'s events; returns once the account's stream is subscribed (idempotent)."""
        self._routes[bot] = Route(on_update, on_gap or (lambda _: None))
        await self._subscribe()

    async def open(self) -> None:
        """Subscribe now and stay subscribed until `close()`, whatever bots register or leave."""
        self._persistent = True
        await self._subscribe()

    async def close(self) -> None:
        self._persistent = False
        self._routes.clear()
        await self.unregister("")

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Buffer the account's events for the duration (e.g. while inventories are rebuilt from the
        store), then deliver them in order."""
        self._held = []
        try:
            yield
        finally:
            held, self._held = self._held, None
            for update in held:
                self._dispatch(update)

    async def _subscribe(self) -> None:
        if self._task is None or self._task.done():
            self._subscribed.clear()
            self._task = asyncio.create_task(self._run(), name=f"orders-{self.exchange.name}")
        await self._subscribed.wait()

    async def unregister(self, bot: str) -> None:
        self._routes.pop(bot, None)
        if not self._routes and not self._persistent and self._task is not None:
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
        if self._held is not None:
            self._held.append(update)
            return
        own = parse(update.order.client_order_id)
        route = (self._routes.get(own.bot) or self.fallback(own.bot)) if own is not None else None
        if route is None or own is None:
            self.recorder.order(None, self.account, update.order)
            if update.fill is not None:
                self.recorder.fill(None, self.account, update.fill)
            return
        self.recorder.order(own.bot, self.account, update.order)
        try:
            route.on_update(update)
        except Exception as e:  # one bot's bug must not cut the others off their fills
            with contextlib.suppress(Exception):
                route.on_gap(f"handling an order event failed: {type(e).__name__}: {e}")
