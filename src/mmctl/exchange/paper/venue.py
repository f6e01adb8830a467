"""The paper venue: a synchronous, single-account simulation of Binance USDⓈ-M (no asyncio).

Market data is pushed in with `on_book`, `on_trade` (or `on_event`) and time with `advance_to`; each
carries venue time in ms, which only moves forward and fires funding and countdown timers on the way.
A book or trade that crosses our best resting price is matched against our orders by `matcher`
(`mmctl.exchange.paper.matching`, which states the matching rules). Orders are checked as Binance
checks them (`mmctl.exchange.paper.entry`: a post-only order crossing the book or one of our own resting
orders is rejected), then enter the book through the matcher. An amend (`amend`) modifies a resting
order in place as Binance's Modify Order does (`mmctl.exchange.paper.modify`). Conditional orders
(stop-loss, take-profit, trailing stops) are held in `conditionals` (`mmctl.exchange.paper.conditionals`)
and checked against each book's mid (MARK_PRICE) or each trade's price (CONTRACT_PRICE) when the symbol
has any.

Order entry and account queries are plain methods used by the async `PaperExchange` adapter; order
events go to listeners registered with `add_listener`. The hot path (an event that fills nothing) costs
a dict lookup and two Decimal comparisons.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal

from mmctl.errors import FilterRejected, UnknownSymbol
from mmctl.exchange.conditional import WorkingType
from mmctl.exchange.paper import entry, modify
from mmctl.exchange.paper.conditionals import PaperConditionals
from mmctl.exchange.paper.ledger import Wallet
from mmctl.exchange.paper.margin import available_balance, balance_view, position_view
from mmctl.exchange.paper.markets import SymbolIndex, default_leverage
from mmctl.exchange.paper.matching import Matcher, OrderListener
from mmctl.exchange.paper.orders import OrderStore, require_id, unknown_order
from mmctl.exchange.paper.state import LiveOrder, SymbolState
from mmctl.model import (
    Amend,
    Balance,
    BookTop,
    Fill,
    IncomeRow,
    IncomeType,
    MarketRules,
    Order,
    OrderRequest,
    OrderStatus,
    OrderUpdate,
    Position,
    Side,
    Trade,
)
from mmctl.pnl.position import funding_payment

FILLS_KEPT = 20_000  # the most recent own trades `my_trades` can return (all symbols)


class PaperVenue:
    """One paper account on a simulated Binance USDⓈ-M venue."""

    def __init__(
        self,
        markets: Mapping[str, MarketRules],
        *,
        balance: Decimal,
        start_ms: int,
        funding_rate: Decimal = Decimal("0.0001"),
        funding_interval_s: int = 28_800,
        asset: str = "USDT",
    ) -> None:
        self.index = SymbolIndex(markets.values())
        self.markets: dict[str, MarketRules] = {r.symbol: r for r in markets.values()}
        self._symbols = [SymbolState(r, default_leverage(r)) for r in self.markets.values()]
        self._states: dict[str, SymbolState] = {}
        for st in self._symbols:
            self._states[st.symbol] = st
            self._states[st.rules.id] = st
        self.wallet = Wallet(balance, asset)
        self.funding_rate = funding_rate
        self._funding_interval_ms = funding_interval_s * 1000
        self._next_funding_ms = (start_ms // self._funding_interval_ms + 1) * self._funding_interval_ms
        self._next_timer_ms = self._next_funding_ms
        self._now_ms = start_ms
        self.orders = OrderStore()
        self.last_trade_id = 0  # trade ids are "1", "2", ...; never reused (a reset continues from here)
        self.trades: deque[Fill] = deque(maxlen=FILLS_KEPT)  # the account's trades, for `my_trades`
        self.matcher = Matcher(self)  # fills, cancels and expiries, and their events to the listeners
        self.conditionals = PaperConditionals(self)  # stop-loss, take-profit, trailing stops
        # Counts account changes (order events, leverage, countdowns, timers): the persistence saves
        # the state when it moved. Book and trade events that fill nothing leave it alone.
        self.revision = 0

    # --- time and market data (the driver's side) -------------------------------------------------

    @property
    def now_ms(self) -> int:
        return self._now_ms

    @property
    def next_timer_ms(self) -> int:
        """When the next funding settlement or countdown expiry is due."""
        return self._next_timer_ms

    @property
    def next_funding_ms(self) -> int:
        return self._next_funding_ms

    @property
    def funding_interval_ms(self) -> int:
        return self._funding_interval_ms

    def set_clock(self, now_ms: int, next_funding_ms: int) -> None:
        """Put back a saved venue time and funding schedule (restoring a saved account)."""
        self._now_ms = now_ms
        self._next_funding_ms = next_funding_ms
        self._schedule_next_timer()

    def advance_to(self, ts_ms: int) -> None:
        """Move venue time forward to `ts_ms` (never back), firing due funding and countdowns in order."""
        if ts_ms > self._now_ms:
            if ts_ms >= self._next_timer_ms:
                self._run_timers(ts_ms)
            self._now_ms = ts_ms

    def on_book(self, top: BookTop) -> None:
        """A new top of book: fills our orders it crosses, then notifies the symbol's book hook."""
        try:
            st = self._states[top.symbol]
        except KeyError:
            raise self._unknown(top.symbol) from None
        ts = top.ts_ms
        if ts > self._now_ms:
            if ts >= self._next_timer_ms:
                self._run_timers(ts)
            self._now_ms = ts
        if top.symbol != st.symbol:
            top = replace(top, symbol=st.symbol)
        st.top = top
        if top.ask <= st.best_bid or top.bid >= st.best_ask:
            self.matcher.match_book(st, top)
        if st.conditionals:
            self.conditionals.on_price(st, WorkingType.MARK_PRICE, st.mark_price())
        hook = st.book_hook
        if hook is not None:
            hook(top)

    def on_trade(self, trade: Trade) -> None:
        """A public trade: fills our resting orders on the other side that it went through, then
        notifies the symbol's trade hook (with the market's unified symbol)."""
        try:
            st = self._states[trade.symbol]
        except KeyError:
            raise self._unknown(trade.symbol) from None
        ts = trade.ts_ms
        if ts > self._now_ms:
            if ts >= self._next_timer_ms:
                self._run_timers(ts)
            self._now_ms = ts
        st.last_trade = trade
        if trade.side is Side.SELL:
            if trade.price <= st.best_bid:
                self.matcher.match_trade(st, trade, st.bids)
        elif trade.price >= st.best_ask:
            self.matcher.match_trade(st, trade, st.asks)
        if st.conditionals:
            self.conditionals.on_price(st, WorkingType.CONTRACT_PRICE, trade.price)
        hook = st.trade_hook
        if hook is not None:
            hook(trade if trade.symbol == st.symbol else replace(trade, symbol=st.symbol))

    def on_event(self, event: BookTop | Trade) -> None:
        if type(event) is BookTop:
            self.on_book(event)
        else:
            self.on_trade(event)  # type: ignore[arg-type]

    def set_book_hook(self, symbol: str, hook: Callable[[BookTop], None] | None) -> None:
        """Call `hook` with every new top of book of `symbol` (None removes it)."""
        self.state(symbol).book_hook = hook

    def set_trade_hook(self, symbol: str, hook: Callable[[Trade], None] | None) -> None:
        """Call `hook` with every public trade of `symbol`, after its matching (None removes it)."""
        self.state(symbol).trade_hook = hook

    def add_listener(self, listener: OrderListener) -> None:
        """Call `listener` with every order event (placement, fill, cancel, expiry), in order.

        Listeners run inside matching: they must only record or queue, never call back into the venue."""
        self.matcher.listeners.append(listener)

    def remove_listener(self, listener: OrderListener) -> None:
        listeners = self.matcher.listeners
        if listener in listeners:
            listeners.remove(listener)

    # --- orders -------------------------------------------------------------------------------------

    def state(self, symbol: str) -> SymbolState:
        st = self._states.get(symbol) if isinstance(symbol, str) else None
        if st is None:
            raise self._unknown(symbol)
        return st

    def find_open(self, st: SymbolState, order_id: str | None, client_order_id: str | None) -> LiveOrder:
        """The working record of an open order of `st`'s symbol, by id or client id."""
        require_id(order_id, client_order_id)
        order = self.orders.find_open(order_id, client_order_id)
        if order is None or order.symbol != st.symbol:
            raise unknown_order(st.symbol, order_id, client_order_id)
        return order

    def place(self, req: OrderRequest) -> Order:
        """Validate and place one order; returns its state after any immediate fill."""
        entry.check_shape(req)
        st = self.state(req.symbol)
        fill_at = entry.check_rules(req, st)
        entry.check_capacity(req, st, self.orders.open_client_ids)
        price = fill_at if fill_at is not None else req.price
        assert price is not None
        entry.check_margin(req, st, price, self.available)
        order = self._accept(st, req)
        self.matcher.take(st, order, fill_at, req.stp_mode)
        return order.snapshot()

    def _accept(self, st: SymbolState, req: OrderRequest) -> LiveOrder:
        """Register a validated order as NEW and announce it."""
        order_id = self.orders.next_id()
        cid = req.client_order_id or f"paper-{order_id}"
        order = LiveOrder(
            order_id,
            cid,
            st.symbol,
            req.side,
            req.type,
            req.price,
            req.qty,
            post_only=req.post_only,
            reduce_only=req.reduce_only,
            seq=int(order_id),
            ts_ms=self._now_ms,
        )
        self.orders.add(order)
        self.matcher.emit(OrderUpdate(order.snapshot()))
        return order

    def amend(self, symbol: str, amend: Amend) -> Order:
        """Modify one open limit order's price and quantity in place, with Binance's Modify Order
        semantics (`mmctl.exchange.paper.modify`); returns the order's state after it."""
        return modify.amend_order(self, self.state(symbol), amend)

    def cancel(self, symbol: str, order_id: str | None = None, client_order_id: str | None = None) -> Order:
        st = self.state(symbol)
        order = self.find_open(st, order_id, client_order_id)
        self.matcher.finish(st, order, OrderStatus.CANCELED)
        return order.snapshot()

    def cancel_all(self, symbol: str) -> list[Order]:
        return self.matcher.cancel_all(self.state(symbol))

    def order(self, symbol: str, order_id: str | None = None, client_order_id: str | None = None) -> Order:
        """An open or recently closed order by id or client id."""
        st = self.state(symbol)
        require_id(order_id, client_order_id)
        found = self.orders.find(order_id, client_order_id)
        if found is None or found.symbol != st.symbol:
            raise unknown_order(st.symbol, order_id, client_order_id)
        return found.snapshot()

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        if symbol is None:
            return [o.snapshot() for o in self.orders.open.values()]
        st = self.state(symbol)
        return [o.snapshot() for o in self.orders.open.values() if o.symbol == st.symbol]

    # --- countdown (dead-man's switch) ----------------------------------------------------------------

    def arm_countdown(self, symbol: str, timeout_ms: int) -> None:
        """Cancel all of `symbol`'s orders unless re-armed within `timeout_ms` (0 or less disarms)."""
        st = self.state(symbol)
        st.countdown_ms = self._now_ms + timeout_ms if timeout_ms > 0 else None
        self.revision += 1
        self._schedule_next_timer()

    def disarm_countdown(self, symbol: str) -> None:
        self.state(symbol).countdown_ms = None
        self.revision += 1
        self._schedule_next_timer()

    # --- account ----------------------------------------------------------------------------------------

    def position(self, symbol: str) -> Position:
        return position_view(self.state(symbol))

    def positions(self) -> list[Position]:
        return [position_view(st) for st in self._symbols if st.position_qty]

    def balance(self) -> Balance:
        return balance_view(self.wallet, self._symbols)

    def available(self) -> Decimal:
        """The wallet's balance available for new margin (what `entry.check_margin` asks for)."""
        return available_balance(self.wallet, self._symbols)

    def leverage(self, symbol: str) -> int:
        return self.state(symbol).leverage

    def set_leverage(self, symbol: str, leverage: int) -> int:
        st = self.state(symbol)
        entry.check_leverage(st, leverage, self.balance())
        st.leverage = leverage
        self.revision += 1
        return leverage

    def income(
        self,
        since_ms: int,
        *,
        until_ms: int | None = None,
        income_type: IncomeType | None = None,
        symbol: str | None = None,
        limit: int = 1000,
        page: int = 1,
    ) -> list[IncomeRow]:
        """Page `page` (from 1) of the income rows matching the query, `limit` rows a page, oldest first."""
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise FilterRejected(f"page must be an integer from 1, got {page!r}", data={"field": "page"})
        unified = self.state(symbol).symbol if symbol is not None else None
        return self.wallet.income(
            since_ms, until_ms=until_ms, income_type=income_type, symbol=unified, limit=limit, page=page
        )

    def my_trades(self, symbol: str, *, since_ms: int | None = None, limit: int = 500) -> list[Fill]:
        """The account's own trades on `symbol`, oldest first: the first `limit` from `since_ms` on, or
        the last `limit` (Binance's userTrades; `limit` clamped to 1..1000)."""
        unified = self.state(symbol).symbol
        limit = max(1, min(1000, limit))
        mine = [f for f in self.trades if f.symbol == unified and (since_ms is None or f.ts_ms >= since_ms)]
        return mine[:limit] if since_ms is not None else mine[-limit:]

    # --- internals ----------------------------------------------------------------------------------

    @property
    def symbol_states(self) -> list[SymbolState]:
        return self._symbols

    def _unknown(self, symbol: object) -> UnknownSymbol:
        return self.index.unknown(symbol)

    # --- timers: funding settlements and countdown expiries ---------------------------------------

    def _run_timers(self, until_ms: int) -> None:
        while self._next_timer_ms <= until_ms:
            due = self._next_timer_ms
            self._now_ms = max(self._now_ms, due)
            self.revision += 1
            if due >= self._next_funding_ms:
                self._settle_funding(due)
                self._next_funding_ms += self._funding_interval_ms
            for st in self._symbols:
                if st.countdown_ms is not None and st.countdown_ms <= due:
                    st.countdown_ms = None
                    self.matcher.cancel_all(st)
            self._schedule_next_timer()

    def _settle_funding(self, ts_ms: int) -> None:
        for st in self._symbols:
            if st.position_qty:
                mark = st.mark_price() or st.entry_price
                amount = funding_payment(st.position_qty, mark, self.funding_rate)
                self.wallet.credit(ts_ms, st.symbol, IncomeType.FUNDING_FEE, amount)

    def _schedule_next_timer(self) -> None:
        deadlines = [st.countdown_ms for st in self._symbols if st.countdown_ms is not None]
        self._next_timer_ms = min([self._next_funding_ms, *deadlines])
