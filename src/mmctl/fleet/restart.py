"""The fleet's side of a daemon start: order streams first, then inventories, then each bot put back.

The composition root (`mmctl.daemon.compose`) runs these in order around the venue recovery: every
account's order stream opens before recovery reads the venue (no event falls between the read and the
stream), each bot's inventory is rebuilt from its recorded fills with its account's events held
meanwhile, and each bot is put back where the operator left it (running, paused or stopped) without
recording a desired state.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from mmctl.errors import MmctlError
from mmctl.fleet.batch import each
from mmctl.store.records import DesiredState

if TYPE_CHECKING:
    from mmctl.bots.bot import Bot
    from mmctl.fleet.manager import BotManager


async def open_order_streams(manager: BotManager) -> None:
    """Subscribe every account's order stream for the daemon's life (before the start-up recovery
    reads the venue, so no event falls between what it reads and what the stream delivers)."""
    for account in sorted(manager.accounts):
        await manager.account(account).router.open()


async def restore_inventories(manager: BotManager) -> None:
    """Rebuild each bot's inventory from its recorded fills, its account's events held meanwhile (a
    fill arriving during the read is booked after it, once, not lost between the two)."""
    if manager.recorder is None:
        return
    for account in sorted({b.definition.account for b in manager.bots.values()}):
        async with manager.account(account).router.held():
            for bot in sorted(manager.bots.values(), key=lambda b: b.name):
                if bot.definition.account == account:
                    bot.restore_fills(await manager.recorder.bot_fills(bot.name))


async def restore(bot: Bot, desired: DesiredState) -> dict[str, Any]:
    """Put a loaded bot back where the operator left it (at daemon start, after recovery): running
    starts it; paused starts it and pauses it before its loop first runs (no order is placed, so a
    paused bot has none on the venue); stopped leaves it. Records no desired state (a bot that fails
    to start keeps `running`, and the next start tries again)."""
    if desired is DesiredState.STOPPED:
        return {"bot": bot.name, "ok": True, "state": bot.state.value}

    async def restore(bot: Bot) -> dict[str, Any]:
        await bot.start()
        if desired is DesiredState.PAUSED:
            # nothing awaited between start and pause: the loop has not ticked, nothing was placed
            return await bot.pause("paused by operator (before the restart)")
        return {}

    [outcome] = await each([bot], restore)
    if not outcome["ok"]:  # orders recovery left for it must not stay on the venue unowned
        with contextlib.suppress(MmctlError):
            await bot.cancel_own_orders()
    return outcome
