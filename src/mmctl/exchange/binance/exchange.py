"""`BinanceExchange`: the `Exchange` port for a Binance USDⓈ-M account, over raw Binance JSON.

Every request goes through `BinanceClient.request` (the ccxt seam) to an implicit endpoint, with Binance's
own parameter names and string values, and every answer is converted from its raw strings
(`convert.py`), so no float ever touches a price or an amount. The endpoints and their costs are those of
`mmctl.exchange.weights`. Orders are checked against the market's filters before they are sent (a
request the venue would refuse costs neither weight nor an order count); batches of up to 5 go to
POST batchOrders and their answers are matched to the requests by client order id; amends likewise go
to PUT order (what ccxt's `edit_order` calls), one concurrent request per amend, by client order id. A
-1021 resyncs the clock and is retried once. A request, once sent, runs to its answer even if its
caller is cancelled; `settle()` waits for those in flight.

The live parts (top of book, own order events, reconciliation after stream gaps, public trades) are in
`streams.py`, `events.py`, `reconcile.py` and `trade_streams.py`; conditional orders (Binance's Algo
Service: stops, take-profits, trailing stops, their ALGO_UPDATE events) in `algo.py`; start-up
(credentials, markets, position mode) is in `account.py`. Public trades come over a keyless client of
their own (`public_feed.PublicMarketClient`, opened at the first `watch_trades`, on the account's
WebSocket base), so an account that watches no trades pays nothing for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import structlog

from mmctl.clock import Clock
from mmctl.errors import (
    ClockSkew,
    FilterRejected,
    LeverageRejected,
    MmctlError,
    OrderRejected,
    PostOnlyWouldCross,
    TransientError,
    UnknownOrder,
)
from mmctl.exchange.base import MAX_CANCEL_BATCH, Exchange
from mmctl.exchange.binance import convert
from mmctl.exchange.binance.adapter import BinanceClient
from mmctl.exchange.binance.algo import AlgoOrders
from mmctl.exchange.binance.batches import match_legs
from mmctl.exchange.binance.clocksync import ClockSync
from mmctl.exchange.binance.errors import AlreadySet
from mmctl.exchange.binance.events import UserEvents
from mmctl.exchange.binance.health import health_of
from mmctl.exchange.binance.markets import MarketIndex
from mmctl.exchange.binance.orders import amend_params, order_params, order_ref
from mmctl.exchange.binance.public_feed import PublicMarketClient
from mmctl.exchange.binance.reconcile import Reconciler
from mmctl.exchange.binance.streams import BookStreams, UserStream
from mmctl.exchange.binance.tracker import OrderTracker
from mmctl.exchange.binance.trade_streams import TradeStreams
from mmctl.exchange.binance.usage import limits_from_exchange_info
from mmctl.exchange.budget import BudgetLimits
from mmctl.exchange.conditional import ConditionalOrder, ConditionalRequest
from mmctl.exchange.fanout import BookWatch, Subscription
from mmctl.exchange.rules import check_order, notional
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
    OrderStatus,
    OrderType,
    OrderUpdate,
    PlaceResult,
    Position,
)

log = structlog.get_logger("mmctl.binance")

INCOME_RETENTION_MS = 95 * 86_400_000  # Binance keeps three months of income; older exists only in mmctl
USER_TRADES_WINDOW_MS = 7 * 86_400_000  # the span of one userTrades request from a startTime


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
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
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

    # --- port: orders ---------------------------------------------------------------------------------

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
        if len(requests) > BATCH_ORDERS_MAX:
            raise FilterRejected(
                f"a batch holds at most {BATCH_ORDERS_MAX} orders, got {len(requests)}; nothing was placed",
                data={"field": "batch", "max_batch": BATCH_ORDERS_MAX},
            )
        results: dict[int, PlaceResult] = {}  # by request index
        legs: list[tuple[int, OrderRequest, dict[str, str]]] = []
        for i, req in enumerate(requests):
            try:
                rules = self.market(req.symbol)
                check_order(req, rules, self._mark_estimate(req, rules))
            except OrderRejected as e:
                results[i] = PlaceResult(req, error=e)
                continue
            self.active_symbols.add(rules.symbol)
            legs.append((i, req, order_params(req, rules)))
        if len(legs) == 1:
            i, req, params = legs[0]
            try:
                results[i] = self._placed(req, await self.call("fapiPrivatePostOrder", params))
            except OrderRejected as e:
                results[i] = PlaceResult(req, error=e)
        elif legs:
            answer = await self.call("fapiPrivatePostBatchOrders", {"batchOrders": [p for _, _, p in legs]})
            legs_out = match_legs([r.client_order_id for _, r, _ in legs], answer)
            for (i, req, _), item in zip(legs, legs_out, strict=True):
                results[i] = self._placed(req, item)
        return [results[i] for i in range(len(requests))]

    def _placed(self, req: OrderRequest, raw: Any) -> PlaceResult:
        if isinstance(raw, Exception):
            return PlaceResult(req, error=raw)
        order = convert.order(raw, self.symbol_of)
        if req.post_only and order.status is OrderStatus.EXPIRED and order.filled == 0:
            return PlaceResult(req, error=PostOnlyWouldCross(f"post-only {req.client_order_id} would cross"))
        self.tracker.on_rest(order)
        return PlaceResult(req, order=order)

    def _mark_estimate(self, req: OrderRequest, rules: MarketRules) -> Decimal | None:
        """The book's mid for a market order's notional check. Limit orders get None: the PERCENT_PRICE
        band is checked by Binance against the mark price, which the book top does not carry."""
        top = self.books.latest(rules.symbol) if req.type is OrderType.MARKET else None
        return top.mid if top is not None else None

    async def amend_orders(self, symbol: str, amends: Sequence[Amend]) -> list[AmendResult]:
        """One PUT /fapi/v1/order per amend, all sent concurrently, by client order id; never PUT
        batchOrders. Binance runs a batch's legs concurrently and independently anyway, so concurrent
        single PUTs have a batch's semantics, and for every size they cost no more on the IP weight
        (0 against 5) or the 10 s order counter (n against 5); only the 1 min order counter pays more
        (n against 1). The adapter does not switch to a batch when that counter is the tighter one: the
        choice would hang on live usage and `weights.cost` could no longer price a call from its
        arguments alone (see `mmctl.exchange.weights`).

        One result per amend, in request order. An amend that breaks the market's filters is refused
        here, unsent (Binance would reject it and leave the order as it is); one Binance rejects is that
        amend's error and the others stand. Any other failure (transport, rate limit, ban) is raised once
        every request has its answer: the amends whose answers arrived are in the tracker all the same."""
        if len(amends) > BATCH_ORDERS_MAX:
            raise FilterRejected(
                f"a batch holds at most {BATCH_ORDERS_MAX} amends, got {len(amends)}; nothing was amended",
                data={"field": "batch", "max_batch": BATCH_ORDERS_MAX},
            )
        rules = self.market(symbol)
        results: dict[int, AmendResult] = {}
        legs: list[tuple[int, Amend, dict[str, str]]] = []
        for i, amend in enumerate(amends):
            try:
                check_order(_as_request(amend, rules), rules)
            except OrderRejected as e:
                results[i] = AmendResult(amend, error=e)
                continue
            legs.append((i, amend, amend_params(amend, rules)))
        if legs:
            self.active_symbols.add(rules.symbol)
        answers = await asyncio.gather(
            *(self._amend_one(amend, params) for _, amend, params in legs), return_exceptions=True
        )
        for (i, _, _), answer in zip(legs, answers, strict=True):
            if isinstance(answer, BaseException):
                raise answer
            results[i] = answer
        return [results[i] for i in range(len(amends))]

    async def _amend_one(self, amend: Amend, params: Mapping[str, str]) -> AmendResult:
        """PUT /fapi/v1/order for one amend; Binance's refusal of it is its result."""
        try:
            raw = await self.call("fapiPrivatePutOrder", params)
        except (OrderRejected, UnknownOrder) as e:
            return AmendResult(amend, error=e)
        if not isinstance(raw, Mapping) or str(raw.get("clientOrderId")) != amend.client_order_id:
            unknown = TransientError(
                f"Binance's answer to the amend of {amend.client_order_id} is not that order: "
                "its outcome is unknown",
                data={"client_order_id": amend.client_order_id},
            )
            return AmendResult(amend, error=unknown)
        return self._amended(amend, raw)

    def _amended(self, amend: Amend, raw: Any) -> AmendResult:
        if isinstance(raw, Exception):
            return AmendResult(amend, error=raw)
        order = convert.order(raw, self.symbol_of)
        known = self.tracker.known(order.client_order_id)
        if known is not None and known.id == order.id:  # PUT's answer has no creation time
            order = replace(order, created_ms=known.created_ms)
        self.tracker.on_rest(order)
        return AmendResult(amend, order=order)

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        params = order_ref(self.market(symbol).id, order_id, client_order_id)
        order = convert.order(await self.call("fapiPrivateDeleteOrder", params), self.symbol_of)
        self.tracker.on_rest(order)
        return order

    async def cancel_orders(self, symbol: str, client_order_ids: Sequence[str]) -> list[CancelResult]:
        if len(client_order_ids) > MAX_CANCEL_BATCH:
            raise FilterRejected(
                f"a batch cancel holds at most {MAX_CANCEL_BATCH} orders, got {len(client_order_ids)}; "
                "nothing was cancelled",
                data={"field": "batch", "max_batch": MAX_CANCEL_BATCH},
            )
        rules = self.market(symbol)
        if not client_order_ids:
            return []
        answer = await self.call(
            "fapiPrivateDeleteBatchOrders",
            {"symbol": rules.id, "origClientOrderIdList": list(client_order_ids)},
        )
        out = []
        for cid, item in zip(client_order_ids, match_legs(list(client_order_ids), answer), strict=True):
            if isinstance(item, Exception):
                out.append(CancelResult(cid, error=item))
            else:
                order = convert.order(item, self.symbol_of)
                self.tracker.on_rest(order)
                out.append(CancelResult(cid, order=order))
        return out

    async def cancel_all(self, symbol: str) -> list[Order]:
        """Cancel by client id what is listed open (so the answer says what was cancelled), then sweep
        with DELETE allOpenOrders for anything placed meanwhile."""
        rules = self.market(symbol)
        cancelled: list[Order] = []
        listed = await self.open_orders(rules.symbol)
        for i in range(0, len(listed), MAX_CANCEL_BATCH):
            batch = [o.client_order_id for o in listed[i : i + MAX_CANCEL_BATCH]]
            results = await self.cancel_orders(rules.symbol, batch)
            cancelled += [r.order for r in results if r.order is not None]
        await self.call("fapiPrivateDeleteAllOpenOrders", {"symbol": rules.id})
        return cancelled

    async def fetch_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        params = order_ref(self.market(symbol).id, order_id, client_order_id)
        order = convert.order(await self.call("fapiPrivateGetOrder", params), self.symbol_of)
        self.tracker.on_rest(order)
        return order

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        params = {"symbol": self.market(symbol).id} if symbol is not None else {}
        answer = await self.call("fapiPrivateGetOpenOrders", params)
        orders = [convert.order(raw, self.symbol_of) for raw in answer or ()]
        return sorted(orders, key=lambda o: (o.created_ms, o.id))

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

    # --- port: account --------------------------------------------------------------------------------

    async def positions(self) -> list[Position]:
        rows = await self.call("fapiPrivateV3GetPositionRisk", {})
        out = []
        for row in rows or ():
            symbol = self.symbol_of(str(row.get("symbol")))
            if convert.dec(row.get("positionAmt") or "0") != 0 and symbol in self.index.rules:
                out.append(convert.position(row, symbol, await self.leverage(symbol)))
        return sorted(out, key=lambda p: p.symbol)

    async def position(self, symbol: str) -> Position:
        rules = self.market(symbol)
        rows = await self.call("fapiPrivateV3GetPositionRisk", {"symbol": rules.id})
        leverage = await self.leverage(rules.symbol)
        for row in rows or ():
            if row.get("symbol") == rules.id and row.get("positionSide", "BOTH") == "BOTH":
                return convert.position(row, rules.symbol, leverage)
        return convert.flat_position(rules.symbol, leverage)

    async def balance(self) -> Balance:
        return convert.balance(await self.call("fapiPrivateV3GetAccount", {}))

    async def leverage(self, symbol: str) -> int:
        """The symbol's leverage: fetched once (GET symbolConfig), then kept current by `set_leverage`
        and the stream's ACCOUNT_CONFIG_UPDATE."""
        rules = self.market(symbol)
        known = self.leverages.get(rules.symbol)
        if known is not None:
            return known
        answer = await self.call("fapiPrivateGetSymbolConfig", {"symbol": rules.id})
        for row in answer if isinstance(answer, list) else [answer]:
            if isinstance(row, Mapping) and row.get("symbol") == rules.id:
                self.leverages[rules.symbol] = int(row["leverage"])
                return self.leverages[rules.symbol]
        raise OrderRejected(f"Binance did not report a leverage for {rules.symbol}")

    async def set_leverage(self, symbol: str, leverage: int) -> int:
        rules = self.market(symbol)
        top = rules.max_leverage
        if isinstance(leverage, bool) or not isinstance(leverage, int) or not 1 <= leverage <= top:
            raise LeverageRejected(
                f"leverage for {rules.symbol} must be an integer in 1..{top}, got {leverage!r}",
                data={"field": "leverage", "max_leverage": top},
            )
        held = await self.position(rules.symbol)
        cap, size = rules.notional_cap(leverage), notional(held.mark_price, abs(held.qty))
        if size > cap:
            raise LeverageRejected(
                f"leverage {leverage} on {rules.symbol} allows a position of at most {cap} USDT, the "
                f"position is {size:.2f} USDT: reduce it or choose a lower leverage (Binance -2027)",
                data={"field": "leverage", "notional_cap": str(cap)},
            )
        answer = await self.call("fapiPrivatePostLeverage", {"symbol": rules.id, "leverage": str(leverage)})
        self.leverages[rules.symbol] = int(answer.get("leverage", leverage))
        return self.leverages[rules.symbol]

    async def set_margin_mode(self, symbol: str, mode: str) -> None:
        """Cross or isolated margin for a symbol; Binance's "no need to change" counts as done."""
        if mode not in ("cross", "isolated"):
            raise FilterRejected(f"margin mode must be 'cross' or 'isolated', got {mode!r}")
        margin_type = "CROSSED" if mode == "cross" else "ISOLATED"
        with contextlib.suppress(AlreadySet):
            await self.call(
                "fapiPrivatePostMarginType", {"symbol": self.market(symbol).id, "marginType": margin_type}
            )

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
        """One GET /fapi/v1/income page (the start clamped to Binance's three months of history)."""
        params: dict[str, Any] = {
            "startTime": max(since_ms, self.time.venue_now_ms() - INCOME_RETENTION_MS),
            "limit": max(1, min(1000, limit)),
            "page": max(1, page),
        }
        if until_ms is not None:
            params["endTime"] = until_ms
        if income_type is not None:
            params["incomeType"] = income_type.value
        if symbol is not None:
            params["symbol"] = self.market(symbol).id
        answer = await self.call("fapiPrivateGetIncome", params)
        rows = [convert.income_row(raw, self.symbol_of) for raw in answer or ()]
        return sorted(rows, key=lambda r: r.ts_ms)  # stable: Binance's order within a millisecond

    @property
    def trade_window_ms(self) -> int:
        """Binance answers userTrades with only a `startTime` for `[startTime, startTime + 7 days)`."""
        return USER_TRADES_WINDOW_MS

    async def my_trades(self, symbol: str, *, since_ms: int | None = None, limit: int = 500) -> list[Fill]:
        """GET /fapi/v1/userTrades (weight 5), one request: with `since_ms`, the first `limit` trades of
        the 7 days from it (`trade_window_ms`; `mmctl.fleet.trade_walk` steps window by window). Its rows
        carry no client order id, so each fill's `client_order_id` is empty (match by `order_id`)."""
        params: dict[str, Any] = {"symbol": self.market(symbol).id, "limit": max(1, min(1000, limit))}
        if since_ms is not None:
            params["startTime"] = since_ms
        answer = await self.call("fapiPrivateGetUserTrades", params)
        fills = [convert.fill_from_trade(raw, "", self.symbol_of) for raw in answer or ()]
        return sorted(fills, key=lambda f: f.ts_ms)

    # --- port: dead-man's switch and time ---------------------------------------------------------------

    async def arm_countdown(self, symbol: str, timeout_s: float) -> None:
        numeric = isinstance(timeout_s, int | float) and not isinstance(timeout_s, bool)
        if not (numeric and math.isfinite(timeout_s) and timeout_s >= 0):
            raise FilterRejected(
                f"countdown timeout must be a finite number of seconds >= 0, got {timeout_s!r}",
                data={"field": "timeout_s"},
            )
        rules = self.market(symbol)
        await self.call(
            "fapiPrivatePostCountdownCancelAll",
            {"symbol": rules.id, "countdownTime": str(round(timeout_s * 1000))},
        )
        if timeout_s > 0:
            self.countdowns[rules.symbol] = (float(timeout_s), self.clock.monotonic())
        else:
            self.countdowns.pop(rules.symbol, None)

    async def disarm_countdown(self, symbol: str) -> None:
        await self.arm_countdown(symbol, 0)

    async def server_time_ms(self) -> int:
        return convert.ms((await self.call("fapiPublicGetTime"))["serverTime"])

    def health(self) -> ExchangeHealth:
        return health_of(self)


def _as_request(amend: Amend, rules: MarketRules) -> OrderRequest:
    """An amend's new price and quantity as a limit order, for the market's filters."""
    return OrderRequest(
        rules.symbol,
        amend.side,
        amend.qty,
        amend.price,
        amend.client_order_id,
        reduce_only=amend.reduce_only,  # exempt from the notional minimum, as on Binance
    )


def _satisfies_port(exchange: BinanceExchange) -> Exchange:
    """Never called: makes mypy prove that `BinanceExchange` implements the `Exchange` port."""
    return exchange
