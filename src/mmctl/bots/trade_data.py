"""One public-trade subscription per symbol, shared by every bot whose strategy reads trades.

`TradeHub(exchange)` (the market-data hub's `trades`, `mmctl.bots.market_data`) holds exactly one
upstream `exchange.watch_trades(symbol)` per symbol while at least one subscriber wants it (started by
the first `subscribe`, stopped when the last subscription closes) and hands each trade, in order, to every
subscriber of the symbol by calling its `on_trade(trade)` synchronously, from the one task that reads the
upstream: a callback must be cheap (a strategy's signals update their estimators and return). Trades are
never conflated; the upstream's bounded buffer (`mmctl.exchange.trade_stream`) only drops trades if this
task falls more than a buffer behind, and `dropped()` reports (and the log warns about) any it lost.

A callback that raises ends its own subscription with that error (`wait_closed()` raises it) and the
others go on. If the upstream ends, every subscription of the symbol ends; if it fails, each raises (a
copy of) the error from `wait_closed()`. The next `subscribe` starts a fresh upstream. Subscriptions are
held strongly: close them (`aclose()` or `async with`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mmctl.bots.upstreams import Subscriber, Upstream, Upstreams
from mmctl.clock import Clock, SystemClock
from mmctl.exchange.base import Exchange, TradeStream
from mmctl.model import Trade

log = logging.getLogger(__name__)

TradeCallback = Callable[[Trade], None]
DROP_LOG_INTERVAL_S = 60.0
"""At most one warning per symbol this often (hub clock seconds) while trades are being dropped."""


class TradeSubscription(Subscriber):
    """One subscriber's share of a symbol's public trades, delivered through `on_trade`."""

    def __init__(self, hub: TradeHub, symbol: str, on_trade: TradeCallback) -> None:
        super().__init__(hub._upstreams, symbol)
        self.on_trade = on_trade


class _Upstream(Upstream[TradeStream, TradeSubscription]):
    """The hub's one `watch_trades` stream of a symbol and the subscribers it feeds."""

    def __init__(self, symbol: str, stream: TradeStream) -> None:
        super().__init__(symbol, stream)
        self.dropped = 0  # the stream's `dropped` when last looked at
        self.warned_at: float | None = None


class TradeHub:
    """Shared public-trade subscriptions over one `Exchange` (see the module docstring)."""

    def __init__(self, exchange: Exchange, clock: Clock | None = None) -> None:
        self.exchange = exchange
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._upstreams: Upstreams[_Upstream] = Upstreams("trades", self._pump)
        self._dropped: dict[str, int] = {}  # trades lost per symbol, over every upstream so far

    def subscribe(self, symbol: str, on_trade: TradeCallback) -> TradeSubscription:
        """Call `on_trade` with every public trade of `symbol` (either form; `UnknownSymbol` if the
        exchange has no such market) from now on, in order."""
        unified = self.exchange.market(symbol).symbol
        sub = TradeSubscription(self, unified, on_trade)
        if self._upstreams.closed:
            sub._end(None)
            return sub
        upstream = self._upstreams.get(unified)
        if upstream is None:
            upstream = self._start(unified)
        upstream.subscribers[sub] = None
        return sub

    def subscriptions(self) -> dict[str, int]:
        """Open subscriptions per unified symbol."""
        return self._upstreams.subscriptions()

    def upstream_count(self) -> int:
        """How many `watch_trades` streams the hub holds open."""
        return len(self._upstreams)

    def dropped(self) -> dict[str, int]:
        """Trades lost per symbol because the hub fell a whole buffer behind (none in normal running)."""
        for upstream in self._upstreams:
            self._count_drops(upstream)
        return {s: n for s, n in sorted(self._dropped.items()) if n}

    async def aclose(self) -> None:
        """End every subscription and stop every upstream; later subscriptions end at once."""
        await self._upstreams.aclose()

    # --- machinery ----------------------------------------------------------------------------------

    def _start(self, symbol: str) -> _Upstream:
        return self._upstreams.start(_Upstream(symbol, self.exchange.watch_trades(symbol)))

    async def _pump(self, upstream: _Upstream) -> None:
        error: Exception | None = None
        stream, subscribers = upstream.stream, upstream.subscribers
        try:
            async for trade in stream:
                failed: list[tuple[TradeSubscription, Exception]] | None = None
                for sub in subscribers:
                    try:
                        sub.on_trade(trade)
                    except Exception as e:  # a subscriber's callback (a strategy's signals): its own end
                        failed = [*(failed or ()), (sub, e)]
                for sub, why in failed or ():
                    del subscribers[sub]
                    sub._end(why)
                if stream.dropped != upstream.dropped:
                    self._count_drops(upstream)
                if not subscribers:
                    break
        except Exception as e:  # handed to every subscriber, which raises it
            error = e
        self._count_drops(upstream)
        await self._upstreams.ended(upstream, error)

    def _count_drops(self, upstream: _Upstream) -> None:
        dropped = upstream.stream.dropped
        new = dropped - upstream.dropped
        if new <= 0:
            return
        upstream.dropped = dropped
        total = self._dropped[upstream.symbol] = self._dropped.get(upstream.symbol, 0) + new
        now = self.clock.monotonic()
        if upstream.warned_at is None or now - upstream.warned_at >= DROP_LOG_INTERVAL_S:
            upstream.warned_at = now
            log.warning(
                "public trades of %s dropped: the hub fell behind (%d lost so far)", upstream.symbol, total
            )
