"""The paper venue: a synchronous, single-account simulation of Binance USDⓈ-M (no asyncio).

Market data is pushed in with `on_book`, `on_trade` (or `on_event`) and time with `advance_to`; each
carries venue time in ms, which only moves forward and fires funding and countdown timers on the way.
Matching: a taker SELL trade at p fills our bids priced ≥ p (best price, then time priority) up to the
trade's size, as maker at our price; symmetric for BUY trades and asks. A book whose ask ≤ our bid (or
bid ≥ our ask) fills every crossed order in full as maker. Market orders, and limit orders that cross the
book without post-only, fill in full as taker at the opposite top (the venue assumes the top has depth).
Our own resting orders are part of the book, as on Binance: a post-only order crossing one is rejected,
and a taker order first meets those of ours priced strictly better than the book's top (the book's own
liquidity is ahead of ours at the top) and applies self-trade prevention in its `stp_mode`
(`mmctl.exchange.paper.stp`). Reduce-only orders fill at most the position and expire when there is
nothing left to reduce. Conditional orders (stop-loss, take-profit, trailing stops) are held in
`conditionals` (`mmctl.exchange.paper.conditionals`) and checked against each book's mid (MARK_PRICE)
or each trade's price (CONTRACT_PRICE) when the symbol has any.

An amend (`amend`) modifies a resting order in place as Binance's Modify Order does: new time priority,
cancelled instead when post-only and crossing or when cut to its filled quantity, untouched when rejected.

Order entry and account queries are plain methods used by the async `PaperExchange` adapter; order
events go to listeners registered with `add_listener`. The hot path (an event that fills nothing) costs
a dict lookup and two Decimal comparisons.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal

from mmctl.errors import FilterRejected, MmctlError, UnknownSymbol
from mmctl.exchange.conditional import WorkingType
from mmctl.exchange.paper import entry, stp
from mmctl.exchange.paper.conditionals import PaperConditionals
from mmctl.exchange.paper.ledger import Wallet
from mmctl.exchange.paper.margin import available_balance, balance_view, exposure_sides, position_view
from mmctl.exchange.paper.markets import SymbolIndex, default_leverage
from mmctl.exchange.paper.orders import OrderStore, require_id, unknown_order
from mmctl.exchange.paper.state import LiveOrder, SymbolState
from mmctl.model import (
    ZERO,
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
    OrderType,
    OrderUpdate,
    Position,
    Side,
    StpMode,
    Trade,
)
from mmctl.pnl.position import CTX, apply_fill, fee_for, funding_payment, reducible_qty

OrderListener = Callable[[OrderUpdate], None]
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
        self._listeners: list[OrderListener] = []
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
            self._match_book(st, top)
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
                self._match_trade(st, trade, st.bids)
        elif trade.price >= st.best_ask:
            self._match_trade(st, trade, st.asks)
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
        self._listeners.append(listener)

    def remove_listener(self, listener: OrderListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # --- orders -------------------------------------------------------------------------------------

    def state(self, symbol: str) -> SymbolState:
        st = self._states.get(symbol) if isinstance(symbol, str) else None
        if st is None:
            raise self._unknown(symbol)
        return st

    def place(self, req: OrderRequest) -> Order:
        """Validate and place one order; returns its state after any immediate fill."""
        entry.check_shape(req)
        st = self.state(req.symbol)
        fill_at = entry.check_rules(req, st)
        entry.check_capacity(req, st, self.orders.open_client_ids)
        price = fill_at if fill_at is not None else req.price
        assert price is not None
        entry.check_margin(req, st, price, self._available)
        order = self._accept(st, req)
        if not req.post_only:
            stp.meet_own_orders(st, order, req.stp_mode, self._execute, self._finish)
        if order.status.is_open and fill_at is not None:
            self._execute(st, order, order.remaining, fill_at, maker=False)
        if order.status.is_open:
            if fill_at is None and order.type is OrderType.LIMIT:
                st.rest(order)
            else:
                self._finish(st, order, OrderStatus.EXPIRED)
        return order.snapshot()

    def _available(self) -> Decimal:
        return available_balance(self.wallet, self._symbols)

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
        self._emit(OrderUpdate(order.snapshot()))
        return order

    def amend(self, symbol: str, amend: Amend) -> Order:
        """Modify one open limit order's price and quantity in place, with Binance's Modify Order
        semantics (PUT /fapi/v1/order, developers.binance.com/docs/derivatives/usds-margined-futures/
        trade/rest-api/Modify-Order); returns the order's state after it.

        - "modified orders will be reordered in the match queue": the order keeps its ids and takes a new
          time priority, behind every order already at its price;
        - "when the new quantity or price doesn't satisfy PRICE_FILTER / PERCENT_FILTER / LOT_SIZE,
          amendment will be rejected and the order will stay as it is": every rejection (those, -5027
          nothing to change, -5026 too many amends, reduce-only -2022, margin -2019) changes nothing;
        - "the order will be cancelled by the amendment ... when the order is in partially filled status
          and the new quantity <= executedQty" and "when the order is GTX and the new price will cause it
          to be executed immediately" (the book, or one of our own resting orders): status CANCELED;
        - "modify order will set selfTradePreventionMode to NONE": a non-post-only order amended through
          the book trades at once, as a new order would, meeting our own better-priced orders as NONE.
        The amended state is announced to the listeners (Binance's ORDER_TRADE_UPDATE with execution type
        AMENDMENT) before any trade it makes.
        """
        st = self.state(symbol)
        entry.check_amend_shape(amend)
        order = self._find_open(st, None, amend.client_order_id)
        entry.check_amend(amend, order, st)
        fill_at = _amended_taker_price(order.side, amend.price, st.top)
        crosses = fill_at is not None or entry.crosses_own(order.side, amend.price, st)
        if amend.qty <= order.filled or (order.post_only and crosses):
            self._finish(st, order, OrderStatus.CANCELED)
            return order.snapshot()
        remaining = CTX.subtract(amend.qty, order.filled)
        st.unrest(order)
        try:
            if order.reduce_only:  # adds no exposure: no margin check
                entry.check_amend_reduce_only(order, remaining, st)
            else:
                price = fill_at if fill_at is not None else amend.price
                if _raises_exposure(st, order.side, CTX.multiply(remaining, price)):
                    entry.check_margin(entry.amend_probe(amend, order, remaining), st, price, self._available)
        except MmctlError:
            st.rest(order)  # its priority is unchanged: it goes back where it was
            raise
        order.amend(amend.price, amend.qty, self.orders.next_seq(), self._now_ms)
        self._emit(OrderUpdate(order.snapshot()))
        if not order.post_only:  # from here on as a new order would (`place`), but with STP NONE
            stp.meet_own_orders(st, order, StpMode.NONE, self._execute, self._finish)
        if order.status.is_open and fill_at is not None:
            self._execute(st, order, order.remaining, fill_at, maker=False)
        if order.status.is_open:
            if fill_at is None:
                st.rest(order)
            else:  # a reduce-only order that had less to reduce than its size
                self._finish(st, order, OrderStatus.EXPIRED)
        return order.snapshot()

    def cancel(self, symbol: str, order_id: str | None = None, client_order_id: str | None = None) -> Order:
        st = self.state(symbol)
        order = self._find_open(st, order_id, client_order_id)
        self._finish(st, order, OrderStatus.CANCELED)
        return order.snapshot()

    def cancel_all(self, symbol: str) -> list[Order]:
        return self._cancel_all(self.state(symbol))

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

    def _find_open(self, st: SymbolState, order_id: str | None, client_order_id: str | None) -> LiveOrder:
        require_id(order_id, client_order_id)
        order = self.orders.find_open(order_id, client_order_id)
        if order is None or order.symbol != st.symbol:
            raise unknown_order(st.symbol, order_id, client_order_id)
        return order

    def _match_trade(self, st: SymbolState, trade: Trade, orders: list[LiveOrder]) -> None:
        left = trade.qty
        price = trade.price
        bids = orders is st.bids
        while left > 0 and orders:
            order = orders[0]
            assert order.price is not None
            if (order.price < price) if bids else (order.price > price):
                break
            left = CTX.subtract(
                left, self._execute(st, order, min(left, order.remaining), order.price, maker=True)
            )

    def _match_book(self, st: SymbolState, top: BookTop) -> None:
        while st.bids and top.ask <= st.best_bid:
            order = st.bids[0]
            self._execute(st, order, order.remaining, st.best_bid, maker=True)
        while st.asks and top.bid >= st.best_ask:
            order = st.asks[0]
            self._execute(st, order, order.remaining, st.best_ask, maker=True)

    def _execute(
        self, st: SymbolState, order: LiveOrder, qty: Decimal, price: Decimal, *, maker: bool
    ) -> Decimal:
        """Fill `qty` of `order` at `price`: position, wallet, ledger, order state, event. Returns the qty."""
        if order.reduce_only:
            qty = min(qty, reducible_qty(st.position_qty, order.side))
            if qty <= 0:
                self._finish(st, order, OrderStatus.EXPIRED)
                return ZERO
        change = apply_fill(st.position_qty, st.entry_price, order.side, qty, price)
        st.position_qty, st.entry_price = change.qty, change.entry_price
        fee = fee_for(price, qty, st.rules.maker_fee if maker else st.rules.taker_fee)
        self.last_trade_id += 1
        trade_id = str(self.last_trade_id)
        ts = self._now_ms
        self.wallet.credit(ts, st.symbol, IncomeType.REALIZED_PNL, change.realized_pnl, trade_id)
        self.wallet.credit(ts, st.symbol, IncomeType.COMMISSION, -fee, trade_id)
        st.on_partial_fill(order, qty)
        order.filled = CTX.add(order.filled, qty)
        order.cost = CTX.add(order.cost, CTX.multiply(qty, price))
        order.updated_ms = ts
        order.status = OrderStatus.FILLED if order.filled == order.qty else OrderStatus.PARTIALLY_FILLED
        fill = Fill(
            trade_id=trade_id,
            order_id=order.id,
            client_order_id=order.client_order_id,
            symbol=st.symbol,
            side=order.side,
            price=price,
            qty=qty,
            fee=fee,
            fee_asset=self.wallet.asset,
            maker=maker,
            realized_pnl=change.realized_pnl,
            ts_ms=ts,
        )
        self.trades.append(fill)
        if order.status is OrderStatus.FILLED:
            self._retire(st, order)
        self._emit(OrderUpdate(order.snapshot(), fill))
        self._expire_stale_reduce_only(st)
        return qty

    def _expire_stale_reduce_only(self, st: SymbolState) -> None:
        if not st.reduce_only_resting:
            return
        for order in st.orders():
            if order.reduce_only and reducible_qty(st.position_qty, order.side) == 0:
                self._finish(st, order, OrderStatus.EXPIRED)

    def _finish(self, st: SymbolState, order: LiveOrder, status: OrderStatus) -> None:
        """End an open order as cancelled or expired, and tell the listeners."""
        order.status = status
        order.updated_ms = self._now_ms
        self._retire(st, order)
        self._emit(OrderUpdate(order.snapshot()))

    def _retire(self, st: SymbolState, order: LiveOrder) -> None:
        if order.resting:
            st.unrest(order)
        self.orders.close(order)

    def _cancel_all(self, st: SymbolState) -> list[Order]:
        cancelled = []
        for order in st.orders():
            self._finish(st, order, OrderStatus.CANCELED)
            cancelled.append(order.snapshot())
        return cancelled

    def _emit(self, update: OrderUpdate) -> None:
        self.revision += 1
        for listener in self._listeners:
            listener(update)

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
                    self._cancel_all(st)
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


def _amended_taker_price(side: Side, price: Decimal, top: BookTop | None) -> Decimal | None:
    """The book price an amended limit order at `price` takes at (None: it rests), as
    `entry.taker_price` finds it for the amended order."""
    if top is None:
        return None
    if side is Side.BUY:
        return top.ask if price >= top.ask else None
    return top.bid if price <= top.bid else None


def _raises_exposure(st: SymbolState, side: Side, notional: Decimal) -> bool:
    """False when an order of `notional` on `side` (the amended order, taken off the book) leaves the
    symbol's exposure `max(longs, shorts, 0)` as it is: its side stays within the other side (or 0),
    so `entry.check_margin` would pass at once and the amend needs no margin. True: check it."""
    longs, shorts = exposure_sides(st)
    mine, other = (longs, shorts) if side is Side.BUY else (shorts, longs)
    return CTX.add(mine, notional) > max(other, ZERO)
