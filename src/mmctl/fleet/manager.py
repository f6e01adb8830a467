"""The bot manager: the fleet's facade over every bot of the daemon, their accounts and their lifecycle.

It holds the registry (bots loaded from the `DefinitionStore` port, definitions that could not be loaded,
one client per account given by the composition root, seen only through the `Exchange` port) and runs
start/stop/pause/resume of one or many bots (each reports its own outcome, `mmctl.fleet.batch`; one
failure does not stop the others). `shutdown` stops every running bot safely (orders cancelled and
confirmed). Beside it: definition editing (`mmctl.fleet.definitions`), the views (`mmctl.fleet.views`),
each account's client, shared state and countdowns (`mmctl.fleet.wiring`), the daemon-start sequence
(`mmctl.fleet.restart`); the methods here that name them only delegate.

With a `Store` (`records`), the manager keeps each bot's desired state there, where the operator left
it, so a restart puts the bot back (`mmctl.daemon.compose`): start and resume record `running` once the
bot runs, pause `paused` and stop `stopped` before they act (a crash half-way never restarts a bot the
operator was stopping). A bot that stops itself on a risk trip (its own guards or the daemon-wide ones)
or a fatal error is recorded `stopped` too: a restart must not undo a risk stop. A daemon shutdown and
a stop forced by a store failure change no desired state. After a store failure (`store_failed`)
every bot is stopped, and starting or resuming one is refused until the daemon is restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from mmctl.bots.account import AccountShared
from mmctl.bots.bot import Bot
from mmctl.bots.definition import BotDefinition
from mmctl.bots.events import EventLog
from mmctl.bots.market_data import MarketDataHub
from mmctl.bots.recorder import Recorder
from mmctl.bots.router import OrderRouter
from mmctl.bots.state import BotOptions, BotState
from mmctl.clock import Clock, now_ms
from mmctl.config.schema import RiskSettings
from mmctl.errors import InvalidState, MmctlError, NotFound, StoreError, ValidationError
from mmctl.exchange.base import Exchange
from mmctl.exchange.budget import AccountBudgets
from mmctl.fleet import batch, definitions, restart, views, wiring
from mmctl.fleet.durable_fills import DurableFills
from mmctl.fleet.guard import FleetGuard
from mmctl.fleet.risk import FleetLimits
from mmctl.fleet.unloaded import Unloaded
from mmctl.store.base import DefinitionStore, Store
from mmctl.store.records import DesiredState, SetDesiredState

SHUTDOWN_DISARM_WAIT_S = 5.0  # at shutdown, how long countdown disarms may delay the exit


class BotManager:
    def __init__(
        self,
        accounts: Mapping[str, Exchange],
        store: DefinitionStore,
        clock: Clock,
        events: EventLog,
        *,
        unavailable: Mapping[str, str] | None = None,
        options: BotOptions | None = None,
        account_options: Mapping[str, BotOptions] | None = None,
        risk: FleetLimits | None = None,
        budgets: Mapping[str, AccountBudgets] | None = None,
        records: Store | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.accounts = dict(accounts)
        self.records = records  # desired states, durable flushes (None: nothing is kept)
        # each bot's orders and fills (None: the bots record nothing); views wait for the fills they show
        self.fills = None if recorder is None else DurableFills(recorder)
        self.recorder: Recorder | None = self.fills
        self.store_failed: str | None = None  # why the store stopped taking writes
        self.notice: Callable[[], str | None] = lambda: None  # shown by list and status (e.g. a crash)
        self.budgets = dict(budgets or {})  # per account, from the composition root (portfolio, health)
        self.unavailable = dict(unavailable or {})
        self.store = store
        self.clock = clock
        self.events = events
        self.options = options or BotOptions()  # for accounts without their own (`account_options`)
        # per account: its settings' countdown (`countdown_s`, `countdown_refresh_s`) for all its bots
        self.account_options = dict(account_options or {})
        self.bots: dict[str, Bot] = {}
        # definitions not loaded (account unavailable, unreadable): listed in `error` with the reason
        self.unloaded: dict[str, Unloaded] = {}
        self.shared: dict[str, AccountShared] = {}  # router, book hub, leverage, countdowns per account
        self.started_ms = now_ms(clock)  # portfolio income is counted from here
        self.fleet = FleetGuard(self, risk or RiskSettings())
        self._background: set[asyncio.Future[None]] = set()

    # --- loading and lookup -------------------------------------------------------------------------

    def load(self) -> list[str]:
        """Load stored definitions, each `stopped`; returns one message per definition that could not be
        loaded. Such a bot (its account unavailable, its strategy unknown or its plugin broken, its
        definition unreadable) stays listed in `error` with the reason (`mmctl.fleet.unloaded`)."""
        problems: list[str] = []
        for name, raw in self.store.load_all().items():
            try:
                definition = BotDefinition.from_dict(raw)
                if definition.name != name:
                    raise ValidationError(
                        f"file name says {name!r} but the definition says {definition.name!r}"
                    )
                if definition.account in self.unavailable and definition.account not in self.accounts:
                    reason = f"account {definition.account!r} is not available: "
                    reason += self.unavailable[definition.account]
                    self._not_loaded(Unloaded.of(definition, reason), problems)
                    continue
                bot = self.bots[name] = self.new_bot(definition)
                bot.state = BotState.STOPPED  # it exists and holds no orders of this daemon's
            except MmctlError as e:
                self._not_loaded(Unloaded.from_raw(name, raw, e.message), problems)
        return problems

    def _not_loaded(self, unloaded: Unloaded, problems: list[str]) -> None:
        self.unloaded[unloaded.name] = unloaded
        problems.append(f"bot {unloaded.name}: {unloaded.reason}")
        self.events.add(unloaded.name, "error", f"not loaded: {unloaded.reason}", state=BotState.ERROR.value)

    @property
    def routers(self) -> dict[str, OrderRouter]:
        return {name: shared.router for name, shared in self.shared.items()}

    @property
    def market_data(self) -> dict[str, MarketDataHub]:
        return {name: shared.market_data for name, shared in self.shared.items()}

    def new_bot(self, definition: BotDefinition) -> Bot:
        """A bot wired to its account's shared client, order stream, book hub and facts."""
        account = definition.account
        bot = Bot(
            definition,
            self.exchange(account),
            self.clock,
            self.events,
            wiring.options_for(self, account),
            self.account(account),
            recorder=self.recorder,
        )
        bot.on_stopped = self._after_stop
        return bot

    async def _after_stop(self, bot: Bot) -> None:
        """A bot stopped on its own (error, risk): it stays stopped after a restart (a restart must not
        undo a risk stop); disarm its symbol's countdown if nobody quotes it."""
        if self.store_failed is None:
            await self.desire(bot.name, DesiredState.STOPPED)
        await wiring.disarm_idle_countdowns(self, {(bot.definition.account, bot.definition.symbol)})

    def bots_on(self, account: str, symbol: str) -> list[Bot]:
        """The bots quoting `symbol` (unified form) on `account`, whatever their state."""
        return [
            b for b in self.bots.values() if b.definition.account == account and b.definition.symbol == symbol
        ]

    def bot(self, name: str) -> Bot:
        try:
            return self.bots[name]
        except KeyError:
            if name in self.unloaded:
                raise InvalidState(
                    f"bot {name} is not loaded: {self.unloaded[name].reason} (fix it and restart the "
                    "daemon, or remove the bot)",
                    data={"field": "name"},
                ) from None
            known = ", ".join(sorted(self.bots)) or "none yet; create one with mmctl create"
            raise NotFound(f"no bot named {name!r} (bots: {known})", data={"field": "name"}) from None

    # --- accounts (`mmctl.fleet.wiring`) --------------------------------------------------------------

    def exchange(self, account: str) -> Exchange:
        return wiring.exchange(self, account)

    def account(self, account: str) -> AccountShared:
        return wiring.account_shared(self, account)

    async def open_order_streams(self) -> None:
        await restart.open_order_streams(self)

    async def restore_inventories(self) -> None:
        await restart.restore_inventories(self)

    # --- desired states and the store ----------------------------------------------------------------------

    async def desire(self, name: str, state: DesiredState) -> None:
        """Record durably where the operator left bot `name` (nothing once the store has failed: a stop
        must still work, and the failure handler has said that nothing more is recorded)."""
        if self.records is None or self.records.failed is not None:
            return
        with contextlib.suppress(StoreError):
            await self.records.write(SetDesiredState(name, state, now_ms(self.clock)))

    async def desire_all(self, names: list[str], state: DesiredState) -> None:
        """`desire` for many bots at once: queued together, made durable by one flush, so the bots go on
        from one loop turn (a mass stop's cancels and confirmations join: `bots.shared_cancels`)."""
        if self.records is None or self.records.failed is not None or not names:
            return
        at = now_ms(self.clock)
        with contextlib.suppress(StoreError):
            for name in names:
                await self.records.submit(SetDesiredState(name, state, at))
            await self.records.flush()

    async def durable(self) -> None:
        """Everything recorded so far (definitions, orders, fills, events) is committed; nothing to wait
        for once the store has failed (what was committed is all there is)."""
        with contextlib.suppress(StoreError):
            if self.records is not None:
                if self.records.failed is None:
                    await self.records.flush()  # the recorder writes to the same store
            elif self.recorder is not None:
                await self.recorder.durable()

    def _refuse_if_store_failed(self, what: str) -> None:
        if self.store_failed is not None:
            raise StoreError(
                f"cannot {what}: the store failed ({self.store_failed}); every bot was stopped. Fix the "
                "cause, then restart the daemon"
            )

    def on_store_failure(self, error: StoreError) -> asyncio.Future[None]:
        """The store stopped taking writes: stop every bot that may hold orders (cancelled and confirmed,
        SAFETY class) without recording desired states; starts are refused from now on."""
        self.store_failed = str(error)

        async def stop_all() -> None:
            bots = [b for b in self.bots.values() if b.state.active or b.state is BotState.ERROR]
            if bots:
                await self.stop([b.name for b in bots], desire=False)

        return self._later(stop_all())

    # --- definitions (`mmctl.fleet.definitions`) ------------------------------------------------------

    async def create(
        self, name: str, account: str, symbol: str, strategy: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        return await definitions.create(self, name, account, symbol, strategy, params)

    async def set_params(self, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        return await definitions.set_params(self, name, changes)

    def remove(self, name: str) -> dict[str, Any]:
        return definitions.remove(self, name)

    # --- start / stop ---------------------------------------------------------------------------------

    async def start(self, names: list[str], all_bots: bool = False) -> list[dict[str, Any]]:
        bots = batch.select(self, names, all_bots)
        if all_bots:
            bots = [b for b in bots if not b.state.active]
        self._refuse_if_store_failed("start bots")
        if self.fleet.halt is not None:
            raise InvalidState(
                f"daemon-wide risk halt: {self.fleet.halt.reason}; starts are refused until it clears "
                "(see [risk] in the config)",
                data=dict(self.fleet.halt.data),
            )

        async def start(bot: Bot) -> dict[str, Any]:
            await bot.start()
            await self.desire(bot.name, DesiredState.RUNNING)
            return {}

        return await batch.each(bots, start)

    async def stop(
        self, names: list[str], all_bots: bool = False, flatten: bool = False, *, desire: bool = True
    ) -> list[dict[str, Any]]:
        """Stop bots (orders cancelled and confirmed). `desire`: record them `stopped` first (operator
        and risk stops), all of them by one flush, so every bot starts its stop in the same loop turn and
        their cancels and confirming queries join (a mass stop costs the venue per symbol, not per bot);
        a daemon shutdown or a store failure passes False (the bots come back)."""
        bots = batch.select(self, names, all_bots)

        async def stop(bot: Bot) -> dict[str, Any]:
            return await bot.stop(flatten=flatten, disarm=False)

        async def stop_all() -> list[dict[str, Any]]:
            if desire:
                await self.desire_all([b.name for b in bots], DesiredState.STOPPED)
            outcomes = await batch.each(bots, stop)
            # after the answer: the orders are confirmed gone; the disarm only spares later manual orders,
            # and must not hold a mass stop's answer while the budget's safety share refills
            pairs = {(b.definition.account, b.definition.symbol) for b in bots}
            self._later(wiring.disarm_idle_countdowns(self, pairs))
            return outcomes

        return await asyncio.shield(stop_all())  # an RPC timeout must not cut it between record and act

    def _later(self, work: Awaitable[None]) -> asyncio.Future[None]:
        """Run `work` in the background, kept until done (`settle_background` waits for it)."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def settle_background(self, timeout_s: float | None = None) -> None:
        """Wait (at most `timeout_s`) for housekeeping started after an answer (countdown disarms); a
        countdown left armed expires on the venue by itself."""
        if self._background:
            await asyncio.wait(list(self._background), timeout=timeout_s)

    async def pause(self, names: list[str], all_bots: bool = False) -> list[dict[str, Any]]:
        """Pause bots. With `--all`, a bot already paused or not running is ok with a note (as
        `stop --all` treats a stopped bot); a bot named explicitly must be running or paused."""

        async def pause(bot: Bot) -> dict[str, Any]:
            if all_bots and bot.state is BotState.PAUSED:
                return {"cancelled": 0, "note": "already paused"}
            if all_bots and bot.state is not BotState.RUNNING:
                return {"cancelled": 0, "note": "not running"}
            return await bot.pause()

        async def pause_all(bots: list[Bot]) -> list[dict[str, Any]]:
            # recorded first, all by one flush (as `stop`): the bots' cancels go out together
            states = (BotState.RUNNING,) if all_bots else (BotState.RUNNING, BotState.PAUSED)
            pausing = [b.name for b in bots if b.state in states]
            await self.desire_all(pausing, DesiredState.PAUSED)
            return await batch.each(bots, pause)

        return await asyncio.shield(pause_all(batch.select(self, names, all_bots)))

    async def resume(self, names: list[str], all_bots: bool = False) -> list[dict[str, Any]]:
        """Resume paused bots. With `--all`, a bot already running or not paused is ok with a note; a bot
        named explicitly must be paused."""

        async def resume(bot: Bot) -> dict[str, Any]:
            if all_bots and bot.state is BotState.RUNNING:
                return {"note": "already running"}
            if all_bots and bot.state is not BotState.PAUSED:
                return {"note": "not paused"}
            result = await bot.resume()
            await self.desire(bot.name, DesiredState.RUNNING)
            return result

        bots = batch.select(self, names, all_bots)
        self._refuse_if_store_failed("resume bots")
        return await batch.each(bots, resume)

    async def shutdown(self) -> list[dict[str, Any]]:
        """Stop every bot that is quoting or may hold orders; one outcome per bot."""
        running = [b for b in self.bots.values() if b.state.active or b.state is BotState.ERROR]
        outcomes = await self.stop([b.name for b in running], desire=False) if running else []
        await self.settle_background(SHUTDOWN_DISARM_WAIT_S)
        for shared in self.shared.values():
            await shared.router.close()
        return outcomes

    # --- views (`mmctl.fleet.views`) ------------------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        return views.rows(self)

    async def durable_rows(self) -> list[dict[str, Any]]:
        return await views.durable_rows(self)

    async def status(self, name: str) -> dict[str, Any]:
        return await views.status(self, name)
