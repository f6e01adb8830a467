"""Binance USDⓈ-M public market data as a paper venue's `LiveFeed` (`[accounts.X] market = "live"`).

`BinancePublicFeed(markets, clock, rest_url=..., ws_url=...)` needs no API keys. Its `stream()` opens its
own keyless ccxt client (through `PublicMarketClient`, a `BinanceClient` that can also watch aggregate
trades), reads exchangeInfo once (retried with backoff while Binance cannot be reached; a paper market
that Binance does not list as a trading USDⓈ-M perpetual ends the stream with `VenueUnavailable`), then
yields, as they arrive and stamped with Binance's event times:
- `BookTop`s from each symbol's `<symbol>@bookTicker` stream through `BookStreams` (the adapter's own
  top-of-book loop: primed from REST, reconnect with backoff and REST tops meanwhile, a socket quiet for
  `book_quiet_s` while REST knows a newer top is dropped and re-opened);
- `Trade`s from each symbol's `<symbol>@aggTrade` stream: every raw aggTrade message is taken from the
  client's message hook (so none is lost between two watches, and prices stay Binance's strings), the
  taker side from `m` (buyer is maker → a SELL taker), duplicates (aggregate id not above the last one)
  dropped. One task per symbol keeps the subscription alive and reconnects with backoff when it fails.
When the consumer stops iterating (the paper driver is cancelled) every task and the client are closed.
When the data stops, nothing is yielded: the paper venue's clock stays at the last event and bots' stale
data guards (which watch arrival times on the daemon's clock) pull their quotes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import structlog

from mmctl.clock import Clock
from mmctl.errors import MmctlError, VenueUnavailable
from mmctl.exchange.binance.adapter import BinanceClient, isolated, one_line
from mmctl.exchange.binance.convert import dec, ms
from mmctl.exchange.binance.markets import MarketIndex
from mmctl.exchange.binance.reconnect import backoff, keep_watching, stop_tasks
from mmctl.exchange.binance.streams import BookStreams
from mmctl.exchange.fanout import BookWatch
from mmctl.model import BookTop, MarketRules, Side, Trade

log = structlog.get_logger("mmctl.binance.public")

TRADES_KEPT = 100
"""ccxt's per-symbol trade cache (it defaults to 1000); mmctl reads trades from the raw messages."""

LiveEvent = BookTop | Trade


class PublicMarketClient(BinanceClient):
    """A keyless `BinanceClient` for public market data that can also watch aggregate-trade streams."""

    def __init__(self, *, rest_url: str = "", ws_url: str = "", timeout_s: float = 10.0) -> None:
        super().__init__(None, rest_url=rest_url, ws_url=ws_url, timeout_s=timeout_s)
        self._ex.options["tradesLimit"] = TRADES_KEPT

    async def watch_agg_trades(self, symbol: str) -> None:
        """Wait for the next aggTrade update of `symbol` (unified), subscribing or reconnecting first as
        needed; raises when the stream fails. The raw messages themselves reach the message hook."""
        params = {"name": "aggTrade"}
        await isolated(self._ex.watch_trades_for_symbols([symbol], None, None, params))


