"""One bot's lifecycle and loop: start (checks, leverage, dead-man's switch, leftovers), quote, stop safely.

States: created → starting → running (⇄ paused) → stopping → stopped, and error. The loop wakes on book
updates, its own fills, a change of its strategy's signals and a heartbeat, re-quotes at most every
`quote_interval_ms`, and refreshes the venue's countdown cancel. One handler applies the error
classification (DESIGN.md §4): retry and back off on transient errors; after `max_failures` in a row, or
on a fatal error, the bot cancels its orders and goes to `error` with the message. Every way out of
quoting cancels the bot's orders and confirms.

Beside it: the loop's error handling (`mmctl.bots.loop_errors`), the paths that stop quoting
(`mmctl.bots.stopping`), what feeds the strategy's signals (`mmctl.bots.signal_feed`) and the reaction
to books (`mmctl.bots.reaction`).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from mmctl.bots.account import AccountShared
from mmctl.bots.definition import BotDefinition
from mmctl.bots.events import EventLog
from mmctl.bots.fills import FillBook
from mmctl.bots.held_exits import ExitKeeper
from mmctl.bots.inventory import Inventory
from mmctl.bots.loop_errors import BUDGET_WAIT_MAX_S as BUDGET_WAIT_MAX_S  # importable from here as before
from mmctl.bots.loop_errors import BUDGET_WAIT_MIN_S as BUDGET_WAIT_MIN_S
from mmctl.bots.loop_errors import LoopErrors
from mmctl.bots.quoting import Quoter, QuoteStats
from mmctl.bots.reaction import BookReaction
from mmctl.bots.recorder import NULL_RECORDER, Recorder
from mmctl.bots.risk import BotRiskMonitor, RiskAction, RiskVerdict
from mmctl.bots.signal_feed import SignalFeed
from mmctl.bots.start_checks import check_start_margin
from mmctl.bots.state import BotOptions, BotState, FatalBotError, RiskHalt
from mmctl.bots.stopping import cancel_and_confirm, fail, halt, pause_bot, stop_bot
from mmctl.clock import Clock, now_ms
from mmctl.errors import InvalidState, LeverageRejected, MmctlError
from mmctl.exchange.base import Exchange
from mmctl.exchange.priority import Priority, request_class
from mmctl.model import BookTop, Fill, MarketRules
from mmctl.strategies import get_strategy
from mmctl.strategies.base import HoldsExits, Quote, Signals
from mmctl.strategies.params import StrategyParams

__all__ = ["Bot", "BotOptions", "BotState"]  # the bot and the value types callers use with it


class Bot:
    def __init__(
        self,
        definition: BotDefinition,
        exchange: Exchange,
        clock: Clock,
        events: EventLog,
        options: BotOptions | None = None,
        account: AccountShared | None = None,
        *,
        recorder: Recorder | None = None,
    ) -> None:
        self.definition = definition
        self.account = account or AccountShared(exchange, clock, definition.account)
        self.router = self.account.router
        self.market_data = self.account.market_data
        self.exchange = exchange
        self.clock = clock
        self.events = events
        self.options = options or BotOptions()
        self.recorder = recorder or NULL_RECORDER
        if recorder is not None:  # the account's order events are recorded too (mmctl.bots.router)
            self.router.record_to(recorder, definition.account)
        self.strategy = get_strategy(definition.strategy)
        self.state = BotState.CREATED
        self.last_error: str | None = None
        self._wake = asyncio.Event()
        self.inventory = Inventory()
        self.quoter = Quoter(
            definition.name,
            definition.symbol,
            exchange,
            clock,
            events,
            self.account.open_orders_fresh,
            recorder=self.recorder,
            account=definition.account,
            shared_cancels=self.account.cancels,
        )
        self.fills = FillBook(
            definition.name, self.quoter, self.inventory, events, self._wake.set, recorder=self.recorder
        )
        self.risk = BotRiskMonitor(definition.params)
        self.on_stopped: Callable[[Bot], Awaitable[None]] | None = None  # the manager tidies up after us
        self.rules: MarketRules | None = None
        self.signals: Signals | None = None  # the strategy's per-bot market state (strategies.base)
        self.exits = (  # the exits held on the venue, for strategies that hold some (bots.held_exits)
            ExitKeeper(
                definition.name,
                definition.symbol,
                exchange,
                clock,
                events,
                self.quoter.ids,
                fresh_conditionals=self.account.open_conditionals_fresh,
            )
            if isinstance(self.strategy, HoldsExits)
            else None
        )
        self.started_ms: int | None = None
        self.last_tick_ms: int | None = None
        self.failures = 0
        self.loop_errors = LoopErrors(self)  # how the loop meets an error (bots.loop_errors)
        self.signal_feed = SignalFeed(self)  # builds and feeds the strategy's signals (bots.signal_feed)
        self._task: asyncio.Task[None] | None = None
        self._helpers: list[asyncio.Task[None]] = []
        self._last_quote = -1e18
        self.reaction = BookReaction(self)  # which books wake the bot, what it sends first (bots.reaction)
        self._starting: asyncio.Task[Any] | None = None  # the task running a start, for a stop to cut
        self._lifecycle = asyncio.Lock()  # start, stop, pause and resume never interleave
        self.hold: str | None = None  # why quotes are pulled while running (e.g. stale market data)
        self.pause_reason: str | None = None
        self.resume_at: float | None = None  # monotonic time of an automatic resume

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def params(self) -> StrategyParams:
        return self.definition.params

    def _set_state(self, state: BotState, message: str | None = None) -> None:
        self.state = state
        self.events.add(self.name, "state", message or state.value, state=state.value)

    def restore_fills(self, fills: list[Fill]) -> None:
        """Rebuild the inventory from this bot's recorded fills (oldest first) and seed the per-order
        booked quantities, so an adopted partially filled order is never booked twice (idempotent)."""
        self.fills.restore(fills)

    def update_definition(self, definition: BotDefinition) -> None:
        """New parameters: a running bot picks them up at its next tick."""
        self.definition = definition
        self.risk.update_params(definition.params)
        if self.signals is not None and self.rules is not None:  # estimators sized by the new params
            self.signals = self.signal_feed.fresh(self.rules)
        self._follow_trades()  # the new params may read trades, or no longer
        self._wake.set()

    # --- start -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start quoting. A stop arriving meanwhile interrupts the start (it may wait long for budget)."""
        async with self._lifecycle:
            task = asyncio.current_task()
            self._starting = task
            try:
                await self._start()
            except asyncio.CancelledError:
                if self._starting is not None or task is None:
                    raise  # cancelled from outside, not by a stop
                task.uncancel()
                raise InvalidState(f"bot {self.name}: start interrupted by a stop") from None
            finally:
                self._starting = None

    async def _start(self) -> None:
        if self.state.active:
            raise InvalidState(f"bot {self.name} is already {self.state.value}")
        self._set_state(BotState.STARTING)
        self.last_error = None
        try:
            with request_class(Priority.START):  # starts yield to running bots and safety
                await self._prepare()
        except MmctlError as e:
            await self._abort_start(e)
            raise
        except asyncio.CancelledError:  # a stop cut the start: its leftovers are the stop's to cancel
            await self._abort_start(MmctlError("start interrupted by a stop"))
            raise
        except Exception as e:  # never stay in "starting"
            error = MmctlError(f"start failed: {type(e).__name__}: {e}")
            await self._abort_start(error)
            raise error from e
        self.inventory.reset_session()
        self.risk.reset(self.clock.monotonic())
        self.reaction.reset()
        self.quoter.stats = QuoteStats()
        self.failures = 0
        self.started_ms = now_ms(self.clock)
        await self.router.register(self.name, self.fills.on_update, self.fills.on_gap)
        self._helpers = [
            asyncio.create_task(self._watch_book(), name=f"{self.name}-book"),
            asyncio.create_task(self._heartbeat(), name=f"{self.name}-heartbeat"),
        ]
        self.fills.on_booked = None if self.signals is None else self.signal_feed.on_fill  # none: book-only
        self._follow_trades()
        self._start_loop()
        self._set_state(BotState.RUNNING)

    async def _prepare(self) -> None:
        symbol = self.definition.symbol
        await self.account.check_reachable()
        await self.exchange.load_markets()
        self.rules = self.exchange.market(symbol)
        self.signals = self.signal_feed.fresh(self.rules)  # fresh estimators each start
        leverage = self.params.leverage
        if leverage > self.rules.max_leverage:
            raise LeverageRejected(
                f"leverage {leverage} is above {symbol}'s maximum of {self.rules.max_leverage}",
                data={"field": "leverage"},
            )
        await self.account.ensure_leverage(symbol, leverage)
        await self.quoter.resync()
        leftovers = list(self.quoter.live)
        if leftovers:
            await self.quoter.cancel(leftovers)
            self.events.add(self.name, "cancel", f"cancelled {len(leftovers)} leftover order(s)")
        if self.exits is not None and await self.exits.cancel_and_confirm(self.options.stop_timeout_s):
            self.events.add(self.name, "cancel", "cancelled exits left on the venue by an earlier run")
        await check_start_margin(self, refresh=bool(leftovers))
        await self.account.keep_countdown(symbol, self.options.countdown_s, self.options.countdown_refresh_s)

    async def _abort_start(self, error: MmctlError) -> None:
        self.last_error = error.message
        self._set_state(BotState.ERROR, f"start failed: {error.message}")

    # --- the loop ----------------------------------------------------------------------------------------

    async def _watch_book(self) -> None:
        """Book updates from the account's shared subscription, delivered to `self.reaction`
        (mmctl.bots.reaction). Resubscribe if the stream fails (the stale-data guard pulls quotes
        meanwhile)."""
        reaction = self.reaction
        while True:
            try:
                async with self.market_data.subscribe(
                    self.definition.symbol, on_book=reaction.on_book, on_quiet=reaction.on_quiet
                ) as books:
                    reaction.sub = books
                    await books.wait_closed()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.events.add(self.name, "error", f"market data stream failed: {e}; resubscribing")
            finally:
                reaction.sub = None
            await self.clock.sleep(1.0)

    def _follow_trades(self) -> None:
        """While running, watch the symbol's public trades exactly when the strategy's signals read them."""
        self.signal_feed.follow_trades(self._helpers)

    def wake(self) -> None:
        """Run the loop's next tick as soon as the re-quote floor allows."""
        self._wake.set()

    async def _heartbeat(self) -> None:
        while True:
            await self.clock.sleep(self.options.heartbeat_s)
            self._wake.set()

    def _start_loop(self) -> None:
        # a clean context: the loop's requests are quotes and reads, whatever scope (a start's, a
        # pause's) is current where it is (re)started
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"bot-{self.name}", context=contextvars.Context()
        )

    async def _run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                floor = self.params.quote_interval_ms / 1000
                wait = self._last_quote + floor - self.clock.monotonic()
                if wait > 0:
                    await self.clock.sleep(wait)
                    self._wake.clear()
                try:
                    await self.tick()
                    self.failures = 0
                except MmctlError as e:
                    await self.loop_errors.handle(e)
        except FatalBotError as e:
            await fail(self, str(e))
        except RiskHalt as e:
            await halt(self, e.verdict)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # an unhandled error still stops safely
            await fail(self, f"internal error: {type(e).__name__}: {e}")

    @property
    def quoting(self) -> bool:
        return self.state is BotState.RUNNING and self.hold is None

    async def tick(self) -> None:
        """Observe → strategy → diff → act. Orders the latest book made stale are cancelled first, before
        any quote math (mmctl.bots.reaction). While paused or on hold the desired set is empty, so the
        diff cancels whatever is left. Only a tick that sends requests counts toward the re-quote floor."""
        started = self.clock.monotonic()
        self.last_tick_ms = now_ms(self.clock)
        if self.fills.recover_due:
            rules = self.rules or self.exchange.market(self.definition.symbol)
            await self.fills.recover(rules.maker_fee)
        early = await self.reaction.cancel_stale()
        self.reaction.take_books()
        if self.state is BotState.PAUSED and self.resume_at is not None and started >= self.resume_at:
            self._resume("cooldown over: quoting again")
        self._apply_risk(self.risk.check(started, self.inventory.net(self._mark())))
        desired = self.reaction.desired_quotes() if self.quoting else []
        if desired:  # armed (shared by the symbol's bots) before anything new is placed
            await self.account.keep_countdown(
                self.definition.symbol, self.options.countdown_s, self.options.countdown_refresh_s
            )
        cancelled, placed = await self.quoter.apply(
            desired,
            tolerance_bps=self.params.refresh_tolerance_bps,
            max_age_ms=self.params.max_order_age_s * 1000,
        )
        if self.exits is not None and isinstance(self.strategy, HoldsExits) and self.rules is not None:
            position = self.inventory.qty
            wanted = self.strategy.held_exits(self.params, position, self.rules, self.signals)
            await self.exits.sync(wanted, position, self.params.refresh_tolerance_bps)
        if early or cancelled or placed:
            self._last_quote = started

    def countdown_age_s(self) -> float | None:
        """Seconds since the venue's countdown cancel for this bot's symbol was last armed."""
        return self.account.countdown_age_s(self.definition.symbol)

    def tick_age_s(self) -> float | None:
        return (
            None if self.last_tick_ms is None else max(0.0, (now_ms(self.clock) - self.last_tick_ms) / 1000)
        )

    def _mark(self) -> Decimal | None:
        book = self.exchange.book(self.definition.symbol)
        return book.mid if book is not None else None

    def _apply_risk(self, verdict: RiskVerdict) -> None:
        """Turn a guard's verdict into quoting state; loss guards end the loop (RiskHalt)."""
        if verdict.halts:
            raise RiskHalt(verdict)
        if verdict.action is RiskAction.PAUSE:
            if self.state is BotState.RUNNING:
                self.pause_reason, self.resume_at = f"risk: {verdict.reason}", verdict.until_s
                self._set_state(BotState.PAUSED, self.pause_reason)
                self.events.add(self.name, "risk", verdict.reason, **verdict.data)
            return
        hold = f"risk: {verdict.reason}" if verdict.action is RiskAction.PULL else None
        if hold != self.hold:
            message = verdict.reason if hold else "market data fresh again: quoting"
            self.events.add(self.name, "risk", message, **verdict.data)
            self.hold = hold

    # --- pause / resume -----------------------------------------------------------------------------------

    async def pause(self, reason: str = "paused by operator", until: float | None = None) -> dict[str, Any]:
        """Stop quoting (orders cancelled and confirmed) but keep watching; `until` resumes automatically."""
        async with self._lifecycle:
            return await pause_bot(self, reason, until)

    async def resume(self) -> dict[str, Any]:
        async with self._lifecycle:
            return self._resume_now()

    def _resume_now(self) -> dict[str, Any]:
        if self.state is not BotState.PAUSED:
            raise InvalidState(f"bot {self.name} is {self.state.value}: only a paused bot can be resumed")
        self._resume("resumed by operator")
        return {"bot": self.name, "state": self.state.value}

    async def cancel_own_orders(self) -> int:
        """Cancel (and confirm) every open order carrying this bot's id prefix, whatever the state."""
        with request_class(Priority.SAFETY):
            return await cancel_and_confirm(self)

    def _resume(self, message: str) -> None:
        self.pause_reason, self.resume_at = None, None
        self._set_state(BotState.RUNNING, message)
        self._wake.set()

    # --- stop ---------------------------------------------------------------------------------------------

    async def stop(self, *, flatten: bool = False, disarm: bool = True) -> dict[str, Any]:
        """Stop quoting, cancel every order of this bot and confirm none remain; optionally flatten.
        If orders cannot be confirmed gone, the bot ends in `error` saying so (and keeps booking fills).
        Every request it makes is of the SAFETY class; a start in progress is cut short."""
        starting, self._starting = self._starting, None
        if starting is not None:
            starting.cancel()
        async with self._lifecycle:
            with request_class(Priority.SAFETY):
                return await stop_bot(self, flatten, disarm)

    def quotes_for(self, book: BookTop, rules: MarketRules) -> list[Quote]:
        """The strategy's quotes for `book`, remembered while their inputs stay the same."""
        return self.reaction.quotes_for(book, rules)
