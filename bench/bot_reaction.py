"""Bot reaction time: a book update entering the venue → the bot's first order request leaving it.

Runs N market_maker bots (1, then 100) in one process on the paper venue, spread over the six built-in
symbols with spreads from 5 to 24 bps. Each symbol's book updates every `BOOK_PERIOD_S` of wall time
(Binance's bookTicker for a busy symbol is faster, but most of its updates do not move a 2-bps tolerance),
its mid following a random walk of `STEP_BPS` per update. For every update, each bot on that symbol
that re-quotes is timed from the update to its first place/cancel request. The re-quote floor
(`quote_interval_ms`) is a deliberate throttle, so it is set to its minimum (10 ms) here: the figure is
the machinery's latency, not the throttle's. Prints p50 and p99 per run;
the last line is `reaction_p99_ms_100bots=<n>` (budget: 2 ms, DESIGN.md §7).

Usage: python bench/bot_reaction.py [seconds-per-run]   (default 6)
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from mmctl.bots.account import AccountShared
from mmctl.bots.bot import Bot, BotOptions
from mmctl.bots.definition import BotDefinition
from mmctl.bots.events import EventLog
from mmctl.bots.ids import parse
from mmctl.clock import SystemClock, now_ms
from mmctl.config.schema import PaperAccount
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.model import BookTop, CancelResult, OrderRequest, PlaceResult
from mmctl.strategies.market_maker import MarketMakerParams
from mmctl.strategies.params import parse_params

BOOK_PERIOD_S = 0.1  # per symbol
STEP_BPS = 2.0  # standard deviation of the mid's move per update
SYMBOLS = [
    "BTC/USDT:USDT",
    "ETH/USDT:USDT",
    "SOL/USDT:USDT",
    "BNB/USDT:USDT",
    "XRP/USDT:USDT",
    "DOGE/USDT:USDT",
]
MIDS = {"BTC": "50000", "ETH": "3000", "SOL": "150", "BNB": "600", "XRP": "0.6", "DOGE": "0.15"}


class TimedExchange(PaperExchange):
    """The paper exchange, stamping when each symbol's book last changed and when each bot's request left."""

    book_at: dict[str, float]
    pending: dict[str, set[str]]
    samples: list[float]

    def stamp_book(self, top: BookTop, bots: Sequence[str]) -> None:
        self.book_at[top.symbol] = time.perf_counter()
        self.pending[top.symbol] = set(bots)
        self.venue.on_book(top)

    def _record(self, symbol: str, client_order_id: str) -> None:
        own = parse(client_order_id)
        waiting = self.pending.get(symbol)
        if own is not None and waiting is not None and own.bot in waiting:
            waiting.discard(own.bot)
            self.samples.append((time.perf_counter() - self.book_at[symbol]) * 1000)

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
        if requests:
            self._record(requests[0].symbol, requests[0].client_order_id)
        return await super().place_orders(requests)

    async def cancel_orders(self, symbol: str, client_order_ids: Sequence[str]) -> list[CancelResult]:
        if client_order_ids:
            self._record(self.market(symbol).symbol, client_order_ids[0])
        return await super().cancel_orders(symbol, client_order_ids)


async def run(n_bots: int, seconds: float) -> list[float]:
    clock = SystemClock()
    base = PaperExchange.from_settings("bench", PaperAccount(balance=Decimal(10_000_000)), clock)
    ex = TimedExchange("bench", base.venue, clock)
    ex.book_at, ex.pending, ex.samples = {}, {}, []
    await ex.load_markets()
    rng = random.Random(1)
    mids = {s: Decimal(MIDS[s.split("/")[0]]) for s in SYMBOLS}

    def push(symbol: str, bots: Sequence[str]) -> None:
        rules = ex.market(symbol)
        move = Decimal(repr(round(rng.gauss(0, STEP_BPS), 3))) / 10_000
        mid = mids[symbol] = mids[symbol] * (1 + move)
        bid = (mid - rules.tick_size).quantize(rules.tick_size)
        top = BookTop(symbol, bid, Decimal(5), bid + rules.tick_size, Decimal(5), now_ms(clock))
        ex.stamp_book(top, bots)

    events = EventLog(clock, capacity=1000)
    shared = AccountShared(ex, clock)
    bots: list[Bot] = []
    by_symbol: dict[str, list[str]] = {s: [] for s in SYMBOLS}
    for i in range(n_bots):
        symbol = SYMBOLS[i % len(SYMBOLS)]
        params: Any = parse_params(
            MarketMakerParams, {"levels": "3", "spread_bps": str(5 + i % 20), "quote_interval_ms": "10"}
        )
        definition = BotDefinition(f"b{i}", "bench", symbol, "market_maker", params)
        bots.append(Bot(definition, ex, clock, events, BotOptions(), shared))
        by_symbol[symbol].append(f"b{i}")
    for s in SYMBOLS:
        push(s, [])
    for bot in bots:
        await bot.start()
    await asyncio.sleep(0.5)
    ex.samples.clear()
    end = time.monotonic() + seconds
    k = 0
    symbols = SYMBOLS if n_bots > 1 else SYMBOLS[:1]
    while time.monotonic() < end:
        symbol = symbols[k % len(symbols)]
        push(symbol, by_symbol[symbol])
        k += 1
        await asyncio.sleep(BOOK_PERIOD_S / len(symbols))
    ex.pending.clear()  # the stop's cancels are not reactions
    for bot in bots:
        await bot.stop()
    await ex.close()
    return ex.samples


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 6.0
    p99 = {}
    for n in (1, 100):
        samples = asyncio.run(run(n, seconds))
        p99[n] = pct(samples, 0.99)
        print(
            f"bots={n} reactions={len(samples)} p50_ms={statistics.median(samples):.3f} "
            f"p99_ms={p99[n]:.3f} max_ms={max(samples):.3f}"
        )
    print(f"reaction_p99_ms_1bot={p99[1]:.3f}")
    print(f"reaction_p99_ms_100bots={p99[100]:.3f}")


if __name__ == "__main__":
    main()
