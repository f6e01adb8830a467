"""`PaperExchange`: the async `Exchange` port over the synchronous paper venue and its market feed.

The daemon's composition root builds one per paper account with `PaperExchange.from_settings`; nothing
moves until `start()` launches the feed driver (idempotent; `close()` stops it). Tests and benchmarks may
instead leave it stopped and drive `exchange.venue` directly (`on_book`, `on_trade`, `advance_to`).
Every call yields to the event loop once, as real I/O would, and then acts on the venue at once.
Venue time (`server_time_ms`, order and income timestamps) is the feed's simulated time.
Public trades reach `watch_trades` subscribers through the venue's trade hook, after their matching
(installed at a symbol's first subscriber), whether the feed driver or a caller pushed them.
Conditional orders are held by the venue (`venue.conditionals`) and triggered by the market it is fed;
their events reach `conditional_updates()` subscribers.

Persistence hook: `on_change` (set by `mmctl.exchange.paper.persist`, which saves when `venue.revision`
moved) is called at the end of every synchronous stretch that can change the account, i.e. before any
other task can see the change: at the end of each order, amend, cancel, leverage and countdown call (before
it returns its result) and before each await of the feed driver (fills, funding, countdown expiry).
Subscribers of `order_updates()` are woken only when the current task yields, so the save is always
queued before they see the change. Without a hook nothing extra runs.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from mmctl.clock import Clock, now_ms
from mmctl.config.schema import PaperAccount
from mmctl.errors import ConfigError, FilterRejected, MmctlError, UnknownSymbol
from mmctl.exchange.base import MAX_CANCEL_BATCH, Exchange
from mmctl.exchange.conditional import ConditionalOrder, ConditionalRequest
from mmctl.exchange.fanout import Fanout, Subscription
from mmctl.exchange.paper.driver import FeedDriver
from mmctl.exchange.paper.feed import LiveFeed, MarketFeed
from mmctl.exchange.paper.markets import builtin_markets
from mmctl.exchange.paper.replay import ReplayFeed
from mmctl.exchange.paper.streams import BookFanout, BookWatch, UpdateFanout, UpdateSubscription
from mmctl.exchange.paper.synthetic import SyntheticFeed, SyntheticParams
from mmctl.exchange.paper.venue import PaperVenue
from mmctl.exchange.trade_stream import TradeFanout, TradeWatch
from mmctl.model import (
    Amend,
    AmendResult,
    Balance,
    BookTop,
    CancelResult,
    ExchangeHealth,
    Fill,
    IncomeRow,
    IncomeType,
    MarketRules,
    Order,
    OrderRequest,
    PlaceResult,
    Position,
)

MAX_BATCH = 5  # Binance's batchOrders limit
T = TypeVar("T")


class PaperExchange:
    """A paper account behind the `Exchange` port."""

    def __init__(
        self,
        name: str,
        venue: PaperVenue,
        clock: Clock,
        feed: MarketFeed | LiveFeed | None = None,
        *,
        speed: float = 1.0,
        start_ms: int | None = None,
        settings: PaperAccount | None = None,
    ) -> None:
        self._name = name
        self.venue = venue
        self.clock = clock
        self.feed = feed
        self.speed = speed
        self.settings = settings  # what `from_settings` built it from (a reset builds afresh from it)
        self._start_ms = start_ms  # simulated time pacing starts at (None: the feed's start)
        self._updates = UpdateFanout()
        self._books = BookFanout()
        self._trades = TradeFanout()
        self._conditionals: Fanout[ConditionalOrder] = Fanout()
        self.venue.add_listener(self._updates.publish)
        self.venue.conditionals.add_listener(self._conditionals.publish)
        self._driver: FeedDriver | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.on_change: Callable[[], None] | None = None
        self.on_close: Callable[[], None] | None = None

    @classmethod
    def from_settings(
        cls,
        name: str,
        settings: PaperAccount,
        clock: Clock,
        *,
        start_ms: int | None = None,
        live_feed: LiveFeed | None = None,
    ) -> PaperExchange:
        """Build the paper account `name` from its settings (raises `ConfigError` on bad settings).
        A synthetic market starts at venue time `start_ms` (default: the clock's now), so does the venue
        of a live market (`market = "live"`), whose feed the caller builds and passes as `live_feed`
        (the paper venue does not pick a data source: the daemon's composition root does)."""
        markets = paper_markets(settings)
        start = now_ms(clock) if start_ms is None else start_ms
        feed: MarketFeed | LiveFeed
        if settings.market == "live":
            if live_feed is None:
                raise ConfigError(
                    f"paper account {name!r}: market = 'live' needs a live market data feed (the daemon "
                    "builds one from Binance's public streams)"
                )
            feed = live_feed
        elif settings.market == "replay":
            feed = ReplayFeed.from_path(settings.replay_path, markets)
            start = feed.start_ms
        else:
            feed = SyntheticFeed(list(markets.values()), SyntheticParams.from_settings(settings), start)
        venue = new_venue(settings, markets, start)
        return cls(name, venue, clock, feed, speed=settings.speed, settings=settings)

    # --- lifecycle ----------------------------------------------------------------------------------

    def _make_driver(self) -> FeedDriver | None:
        if self._driver is None and self.feed is not None:
            self._driver = FeedDriver(
                self.venue,
                self.feed,
                self.clock,
                self.speed,
                start_ms=self._start_ms,
                on_settle=self.settle_changes,
            )
        return self._driver

    async def start(self) -> None:
        """Start feeding market data (no-op when running, closed or built without a feed)."""
        if self._task is not None or self._closed:
            return
        driver = self._make_driver()
        if driver is None:
            return
        self._task = asyncio.get_running_loop().create_task(driver.run(), name=f"paper-feed-{self._name}")

    async def catch_up(self, until_ms: int) -> int:
        """Before `start`: run the market unpaced up to venue time `until_ms` (the daemon's downtime);
        resting orders fill, funding settles and countdowns fire on the way, at their venue times.
        Returns the number of market events delivered."""
        if self._task is not None:
            raise RuntimeError("catch_up runs before start")
        driver = self._make_driver()
        if driver is None:
            self.venue.advance_to(until_ms)
            self.settle_changes()
            return 0
        return await driver.catch_up(until_ms)

    async def replace_venue(
        self, venue: PaperVenue, feed: MarketFeed | LiveFeed | None, start_ms: int | None = None
    ) -> None:
        """Swap in another venue and market (a paper reset), keeping this object, its subscribers and
        book watchers; the feed restarts if it was running."""
        running = self._task is not None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        self.venue.remove_listener(self._updates.publish)
        self.venue.conditionals.remove_listener(self._conditionals.publish)
        self.venue = venue
        self.feed = feed
        self._start_ms = start_ms
        self._driver = None
        venue.add_listener(self._updates.publish)
        venue.conditionals.add_listener(self._conditionals.publish)
        for st in venue.symbol_states:
            if self._books.has_watchers(st.symbol):
                venue.set_book_hook(st.symbol, self._books.publish)
            if self._trades.has_watchers(st.symbol):
                venue.set_trade_hook(st.symbol, self._trades.publish)
        if running and not self._closed:
            await self.start()

    def settle_changes(self) -> None:
        """Call the persistence hook (it saves when the account changed since its last save)."""
        hook = self.on_change
        if hook is not None:
            hook()

    def _act(self, fn: Callable[[], T]) -> T:
        """Run one synchronous venue action, then settle its changes (also when it raised)."""
        try:
            return fn()
        finally:
            self.settle_changes()

    async def settle(self) -> None:
        """A paper request takes effect on the venue when it is made: nothing is ever in flight."""

    async def close(self) -> None:
        """Stop the feed and end every stream (idempotent). The venue's state stays readable."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        if self.on_close is not None:  # a last save: the clock at shutdown, whether or not it changed
            self.on_close()
        self._updates.close()
        self._conditionals.close()
        self._books.close()
        self._trades.close()

    # --- port: markets and data ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def max_batch(self) -> int:
        return MAX_BATCH

    async def load_markets(self) -> Mapping[str, MarketRules]:
        await asyncio.sleep(0)
        return dict(self.venue.markets)

    def market(self, symbol: str) -> MarketRules:
        return self.venue.state(symbol).rules

    def book(self, symbol: str) -> BookTop | None:
        return self.venue.state(symbol).top

    def watch_book(self, symbol: str) -> BookWatch:
        st = self.venue.state(symbol)
        if not self._books.has_watchers(st.symbol):
            self.venue.set_book_hook(st.symbol, self._books.publish)
        return self._books.watch(st.symbol, st.top)

    def watch_trades(self, symbol: str) -> TradeWatch:
        """Every public trade of `symbol` from now on, in order (see the port; the venue's trade hook
        stays installed once a symbol has had a subscriber and costs a lookup per trade)."""
        st = self.venue.state(symbol)
        if st.trade_hook is None:
            self.venue.set_trade_hook(st.symbol, self._trades.publish)
        return self._trades.watch(st.symbol)

    def order_updates(self) -> UpdateSubscription:
        return self._updates.subscribe()

    # --- port: orders -------------------------------------------------------------------------------

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
        await asyncio.sleep(0)
        if len(requests) > MAX_BATCH:
            raise FilterRejected(
                f"a batch holds at most {MAX_BATCH} orders, got {len(requests)}; nothing was placed",
                data={"field": "batch", "max_batch": MAX_BATCH},
            )
        results = []
        try:
            for req in requests:
                try:
                    results.append(PlaceResult(req, order=self.venue.place(req)))
                except MmctlError as e:
                    results.append(PlaceResult(req, error=e))
        finally:
            self.settle_changes()
        return results

    async def amend_orders(self, symbol: str, amends: Sequence[Amend]) -> list[AmendResult]:
        await asyncio.sleep(0)
        if len(amends) > MAX_BATCH:
            raise FilterRejected(
                f"a batch holds at most {MAX_BATCH} amends, got {len(amends)}; nothing was amended",
                data={"field": "batch", "max_batch": MAX_BATCH},
            )
        self.venue.state(symbol)  # an unknown symbol fails the whole request, as on Binance
        results = []
        try:
            for amend in amends:
                try:
                    results.append(AmendResult(amend, order=self.venue.amend(symbol, amend)))
                except MmctlError as e:
                    results.append(AmendResult(amend, error=e))
        finally:
            self.settle_changes()
        return results

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        await asyncio.sleep(0)
        return self._act(lambda: self.venue.cancel(symbol, order_id, client_order_id))

    async def cancel_orders(self, symbol: str, client_order_ids: Sequence[str]) -> list[CancelResult]:
        await asyncio.sleep(0)
        if len(client_order_ids) > MAX_CANCEL_BATCH:
            raise FilterRejected(
                f"a batch cancel holds at most {MAX_CANCEL_BATCH} orders, got {len(client_order_ids)}; "
                "nothing was cancelled",
                data={"field": "batch", "max_batch": MAX_CANCEL_BATCH},
            )
        self.venue.state(symbol)  # an unknown symbol fails the whole request, as on Binance
        results = []
        try:
            for cid in client_order_ids:
                try:
                    results.append(CancelResult(cid, order=self.venue.cancel(symbol, None, cid)))
                except MmctlError as e:
                    results.append(CancelResult(cid, error=e))
        finally:
            self.settle_changes()
        return results

    async def cancel_all(self, symbol: str) -> list[Order]:
        await asyncio.sleep(0)
        return self._act(lambda: self.venue.cancel_all(symbol))

    async def fetch_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        await asyncio.sleep(0)
        return self.venue.order(symbol, order_id, client_order_id)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        await asyncio.sleep(0)
        return self.venue.open_orders(symbol)

    # --- port: conditional orders (held by the venue: `mmctl.exchange.paper.conditionals`) ------------

    async def place_conditional(self, req: ConditionalRequest) -> ConditionalOrder:
        await asyncio.sleep(0)
        return self._act(lambda: self.venue.conditionals.place(req))

    async def cancel_conditional(self, symbol: str, client_id: str) -> ConditionalOrder:
        await asyncio.sleep(0)
        return self._act(lambda: self.venue.conditionals.cancel(symbol, client_id))

    async def cancel_all_conditionals(self, symbol: str) -> list[ConditionalOrder]:
        await asyncio.sleep(0)
        return self._act(lambda: self.venue.conditionals.cancel_all(symbol))

    async def open_conditionals(self, symbol: str | None = None) -> list[ConditionalOrder]:
        await asyncio.sleep(0)
        return self.venue.conditionals.open_orders(symbol)

    def conditional_updates(self) -> Subscription[ConditionalOrder]:
        return self._conditionals.subscribe()

    # --- port: account ------------------------------------------------------------------------------

    async def positions(self) -> list[Position]:
        await asyncio.sleep(0)
        return self.venue.positions()

    async def position(self, symbol: str) -> Position:
        await asyncio.sleep(0)
        return self.venue.position(symbol)

    async def balance(self) -> Balance:
        await asyncio.sleep(0)
        return self.venue.balance()

    async def leverage(self, symbol: str) -> int:
        await asyncio.sleep(0)
        return self.venue.leverage(symbol)

    async def set_leverage(self, symbol: str, leverage: int) -> int:
        await asyncio.sleep(0)
        return self._act(lambda: self.venue.set_leverage(symbol, leverage))

    async def income(
        self,
        since_ms: int,
        *,
        until_ms: int | None = None,
        income_type: IncomeType | None = None,
        symbol: str | None = None,
        limit: int = 1000,
        page: int = 1,
    ) -> list[IncomeRow]:
        await asyncio.sleep(0)
        return self.venue.income(
            since_ms, until_ms=until_ms, income_type=income_type, symbol=symbol, limit=limit, page=page
        )

    @property
    def trade_window_ms(self) -> int | None:
        """None: one `my_trades` call reaches from any `since_ms` to now."""
        return None

    async def my_trades(self, symbol: str, *, since_ms: int | None = None, limit: int = 500) -> list[Fill]:
        await asyncio.sleep(0)
        return self.venue.my_trades(symbol, since_ms=since_ms, limit=limit)

    async def arm_countdown(self, symbol: str, timeout_s: float) -> None:
        """Binance's countdownCancelAll. `timeout_s` is in the caller's (clock) seconds, converted to venue
        time with `speed`, since the switch watches the caller's liveness; 0 disarms (`countdownTime=0`)."""
        await asyncio.sleep(0)
        numeric = isinstance(timeout_s, int | float) and not isinstance(timeout_s, bool)
        if not (numeric and math.isfinite(timeout_s) and timeout_s >= 0):
            raise FilterRejected(
                f"countdown timeout must be a finite number of seconds >= 0, got {timeout_s!r}",
                data={"field": "timeout_s"},
            )
        ms = round(timeout_s * self.speed * 1000)
        self._act(lambda: self.venue.arm_countdown(symbol, ms))

    async def disarm_countdown(self, symbol: str) -> None:
        await asyncio.sleep(0)
        self._act(lambda: self.venue.disarm_countdown(symbol))

    async def server_time_ms(self) -> int:
        await asyncio.sleep(0)
        return self.venue.now_ms

    def health(self) -> ExchangeHealth:
        detail = {"venue": "paper", "feed": self.feed.name if self.feed is not None else "none"}
        if self._driver is not None:
            detail["feed_state"] = self._driver.state
            if self._driver.error:
                detail["feed_error"] = self._driver.error
        else:
            detail["feed_state"] = "not started"
        failed = self._driver is not None and self._driver.state == "failed"
        return ExchangeHealth(
            connected=not self._closed and not failed,
            market_data_age_s=self._market_data_age_s(),
            latency_ms=0.0,
            detail=detail,
        )

    def _market_data_age_s(self) -> float | None:
        if isinstance(self.feed, LiveFeed):  # venue time stops with a silent live feed: use wall time
            seen = self._driver.last_event_monotonic if self._driver is not None else None
            return None if seen is None else max(0.0, self.clock.monotonic() - seen)
        times = [st.top.ts_ms for st in self.venue.symbol_states if st.top is not None]
        times += [st.last_trade.ts_ms for st in self.venue.symbol_states if st.last_trade is not None]
        if not times:
            return None
        return max(0, self.venue.now_ms - max(times)) / 1000


def new_venue(settings: PaperAccount, markets: Mapping[str, MarketRules], start_ms: int) -> PaperVenue:
    """A fresh venue for a paper account's settings: its wallet, funding, and clock at `start_ms`."""
    return PaperVenue(
        markets,
        balance=settings.balance,
        start_ms=start_ms,
        funding_rate=settings.funding_rate,
        funding_interval_s=settings.funding_interval_s,
    )


def paper_markets(settings: PaperAccount) -> dict[str, MarketRules]:
    """The markets of a paper account's settings (`ConfigError` on an unknown symbol)."""
    try:
        return builtin_markets(settings.maker_fee, settings.taker_fee, settings.symbols)
    except UnknownSymbol as e:
        raise ConfigError(f"paper account symbols: {e}") from None


def _satisfies_port(exchange: PaperExchange) -> Exchange:
    """Never called: makes mypy prove that `PaperExchange` implements the `Exchange` port."""
    return exchange
