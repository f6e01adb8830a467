"""The ccxt seam: the only module of mmctl that imports ccxt.

`BinanceClient` owns one `ccxt.pro.binanceusdm` instance and exposes what the rest of the package needs,
in raw Binance JSON (the strings Binance sent, never ccxt's floats):

- `request(endpoint, params)`: one call of a ccxt implicit endpoint (`fapiPrivatePostOrder`, ...),
  signed by ccxt. Errors come out as `mmctl.errors` classes, classified by `errors.classify` from the
  status and body alone (ccxt's own table depends on the host, and proxies and tests use other hosts);
  network failures become `TransientError`. After a 418 nothing is sent until the ban ends.
- `watch_book_ticker(symbol)`: the next bookTicker of a symbol (`watch_bids_asks`), raw.
- `run_user_stream(on_connected)`: the user data stream (listenKey creation, keep-alive, reconnect by
  calling again); raw events reach `on_message`, installed by the caller.

ccxt is configured for a shared daemon: its throttler is off (`enableRateLimit=False`; the daemon's
request budget paces requests, so an order never queues behind a slow report in ccxt's single FIFO), and
`fetchCurrencies` is off (no spot `/sapi` calls). Every answer's usage headers are fed to the budgets from
`on_rest_response`, per response (ccxt's `last_response_headers` is shared by concurrent requests).
ccxt's `decimal_to_precision` changes the decimal context it runs in: every ccxt call runs in a task
whose context holds a private `decimal.Context`, so the caller's context never changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import decimal
import re
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

import ccxt.pro as ccxtpro
import structlog
from ccxt.base.errors import BaseError as CcxtError
from ccxt.base.errors import NetworkError as CcxtNetworkError

from mmctl.errors import AuthError, ExchangeError, MmctlError, TransientError
from mmctl.exchange.binance.credentials import Credentials
from mmctl.exchange.binance.errors import IpBanned, classify
from mmctl.exchange.binance.urls import futures_ws_base, rewrite_rest
from mmctl.exchange.binance.usage import UsageFeed, parse_usage

T = TypeVar("T")
log = structlog.get_logger("mmctl.binance")

RECV_WINDOW_MS = 5000
"""Binance's default window for a signed request's timestamp."""

MessageHook = Callable[[str, Any], None]


def ccxt_context() -> contextvars.Context:
    """A copy of the current context whose decimal context is a fresh one, private to ccxt."""
    ctx = contextvars.copy_context()
    ctx.run(decimal.setcontext, decimal.Context())
    return ctx


async def isolated(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` (ccxt code) in its own task with a private decimal context; tasks it starts inherit it."""
    return await asyncio.get_running_loop().create_task(coro, context=ccxt_context())


class _BinanceUsdm(ccxtpro.binanceusdm):  # type: ignore[misc]
    """ccxt's binanceusdm with mmctl's hooks on every REST answer and every WebSocket message."""

    mmctl_on_response: Callable[[int, Mapping[str, str]], None] | None = None
    mmctl_on_message: MessageHook | None = None

    def on_rest_response(
        self,
        code: int,
        reason: str,
        url: str,
        method: str,
        response_headers: Mapping[str, str],
        response_body: str,
        request_headers: Any,
        request_body: Any,
    ) -> str:
        hook = self.mmctl_on_response
        if hook is not None:
            hook(code, response_headers or {})
        return response_body

    def handle_errors(
        self,
        code: int,
        reason: str,
        url: str,
        method: str,
        headers: Mapping[str, str] | None,
        body: str | None,
        response: Any,
        request_headers: Any,
        request_body: Any,
    ) -> None:
        error = classify(code, body, headers or {}, int(time.time() * 1000))
        if error is not None:
            raise error

    def handle_message(self, client: Any, message: Any) -> None:
        hook = self.mmctl_on_message
        if hook is not None:
            try:
                hook(str(client.url), message)
            except Exception:  # the message loop's one error boundary: a bad event must not kill the socket
                log.exception("ws_message_hook_failed", url=str(client.url).split("?")[0])
        super().handle_message(client, message)


