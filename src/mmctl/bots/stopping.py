"""Every path by which a bot stops quoting, each cancelling its orders and confirming none remain.

- `stop_bot`: the operator's stop (the loop and its helpers ended, fills during the stop still booked,
  optionally a flatten, then the venue's countdown disarmed).
- `pause_bot`: quoting stops but the loop keeps watching (restarted if it was interrupted).
- `end_from_loop` (through `fail` or `halt`): the loop ends itself on a fatal error or a loss guard.
- `cancel_and_confirm`: the bot's open orders and the exits it holds on the venue, until none remain.

If orders cannot be confirmed gone the bot ends in `error` saying so and keeps booking their fills (a
later `stop` retries the cancel). `interrupt_loop` and `stop_helpers` end the bot's tasks on the way.

These are the bodies of the `Bot`'s own paths, split out of `mmctl.bots.bot`: its methods hold the
lifecycle lock and the SAFETY request class around them, and the functions here use the bot's loop state
(`_set_state`, `_task`, `_helpers`, `_start_loop`) as its methods did.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from mmctl.bots.flatten import flatten_position
from mmctl.bots.risk import RiskAction, RiskVerdict
from mmctl.bots.state import BotState
from mmctl.errors import ExchangeError, InvalidState, MmctlError
from mmctl.exchange.priority import Priority, request_class

if TYPE_CHECKING:
    from mmctl.bots.bot import Bot


async def stop_bot(bot: Bot, flatten: bool, disarm: bool) -> dict[str, Any]:
    """Stop quoting, cancel every order of the bot and confirm none remain; optionally flatten; disarm
    the venue's countdown cancel if asked. Raises (the bot in `error`) if orders cannot be confirmed gone."""
    if bot.state in (BotState.CREATED, BotState.STOPPED) and not flatten:
        return {"bot": bot.name, "state": bot.state.value, "cancelled": 0, "note": "not running"}
    bot._set_state(BotState.STOPPING)
    # quoting stops; the order events keep flowing, so fills during the stop are still booked
    await interrupt_loop(bot)
    await stop_helpers(bot)
    await bot.router.register(bot.name, bot.fills.on_update, bot.fills.on_gap)  # fills during the stop count
    try:
        cancelled = await cancel_and_confirm(bot)
        result: dict[str, Any] = {"bot": bot.name, "cancelled": cancelled}
        if flatten:
            result["flatten"] = await flatten_position(bot)
    except MmctlError as e:
        bot.last_error = e.message
        bot._set_state(BotState.ERROR, f"stop incomplete: {e.message}")
        raise
    await bot.router.unregister(bot.name)
    if disarm:
        with contextlib.suppress(ExchangeError):
            await bot.account.disarm_countdown(bot.definition.symbol)
    bot._set_state(BotState.STOPPED)
    result["state"] = bot.state.value
    return result


async def pause_bot(bot: Bot, reason: str, until: float | None) -> dict[str, Any]:
    """Stop quoting (orders cancelled and confirmed) but keep watching; `until` resumes automatically."""
    if bot.state not in (BotState.RUNNING, BotState.PAUSED):
        raise InvalidState(f"bot {bot.name} is {bot.state.value}: only a running bot can be paused")
    bot.pause_reason, bot.resume_at = reason, until
    if bot.state is not BotState.PAUSED:
        bot._set_state(BotState.PAUSED, reason)
    looping = bot._task is not None
    try:
        with request_class(Priority.SAFETY):  # never behind quotes, reads or starts
            await interrupt_loop(bot)  # a tick waiting for budget must not delay the pause
            cancelled = await cancel_and_confirm(bot)
    finally:
        if looping and bot._task is None:
            bot._start_loop()  # paused: it watches and keeps the book of orders empty
    return {"bot": bot.name, "state": bot.state.value, "cancelled": cancelled}


async def halt(bot: Bot, verdict: RiskVerdict) -> None:
    """A loss guard tripped: cancel and confirm, flatten if asked, end stopped with the reason."""
    bot.events.add(bot.name, "risk", verdict.reason, action=verdict.action.value, **verdict.data)
    flatten = verdict.action is RiskAction.FLATTEN
    await end_from_loop(bot, BotState.STOPPED, f"risk: {verdict.reason}", flatten=flatten)


async def fail(bot: Bot, message: str) -> None:
    """Safe stop into the error state: cancel and confirm, then record why."""
    bot.events.add(bot.name, "error", message)
    await end_from_loop(bot, BotState.ERROR, message)


async def end_from_loop(bot: Bot, state: BotState, message: str, *, flatten: bool = False) -> None:
    """The loop ends itself: cancel and confirm (and flatten), then settle in `state` with `message`.
    If orders cannot be confirmed gone the bot is in error saying so and keeps booking their fills
    (`stop` retries the cancel). The bot's `on_stopped` hook runs last."""
    bot.last_error = message
    await stop_helpers(bot)
    try:
        with request_class(Priority.SAFETY):
            await cancel_and_confirm(bot)
            if flatten:
                await flatten_position(bot)
        await bot.router.unregister(bot.name)
    except MmctlError as e:
        state, message = BotState.ERROR, f"{message}; and orders may remain: {e.message}"
        bot.last_error = message
    bot._set_state(state, message)
    if bot.on_stopped is not None:
        with contextlib.suppress(Exception):
            await bot.on_stopped(bot)


async def cancel_and_confirm(bot: Bot) -> int:
    """Cancel every open order carrying the bot's id prefix until the venue shows none, and the exits it
    holds on the venue (strategies that hold some)."""
    cancelled = await bot.quoter.cancel_and_confirm(bot.options.stop_timeout_s)
    if bot.exits is not None:
        cancelled += await bot.exits.cancel_and_confirm(bot.options.stop_timeout_s)
    return cancelled


async def interrupt_loop(bot: Bot) -> None:
    """End the loop task now, wherever it waits (for budget, for a request's answer), then wait for
    every request already sent to be answered: nothing is cut half-way on the venue, nothing waits
    behind a tick, and a confirmation that follows sees every order the tick placed."""
    task, bot._task = bot._task, None
    if task is not None and task is not asyncio.current_task():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await bot.exchange.settle()


async def stop_helpers(bot: Bot) -> None:
    """End the running bot's helper tasks (book watcher, heartbeat, trade watcher) and wait for them."""
    bot.signal_feed.trade_watch = None
    for t in bot._helpers:
        t.cancel()
    for t in bot._helpers:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await t
    bot._helpers = []
