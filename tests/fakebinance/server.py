"""`FakeBinance`: a local Binance USDⓈ-M futures server (REST + WebSocket on 127.0.0.1) for tests.

Real ccxt talks to it over HTTP and WebSocket, so signing, parameter mapping and parsing are exercised.
The test drives the market (`set_book`, `set_mark`, `trade`, `funding`), inspects the venue
(`open_orders`, `algo_orders`, `positions`, `balance`, `income_rows`, `request_log`) and injects
faults (`faults`, `limits`, `clock_offset_ms`, `set_permissions`, `expire_listen_key`). Every control
method may be called from any thread: off the server's loop it is run on the loop and waited for (see
`fixture.fake_in_thread`).
`account_key=None` always means the account created by the constructor.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Concatenate, ParamSpec, TypeVar

from aiohttp import web

from . import rest_account, rest_algo, rest_market, rest_trade, rest_wallet, trading
from .accounts import Account, IncomeRow, Position, TradeRow
from .algo import AlgoOrder, AlgoService
from .countdown import Countdowns
from .faults import FaultInjector
from .markets import DEFAULT_SYMBOLS, SymbolSpec
from .orders import Order
from .ratelimit import Limits, RateLimiter
from .rest import RequestRecord, RestPipeline
from .streams import StreamHub
from .venue import Venue, book_ticker_event

_ROUTE_MODULES = (
    rest_account,
    rest_algo,
    rest_market,
    rest_trade,
    rest_wallet,
)  # importing them registers their routes

P = ParamSpec("P")
R = TypeVar("R")


def threadsafe(fn: Callable[Concatenate[FakeBinance, P], R]) -> Callable[Concatenate[FakeBinance, P], R]:
    """Run the method on the server's loop when called from another thread, and wait for its result."""

    def wrapper(self: FakeBinance, /, *args: P.args, **kwargs: P.kwargs) -> R:
        loop = self._loop
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if loop is None or current is loop:
            return fn(self, *args, **kwargs)
        future: concurrent.futures.Future[R] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(self, *args, **kwargs))
            except BaseException as e:  # handed to the calling thread
                future.set_exception(e)

        loop.call_soon_threadsafe(run)
        return future.result(timeout=30)

    functools.update_wrapper(wrapper, fn)
    return wrapper


@dataclass(frozen=True, slots=True)
class BalanceView:
    """An account's USDT figures, as GET /fapi/v3/account computes them."""

    wallet: Decimal
    unrealized: Decimal
    margin_balance: Decimal
    initial_margin: Decimal
    available: Decimal