class BinanceClient:
    """One ccxt client for one account, configured for mmctl (see the module docstring)."""

    def __init__(
        self,
        credentials: Credentials | None,
        *,
        environment: str = "live",
        rest_url: str = "",
        ws_url: str = "",
        usage: UsageFeed | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.usage = usage if usage is not None else UsageFeed()
        self.environment = environment
        self.banned_until_ms = 0
        self.latency_ms: float | None = None
        self.last_ok_monotonic: float | None = None
        self.last_error: str | None = None
        self.reachable = True  # False after a request got no answer (or a 5xx), until one gets one
        self.requests = 0
        self.failures = 0
        self._ex = _new_ccxt(credentials, environment, rest_url, ws_url, timeout_s)
        self._ex.mmctl_on_response = self._on_response

    @property
    def rest_base(self) -> str:
        """Where signed USDⓈ-M requests go (e.g. `https://demo-fapi.binance.com/fapi/v1`)."""
        return str(self._ex.urls["api"]["fapiPrivate"])

    @property
    def ws_base(self) -> str:
        """The futures WebSocket base ccxt derives `/public`, `/market` and `/private` from."""
        return str(self._ex.urls["api"]["ws"]["linear"])

    # --- REST -----------------------------------------------------------------------------------------

    async def request(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call one implicit endpoint of ccxt's binanceusdm (e.g. `fapiPrivateGetOrder`) and return the
        raw JSON answer."""
        self._check_ban()
        call = getattr(self._ex, endpoint)
        started = time.monotonic()
        self.requests += 1
        try:
            answer = await isolated(call(dict(params or {})))
        except IpBanned as e:
            self.banned_until_ms = max(self.banned_until_ms, e.banned_until_ms)
            self._failed(e)
            raise
        except MmctlError as e:
            self._failed(e)
            raise
        except CcxtNetworkError as e:
            raise self._failed(
                TransientError(f"{endpoint}: no answer from Binance ({type(e).__name__}): outcome unknown")
            ) from e
        except CcxtError as e:
            raise self._failed(ExchangeError(f"{endpoint}: {type(e).__name__}: {one_line(e)}")) from e
        self.latency_ms = (time.monotonic() - started) * 1000
        self.last_ok_monotonic = time.monotonic()
        self.last_error = None
        self.reachable = True
        return answer

    def _failed(self, error: MmctlError) -> MmctlError:
        """Record a failed request: a rejection proves the venue answered; no answer, a 5xx or refused
        credentials make the account unreachable until a request succeeds."""
        self.failures += 1
        if isinstance(error, TransientError | AuthError | IpBanned):
            self.reachable = False
            self.last_error = error.message
        return error

    def _check_ban(self) -> None:
        now = int(time.time() * 1000)
        if now < self.banned_until_ms:
            raise IpBanned(
                "Binance has banned this IP for too many requests; nothing is sent until the ban ends",
                banned_until_ms=self.banned_until_ms,
                retry_after_s=(self.banned_until_ms - now) / 1000,
            )

    def _on_response(self, status: int, headers: Mapping[str, str]) -> None:
        self.usage.feed(parse_usage(headers))

    # --- markets and time -----------------------------------------------------------------------------

    def install_markets(self, raw_symbols: list[Mapping[str, Any]]) -> None:
        """Give ccxt the markets from an exchangeInfo answer already fetched (no second request); the
        websocket methods need them to map ids to symbols."""
        parsed = [self._ex.parse_market(dict(s)) for s in raw_symbols]
        self._ex.set_markets([m for m in parsed if m is not None])

    def unified_symbol(self, venue_id: str) -> str | None:
        """ccxt's unified symbol for a USDⓈ-M venue id, once markets are installed."""
        markets = self._ex.markets_by_id or {}
        for market in markets.get(venue_id) or ():
            if market.get("linear") and market.get("swap"):
                return str(market["symbol"])
        return None

    def set_time_offset(self, offset_ms: int) -> None:
        """Sign requests with local time + `offset_ms` (the venue's clock minus ours)."""
        self._ex.options["timeDifference"] = -offset_ms

    # --- websockets -----------------------------------------------------------------------------------

    def on_message(self, hook: MessageHook | None) -> None:
        """Install the hook that sees every raw WebSocket message (url, message)."""
        self._ex.mmctl_on_message = hook

    async def watch_book_ticker(self, symbol: str, last: Mapping[str, Any] | None) -> Mapping[str, Any]:
        """The raw bookTicker of `symbol` (unified) that follows `last` (the one the caller has); raises
        `TransientError` when the stream fails.

        ccxt resolves a watch only for updates that arrive while it is awaited: one that arrives between
        two calls only lands in its cache. So the cache is checked first, in the same step that arms the
        next watch, and an update newer than `last` is returned from it at once."""
        try:
            info = await isolated(self._next_book_ticker(symbol, last))
        except MmctlError:
            raise
        except CcxtError as e:
            raise TransientError(f"book stream of {symbol}: {type(e).__name__}: {one_line(e)}") from e
        if info is None:
            raise TransientError(f"book stream of {symbol}: no ticker in the update")
        return info

    async def _next_book_ticker(
        self, symbol: str, last: Mapping[str, Any] | None
    ) -> Mapping[str, Any] | None:
        cached = _ticker_info((self._ex.bidsasks or {}).get(symbol))
        if cached is not None and cached is not last and cached.get("u") != (last or {}).get("u"):
            return cached
        tickers = await self._ex.watch_bids_asks([symbol])
        return _ticker_info(tickers.get(symbol) if isinstance(tickers, Mapping) else None)

    def reset_streams(self, kind: str, reason: str) -> int:
        """Drop the WebSocket connections of `kind` ("public" or "private") so that the next watch
        reconnects; returns how many were dropped."""
        dropped = 0
        for url, client in list((self._ex.clients or {}).items()):
            if f"/{kind}" in url:
                client.on_error(CcxtNetworkError(f"mmctl reset the stream: {reason}"))
                dropped += 1
        return dropped

    def forget_listen_key(self) -> None:
        """Make the next user-stream connection create a new listenKey (after `listenKeyExpired`)."""
        options = dict(self._ex.options.get("linear") or {})
        options.update({"listenKey": None, "lastAuthenticatedTime": 0})
        self._ex.options["linear"] = options

    async def run_user_stream(self, on_connected: Callable[[], None]) -> None:
        """Create or reuse the listenKey, connect the user data stream, call `on_connected`, and keep it
        subscribed until it fails: always ends with an exception (`TransientError` for a drop)."""
        try:
            await isolated(self._user_stream(on_connected))
        except MmctlError:
            raise
        except CcxtError as e:
            raise TransientError(f"user data stream: {type(e).__name__}: {one_line(e)}") from e

    async def _user_stream(self, on_connected: Callable[[], None]) -> None:
        self._check_ban()
        await self._ex.authenticate()
        listen_key = (self._ex.options.get("linear") or {}).get("listenKey")
        client = self._ex.client(self._ex.get_private_ws_url("linear", listen_key))
        watching = asyncio.ensure_future(self._ex.watch_orders())
        try:
            await client.connected
            on_connected()
            while True:
                await watching
                watching = asyncio.ensure_future(self._ex.watch_orders())
        finally:
            if not watching.done():
                watching.cancel()
            with contextlib.suppress(BaseException):
                await watching

    async def close(self) -> None:
        with contextlib.suppress(CcxtError, OSError):
            await isolated(self._ex.close())


def _new_ccxt(
    credentials: Credentials | None, environment: str, rest_url: str, ws_url: str, timeout_s: float
) -> _BinanceUsdm:
    config: dict[str, Any] = {
        "enableRateLimit": False,
        "timeout": round(timeout_s * 1000),
        "options": {
            "fetchCurrencies": False,
            "adjustForTimeDifference": False,
            "timeDifference": 0,
            "recvWindow": RECV_WINDOW_MS,
            "warnOnFetchOpenOrdersWithoutSymbol": False,
        },
    }
    if credentials is not None:
        config["apiKey"] = credentials.api_key.reveal()
        config["secret"] = credentials.api_secret.reveal()
    ex = _BinanceUsdm(config)
    if environment == "demo":
        ex.enable_demo_trading(True)
    if rest_url:
        rewrite_rest(ex.urls["api"], rest_url)
    if ws_url:
        ex.urls["api"]["ws"]["linear"] = futures_ws_base(ws_url)
    return ex


def _ticker_info(ticker: Any) -> Mapping[str, Any] | None:
    info = ticker.get("info") if isinstance(ticker, Mapping) else None
    return info if isinstance(info, Mapping) else None


_SENSITIVE = re.compile(r"(listenKey|signature|apiKey|secret)=[^&\s'\"]+", re.IGNORECASE)


def one_line(error: BaseException) -> str:
    """ccxt's message on one line, without listenKeys or signatures from the URLs it quotes."""
    text = _SENSITIVE.sub(lambda m: f"{m.group(1)}=****", " ".join(str(error).split()))
    return text[:300]
