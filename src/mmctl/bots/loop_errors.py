"""How a bot's loop meets an error from its tick: the one place it is classified (DESIGN.md §4).

Transient errors and refused requests are retried with an exponential back-off (at least as long as a
rate limit asks); after `max_failures` in a row, or on a fatal error, `FatalBotError` ends the loop (the
bot cancels its orders and goes to `error`). A tick refused by the bot's own request budget is no failure:
the bot waits for the budget and ticks again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmctl.bots.state import BotOptions, FatalBotError
from mmctl.errors import Action, BudgetExhausted, MmctlError, RateLimited

if TYPE_CHECKING:
    from mmctl.bots.bot import Bot

BUDGET_WAIT_MIN_S = 0.5  # a bot refused by its request budget waits at least this long before ticking
BUDGET_WAIT_MAX_S = 30.0  # ... and at most this long


class LoopErrors:
    """One bot's handling of its loop's errors: retry, back off, wait for budget, or end the bot."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self._budget_noted = -1e18  # when a budget wait was last recorded as an event (monotonic)

    async def handle(self, error: MmctlError) -> None:
        """The one place a loop error is classified."""
        bot = self.bot
        bot.last_error = error.message
        if isinstance(error, BudgetExhausted):  # nothing was sent: wait for the budget, not a failure
            await self._await_budget(error)
            return
        if error.action in (Action.RETRY, Action.RESYNC, Action.BACKOFF):
            what, kind = "consecutive failures", "retry"
        elif error.action is Action.GIVE_UP:
            # a whole request was refused (per-order rejections never get here): count it and back off,
            # or a persistent refusal would spin the loop against the venue's rate limits
            what, kind = "refused requests in a row", "reject"
        else:
            raise FatalBotError(error.message)
        bot.failures += 1
        if bot.failures >= bot.options.max_failures:
            raise FatalBotError(f"{bot.failures} {what}, last: {error.message}")
        delay = backoff_s(bot.options, bot.failures, error)
        bot.events.add(bot.name, kind, f"{error.message}; retrying in {delay:g} s", code=error.code)
        bot.quoter.needs_resync = True
        await bot.clock.sleep(delay)
        bot.wake()

    async def _await_budget(self, error: BudgetExhausted) -> None:
        """Our own request budget could not admit a quote or read in time (the venue's limits are shared
        by more bots than they carry): wait as long as it says, then tick again. It is no failure (the
        venue saw nothing) and never ends the bot; `health` shows the budget and the missing quotes.
        One event a minute at most."""
        bot = self.bot
        delay = min(max(float(error.retry_after_s or 1.0), BUDGET_WAIT_MIN_S), BUDGET_WAIT_MAX_S)
        now = bot.clock.monotonic()
        if now - self._budget_noted >= 60.0:
            self._budget_noted = now
            bot.events.add(bot.name, "retry", f"{error.message}; waiting {delay:g} s", code=error.code)
        await bot.clock.sleep(delay)
        bot.wake()


def backoff_s(options: BotOptions, failures: int, error: MmctlError) -> float:
    """The wait before retrying after `failures` in a row: doubling from `backoff_base_s` up to
    `backoff_max_s`, and at least as long as a rate limit asks."""
    delay = min(options.backoff_base_s * 2 ** (failures - 1), options.backoff_max_s)
    if isinstance(error, RateLimited) and error.retry_after_s:
        delay = max(delay, float(error.retry_after_s))
    return float(delay)
