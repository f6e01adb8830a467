"""The fake venue's state and matching: books, accounts, orders, fills, and the events they push.

The market is a top of book per symbol set by the test (`set_book`) plus taker trades (`trade`); our own
orders rest beside it (they are not shown in the book). A resting buy fills, as maker at its own price,
when the ask moves to or through it, or when a taker sells at or below it (price-time priority, an amend
restarts the time). An order that crosses the book on arrival takes at the book's price (taker, the whole
quantity). Order entry and its rules live in `trading.py`; this module books what it accepts. After each
book move and each trade it tells the Algo Service (`algo.py`), which triggers conditional orders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from .accounts import Account, TradeRow
from .amounts import CTX, ZERO, divide, money, round8
from .errors import BinanceError
from .margin import MarginSummary, summarize, symbol_margin
from .markets import SymbolSpec
from .orders import Fill, Order, order_update_event


class Publisher(Protocol):
    """Where the venue's events go (the WebSocket hub)."""

    def user_event(self, account_key: str, payload: dict[str, Any]) -> None: ...

    def book_event(self, symbol: str, payload: dict[str, Any]) -> None: ...


@dataclass(slots=True)
class Book:
    """The market's top of book in one symbol."""

    bid: Decimal
    ask: Decimal
    bid_qty: Decimal
    ask_qty: Decimal
    update_id: int
    time: int


