"""One bot's lifecycle and loop: start (checks, leverage, dead-man's switch, leftovers), quote, stop safely.

States: created → starting → running (⇄ paused) → stopping → stopped, and error. The loop wakes on book
updates, its own fills, a change of its strategy's signals and a heartbeat, re-quotes at most every
`quote_interval_ms`, and refreshes the venue's countdown cancel. One handler applies the error
classification (DESIGN.md §4): retry and back off on transient errors; after `max_failures` in a row, or
on a fatal error, the bot cancels its orders and goes to `error` with the message. Every way out of
quoting cancels the bot's orders and confirms.

A strategy with per-bot `signals` gets the bot's own fills (`on_fill`, with the position after each) and,
when its `needs` ask for them, every public trade of the symbol (`on_trade`, through the account's shared
trade subscription, watched by a task of its own while running); when the signals' `version` changes the
bot wakes to re-quote. A bot without signals (market_maker) has neither hook nor trade subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from mmctl.bots.account import AccountShared
from mmctl.bots.definition import BotDefinition
from mmctl.bots.events import EventLog
from mmctl.bots.fills import FillBook
from mmctl.bots.flatten import flatten_position
from mmctl.bots.held_exits import ExitKeeper
from mmctl.bots.inventory import Inventory
from mmctl.bots.quoting import Quoter, QuoteStats
from mmctl.bots.reaction import BookReaction
from mmctl.bots.recorder import NULL_RECORDER, Recorder
from mmctl.bots.risk import BotRiskMonitor, RiskAction, RiskVerdict
from mmctl.bots.start_checks import check_start_margin
from mmctl.bots.state import BotOptions, BotState, FatalBotError, RiskHalt
from mmctl.clock import Clock, now_ms
from mmctl.errors import (
    Action,
    BudgetExhausted,
    ExchangeError,
    InvalidState,
    LeverageRejected,
    MmctlError,
    RateLimited,
)
from mmctl.exchange.base import Exchange
from mmctl.exchange.priority import Priority, request_class
from mmctl.model import ZERO, BookTop, Fill, MarketRules, Side, Trade
from mmctl.strategies import get_strategy
from mmctl.strategies.base import HoldsExits, Quote, Signals
from mmctl.strategies.params import StrategyParams

__all__ = ["Bot", "BotOptions", "BotState"]  # the bot and the value types callers use with it

BUDGET_WAIT_MIN_S = 0.5  # a bot refused by its request budget waits at least this long before ticking
BUDGET_WAIT_MAX_S = 30.0  # ... and at most this long


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
            ExitKeeper(definition.name, definition.symbol, exchange, clock, events, self.quoter.ids)
            if isinstance(self.strategy, HoldsExits)
            else None
        )
        self.started_ms: int | None = None
        self.last_tick_ms: int | None = None
        self.failures = 0
        self._budget_noted = -1e18  # when a budget wait was last recorded as an event (monotonic)
        self._task: asyncio.Task[None] | None = None
        self._helpers: list[asyncio.Task[None]] = []
        self._trade_watch: asyncio.Task[None] | None = None  # while running, if the strategy reads trades
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
            self.signals = self._new_signals(self.rules)
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
        self.fills.on_booked = None if self.signals is None else self._on_fill  # none for book-only bots
        self._follow_trades()
        self._start_loop()
        self._set_state(BotState.RUNNING)

    def _new_signals(self, rules: MarketRules) -> Signals | None:
        """Fresh signals for the current params. A position the bot already holds (restored after a
        restart, or held when its params change) is handed to them as one fill at the bot's average entry
        price, so a strategy that manages positions (exits measured from the entry) keeps managing it."""
        signals = self.strategy.signals(self.params, rules)
        qty = self.inventory.qty
        if signals is not None and qty != 0:
            side = Side.BUY if qty > 0 else Side.SELL
            held = Fill(
                trade_id="held-position",
                order_id="",
                client_order_id="",
                symbol=rules.symbol,
                side=side,
                price=self.inventory.entry_price,
                qty=qty.copy_abs(),
                fee=ZERO,
                fee_asset=rules.quote,
                maker=True,
                realized_pnl=ZERO,
                ts_ms=now_ms(self.clock),
            )
            signals.on_fill(held, qty)
        return signals

    async def _prepare(self) -> None:
        symbol = self.definition.symbol
        await self.account.check_reachable()
        await self.exchange.load_markets()
        self.rules = self.exchange.market(symbol)
        self.signals = self._new_signals(self.rules)  # fresh estimators each start
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
        """While running, watch the symbol's public trades exactly when the strategy's signals read them
        (its `needs` for the current params)."""
        task = self._trade_watch
        wants = (
            bool(self._helpers) and self.signals is not None and self.strategy.needs(self.params).wants_trades
        )
        if wants == (task is not None):
            return
        if task is not None:
            task.cancel()  # its subscription closes on the way out; `_stop_helpers` awaits it
            self._trade_watch = None
        else:
            self._trade_watch = asyncio.create_task(self._watch_trades(), name=f"{self.name}-trades")
            self._helpers.append(self._trade_watch)

    async def _watch_trades(self) -> None:
        """Public trades from the account's shared subscription into the signals (`_on_trade`).
        Resubscribe if the stream fails (or the signals raised)."""
        while True:
            try:
                async with self.market_data.subscribe_trades(self.definition.symbol, self._on_trade) as sub:
                    await sub.wait_closed()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.events.add(self.name, "error", f"trade stream failed: {e}; resubscribing")
            await self.clock.sleep(1.0)

    def _on_trade(self, trade: Trade) -> None:
        """A public trade for the signals; a new signals `version` wakes the loop (its quotes may move)."""
        signals = self.signals
        if signals is not None:
            version = signals.version
            signals.on_trade(trade)
            if signals.version != version:
                self._wake.set()

    def _on_fill(self, fill: Fill, position: Decimal) -> None:
        """One of the bot's fills, booked, for the signals; a new `version` wakes the loop."""
        signals = self.signals
        if signals is not None:
            version = signals.version
            signals.on_fill(fill, position)
            if signals.version != version:
                self._wake.set()

    def wake(self) -> None:
        """Run the loop's next tick as soon as the re-quote floor allows."""
        self._wake.set()

    async def _heartbeat(self) -> None:
        while True:
            await self.clock.sleep(self.options.heartbeat_s)
            self._wake.set()

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
                    await self._handle(e)
        except FatalBotError as e:
            await self._fail(str(e))
        except RiskHalt as e:
            await self._halt(e.verdict)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # an unhandled error still stops safely
            await self._fail(f"internal error: {type(e).__name__}: {e}")

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

    async def _halt(self, verdict: RiskVerdict) -> None:
        """A loss guard tripped: cancel and confirm, flatten if asked, end stopped with the reason."""
        self.events.add(self.name, "risk", verdict.reason, action=verdict.action.value, **verdict.data)
        flatten = verdict.action is RiskAction.FLATTEN
        await self._end_from_loop(BotState.STOPPED, f"risk: {verdict.reason}", flatten=flatten)

    async def _fail(self, message: str) -> None:
        """Safe stop into the error state: cancel and confirm, then record why."""
        self.events.add(self.name, "error", message)
        await self._end_from_loop(BotState.ERROR, message)

    async def _end_from_loop(self, state: BotState, message: str, *, flatten: bool = False) -> None:
        """The loop ends itself: cancel and confirm (and flatten), then settle in `state` with `message`.
        If orders cannot be confirmed gone the bot is in error saying so and keeps booking their fills
        (`stop` retries the cancel)."""
        self.last_error = message
        await self._stop_helpers()
        try:
            with request_class(Priority.SAFETY):
                await self._cancel_and_confirm()
                if flatten:
                    await self._flatten()
            await self.router.unregister(self.name)
        except MmctlError as e:
            state, message = BotState.ERROR, f"{message}; and orders may remain: {e.message}"
            self.last_error = message
        self._set_state(state, message)
        await self._stopped()

    async def _stopped(self) -> None:
        if self.on_stopped is not None:
            with contextlib.suppress(Exception):
                await self.on_stopped(self)

    # --- pause / resume -----------------------------------------------------------------------------------

    async def pause(self, reason: str = "paused by operator", until: float | None = None) -> dict[str, Any]:
        """Stop quoting (orders cancelled and confirmed) but keep watching; `until` resumes automatically."""
        async with self._lifecycle:
            return await self._pause(reason, until)

    async def _pause(self, reason: str, until: float | None) -> dict[str, Any]:
        if self.state not in (BotState.RUNNING, BotState.PAUSED):
            raise InvalidState(f"bot {self.name} is {self.state.value}: only a running bot can be paused")
        self.pause_reason, self.resume_at = reason, until
        if self.state is not BotState.PAUSED:
            self._set_state(BotState.PAUSED, reason)
        looping = self._task is not None
        try:
            with request_class(Priority.SAFETY):  # never behind quotes, reads or starts
                await self._interrupt_loop()  # a tick waiting for budget must not delay the pause
                cancelled = await self._cancel_and_confirm()
        finally:
            if looping and self._task is None:
                self._start_loop()  # paused: it watches and keeps the book of orders empty
        return {"bot": self.name, "state": self.state.value, "cancelled": cancelled}

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
            return await self._cancel_and_confirm()

    def _resume(self, message: str) -> None:
        self.pause_reason, self.resume_at = None, None
        self._set_state(BotState.RUNNING, message)
        self._wake.set()

    async def _handle(self, error: MmctlError) -> None:
        """The one place a loop error is classified."""
        self.last_error = error.message
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
        self.failures += 1
        if self.failures >= self.options.max_failures:
            raise FatalBotError(f"{self.failures} {what}, last: {error.message}")
        delay = self._backoff(error)
        self.events.add(self.name, kind, f"{error.message}; retrying in {delay:g} s", code=error.code)
        self.quoter.needs_resync = True
        await self.clock.sleep(delay)
        self._wake.set()

    async def _await_budget(self, error: BudgetExhausted) -> None:
        """Our own request budget could not admit a quote or read in time (the venue's limits are shared
        by more bots than they carry): wait as long as it says, then tick again. It is no failure (the
        venue saw nothing) and never ends the bot; `health` shows the budget and the missing quotes.
        One event a minute at most."""
        delay = min(max(float(error.retry_after_s or 1.0), BUDGET_WAIT_MIN_S), BUDGET_WAIT_MAX_S)
        now = self.clock.monotonic()
        if now - self._budget_noted >= 60.0:
            self._budget_noted = now
            self.events.add(self.name, "retry", f"{error.message}; waiting {delay:g} s", code=error.code)
        await self.clock.sleep(delay)
        self._wake.set()

    def _backoff(self, error: MmctlError) -> float:
        delay = min(self.options.backoff_base_s * 2 ** (self.failures - 1), self.options.backoff_max_s)
        if isinstance(error, RateLimited) and error.retry_after_s:
            delay = max(delay, float(error.retry_after_s))
        return float(delay)

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
                return await self._stop(flatten, disarm)

    async def _stop(self, flatten: bool, disarm: bool) -> dict[str, Any]:
        if self.state in (BotState.CREATED, BotState.STOPPED) and not flatten:
            return {"bot": self.name, "state": self.state.value, "cancelled": 0, "note": "not running"}
        self._set_state(BotState.STOPPING)
        await self._stop_loop()
        await self.router.register(
            self.name, self.fills.on_update, self.fills.on_gap
        )  # fills during the stop count
        try:
            cancelled = await self._cancel_and_confirm()
            result: dict[str, Any] = {"bot": self.name, "cancelled": cancelled}
            if flatten:
                result["flatten"] = await self._flatten()
        except MmctlError as e:
            self.last_error = e.message
            self._set_state(BotState.ERROR, f"stop incomplete: {e.message}")
            raise
        await self.router.unregister(self.name)
        if disarm:
            with contextlib.suppress(ExchangeError):
                await self.account.disarm_countdown(self.definition.symbol)
        self._set_state(BotState.STOPPED)
        result["state"] = self.state.value
        return result

    async def _stop_loop(self) -> None:
        """Stop quoting; the order events keep flowing so fills during the stop are still booked."""
        await self._interrupt_loop()
        await self._stop_helpers()

    def _start_loop(self) -> None:
        # a clean context: the loop's requests are quotes and reads, whatever scope (a start's, a
        # pause's) is current where it is (re)started
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"bot-{self.name}", context=contextvars.Context()
        )

    async def _interrupt_loop(self) -> None:
        """End the loop task now, wherever it waits (for budget, for a request's answer), then wait for
        every request already sent to be answered: nothing is cut half-way on the venue, nothing waits
        behind a tick, and a confirmation that follows sees every order the tick placed."""
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.exchange.settle()

    async def _stop_helpers(self) -> None:
        self._trade_watch = None
        for t in self._helpers:
            t.cancel()
        for t in self._helpers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._helpers = []

    async def _cancel_and_confirm(self) -> int:
        """Cancel every open order carrying this bot's id prefix until the venue shows none, and the
        exits it holds on the venue (strategies that hold some)."""
        cancelled = await self.quoter.cancel_and_confirm(self.options.stop_timeout_s)
        if self.exits is not None:
            cancelled += await self.exits.cancel_and_confirm(self.options.stop_timeout_s)
        return cancelled

    async def _flatten(self) -> dict[str, Any]:
        return await flatten_position(self)

    def quotes_for(self, book: BookTop, rules: MarketRules) -> list[Quote]:
        """The strategy's quotes for `book`, remembered while their inputs stay the same."""
        return self.reaction.quotes_for(book, rules)
