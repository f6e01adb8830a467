"""Which recorded fills are known committed, so a view waits for the store only when it would show a fill
that may not be (README, State and restarts: a fill is durable before `status` or `list` shows it).

`DurableFills` wraps the `Recorder` every bot records through. Each fill it queues gets the next number
(`queued`); `committed` is the highest number known committed, moved by a flush of the store (writes
commit in queue order: a flush that returns covers every fill queued before it began). A fill starts
one background flush if none runs, so `committed` follows the fills within a commit or two. A view of
one bot (`wait(bot)`) or of every bot (`wait()`) returns at once when their fills are all committed,
else waits until the flushes under way cover them; after a store failure it waits for nothing (what was
committed is all there is, as `BotManager.durable` says).

Order states and events are queued through the same store but are not waited for: no view promises
them durable, and with hundreds of bots the writer always has some in hand (waiting for them cost the
status RPC 30-100 ms at 400 bots).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from mmctl.bots.recorder import Recorder
from mmctl.errors import StoreError
from mmctl.model import Fill, Order, OrderRequest


class DurableFills(Recorder):
    """A `Recorder` that numbers the fills it queues and knows which are committed (module docstring)."""

    def __init__(self, inner: Recorder) -> None:
        self.inner = inner
        self.queued = 0  # fills queued so far, each numbered in turn
        self.committed = 0  # every fill numbered up to this is committed
        self.failed = False  # a flush raised StoreError: nothing more will commit
        self.flushes = 0  # flushes this tracker ran (tests, diagnostics)
        self._latest: dict[str | None, int] = {}  # bot (None: no bot owns it) → its latest fill's number
        self._flushing: asyncio.Task[None] | None = None

    # --- the Recorder surface ------------------------------------------------------------------------

    def submitting(self, bot: str, account: str, requests: Sequence[OrderRequest]) -> None:
        self.inner.submitting(bot, account, requests)

    def order(self, bot: str | None, account: str, order: Order, detail: str = "") -> None:
        self.inner.order(bot, account, order, detail)

    def fill(self, bot: str | None, account: str, fill: Fill) -> None:
        self.inner.fill(bot, account, fill)
        self.queued += 1
        self._latest[bot] = self.queued
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): the next view's wait flushes
            return
        self._advance()

    async def durable(self) -> None:
        target = self.queued
        await self.inner.durable()
        self.committed = max(self.committed, target)

    async def bot_fills(self, bot: str) -> list[Fill]:
        return await self.inner.bot_fills(bot)

    # --- views ---------------------------------------------------------------------------------------

    def pending(self, bot: str | None = None) -> bool:
        """Whether a fill of `bot` (of anyone, with None) may not be committed yet."""
        need = self.queued if bot is None else self._latest.get(bot, 0)
        return need > self.committed and not self.failed

    async def wait(self, bot: str | None = None) -> None:
        """Return once every fill of `bot` (of anyone, with None) queued before this call is committed, or
        at once after a store failure."""
        need = self.queued if bot is None else self._latest.get(bot, 0)
        while need > self.committed and not self.failed:
            await asyncio.shield(self._advance())

    def _advance(self) -> asyncio.Task[None]:
        """The flush task under way, or a new one."""
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush())
        return self._flushing

    async def _flush(self) -> None:
        """Flush until every fill queued is committed (fills queued meanwhile are covered by the next)."""
        while self.queued > self.committed and not self.failed:
            target = self.queued
            self.flushes += 1
            try:
                await self.inner.durable()
            except StoreError:
                self.failed = True
                return
            self.committed = max(self.committed, target)
