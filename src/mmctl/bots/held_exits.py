"""A bot's exits held on the venue: the conditional close-position orders its strategy names
(`mmctl.strategies.base.HoldsExits`), kept in step with it, and cancelled with its orders.

A directional bot watches its stop and take-profit itself while it runs; the held exits are for when it
does not (the daemon down, the machine gone): a `stop` becomes a STOP_MARKET and a `take_profit` a
TAKE_PROFIT_MARKET order, each closing the whole position when the mark price reaches it
(`mmctl.exchange.conditional`). `ExitKeeper.sync` runs at the end of each tick:
- it places a wanted exit that is not held, and cancels a held one that is no longer wanted (the position
  closed, the strategy dropped it) or whose trigger is now more than `tolerance_bps` away from the wanted
  one (a trailing stop that ratcheted): small moves cost no request;
- a placement the venue refuses (its condition already holds: the bot's own exit acts) is retried no
  sooner than `RETRY_S` later, recorded once as an event;
- every `VERIFY_S` while it holds exits it reads the symbol's open conditionals (weight 1), so an exit
  the venue triggered, expired or cancelled is forgotten and, if still wanted, placed again.
Client ids are the bot's (`mm.<bot>.<side><level>.<seq>`, levels `STOP_LEVEL` and `TAKE_PROFIT_LEVEL`):
the market order a triggered exit becomes carries the same id, so its fill is the bot's.

`cancel_and_confirm` runs on every path that stops the bot's quoting (stop, pause, risk, error,
cancel-all): it cancels every open conditional of this bot on the symbol, known or left over from an
earlier run, until the venue lists none. Its listings come from `fresh_conditionals` when given (the
account's `AccountShared.open_conditionals_fresh`: one SAFETY-class query per symbol that every bot
confirming at the same time joins), else from a request of its own. Bots whose strategy holds no exits
never call the keeper.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from decimal import Decimal

from mmctl.bots.events import EventLog
from mmctl.bots.ids import ClientIdGenerator, parse
from mmctl.clock import Clock
from mmctl.errors import ExchangeError, MmctlError, StopIncomplete, UnknownOrder
from mmctl.exchange.base import Exchange
from mmctl.exchange.conditional import ConditionalKind, ConditionalOrder, ConditionalRequest
from mmctl.exchange.rules import EXACT
from mmctl.model import Side
from mmctl.strategies.base import HeldExit

STOP_LEVEL = 90
TAKE_PROFIT_LEVEL = 91
RETRY_S = 30.0  # a refused exit is asked for again no sooner than this
VERIFY_S = 30.0  # how often held exits are checked against the venue's open conditionals
_KINDS = {
    "stop": (ConditionalKind.STOP_MARKET, STOP_LEVEL),
    "take_profit": (ConditionalKind.TAKE_PROFIT_MARKET, TAKE_PROFIT_LEVEL),
}
_BPS = Decimal(10_000)

FreshConditionals = Callable[[str], Awaitable[list[ConditionalOrder]]]
"""A symbol's open conditional orders as seen by a request sent after the call (joined with others)."""


