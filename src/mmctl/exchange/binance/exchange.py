"""`BinanceExchange`: the `Exchange` port for a Binance USDⓈ-M account, over raw Binance JSON.

Every request goes through `BinanceClient.request` (the ccxt seam) to an implicit endpoint, with Binance's
own parameter names and string values, and every answer is converted from its raw strings
(`convert.py`), so no float ever touches a price or an amount. The endpoints and their costs are those of
`mmctl.exchange.weights`. A -1021 resyncs the clock and is retried once. A request, once sent, runs to
its answer even if its caller is cancelled; `settle()` waits for those in flight.

This class wires the account together and holds its request seam (`call`), its markets and market data;
the port's requests are in `order_entry.py` (placing, amending, cancelling and fetching orders: checked
against the market's filters before they are sent, batches to POST batchOrders, amends as concurrent
PUT order), `account_reads.py` (positions, balance, income, own trades) and `account_settings.py`
(leverage, margin mode, countdown). The live parts (top of book, own order events, reconciliation after
stream gaps, public trades) are in `streams.py`, `events.py`, `reconcile.py` and `trade_streams.py`;
conditional orders (Binance's Algo Service: stops, take-profits, trailing stops, their ALGO_UPDATE
events) in `algo.py`; start-up (credentials, markets, position mode) is in `account.py`. Public trades
come over a keyless client of their own (`public_feed.PublicMarketClient`, opened at the first
`watch_trades`, on the account's WebSocket base), so an account that watches no trades pays nothing for
them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from mmctl.clock import Clock
from mmctl.errors import ClockSkew, MmctlError
from mmctl.exchange.base import Exchange
from mmctl.exchange.binance import account_reads, account_settings, convert, order_entry
from mmctl.exchange.binance.account_reads import INCOME_RETENTION_MS as INCOME_RETENTION_MS
from mmctl.exchange.binance.account_reads import USER_TRADES_WINDOW_MS
from mmctl.exchange.binance.adapter import BinanceClient
from mmctl.exchange.binance.algo import AlgoOrders
from mmctl.exchange.binance.clocksync import ClockSync
from mmctl.exchange.binance.events import UserEvents
from mmctl.exchange.binance.health import health_of
from mmctl.exchange.binance.markets import MarketIndex
from mmctl.exchange.binance.public_feed import PublicMarketClient
from mmctl.exchange.binance.reconcile import Reconciler
from mmctl.exchange.binance.reconnect import stop_tasks
from mmctl.exchange.binance.streams import BookStreams, UserStream
from mmctl.exchange.binance.tracker import OrderTracker
from mmctl.exchange.binance.trade_streams import TradeStreams
from mmctl.exchange.binance.usage import limits_from_exchange_info
from mmctl.exchange.budget import BudgetLimits
from mmctl.exchange.conditional import ConditionalOrder, ConditionalRequest
from mmctl.exchange.fanout import BookWatch, Subscription
from mmctl.exchange.trade_stream import TradeWatch
from mmctl.exchange.weights import BATCH_ORDERS_MAX
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
    OrderUpdate,
    PlaceResult,
    Position,
)

log = structlog.get_logger("mmctl.binance")


class BinanceExchange:
    """A Binance USDⓈ-M account behind the `Exchange` port (build it with `account.open_binance_account`)."""

    def __init__(
        self,
        name: str,
        client: BinanceClient,
        clock: Clock,
        *,
        book_quiet_s: float = 15.0,
        user_quiet_s: float = 30.0,
        time_sync_s: float = 300.0,
    ) -> None:
        self._name = name
        self.client = client
        self.clock = clock
        self.index = MarketIndex({}, {}, {})
        self.venue_limits: BudgetLimits | None = None
        self.tracker = OrderTracker()
        self.time = ClockSync(self._server_time_raw, client.set_time_offset, clock, time_sync_s)
        self.books = BookStreams(client, self._rest_ticker, clock, quiet_s=book_quiet_s)
        self.trades = TradeStreams(self._public_client, lambda s: self.index.raw[s], clock)
        self.algo = AlgoOrders(self, start_stream=lambda: self.user.start())
        self.user = UserStream(
            client,
            self.tracker,
            Reconciler(self, self.time.venue_now_ms).run,
            clock,
            quiet_s=user_quiet_s,
            needs_watch=lambda: bool(self.tracker.pending()) or self.algo.pending(),
            reconcile_first=self.algo.reconcile,
        )
        self.active_symbols: set[str] = set()
        self.leverages: dict[str, int] = {}
        self.countdowns: dict[str, tuple[float, float]] = {}  # symbol → (timeout_s, armed at, monotonic)
        self.fees_known: set[str] = set()
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self.closed = False
        client.on_message(
            UserEvents(self.user, self.tracker, self.symbol_of, self.leverages, on_algo=self.algo.on_event)
        )

    # --- lifecycle ------------------------------------------------------------------------------------

    def start_background(self) -> None:
        """Start the periodic clock sync and the user data stream (idempotent)."""
        if self._tasks or self.closed:
            return
        self._tasks.append(asyncio.get_running_loop().create_task(self.time.run(), name=f"time-{self._name}"))
        self.user.start()

    @property
    def requests_in_flight(self) -> int:
        """Requests sent and not yet answered."""
        return len(self._in_flight)

    async def settle(self) -> None:
        while self._in_flight:
            await asyncio.wait(list(self._in_flight))

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        await stop_tasks(self._tasks)
        await self.settle()
        await self.user.close()
        self.algo.close()
        await self.books.close()
        await self.trades.close()
        await self.client.close()

    # --- requests -------------------------------------------------------------------------------------

    async def call(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Any:
        """One request; it runs to its answer even if the caller is cancelled. After a -1021 the clock
        is resynced and the request sent once more."""
        request = asyncio.ensure_future(self._send(endpoint, params))
        self._in_flight.add(request)
        request.add_done_callback(self._request_done)
        return await asyncio.shield(request)

    def _request_done(self, request: asyncio.Task[Any]) -> None:
        self._in_flight.discard(request)
        if not request.cancelled():
            request.exception()  # retrieved: a caller cancelled meanwhile no longer awaits it

    async def _send(self, endpoint: str, params: Mapping[str, Any] | None) -> Any:
        try:
            return await self.client.request(endpoint, params)
        except ClockSkew:
            await self.time.sync()
            return await self.client.request(endpoint, params)

    def _public_client(self) -> PublicMarketClient:
        """A keyless client for public trade streams, on the account's WebSocket base."""
        return PublicMarketClient(ws_url=self.client.ws_base)

    async def _server_time_raw(self) -> Any:
        return await self.client.request("fapiPublicGetTime")

    async def _rest_ticker(self, symbol: str) -> Mapping[str, Any]:
        answer = await self.call("fapiPublicGetTickerBookTicker", {"symbol": self.market(symbol).id})
        return answer if isinstance(answer, Mapping) else {}

    # --- port: markets and data -----------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def max_batch(self) -> int:
        return BATCH_ORDERS_MAX

    async def load_markets(self) -> Mapping[str, MarketRules]:
        """exchangeInfo (its rate limits go to the budgets) and the leverage brackets, once."""
        if not self.index.rules:
            info = await self.call("fapiPublicGetExchangeInfo")
            tiers = await self.call("fapiPrivateGetLeverageBracket")
            index = MarketIndex.build(info, tiers if isinstance(tiers, list) else [])
            self.client.install_markets(list(index.raw.values()))
            self.venue_limits = limits_from_exchange_info(info)
            self.client.usage.apply_limits(self.venue_limits)
            self.index = index
        return dict(self.index.rules)

    def market(self, symbol: str) -> MarketRules:
        return self.index.lookup(symbol)

    def symbol_of(self, venue_id: str) -> str:
        return self.index.symbol_of(venue_id)

    def book(self, symbol: str) -> BookTop | None:
        return self.books.latest(self.market(symbol).symbol)

    def watch_book(self, symbol: str) -> BookWatch:
        rules = self.market(symbol)
        if rules.symbol not in self.fees_known:
            self.fees_known.add(rules.symbol)
            self._tasks.append(asyncio.get_running_loop().create_task(self._fetch_fees(rules.symbol)))
        return self.books.watch(rules.symbol)

    def watch_trades(self, symbol: str) -> TradeWatch:
        """The symbol's aggTrade stream (`trade_streams.TradeStreams`): every trade, in order, taker side."""
        rules = self.market(symbol)
        return self.trades.watch(rules.symbol, rules.id)

    async def _fetch_fees(self, symbol: str) -> None:
        """The account's own maker/taker rates for a symbol it starts to trade (weight 20, once)."""
        try:
            answer = await self.call("fapiPrivateGetCommissionRate", {"symbol": self.market(symbol).id})
            maker = convert.dec(answer["makerCommissionRate"])
            taker = convert.dec(answer["takerCommissionRate"])
        except (MmctlError, convert.ConversionError, KeyError, TypeError) as e:
            log.warning("commission_rate_unavailable", symbol=symbol, error=str(e))
            return
        self.index.with_fees(symbol, maker, taker)

    def order_updates(self) -> Subscription[OrderUpdate]:
        return self.user.subscribe()

    # --- port: orders (`order_entry`) ------------------------------------------------------------------

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
        return await order_entry.place_orders(self, requests)

    async def amend_orders(self, symbol: str, amends: Sequence[Amend]) -> list[AmendResult]:
        """Concurrent PUT /fapi/v1/order, one per amend (`order_entry.amend_orders`)."""
        return await order_entry.amend_orders(self, symbol, amends)

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        return await order_entry.cancel_order(
            self, symbol, order_id=order_id, client_order_id=client_order_id
        )

    async def cancel_orders(self, symbol: str, client_order_ids: Sequence[str]) -> list[CancelResult]:
        return await order_entry.cancel_orders(self, symbol, client_order_ids)

    async def cancel_all(self, symbol: str) -> list[Order]:
        return await order_entry.cancel_all(self, symbol)

    async def fetch_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        return await order_entry.fetch_order(self, symbol, order_id=order_id, client_order_id=client_order_id)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return await order_entry.open_orders(self, symbol)

    # --- port: conditional orders (Binance's Algo Service: `algo.AlgoOrders`) ------------------------------

    async def place_conditional(self, req: ConditionalRequest) -> ConditionalOrder:
        return await self.algo.place(req)

    async def cancel_conditional(self, symbol: str, client_id: str) -> ConditionalOrder:
        return await self.algo.cancel(symbol, client_id)

    async def cancel_all_conditionals(self, symbol: str) -> list[ConditionalOrder]:
        return await self.algo.cancel_all(symbol)

    async def open_conditionals(self, symbol: str | None = None) -> list[ConditionalOrder]:
        return await self.algo.open(symbol)

    def conditional_updates(self) -> Subscription[ConditionalOrder]:
        return self.algo.subscribe()

    # --- port: account (`account_reads`, `account_settings`) ---------------------------------------------

    async def positions(self) -> list[Position]:
        return await account_reads.positions(self)

    async def position(self, symbol: str) -> Position:
        return await account_reads.position(self, symbol)

    async def balance(self) -> Balance:
        return await account_reads.balance(self)

    async def leverage(self, symbol: str) -> int:
        return await account_settings.leverage(self, symbol)

    async def set_leverage(self, symbol: str, leverage: int) -> int:
        return await account_settings.set_leverage(self, symbol, leverage)

    async def set_margin_mode(self, symbol: str, mode: str) -> None:
        await account_settings.set_margin_mode(self, symbol, mode)

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
        return await account_reads.income(
            self, since_ms, until_ms=until_ms, income_type=income_type, symbol=symbol, limit=limit, page=page
        )

    @property
    def trade_window_ms(self) -> int:
        """Binance answers userTrades with only a `startTime` for `[startTime, startTime + 7 days)`."""
        return USER_TRADES_WINDOW_MS

    async def my_trades(self, symbol: str, *, since_ms: int | None = None, limit: int = 500) -> list[Fill]:
        return await account_reads.my_trades(self, symbol, since_ms=since_ms, limit=limit)

    # --- port: dead-man's switch and time ---------------------------------------------------------------

    async def arm_countdown(self, symbol: str, timeout_s: float) -> None:
        await account_settings.arm_countdown(self, symbol, timeout_s)

    async def disarm_countdown(self, symbol: str) -> None:
        await self.arm_countdown(symbol, 0)

    async def server_time_ms(self) -> int:
        return convert.ms((await self.call("fapiPublicGetTime"))["serverTime"])

    def health(self) -> ExchangeHealth:
        return health_of(self)


def _satisfies_port(exchange: BinanceExchange) -> Exchange:
    """Never called: makes mypy prove that `BinanceExchange` implements the `Exchange` port."""
    return exchange