class Venue:
    """Books, accounts and orders of the fake exchange; every method runs on the server's loop."""

    def __init__(self, specs: Iterable[SymbolSpec], now_ms: Callable[[], int], publisher: Publisher) -> None:
        self.specs: dict[str, SymbolSpec] = {s.symbol: s for s in specs}
        self.now_ms = now_ms
        self.publisher = publisher
        self.books: dict[str, Book] = {
            s.symbol: Book(s.start_price, s.start_price + s.tick_size, Decimal(10), Decimal(10), 1, now_ms())
            for s in self.specs.values()
        }
        self.marks: dict[str, Decimal] = {}
        self.accounts: dict[str, Account] = {}
        self.orders: dict[int, Order] = {}
        self.resting: dict[str, list[Order]] = {s: [] for s in self.specs}
        self.on_book_moved: Callable[[str], None] | None = None  # the Algo Service's mark-price check
        self.on_traded: Callable[[str, Decimal], None] | None = None  # ... and its last-price check
        self._ids = {"order": 4_000_000_000, "trade": 500_000_000, "tran": 9_000_000_000, "seq": 0, "book": 1}

    def next_id(self, kind: str) -> int:
        """A fresh id of `kind` (order, trade, tran, seq, book)."""
        self._ids[kind] += 1
        return self._ids[kind]

    # --- lookups -------------------------------------------------------------------------------------

    def spec(self, symbol: str) -> SymbolSpec:
        """The symbol's rules (-1121 for a symbol the venue does not list)."""
        spec = self.specs.get(symbol)
        if spec is None:
            raise BinanceError(-1121)
        return spec

    def account(self, key: str) -> Account:
        """The account of API key `key`."""
        return self.accounts[key]

    def mark(self, symbol: str) -> Decimal:
        """Mark price: set by the test, else the book's mid."""
        if symbol in self.marks:
            return self.marks[symbol]
        book = self.books[symbol]
        return divide(book.bid + book.ask, Decimal(2))

    def open_orders(self, key: str | None, symbol: str | None = None) -> list[Order]:
        """Open orders, oldest first, of one account (or all) in one symbol (or all)."""
        symbols = [symbol] if symbol is not None else list(self.resting)
        out = [o for s in symbols for o in self.resting.get(s, []) if key is None or o.account_key == key]
        return sorted(out, key=lambda o: o.order_id)

    def margin(self, key: str) -> MarginSummary:
        """The account's margin figures at current marks."""
        marks = {s: self.mark(s) for s in self.specs}
        return summarize(self.accounts[key], self.specs, marks, self.resting)

    # --- market --------------------------------------------------------------------------------------

    def set_book(self, symbol: str, bid: Decimal, ask: Decimal, bid_qty: Decimal, ask_qty: Decimal) -> None:
        """Move the top of book, push bookTicker, and fill resting orders the new book crosses."""
        if bid >= ask:
            raise ValueError(f"bid {bid} must be below ask {ask}")
        spec = self.spec(symbol)
        now = self.now_ms()
        book = Book(bid, ask, bid_qty, ask_qty, self.next_id("book"), now)
        self.books[symbol] = book
        self.publisher.book_event(symbol, book_ticker_event(spec, book))
        for order in sorted(self.resting[symbol], key=lambda o: o.seq):
            if not order.is_open:
                continue
            crossed = order.price >= ask if order.side == "BUY" else order.price <= bid
            if crossed:
                self.fill(order, order.remaining, order.price, maker=True)
        if self.on_book_moved is not None:
            self.on_book_moved(symbol)

    def trade(self, symbol: str, taker_side: str, price: Decimal, qty: Decimal) -> Decimal:
        """A taker trade of `qty` at `price`: fills our resting orders at or better; returns the fill."""
        self.spec(symbol)
        if taker_side == "SELL":
            eligible = [o for o in self.resting[symbol] if o.side == "BUY" and o.price >= price]
            eligible.sort(key=lambda o: (-o.price, o.seq))
        elif taker_side == "BUY":
            eligible = [o for o in self.resting[symbol] if o.side == "SELL" and o.price <= price]
            eligible.sort(key=lambda o: (o.price, o.seq))
        else:
            raise ValueError(f"taker side must be BUY or SELL, got {taker_side!r}")
        left = qty
        for order in eligible:
            if left <= 0:
                break
            if not order.is_open:
                continue
            take = min(left, order.remaining)
            left -= self.fill(order, take, order.price, maker=True)
        if self.on_traded is not None:
            self.on_traded(symbol, price)
        return qty - left

    # --- booking -------------------------------------------------------------------------------------

    def accept(self, order: Order) -> None:
        """Record a new order and push its NEW event."""
        self.orders[order.order_id] = order
        self.resting[order.symbol].append(order)
        self.emit_order(order, "NEW")

    def close(self, order: Order, status: str) -> None:
        """End an open order as CANCELED or EXPIRED and push the event."""
        order.status = status
        order.update_time = self.now_ms()
        if order in self.resting[order.symbol]:
            self.resting[order.symbol].remove(order)
        self.emit_order(order, status)

    def fill(self, order: Order, qty: Decimal, price: Decimal, *, maker: bool) -> Decimal:
        """Execute `qty` of `order` at `price`; books position, fee, income; returns the quantity filled."""
        account = self.accounts[order.account_key]
        pos = account.position(order.symbol)
        if order.reduce_only:
            reducible = abs(pos.amount) if (pos.amount > 0) != (order.side == "BUY") else ZERO
            qty = min(qty, reducible)
            if qty <= 0:
                self.close(order, "EXPIRED")
                return ZERO
        now = self.now_ms()
        trade_id, tran_id = self.next_id("trade"), self.next_id("tran")
        realized = round8(pos.apply(qty * order.sign, price))
        pos.accumulated_realized += realized
        pos.update_time = now
        fee = round8(
            CTX.multiply(CTX.multiply(qty, price), account.maker_fee if maker else account.taker_fee)
        )
        if realized != 0:
            account.book_income(
                "REALIZED_PNL",
                realized,
                symbol=order.symbol,
                info="",
                time=now,
                tran_id=tran_id,
                trade_id=str(trade_id),
            )
        if fee != 0:
            account.book_income(
                "COMMISSION",
                -fee,
                symbol=order.symbol,
                info="",
                time=now,
                tran_id=tran_id,
                trade_id=str(trade_id),
            )
        account.trades.append(
            TradeRow(
                trade_id, order.order_id, order.symbol, order.side, price, qty, fee, realized, maker, now
            )
        )
        order.executed_qty += qty
        order.cum_quote += CTX.multiply(qty, price)
        order.update_time = now
        order.status = "FILLED" if order.remaining == 0 else "PARTIALLY_FILLED"
        if order.status == "FILLED" and order in self.resting[order.symbol]:
            self.resting[order.symbol].remove(order)
        self.emit_order(order, "TRADE", Fill(trade_id, qty, price, maker, fee, realized, now))
        self.emit_account(account, "ORDER", [order.symbol])
        if order.reduce_only and order.is_open and pos.amount == 0:
            self.close(order, "EXPIRED")
        self.expire_reduce_only(account, order.symbol)
        return qty

    def expire_reduce_only(self, account: Account, symbol: str) -> None:
        """Expire resting reduce-only orders that can no longer reduce the position."""
        amount = account.position(symbol).amount
        for o in list(self.resting[symbol]):
            mine = o.account_key == account.key and o.reduce_only and o.is_open
            if mine and (amount == 0 or (amount > 0) == (o.side == "BUY")):
                self.close(o, "EXPIRED")

    # --- ledger --------------------------------------------------------------------------------------

    def add_income(
        self,
        key: str,
        income_type: str,
        amount: Decimal,
        symbol: str = "",
        info: str = "",
        *,
        tran_id: int | None = None,
        trade_id: str = "",
    ) -> None:
        """A wallet change with its income row (TRANSFER, FUNDING_FEE, INSURANCE_CLEAR, ...); pushes
        ACCOUNT_UPDATE. `tran_id`: Binance's is unique only within a type, so a test may give two rows of
        different types the same one (default: a fresh id)."""
        account = self.accounts[key]
        account.book_income(
            income_type,
            amount,
            symbol=symbol,
            info=info or income_type,
            time=self.now_ms(),
            tran_id=self.next_id("tran") if tran_id is None else tran_id,
            trade_id=trade_id,
        )
        reason = {"TRANSFER": "DEPOSIT" if amount >= 0 else "WITHDRAW", "FUNDING_FEE": "FUNDING_FEE"}
        self.emit_account(account, reason.get(income_type, "ADJUSTMENT"), [symbol] if symbol else [])

    def funding(self, symbol: str, rate: Decimal) -> None:
        """Pay funding at `rate` on every open position in `symbol` (longs pay when the rate is positive)."""
        mark = self.mark(symbol)
        for key, account in self.accounts.items():
            pos = account.positions.get(symbol)
            if pos is not None and pos.amount != 0:
                self.add_income(
                    key, "FUNDING_FEE", -CTX.multiply(CTX.multiply(pos.amount, mark), rate), symbol
                )

    # --- events --------------------------------------------------------------------------------------

    def emit_order(self, order: Order, execution_type: str, fill: Fill | None = None) -> None:
        """Push ORDER_TRADE_UPDATE to the order's account."""
        spec = self.specs[order.symbol]
        account = self.accounts[order.account_key]
        mine = [o for o in self.resting[order.symbol] if o.account_key == order.account_key]
        sm = symbol_margin(account, spec, self.mark(order.symbol), mine)
        event = order_update_event(
            order, spec, execution_type, self.now_ms(), fill, sm.bids_notional, sm.asks_notional
        )
        self.publisher.user_event(order.account_key, event)

    def emit_account(self, account: Account, reason: str, symbols: list[str]) -> None:
        """Push ACCOUNT_UPDATE with the wallet and the named symbols' positions."""
        now = self.now_ms()
        positions = []
        for symbol in symbols:
            pos = account.position(symbol)
            positions.append(
                {
                    "s": symbol,
                    "pa": self.specs[symbol].qty_str(pos.amount),
                    "ep": format(pos.entry_price.quantize(Decimal("1e-8"), context=CTX), "f"),
                    "bep": format(pos.entry_price.quantize(Decimal("1e-8"), context=CTX), "f"),
                    "cr": money(pos.accumulated_realized),
                    "up": money(pos.unrealized(self.mark(symbol))),
                    "mt": "isolated" if symbol in account.isolated else "cross",
                    "iw": money(ZERO),
                    "ps": "BOTH",
                }
            )
        balance = {"a": "USDT", "wb": money(account.wallet), "cw": money(account.wallet), "bc": "0"}
        payload = {
            "e": "ACCOUNT_UPDATE",
            "E": now,
            "T": now,
            "a": {"m": reason, "B": [balance], "P": positions},
        }
        self.publisher.user_event(account.key, payload)


def book_ticker_event(spec: SymbolSpec, book: Book) -> dict[str, Any]:
    """The `<symbol>@bookTicker` stream payload."""
    return {
        "e": "bookTicker",
        "u": book.update_id,
        "E": book.time,
        "T": book.time,
        "s": spec.symbol,
        "b": spec.price_str(book.bid),
        "B": spec.qty_str(book.bid_qty),
        "a": spec.price_str(book.ask),
        "A": spec.qty_str(book.ask_qty),
    }