class FakeBinance:
    """The fake exchange server. `await start()`, point a client at `rest_url` / `ws_url`, `await stop()`."""

    def __init__(
        self,
        api_key: str = "k",
        api_secret: str = "s",
        *,
        balance: Decimal = Decimal("10000"),
        symbols: Iterable[SymbolSpec] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.host, self.port = host, port
        self.clock_offset_ms = 0
        self._agg_trade_id = 0
        self.limiter = RateLimiter(Limits())
        self.request_log: list[RequestRecord] = []
        self.hub = StreamHub(lambda: list(self.venue.specs), self._snapshot)
        self.hub.now_ms = self.now_ms
        specs = list(symbols) if symbols is not None else list(DEFAULT_SYMBOLS.values())
        self.venue = Venue(specs, self.now_ms, self.hub)
        self.algo = AlgoService(self.venue)
        self.venue.on_book_moved = lambda symbol: self.algo.on_price(symbol, "MARK_PRICE")
        self.venue.on_traded = self.algo.on_trade
        self.countdowns = Countdowns(self._countdown_expired)
        self.faults = FaultInjector(drop_ws=self._drop_ws, silence=self._silence)
        self.default_key = api_key
        self._pipeline = RestPipeline(self, self.faults, self.request_log)
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.add_account(api_key, api_secret, balance)

    # --- lifecycle -----------------------------------------------------------------------------------

    @property
    def rest_url(self) -> str:
        """`http://127.0.0.1:PORT`: the REST base (paths as Binance's: /fapi/v1/..., /fapi/v3/...)."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """`ws://127.0.0.1:PORT/ws`: the futures WebSocket base (ccxt derives /public, /market, /private)."""
        return f"ws://{self.host}:{self.port}/ws"

    async def start(self) -> None:
        """Listen on `host` (a free port unless one was given; after `stop` the same port again)."""
        self._pipeline.stopping = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self.port = int(runner.addresses[0][1])
        self._runner = runner
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        """Close every connection and stop listening; unanswered (swallowed) requests are dropped."""
        self._pipeline.stopping.set()
        self.countdowns.close()
        await self.hub.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner, self._loop = None, None

    async def __aenter__(self) -> FakeBinance:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self.hub.handle(request)
        return await self._pipeline.handle(request)

    def now_ms(self) -> int:
        """Server time: local time plus `clock_offset_ms`."""
        return int(time.time() * 1000) + self.clock_offset_ms

    # --- accounts and settings -----------------------------------------------------------------------

    @threadsafe
    def add_account(self, api_key: str, api_secret: str, balance: Decimal = Decimal("10000")) -> None:
        """Another API key with its own account, funded by a TRANSFER of `balance`."""
        if api_key in self.venue.accounts:
            raise ValueError(f"account {api_key!r} exists")
        self.venue.accounts[api_key] = Account(api_key, api_secret)
        if balance:
            self.venue.add_income(api_key, "TRANSFER", balance)

    def _account(self, account_key: str | None) -> Account:
        return self.venue.accounts[account_key or self.default_key]

    @threadsafe
    def set_hedge_mode(self, hedge: bool = True, account_key: str | None = None) -> None:
        """Put the account in hedge (dual-side) mode, or back to one-way."""
        self._account(account_key).hedge_mode = hedge

    @threadsafe
    def set_permissions(self, futures: bool = True, account_key: str | None = None) -> None:
        """Enable or disable the key's futures permission (disabled: every private call gets -2015)."""
        self._account(account_key).futures_enabled = futures

    @threadsafe
    def set_ip_allowed(self, allowed: bool = True, account_key: str | None = None) -> None:
        """Whitelist (or not) the caller's IP for the key (not allowed: -2015)."""
        self._account(account_key).ip_allowed = allowed

    @threadsafe
    def set_fees(self, maker: Decimal, taker: Decimal, account_key: str | None = None) -> None:
        """The account's commission rates."""
        account = self._account(account_key)
        account.maker_fee, account.taker_fee = maker, taker

    @threadsafe
    def leverage(self, symbol: str, account_key: str | None = None) -> int:
        """The account's leverage setting for `symbol`."""
        return self._account(account_key).leverage_of(symbol)

    # --- market --------------------------------------------------------------------------------------

    @threadsafe
    def set_book(
        self,
        symbol: str,
        bid: Decimal,
        ask: Decimal,
        bid_qty: Decimal = Decimal(10),
        ask_qty: Decimal = Decimal(10),
    ) -> None:
        """Move the top of book: pushes bookTicker and fills resting orders it crosses (as makers)."""
        self.venue.set_book(symbol, bid, ask, bid_qty, ask_qty)

    @threadsafe
    def set_mark(self, symbol: str, price: Decimal | None) -> None:
        """Pin the mark price (None: back to the book's mid); MARK_PRICE conditional orders it reaches
        trigger."""
        if price is None:
            self.venue.marks.pop(symbol, None)
        else:
            self.venue.marks[symbol] = price
        self.algo.on_price(symbol, "MARK_PRICE")

    @threadsafe
    def trade(self, symbol: str, side: str, price: Decimal, qty: Decimal) -> Decimal:
        """A taker trade (`side` BUY or SELL) of `qty` at `price`, pushed on `<symbol>@aggTrade`; returns
        how much of ours it filled."""
        filled = self.venue.trade(symbol, side.upper(), price, qty)
        spec, now = self.venue.specs[symbol], self.now_ms()
        self._agg_trade_id += 1
        event = {
            "e": "aggTrade",
            "E": now,
            "a": self._agg_trade_id,
            "s": symbol,
            "p": spec.price_str(price),
            "q": spec.qty_str(qty),
            "f": self._agg_trade_id,
            "l": self._agg_trade_id,
            "T": now,
            "m": side.upper() == "SELL",  # the buyer was the maker: the taker sold
        }
        self.hub.trade_event(symbol, event)
        return filled

    @threadsafe
    def funding(self, symbol: str, rate: Decimal) -> None:
        """Settle funding at `rate` on every position in `symbol` (FUNDING_FEE income rows)."""
        self.venue.funding(symbol, rate)

    @threadsafe
    def add_income(
        self,
        income_type: str,
        amount: Decimal,
        symbol: str = "",
        account_key: str | None = None,
        *,
        tran_id: int | None = None,
        trade_id: str = "",
    ) -> None:
        """A wallet change recorded as an income row of any type (e.g. TRANSFER, FUNDING_FEE,
        INSURANCE_CLEAR), optionally with a given `tran_id` (unique only within a type on Binance)."""
        key = self._account(account_key).key
        self.venue.add_income(key, income_type, amount, symbol, tran_id=tran_id, trade_id=trade_id)

    # --- inspection ----------------------------------------------------------------------------------

    @threadsafe
    def open_orders(self, account_key: str | None = None, symbol: str | None = None) -> list[Order]:
        """Snapshots of the account's open orders, oldest first."""
        key = self._account(account_key).key
        return [copy.copy(o) for o in self.venue.open_orders(key, symbol)]

    @threadsafe
    def all_open_orders(self) -> list[Order]:
        """Snapshots of every account's open orders."""
        return [copy.copy(o) for o in self.venue.open_orders(None)]

    @threadsafe
    def orders(self, account_key: str | None = None, symbol: str | None = None) -> list[Order]:
        """Snapshots of every order the account ever had (open, filled, cancelled, expired)."""
        key = self._account(account_key).key
        found = [o for o in self.venue.orders.values() if o.account_key == key and symbol in (None, o.symbol)]
        return [copy.copy(o) for o in found]

    @threadsafe
    def algo_orders(self, account_key: str | None = None, symbol: str | None = None) -> list[AlgoOrder]:
        """Snapshots of every conditional (algo) order the account ever had, oldest first."""
        key = self._account(account_key).key
        found = [o for o in self.algo.orders.values() if o.account_key == key and symbol in (None, o.symbol)]
        return [copy.copy(o) for o in sorted(found, key=lambda o: o.algo_id)]

    @threadsafe
    def positions(self, account_key: str | None = None) -> dict[str, Position]:
        """Snapshots of the account's non-flat positions by symbol."""
        account = self._account(account_key)
        return {s: copy.copy(p) for s, p in account.positions.items() if p.amount != 0}

    @threadsafe
    def balance(self, account_key: str | None = None) -> BalanceView:
        """The account's wallet and margin figures at current marks."""
        m = self.venue.margin(self._account(account_key).key)
        return BalanceView(m.wallet, m.unrealized, m.margin_balance, m.initial_margin, m.available)

    @threadsafe
    def income_rows(self, account_key: str | None = None, income_type: str | None = None) -> list[IncomeRow]:
        """The account's income ledger (optionally one type)."""
        rows = self._account(account_key).income
        return [r for r in rows if income_type in (None, r.income_type)]

    @threadsafe
    def user_trades(self, account_key: str | None = None) -> list[TradeRow]:
        """The account's own trades."""
        return list(self._account(account_key).trades)

    def requests(self, path: str | None = None, method: str | None = None) -> list[RequestRecord]:
        """The request log filtered by path and method."""
        return [r for r in list(self.request_log) if path in (None, r.path) and method in (None, r.method)]

    @threadsafe
    def ws_clients(self) -> int:
        """How many WebSocket connections are open."""
        return len(self.hub.connections)

    # --- streams, countdowns, limits -----------------------------------------------------------------

    @threadsafe
    def expire_listen_key(self, account_key: str | None = None) -> int:
        """Expire the account's listenKey now (pushes listenKeyExpired); returns how many keys expired."""
        return self.hub.expire(self._account(account_key).key)

    @threadsafe
    def listen_key(self, account_key: str | None = None) -> str | None:
        """The account's live listenKey, if any."""
        return self.hub.active_key(self._account(account_key).key)

    @threadsafe
    def advance_countdowns(self, seconds: float) -> None:
        """Bring every countdownCancelAll deadline `seconds` closer (due ones cancel their orders now)."""
        self.countdowns.advance(seconds)

    @threadsafe
    def countdowns_left(self, account_key: str | None = None) -> dict[str, float]:
        """Seconds left on each armed countdown of the account, by symbol."""
        key = self._account(account_key).key
        return {symbol: left for (_k, symbol), left in self.countdowns.remaining(key).items()}

    @threadsafe
    def reset_rate_limits(self) -> None:
        """Forget the weight and order counters and lift any ban."""
        self.limiter.reset()

    @property
    def limits(self) -> Limits:
        """The rate limits in force (mutable; exchangeInfo.rateLimits reports them)."""
        return self.limiter.limits

    @limits.setter
    def limits(self, limits: Limits) -> None:
        self.limiter.limits = limits

    @property
    def banned_until(self) -> float | None:
        """End of the current 418 ban (epoch seconds), if any."""
        return self.limiter.banned_until

    @threadsafe
    def used_weight(self) -> int:
        """Request weight used in the current minute."""
        return self.limiter.used_weight()

    @threadsafe
    def _drop_ws(self) -> None:
        self.hub.drop_all()

    def _silence(self, silent: bool) -> None:
        self.hub.silenced = silent

    def _countdown_expired(self, account_key: str, symbol: str) -> None:
        trading.cancel_all(self.venue, account_key, symbol)

    def _snapshot(self, symbol: str) -> dict[str, Any]:
        return book_ticker_event(self.venue.specs[symbol], self.venue.books[symbol])
