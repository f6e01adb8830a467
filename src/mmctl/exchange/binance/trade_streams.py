"""Public trades of a Binance USDⓈ-M account: what `BinanceExchange.watch_trades` serves.

`TradeStreams` runs one task per watched symbol that keeps its `<symbol>@aggTrade` subscription alive
(ccxt's `watch_trades` with `name=aggTrade`, on a keyless public client opened at the first watch) and
reconnects with backoff when it fails (`reconnect.keep_watching`, the book streams' loop too), sleeping on
the injected `Clock`; the loop has one error boundary, around one iteration. Every raw aggTrade message
is taken from the client's message hook (none is lost between two watches, prices stay Binance's
strings), converted by `agg_trade`, deduplicated by aggregate id, and published to every subscriber of
the symbol, each in order through its own bounded buffer (`mmctl.exchange.trade_stream`). Trades
published while the socket is down are not replayed: `gaps()` counts the aggregate ids skipped (Binance
numbers each symbol's aggregate trades consecutively).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import structlog

from mmctl.clock import Clock
from mmctl.exchange.binance.convert import ConversionError, dec, ms
from mmctl.exchange.binance.reconnect import keep_watching, stop_tasks
from mmctl.exchange.trade_stream import TradeFanout, TradeWatch
from mmctl.model import Side, Trade

log = structlog.get_logger("mmctl.binance")


def agg_trade(data: Mapping[str, Any], symbol: str) -> Trade:
    """A raw aggTrade event as a `Trade` of `symbol` (unified), from Binance's strings: the taker side
    from `m` (the buyer was the maker: a taker sold), the time from `T` (the trade's own time)."""
    side = Side.SELL if data.get("m") is True else Side.BUY
    return Trade(symbol, dec(data["p"]), dec(data["q"]), side, ms(data["T"]))


MessageHook = Callable[[str, Any], None]


class TradeSource(Protocol):
    """A public-data client that can keep aggTrade subscriptions (`public_feed.PublicMarketClient`)."""

    def on_message(self, hook: MessageHook | None) -> None: ...

    def install_markets(self, raw_symbols: list[Mapping[str, Any]]) -> None: ...

    async def watch_agg_trades(self, symbol: str) -> None:
        """Wait for the next aggTrade update of `symbol` (subscribing or reconnecting first)."""
        ...

    async def close(self) -> None: ...


class _SymbolTrades:
    def __init__(self, symbol: str) -> None:
        self.symbol = symbol  # unified
        self.last_id: int | None = None  # the last aggregate trade id published
        self.task: asyncio.Task[None] | None = None
        self.state = "starting"
        self.reconnects = 0
        self.gaps = 0  # aggregate ids skipped between two published trades


class TradeStreams:
    """Public trades for every watched symbol (see the module docstring).

    `open_source()` makes the client at the first watch; `raw_market(symbol)` is a symbol's raw
    exchangeInfo entry (ccxt needs the markets it watches installed)."""

    def __init__(
        self,
        open_source: Callable[[], TradeSource],
        raw_market: Callable[[str], Mapping[str, Any]],
        clock: Clock,
    ) -> None:
        self.open_source = open_source
        self.raw_market = raw_market
        self.clock = clock
        self.fanout = TradeFanout()
        self._source: TradeSource | None = None
        self._by_id: dict[str, _SymbolTrades] = {}  # venue id → state
        self._closed = False

    def watch(self, symbol: str, venue_id: str) -> TradeWatch:
        """Every trade of `symbol` (unified; `venue_id` is Binance's name) from now on, in order."""
        watch = self.fanout.watch(symbol)
        if self._closed or venue_id in self._by_id:
            return watch
        trades = self._by_id[venue_id] = _SymbolTrades(symbol)
        source = self._source
        if source is None:
            source = self._source = self.open_source()
            source.on_message(self.on_message)
        source.install_markets([self.raw_market(t.symbol) for t in self._by_id.values()])
        trades.task = asyncio.get_running_loop().create_task(
            self._keep(source, trades), name=f"trades-{symbol}"
        )
        return watch

    def states(self) -> dict[str, str]:
        """Each watched symbol's stream state (starting, streaming, reconnecting)."""
        return {t.symbol: t.state for t in sorted(self._by_id.values(), key=lambda t: t.symbol)}

    def gaps(self) -> dict[str, int]:
        """Aggregate trade ids skipped per watched symbol (trades missed while a socket was down)."""
        return {t.symbol: t.gaps for t in sorted(self._by_id.values(), key=lambda t: t.symbol)}

    def on_message(self, url: str, message: Any) -> None:
        """Every raw WebSocket message of the source: aggTrades of watched symbols are published."""
        data = message.get("data", message) if isinstance(message, Mapping) else None
        if not isinstance(data, Mapping) or data.get("e") != "aggTrade":
            return
        trades = self._by_id.get(str(data.get("s")))
        if trades is None:
            return
        try:
            agg_id = int(data["a"])
            trade = agg_trade(data, trades.symbol)
        except (KeyError, TypeError, ValueError, ConversionError) as e:
            log.warning("agg_trade_unreadable", symbol=trades.symbol, error=str(e))
            return
        last = trades.last_id
        if last is not None:
            if agg_id <= last:
                return  # already published (a resubscription may repeat the latest)
            trades.gaps += agg_id - last - 1
        trades.last_id = agg_id
        trades.state = "streaming"
        self.fanout.publish(trade)

    async def close(self) -> None:
        self._closed = True
        await stop_tasks(t.task for t in self._by_id.values() if t.task is not None)
        self.fanout.close()
        source, self._source = self._source, None
        if source is not None:
            source.on_message(None)
            await source.close()

    async def _keep(self, source: TradeSource, trades: _SymbolTrades) -> None:
        """Keep the symbol's aggTrade subscription alive; reconnect with backoff when it fails."""

        async def watch(progress: Callable[[], None]) -> None:
            await source.watch_agg_trades(trades.symbol)
            progress()

        async def failed(e: Exception) -> None:
            trades.state = "reconnecting"
            trades.reconnects += 1
            log.warning("trade_stream_failed", symbol=trades.symbol, error=str(e))

        await keep_watching(watch, failed, self.clock, lambda: not self._closed)