class BinancePublicFeed:
    """Live book tops and trades of `markets` from Binance USDⓈ-M (see the module docstring)."""

    def __init__(
        self,
        markets: Sequence[MarketRules],
        clock: Clock,
        *,
        rest_url: str = "",
        ws_url: str = "",
        timeout_s: float = 10.0,
        book_quiet_s: float = 15.0,
    ) -> None:
        if not markets:
            raise ValueError("a live feed needs at least one market")
        self.markets = list(markets)
        self.clock = clock
        self.rest_url = rest_url
        self.ws_url = ws_url
        self.timeout_s = timeout_s
        self.book_quiet_s = book_quiet_s
        self.status = "idle"  # idle → connecting → streaming → closed (not `state`: see ResumableFeed)
        self.last_error: str | None = None
        self.trade_reconnects = 0
        self.books: BookStreams | None = None  # while streaming: per-symbol book states and age
        self._symbol_by_id = {r.id: r.symbol for r in self.markets}
        self._id_by_ccxt: dict[str, str] = {}  # ccxt's unified symbol → venue id, once markets are in
        self._last_agg_id: dict[str, int] = {}
        self._queue: asyncio.Queue[LiveEvent] | None = None

    @property
    def name(self) -> str:
        return f"binance live ({self.ws_url or 'Binance'})"

    async def stream(self) -> AsyncIterator[LiveEvent]:
        """Book tops and trades as they arrive, until the consumer stops (see the module docstring)."""
        if self._queue is not None:
            raise RuntimeError("a live feed streams to one consumer at a time")
        queue: asyncio.Queue[LiveEvent] = asyncio.Queue()
        self._queue = queue
        client = PublicMarketClient(rest_url=self.rest_url, ws_url=self.ws_url, timeout_s=self.timeout_s)
        tasks: list[asyncio.Task[None]] = []
        try:
            self.status = "connecting"
            ccxt_symbols = await self._install_markets(client)
            client.on_message(self._on_message)
            books = self.books = BookStreams(
                client, lambda s: self._rest_ticker(client, s), self.clock, quiet_s=self.book_quiet_s
            )
            loop = asyncio.get_running_loop()
            for rules in self.markets:
                ccxt_symbol = ccxt_symbols[rules.id]
                watch = books.watch(ccxt_symbol)
                tasks.append(loop.create_task(_pump_books(watch, rules.symbol, queue), name="live-books"))
                tasks.append(loop.create_task(self._keep_trades(client, ccxt_symbol), name="live-trades"))
            self.status = "streaming"
            while True:
                yield await queue.get()
        finally:
            self.status = "closed"
            self._queue = None
            client.on_message(None)
            await stop_tasks(tasks)
            if self.books is not None:
                await self.books.close()
                self.books = None
            await client.close()

    # --- markets --------------------------------------------------------------------------------------

    async def _install_markets(self, client: PublicMarketClient) -> dict[str, str]:
        """exchangeInfo into the client (retried while it fails); ccxt's unified symbol by venue id."""
        attempt = 0
        while True:
            try:
                info = await client.request("fapiPublicGetExchangeInfo")
                break
            except MmctlError as e:  # Binance unreachable or refusing: the feed waits and tries again
                self.last_error = f"exchangeInfo: {e.message}"
                log.warning("live_feed_markets_failed", error=e.message, attempt=attempt + 1)
                await self.clock.sleep(backoff(attempt))
                attempt += 1
        index = MarketIndex.build(info if isinstance(info, Mapping) else {}, [])
        missing = [r.id for r in self.markets if r.id not in index.by_id]
        if missing:
            where = self.rest_url or "Binance"
            raise VenueUnavailable(
                f"{', '.join(missing)}: not a trading USDⓈ-M perpetual at {where}; remove it from the "
                "paper account's symbols"
            )
        client.install_markets([index.raw[index.by_id[r.id]] for r in self.markets])
        out: dict[str, str] = {}
        for rules in self.markets:
            unified = client.unified_symbol(rules.id)
            if unified is None:
                raise VenueUnavailable(f"{rules.id}: ccxt does not list it as a USDⓈ-M perpetual")
            out[rules.id] = unified
        self._id_by_ccxt = {unified: venue_id for venue_id, unified in out.items()}
        return out

    async def _rest_ticker(self, client: PublicMarketClient, ccxt_symbol: str) -> Mapping[str, Any]:
        venue_id = self._id_by_ccxt[ccxt_symbol]
        answer = await client.request("fapiPublicGetTickerBookTicker", {"symbol": venue_id})
        return answer if isinstance(answer, Mapping) else {}

    # --- trades ---------------------------------------------------------------------------------------

    def _on_message(self, url: str, message: Any) -> None:
        """Every raw WebSocket message of the client: aggTrades become `Trade`s on the queue."""
        data = message.get("data", message) if isinstance(message, Mapping) else None
        if not isinstance(data, Mapping) or data.get("e") != "aggTrade":
            return
        symbol = self._symbol_by_id.get(str(data.get("s")))
        queue = self._queue
        if symbol is None or queue is None:
            return
        agg_id = int(data["a"])
        if agg_id <= self._last_agg_id.get(symbol, -1):
            return
        self._last_agg_id[symbol] = agg_id
        side = Side.SELL if data.get("m") is True else Side.BUY  # the buyer was the maker: a taker sold
        queue.put_nowait(Trade(symbol, dec(data["p"]), dec(data["q"]), side, ms(data["T"])))

    async def _keep_trades(self, client: PublicMarketClient, ccxt_symbol: str) -> None:
        """Keep `ccxt_symbol`'s aggTrade subscription alive; reconnect with backoff when it fails."""

        async def watch(progress: Callable[[], None]) -> None:
            await client.watch_agg_trades(ccxt_symbol)
            progress()

        async def failed(e: Exception) -> None:
            self.trade_reconnects += 1
            self.last_error = f"trade stream of {ccxt_symbol}: {one_line(e)}"
            log.warning("live_trade_stream_failed", symbol=ccxt_symbol, error=one_line(e))

        await keep_watching(watch, failed, self.clock, lambda: True)


async def _pump_books(watch: BookWatch, symbol: str, queue: asyncio.Queue[LiveEvent]) -> None:
    """Each top of one symbol's book watch onto the queue, named as the paper venue names the market."""
    async for top in watch:
        queue.put_nowait(top if top.symbol == symbol else replace(top, symbol=symbol))
