"""The bot manager: every bot of the daemon, their definitions, and the commands the RPC layer exposes.

It owns create/remove/set (validated, persisted through the `DefinitionStore` port), start/stop of one
or many bots (each reports its own outcome; one failure does not stop the others), status, orders and
events. It sees venues only through the `Exchange` port, one client per account, given by the
composition root. `shutdown` stops every running bot safely (orders cancelled and confirmed).

With a `Store` (`records`), the manager keeps each bot's desired state there, where the operator left
it, so a restart puts the bot back (`mmctl.daemon.compose`): start and resume record `running` once the
bot runs, pause `paused` and stop `stopped` before they act (a crash half-way never restarts a bot the
operator was stopping). A bot that stops itself on a risk trip (its own guards or the daemon-wide ones)
or a fatal error is recorded `stopped` too: a restart must not undo a risk stop. A daemon shutdown and
a stop forced by a store failure change no desired state. Create records `stopped` and set keeps the
parameter history, both durable before the command answers; remove deletes the bot (queued, committed
within milliseconds). After a store failure (`store_failed`)
every bot is stopped, and starting or resuming one is refused until the daemon is restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from mmctl.bots.account import AccountShared
from mmctl.bots.bot import Bot
from mmctl.bots.definition import BotDefinition
from mmctl.bots.events import EventLog
from mmctl.bots.ids import validate_bot_name
from mmctl.bots.market_data import MarketDataHub
from mmctl.bots.recorder import Recorder
from mmctl.bots.router import OrderRouter, Route
from mmctl.bots.state import BotOptions, BotState
from mmctl.bots.status import detail, summary
from mmctl.clock import Clock, now_ms
from mmctl.config.schema import RiskSettings
from mmctl.errors import (
    AlreadyExists,
    InvalidState,
    MmctlError,
    NoMarketData,
    NotFound,
    StoreError,
    UnknownSymbol,
    ValidationError,
)
from mmctl.exchange.base import Exchange
from mmctl.exchange.budget import AccountBudgets
from mmctl.fleet.durable_fills import DurableFills
from mmctl.fleet.guard import FleetGuard
from mmctl.fleet.risk import FleetLimits
from mmctl.fleet.unloaded import Unloaded
from mmctl.pnl.income import iter_income
from mmctl.store.base import DefinitionStore, Store
from mmctl.store.records import DesiredState, SetDesiredState
from mmctl.strategies import get_strategy
from mmctl.strategies.params import parse_params, update_params

BOOK_WAIT_S = 5.0
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
                bot = self.bots[name] = self._new_bot(definition)
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

    def _new_bot(self, definition: BotDefinition) -> Bot:
        """A bot wired to its account's shared client, order stream, book hub and facts."""
        account = definition.account
        bot = Bot(
            definition,
            self.exchange(account),
            self.clock,
            self.events,
            self.options_for(account),
            self.account(account),
            recorder=self.recorder,
        )
        bot.on_stopped = self._after_stop
        return bot

    def options_for(self, account: str) -> BotOptions:
        """The runtime options of the bots on `account` (the account's countdown settings)."""
        return self.account_options.get(account, self.options)

    async def _after_stop(self, bot: Bot) -> None:
        """A bot stopped on its own (error, risk): it stays stopped after a restart (a restart must not
        undo a risk stop); disarm its symbol's countdown if nobody quotes it."""
        if self.store_failed is None:
            await self.desire(bot.name, DesiredState.STOPPED)
        await self._disarm_idle_countdowns({(bot.definition.account, bot.definition.symbol)})

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

    async def _shown_durable(self, name: str | None = None) -> None:
        """Every fill of bot `name` (of every bot, with None) booked so far is committed: a view shows
        no fill that is not stored. Waits only while such a fill is queued (`DurableFills`)."""
        if self.fills is not None:
            await self.fills.wait(name)

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

        task = asyncio.ensure_future(stop_all())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def account(self, account: str) -> AccountShared:
        shared = self.shared.get(account)
        if shared is None:
            budgeted = account in self.budgets
            shared = self.shared[account] = AccountShared(
                self.exchange(account), self.clock, account, budgeted=budgeted
            )
            if self.recorder is not None:
                shared.router.record_to(self.recorder, account)
            shared.router.fallback = lambda name: self._route_of(account, name)
        return shared

    def _route_of(self, account: str, name: str) -> Route | None:
        """The order-event route of a loaded bot of `account` that is not registered with the router
        (stopped, starting): a fill on one of its leftover orders is still booked into its inventory."""
        bot = self.bots.get(name)
        if bot is None or bot.definition.account != account:
            return None
        return Route(bot.fills.on_update, bot.fills.on_gap)

    async def open_order_streams(self) -> None:
        """Subscribe every account's order stream for the daemon's life (before the start-up recovery
        reads the venue, so no event falls between what it reads and what the stream delivers)."""
        for account in sorted(self.accounts):
            await self.account(account).router.open()

    async def restore_inventories(self) -> None:
        """Rebuild each bot's inventory from its recorded fills, its account's events held meanwhile (a
        fill arriving during the read is booked after it, once, not lost between the two)."""
        if self.recorder is None:
            return
        for account in sorted({b.definition.account for b in self.bots.values()}):
            async with self.account(account).router.held():
                for bot in sorted(self.bots.values(), key=lambda b: b.name):
                    if bot.definition.account == account:
                        bot.restore_fills(await self.recorder.bot_fills(bot.name))

    def exchange(self, account: str) -> Exchange:
        if account in self.accounts:
            return self.accounts[account]
        if account in self.unavailable:
            raise InvalidState(f"account {account!r} is not available: {self.unavailable[account]}")
        known = ", ".join(sorted([*self.accounts, *self.unavailable])) or "none"
        raise ValidationError(
            f"no account named {account!r} (configured: {known})", data={"field": "account"}
        )

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

    # --- definitions ----------------------------------------------------------------------------------

    async def create(
        self, name: str, account: str, symbol: str, strategy: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        validate_bot_name(name)
        if name in self.bots or name in self.unloaded:
            raise AlreadyExists(f"a bot named {name!r} already exists", data={"field": "name"})
        exchange = self.exchange(account)
        strat = get_strategy(strategy)
        parsed = parse_params(strat.params_cls, params)
        await exchange.load_markets()
        try:
            rules = exchange.market(symbol)
        except UnknownSymbol as e:
            raise ValidationError(f"{e.message} on account {account!r}", data={"field": "symbol"}) from None
        strat.check_against_market(parsed, rules, await self._reference_price(exchange, rules.symbol))
        if name in self.bots:  # created concurrently while we waited for the book
            raise AlreadyExists(f"a bot named {name!r} already exists", data={"field": "name"})
        definition = BotDefinition(name, account, rules.symbol, strategy, parsed, now_ms(self.clock))
        self.store.save(name, definition.to_dict())  # a new bot's desired state is `stopped`
        self.bots[name] = self._new_bot(definition)
        self.events.add(name, "state", f"created on {account} {rules.symbol} ({strategy})", state="created")
        await self.durable()
        return summary(self.bots[name])

    async def _reference_price(self, exchange: Exchange, symbol: str) -> Decimal:
        book = exchange.book(symbol)
        if book is None:
            stream = exchange.watch_book(symbol)
            try:
                book = await asyncio.wait_for(anext(stream), BOOK_WAIT_S)
            except TimeoutError:
                raise NoMarketData(
                    f"no market data for {symbol} within {BOOK_WAIT_S:g} s", data={"symbol": symbol}
                ) from None
            finally:
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()
        return book.mid

    async def set_params(self, name: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        bot = self.bot(name)
        if not changes:
            raise ValidationError("nothing to set: give key=value pairs", data={"field": "params"})
        params = update_params(bot.params, changes)
        exchange = bot.exchange
        rules = exchange.market(bot.definition.symbol)
        bot.strategy.check_against_market(params, rules, await self._reference_price(exchange, rules.symbol))
        if "leverage" in changes and bot.state.active:
            raise InvalidState(
                "leverage is applied at start: stop the bot, set it, start again", data={"field": "leverage"}
            )
        definition = _replace_params(bot.definition, params)
        self.store.save(name, definition.to_dict())
        bot.update_definition(definition)
        self.events.add(
            name, "info", "parameters changed: " + ", ".join(f"{k}={v}" for k, v in changes.items())
        )
        await self.durable()  # the store keeps the parameter history
        return {"bot": name, "params": definition.to_dict()["params"], "applies": "at the next tick"}

    def export(self, name: str) -> dict[str, Any]:
        return self.bot(name).definition.to_dict()

    def remove(self, name: str) -> dict[str, Any]:
        if name in self.unloaded:  # never loaded: it holds no orders of this daemon's
            self.store.delete(name)
            del self.unloaded[name]
            self.events.add(name, "state", "removed", state="removed")
            return {"bot": name, "removed": True}
        bot = self.bot(name)
        if bot.state.active:
            raise InvalidState(f"bot {name} is {bot.state.value}: stop it before removing it")
        if bot.quoter.live:
            raise InvalidState(f"bot {name} still has open orders: stop it first")
        self.store.delete(name)
        del self.bots[name]
        self.events.add(name, "state", "removed", state="removed")
        return {"bot": name, "removed": True}

    # --- start / stop ---------------------------------------------------------------------------------

    def select(self, names: list[str], all_bots: bool) -> list[Bot]:
        if all_bots and names:
            raise ValidationError("give bot names or --all, not both", data={"field": "names"})
        if not all_bots and not names:
            raise ValidationError("name at least one bot, or use --all", data={"field": "names"})
        return list(self.bots.values()) if all_bots else [self.bot(n) for n in dict.fromkeys(names)]

    async def each(
        self, bots: list[Bot], action: Callable[[Bot], Awaitable[dict[str, Any]]]
    ) -> list[dict[str, Any]]:
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

    async def start(self, names: list[str], all_bots: bool = False) -> list[dict[str, Any]]:
        bots = self.select(names, all_bots)
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

        return await self.each(bots, start)

    async def stop(
        self, names: list[str], all_bots: bool = False, flatten: bool = False, *, desire: bool = True
    ) -> list[dict[str, Any]]:
        """Stop bots (orders cancelled and confirmed). `desire`: record them `stopped` first (operator
        and risk stops), all of them by one flush, so every bot starts its stop in the same loop turn and
        their cancels and confirming queries join (a mass stop costs the venue per symbol, not per bot);
        a daemon shutdown or a store failure passes False (the bots come back)."""
        bots = self.select(names, all_bots)

        async def stop(bot: Bot) -> dict[str, Any]:
            return await bot.stop(flatten=flatten, disarm=False)

        async def stop_all() -> list[dict[str, Any]]:
            if desire:
                await self.desire_all([b.name for b in bots], DesiredState.STOPPED)
            outcomes = await self.each(bots, stop)
            # after the answer: the orders are confirmed gone; the disarm only spares later manual orders,
            # and must not hold a mass stop's answer while the budget's safety share refills
            pairs = {(b.definition.account, b.definition.symbol) for b in bots}
            self._later(self._disarm_idle_countdowns(pairs))
            return outcomes

        return await asyncio.shield(stop_all())  # an RPC timeout must not cut it between record and act

    def _later(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def settle_background(self, timeout_s: float | None = None) -> None:
        """Wait (at most `timeout_s`) for housekeeping started after an answer (countdown disarms); a
        countdown left armed expires on the venue by itself."""
        if self._background:
            await asyncio.wait(list(self._background), timeout=timeout_s)

    async def _disarm_idle_countdowns(self, pairs: set[tuple[str, str]]) -> None:
        """Disarm the venue's countdown on every (account, symbol) no active bot quotes any more, so it
        cannot later cancel orders an operator places by hand. A bot in `error` may have left orders it
        could not confirm cancelled: then the countdown stays armed, so the venue removes them."""
        for account, symbol in sorted(pairs):
            bots = self.bots_on(account, symbol)
            if any(b.state.active or b.state is BotState.ERROR for b in bots):
                continue
            with contextlib.suppress(MmctlError):
                await self.account(account).disarm_countdown(symbol)

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
            return await self.each(bots, pause)

        return await asyncio.shield(pause_all(self.select(names, all_bots)))

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

        bots = self.select(names, all_bots)
        self._refuse_if_store_failed("resume bots")
        return await self.each(bots, resume)

    async def restore(self, bot: Bot, desired: DesiredState) -> dict[str, Any]:
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

        [outcome] = await self.each([bot], restore)
        if not outcome["ok"]:  # orders recovery left for it must not stay on the venue unowned
            with contextlib.suppress(MmctlError):
                await bot.cancel_own_orders()
        return outcome

    async def shutdown(self) -> list[dict[str, Any]]:
        """Stop every bot that is quoting or may hold orders; one outcome per bot."""
        running = [b for b in self.bots.values() if b.state.active or b.state is BotState.ERROR]
        outcomes = await self.stop([b.name for b in running], desire=False) if running else []
        await self.settle_background(SHUTDOWN_DISARM_WAIT_S)
        for shared in self.shared.values():
            await shared.router.close()
        return outcomes

    # --- views -----------------------------------------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        rows = {n: summary(b) for n, b in self.bots.items()}
        rows.update({n: u.row() for n, u in self.unloaded.items()})
        notice = self.notice()
        if notice is not None:
            for row in rows.values():
                row["notice"] = notice
        return [rows[n] for n in sorted(rows)]

    async def durable_rows(self) -> list[dict[str, Any]]:
        """`rows` once every fill booked is durable: a fill counted in a row is a fill stored."""
        await self._shown_durable()
        return self.rows()

    async def status(self, name: str) -> dict[str, Any]:
        """One bot in detail, once its fills are durable (a fill shown is a fill stored)."""
        bot = self.bot(name)
        await self._shown_durable(bot.name)
        doc = await detail(bot)
        notice = self.notice()
        if notice is not None:
            doc["notice"] = notice
        return doc

    def orders(self, name: str) -> list[dict[str, Any]]:
        return self.bot(name).quoter.open_orders_view()

    def event_list(self, bot: str | None, after: int, limit: int) -> dict[str, Any]:
        if bot is not None:
            self.bot(bot)
        events = self.events.since(after, bot, limit)
        return {"events": [e.to_dict() for e in events], "last_seq": self.events.last_seq}

    async def account_summary(self, account: str, since_ms: int) -> dict[str, Any]:
        """Balance and income totals by type since `since_ms` for one account."""
        exchange = self.exchange(account)
        balance = await exchange.balance()
        totals: dict[str, Decimal] = {}
        async for row in iter_income(exchange, since_ms):
            totals[row.type.value] = totals.get(row.type.value, Decimal(0)) + row.amount
        return {
            "account": account,
            "since_ms": since_ms,
            "wallet_balance": str(balance.wallet),
            "available_balance": str(balance.available),
            "unrealized_pnl": str(balance.unrealized_pnl),
            "income": {k: str(v) for k, v in sorted(totals.items())},
        }


def _replace_params(definition: BotDefinition, params: Any) -> BotDefinition:
    return replace(definition, params=params)