class ExitKeeper:
    """The exits one bot holds on the venue for its symbol (see the module docstring)."""

    def __init__(
        self,
        bot: str,
        symbol: str,
        exchange: Exchange,
        clock: Clock,
        events: EventLog,
        ids: ClientIdGenerator,
        *,
        fresh_conditionals: FreshConditionals | None = None,
    ) -> None:
        self.bot = bot
        self.symbol = symbol
        self.exchange = exchange
        self.clock = clock
        self.events = events
        self._ids = ids
        self._fresh_conditionals = fresh_conditionals
        self.held: dict[str, ConditionalOrder] = {}  # kind -> the exit held on the venue
        self._refused: dict[str, float] = {}  # kind -> when the venue last refused it (monotonic)
        self._verified = -1e18

    async def sync(self, wanted: list[HeldExit], position: Decimal, tolerance_bps: Decimal) -> None:
        """Bring the held exits in step with `wanted` for `position` (none when flat)."""
        now = self.clock.monotonic()
        if self.held and now - self._verified >= VERIFY_S:
            await self._verify()
        side = Side.SELL if position > 0 else Side.BUY
        want: dict[str, HeldExit] = {e.kind: e for e in wanted} if position != 0 else {}
        for kind, held in list(self.held.items()):
            exit_ = want.get(kind)
            if exit_ is None or held.side is not side or not _near(held, exit_, tolerance_bps):
                await self._cancel(kind)
        for kind, exit_ in want.items():
            if kind not in self.held and now - self._refused.get(kind, -1e18) >= RETRY_S:
                await self._place(exit_, side)

    async def cancel_and_confirm(self, timeout_s: float) -> int:
        """Cancel every open conditional of this bot on the symbol until the venue lists none; how many
        were cancelled. Raises `StopIncomplete` when they cannot be confirmed gone in time."""
        deadline = self.clock.monotonic() + timeout_s
        cancelled = 0
        last: Exception | None = None
        while True:
            try:
                mine = await self._open_mine(confirming=True)
                if mine:
                    for order in mine:
                        with contextlib.suppress(UnknownOrder):  # triggered or gone meanwhile
                            await self.exchange.cancel_conditional(self.symbol, order.client_id)
                            cancelled += 1
                    # confirmed in the same round, as the quoter does
                    mine = await self._open_mine(confirming=True)
                if not mine:
                    self.held.clear()
                    return cancelled
            except ExchangeError as e:
                last = e
            if self.clock.monotonic() >= deadline:
                raise StopIncomplete(
                    f"bot {self.bot}: its exits held on the venue may still be open after {timeout_s:g} s"
                    + (f" ({last})" if last else "")
                )
            await self.clock.sleep(0.2)

    async def _open_mine(self, *, confirming: bool = False) -> list[ConditionalOrder]:
        """This bot's open conditionals on the symbol; `confirming`: from a listing sent after this call,
        shared with the other bots confirming now when the keeper has `fresh_conditionals`."""
        if confirming and self._fresh_conditionals is not None:
            orders = await self._fresh_conditionals(self.symbol)
        else:
            orders = await self.exchange.open_conditionals(self.symbol)
        return [o for o in orders if (own := parse(o.client_id)) is not None and own.bot == self.bot]

    async def _verify(self) -> None:
        self._verified = self.clock.monotonic()
        open_ids = {o.client_id for o in await self._open_mine()}
        for kind, held in list(self.held.items()):
            if held.client_id not in open_ids:
                del self.held[kind]  # triggered, expired or cancelled on the venue

    async def _place(self, exit_: HeldExit, side: Side) -> None:
        kind, level = _KINDS[exit_.kind]
        request = ConditionalRequest(
            symbol=self.symbol,
            side=side,
            kind=kind,
            trigger_price=exit_.trigger_price,
            close_position=True,
            reduce_only=False,
            client_id=self._ids.new_id(side, level),
        )
        try:
            order = await self.exchange.place_conditional(request)
        except MmctlError as e:
            self._refused[exit_.kind] = self.clock.monotonic()
            self.events.add(self.bot, "reject", f"{exit_.kind} held on the venue refused: {e.message}")
            return
        self._refused.pop(exit_.kind, None)
        self.held[exit_.kind] = order
        self.events.add(
            self.bot, "order", f"{exit_.kind} held on the venue at {exit_.trigger_price}",
            side=side.value, price=str(exit_.trigger_price), client_order_id=order.client_id,
        )  # fmt: skip

    async def _cancel(self, kind: str) -> None:
        held = self.held.pop(kind)
        with contextlib.suppress(UnknownOrder):  # triggered, expired or cancelled on the venue already
            await self.exchange.cancel_conditional(self.symbol, held.client_id)


def _near(order: ConditionalOrder, exit_: HeldExit, tolerance_bps: Decimal) -> bool:
    """True when the held trigger is within `tolerance_bps` of the wanted one (exactly, no rounding)."""
    held = order.trigger_price
    if held is None:
        return False
    return EXACT.abs(EXACT.subtract(held, exit_.trigger_price)) * _BPS <= tolerance_bps * exit_.trigger_price
