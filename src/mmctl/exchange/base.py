"""The `Exchange` port: the one async interface through which bots talk to any venue.

Implementations: the paper exchange (`mmctl.exchange.paper`) and, later, the Binance adapter through
ccxt. Every error an implementation raises is an `mmctl.errors.ExchangeError` subclass, classified by
what the caller should do. Symbols may be given in unified (`BTC/USDT:USDT`) or venue (`BTCUSDT`) form;
everything returned uses the unified form.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Protocol

from mmctl.exchange.conditional import ConditionalOrder, ConditionalRequest
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
    Trade,
)

MAX_CANCEL_BATCH = 10
"""Most orders one `cancel_orders` call takes (Binance's batch cancel limit)."""


class TradeStream(Protocol):
    """What `Exchange.watch_trades` returns: an async iterator of a symbol's public trades, each one in
    order (never conflated), from a bounded buffer. `dropped` counts the trades lost because the buffer
    was full (the reader fell that far behind: the oldest went first); `aclose()` unsubscribes."""

    def __aiter__(self) -> AsyncIterator[Trade]: ...

    async def __anext__(self) -> Trade: ...

    @property
    def dropped(self) -> int: ...

    async def aclose(self) -> None: ...


class Exchange(Protocol):
    """An account on a venue."""

    @property
    def name(self) -> str:
        """The account name this client serves (for logs and errors)."""
        ...

    @property
    def max_batch(self) -> int:
        """The most orders `place_orders` and `amend_orders` accept at once (Binance: 5)."""
        ...

    async def load_markets(self) -> Mapping[str, MarketRules]:
        """Fetch (once) and return the markets, keyed by unified symbol."""
        ...

    def market(self, symbol: str) -> MarketRules:
        """Rules for a loaded market in either symbol form; raises `UnknownSymbol`."""
        ...

    def book(self, symbol: str) -> BookTop | None:
        """The latest top of book seen for a subscribed symbol (None before the first update)."""
        ...

    def watch_book(self, symbol: str) -> AsyncIterator[BookTop]:
        """Subscribe to top-of-book updates. Slow consumers see the latest update, not a backlog."""
        ...

    def watch_trades(self, symbol: str) -> TradeStream:
        """Subscribe to the public trades of `symbol` (Binance's aggTrade stream), `side` being the
        taker's. Unlike books, trades are not conflated: each subscriber receives every trade published
        after it subscribed (registered at this call, before the first read), in order. Each subscriber
        buffers at most `mmctl.exchange.trade_stream.TRADE_BUFFER` (10,000) unread trades; on overflow
        the oldest is dropped and counted in the stream's `dropped`. Costs no request weight."""
        ...

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
        """Place a batch; one result per request, in request order. Raises `FilterRejected` (nothing
        placed) when the batch exceeds `max_batch`."""
        ...

    async def amend_orders(self, symbol: str, amends: Sequence[Amend]) -> list[AmendResult]:
        """Modify up to `max_batch` open limit orders of `symbol` in place, by client id, in one call
        (Binance: one PUT /fapi/v1/order per amend, sent concurrently): one result per amend, in order.

        Binance's semantics on every venue: an amended order keeps its id and client id and goes to the
        back of the queue at its (new) price; it costs one unit of each order counter, where cancel +
        new costs two. A post-only order whose new price would cross, or a partly filled order whose new
        quantity is at or below its filled quantity, is cancelled instead (the result's order is
        CANCELED). A rejected amend (a filter, margin, `UnknownOrder`, an amend that changes nothing)
        leaves the order as it was. The order stream reports the amended state. A larger batch raises
        `FilterRejected` and amends nothing; an unknown symbol fails the whole request."""
        ...

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        """Cancel one open order by venue id or client id; raises `UnknownOrder`."""
        ...

    async def cancel_orders(self, symbol: str, client_order_ids: Sequence[str]) -> list[CancelResult]:
        """Cancel up to `MAX_CANCEL_BATCH` orders by client id in one request (Binance: DELETE
        batchOrders); one result per id, in order (`UnknownOrder` for one already gone). A larger batch
        raises `FilterRejected` and cancels nothing."""
        ...

    async def cancel_all(self, symbol: str) -> list[Order]:
        """Cancel every open order on the symbol (idempotent); returns what was cancelled."""
        ...

    async def fetch_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        """An order (open or recently closed) by venue id or client id; raises `UnknownOrder`."""
        ...

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders, for one symbol or all."""
        ...

    async def positions(self) -> list[Position]:
        """Non-flat positions."""
        ...

    async def position(self, symbol: str) -> Position:
        """The position on one symbol (qty 0 when flat)."""
        ...

    async def balance(self) -> Balance:
        """Wallet and margin figures in the settlement asset. `available` is what a new order's initial
        margin is taken from (notional / the symbol's leverage; the larger side of opposite orders in
        one-way mode): `mmctl.exchange.margin.check_orders` says with it and `leverage()` whether a bot's
        first orders fit, with the numbers for a refusal."""
        ...

    async def leverage(self, symbol: str) -> int:
        """Current leverage setting for the symbol."""
        ...

    async def set_leverage(self, symbol: str, leverage: int) -> int:
        """Set leverage; `LeverageRejected` if outside 1..max or the position exceeds the bracket cap."""
        ...

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
        """Page `page` (numbered from 1) of the income rows with `since_ms <= ts_ms (<= until_ms)`, oldest
        first, `limit` (1..1000) rows a page: Binance's `GET /fapi/v1/income` with its `page` parameter.

        To walk without loss use `mmctl.pnl.income.iter_income`, which does this: while a full page starts
        and ends in one millisecond, ask for the next `page` of the same query (more than `limit` rows can
        share a millisecond); otherwise query again from the last row's millisecond at page 1, skipping the
        rows at that millisecond already seen by `(type, id)` (Binance's tranId is unique per income type).
        Stop at the first page shorter than `limit`, never at a page of rows already seen."""
        ...

    @property
    def trade_window_ms(self) -> int | None:
        """The span one `my_trades(since_ms=...)` call covers: only trades in `[since_ms, since_ms +
        trade_window_ms)` (Binance's userTrades with a start time: 7 days); None when one call reaches
        from any `since_ms` to now (the paper venue). `mmctl.fleet.trade_walk` walks a longer span
        window by window."""
        ...

    async def my_trades(self, symbol: str, *, since_ms: int | None = None, limit: int = 500) -> list[Fill]:
        """The account's own trades on `symbol`, oldest first, at most `limit` (1..1000): from `since_ms`
        on when given (within `trade_window_ms` of it), else the most recent (Binance's `GET
        /fapi/v1/userTrades`). Each carries the venue's fee and maker flag; `client_order_id` is empty
        when the venue's trade record does not carry it (Binance's does not): match by `order_id`."""
        ...

    def order_updates(self) -> AsyncIterator[OrderUpdate]:
        """Subscribe to the account's own order and fill events (each subscriber sees every event)."""
        ...

    async def place_conditional(self, req: ConditionalRequest) -> ConditionalOrder:
        """Place a venue-held conditional order (stop-loss, take-profit, trailing stop; see
        `mmctl.exchange.conditional` for its rules and lifecycle) and return it NEW. Binance: POST
        /fapi/v1/algoOrder (the Algo Service, its own ids and open-order list). Raises `FilterRejected`
        for a malformed request or one breaking the market's filters, `OrderRejected` when the venue
        refuses it (e.g. -2021: its condition already holds; a client id already used by an open
        conditional; the account's 200 open conditionals)."""
        ...

    async def cancel_conditional(self, symbol: str, client_id: str) -> ConditionalOrder:
        """Cancel one open conditional order by client id; returns it CANCELED (`UnknownOrder` when it is
        not open: never placed, already triggered, cancelled or expired)."""
        ...

    async def cancel_all_conditionals(self, symbol: str) -> list[ConditionalOrder]:
        """Cancel every open conditional order on the symbol (idempotent); returns what was cancelled.
        `cancel_all` does not touch conditional orders: a stop clears both."""
        ...

    async def open_conditionals(self, symbol: str | None = None) -> list[ConditionalOrder]:
        """Open (NEW) conditional orders, for one symbol or all, oldest first."""
        ...

    def conditional_updates(self) -> AsyncIterator[ConditionalOrder]:
        """Subscribe to the account's conditional-order events: one per state change (NEW, TRIGGERED,
        FINISHED, CANCELED, EXPIRED, REJECTED), each subscriber seeing every event. The market order a
        triggered conditional becomes (client id = the conditional's) reports on `order_updates`; its
        events may arrive before or after the TRIGGERED event."""
        ...

    async def arm_countdown(self, symbol: str, timeout_s: float) -> None:
        """Arm or refresh the venue-side dead-man's switch: all the symbol's orders are cancelled if not
        refreshed within `timeout_s` (not its conditional orders: they are meant to outlive the daemon)."""
        ...

    async def disarm_countdown(self, symbol: str) -> None:
        """Disarm the countdown for the symbol."""
        ...

    async def server_time_ms(self) -> int:
        """The venue's clock."""
        ...

    def health(self) -> ExchangeHealth:
        """Connection health snapshot (no I/O)."""
        ...

    async def settle(self) -> None:
        """Wait until every request already sent has been answered (a caller cancelled mid-request does
        not cut the request; a stop settles before it confirms against the venue)."""
        ...

    async def close(self) -> None:
        """Release connections and background tasks."""
        ...
