"""One order-event subscription per account, routed to the bot whose client order id an event carries.

Without it every bot would read (and parse) every event of the account: O(bots²) work per fill. The
router parses each id once and calls the owning bot's handler; events of manual orders and of bots
that are not running are dropped. Its task runs while at least one bot is registered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from mmctl.bots.ids import parse
from mmctl.exchange.base import Exchange
from mmctl.model import OrderUpdate

Handler = Callable[[OrderUpdate], None]


class OrderRouter:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self._handlers: dict[str, Handler] = {}
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def register(self, bot: str, handler: Handler) -> None:
        """Route `bot`'s events to `handler`; returns once the account's stream is subscribed."""
        self._handlers[bot] = handler
        if self._task is None or self._task.done():
            self._subscribed.clear()
            self._task = asyncio.create_task(self._run(), name=f"orders-{self.exchange.name}")
        await self._subscribed.wait()

    async def unregister(self, bot: str) -> None:
        self._handlers.pop(bot, None)
        if not self._handlers and self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _run(self) -> None:
        stream = self.exchange.order_updates()
        self._subscribed.set()
        async for update in stream:
            own = parse(update.order.client_order_id)
            if own is not None:
                handler = self._handlers.get(own.bot)
                if handler is not None:
                    handler(update)
