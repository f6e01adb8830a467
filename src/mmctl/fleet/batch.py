"""One command over many bots: which bots it names, and running it on each with one outcome per bot.

`select` takes bot names or `--all` (not both, not neither; a name given twice counts once). `each` runs
the action on every bot concurrently, shielded (an RPC timeout must not cut a start or a stop half-way);
a bot whose action fails reports its error and code in its own outcome, and the others go on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from mmctl.errors import MmctlError, ValidationError

if TYPE_CHECKING:
    from mmctl.bots.bot import Bot
    from mmctl.fleet.manager import BotManager


def select(manager: BotManager, names: list[str], all_bots: bool) -> list[Bot]:
    if all_bots and names:
        raise ValidationError("give bot names or --all, not both", data={"field": "names"})
    if not all_bots and not names:
        raise ValidationError("name at least one bot, or use --all", data={"field": "names"})
    return list(manager.bots.values()) if all_bots else [manager.bot(n) for n in dict.fromkeys(names)]


async def each(bots: list[Bot], action: Callable[[Bot], Awaitable[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Run `action` on every bot concurrently; each reports its own outcome, failures included."""

    async def one(bot: Bot) -> dict[str, Any]:
        try:
            # shielded: an RPC timeout must not cut a start or a stop half-way
            result = await asyncio.shield(action(bot))
        except MmctlError as e:
            return {
                "bot": bot.name,
                "ok": False,
                "state": bot.state.value,
                "error": e.message,
                "code": e.code,
                "data": e.data or None,
            }
        return {"bot": bot.name, "ok": True, **result, "state": bot.state.value}

    return list(await asyncio.gather(*(one(b) for b in bots)))
