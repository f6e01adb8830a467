"""Bot reaction time: a book update reaching the daemon → the bot's first order request leaving it.

Budget (the product's, also in README.md, Development; issue 8): p99 <= 1 ms with 100 bots in one daemon.

Two cases, each in a fresh event loop on the paper venue, each until it has `--samples` reactions (1000):
- 100 bots (`--bots`): market_maker bots spread over the six built-in symbols (about 17 per symbol) with
  spreads from 5 to 24 bps and the default refresh tolerance (5 bps). Each symbol's book moves every
  `BOOK_PERIOD_S` (0.1 s), its mid a random walk of `STEP_BPS` (2 bps, normal) per update, rounded to the
  tick grid. Most updates move no bot's quotes beyond its tolerance: those cost a comparison in the
  market-data hub and wake nobody. When the drift does pass the tolerance it passes it for every bot of
  the symbol that quoted at the same time, so up to ~17 bots react to one update one after the other:
  the p99 is the last of them.
- 1 bot: one BTC bot (spread 20 bps); its book jumps 8 bps up and down every `JUMP_PERIOD_S` (12 ms),
  so every update is a reaction and none fills it (the reactions of the 100-bot case come too rarely
  for one bot to collect 1000).
A reaction is timed from the book leaving the venue for the daemon's book stream (the paper venue's book
hook: on Binance, the websocket message arriving) to the bot's first place, amend or cancel request. The
paper venue first matches the resting orders the new book crosses; that is the simulated exchange's work
(on Binance it happens on the exchange), so it is not counted; the figures counted from the book entering
the venue are printed too, on the lines marked "from the venue's entry". The
re-quote floor (`quote_interval_ms`) is a deliberate throttle, so it is set to its minimum (10 ms) and
updates come slower than that: the figure is the machinery's latency, not the throttle's. Once the bots
have started, the bench tunes the garbage collector as the daemon does after its start-up
(`mmctl.tuning.tune_gc` and `FullCollections`).

The floor, measured in the same process: one asyncio task wake-up (an Event set, the waiting task
resumes) plus building and encoding one 3-order batch (post-only requests from quotes, as the JSON of
Binance's `batchOrders` parameter), `--samples` times. `floor_ms` is its median: a machine-speed
reference (a loaded machine shows in both figures).

Usage: python bench/bot_reaction.py [--samples 1000] [--bots 100] [--max-seconds 120]
The last line is `reaction_p99_ms_100bots=<n> reaction_p99_ms_1bot=<n> floor_ms=<n> samples=<n>`, where
`samples` is the smallest sample count of the three measurements.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from mmctl.bots.account import AccountShared
from mmctl.bots.bot import Bot, BotOptions
from mmctl.bots.definition import BotDefinition
from mmctl.bots.events import EventLog
from mmctl.bots.ids import parse
from mmctl.clock import SystemClock, now_ms
from mmctl.config.schema import PaperAccount
from mmctl.exchange.fanout import BookWatch
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.model import Amend, AmendResult, BookTop, CancelResult, OrderRequest, PlaceResult, Side
from mmctl.strategies.base import Quote
from mmctl.strategies.market_maker import MarketMakerParams
from mmctl.strategies.params import parse_params
from mmctl.tuning import FullCollections, tune_gc

BOOK_PERIOD_S = 0.1  # per symbol, 100-bot case
STEP_BPS = 2.0  # standard deviation of the mid's move per update, 100-bot case
JUMP_PERIOD_S = 0.012  # 1-bot case: just above the 10 ms re-quote floor
JUMP_BPS = 8  # 1-bot case: beyond the default 5-bps tolerance, each way
JUMP_SPREAD_BPS = 20  # 1-bot case: wider than the jump, so the jumps fill nothing
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
    """The paper exchange, stamping when each symbol's book last changed (entering the venue, and leaving
    it for the daemon's book stream) and when each bot's first request (place, amend or cancel) after it
    left."""

    book_at: dict[str, float]  # the book left the venue for the daemon (the reaction's start)
    entered_at: dict[str, float]  # the book entered the venue (before the venue's own matching)
    stamping: dict[str, Callable[[BookTop], None]]  # the hook installed per symbol
    pending: dict[str, set[str]]
    samples: list[float]
    from_entry: list[float]

    def stamp_book(self, top: BookTop, bots: Sequence[str]) -> None:
        self.entered_at[top.symbol] = time.perf_counter()
        self.pending[top.symbol] = set(bots)
        self.venue.on_book(top)

    def watch_book(self, symbol: str) -> BookWatch:
        watch = super().watch_book(symbol)
        state = self.venue.state(symbol)
        deliver = state.book_hook
        if deliver is not None and deliver is not self.stamping.get(state.symbol):  # a fresh venue hook
            book_at = self.book_at

            def stamped(top: BookTop) -> None:
                book_at[top.symbol] = time.perf_counter()
                deliver(top)

            self.stamping[state.symbol] = stamped
            self.venue.set_book_hook(state.symbol, stamped)
        return watch

    def _record(self, symbol: str, client_order_id: str) -> None:
        sent = time.perf_counter()  # before this bench's own bookkeeping
        waiting = self.pending.get(symbol)
        if not waiting:
            return
        own = parse(client_order_id)
        if own is not None and own.bot in waiting:
            waiting.discard(own.bot)
            self.samples.append((sent - self.book_at[symbol]) * 1000)
            self.from_entry.append((sent - self.entered_at[symbol]) * 1000)

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
        if requests:
            self._record(requests[0].symbol, requests[0].client_order_id)
        return await super().place_orders(requests)

    async def cancel_orders(self, symbol: str, client_order_ids: Sequence[str]) -> list[CancelResult]:
        if client_order_ids:
            self._record(self.market(symbol).symbol, client_order_ids[0])
        return await super().cancel_orders(symbol, client_order_ids)

    async def amend_orders(self, symbol: str, amends: Sequence[Amend]) -> list[AmendResult]:
        if amends:
            self._record(self.market(symbol).symbol, amends[0].client_order_id)
        return await super().amend_orders(symbol, amends)


def on_grid(price: Decimal, tick: Decimal) -> Decimal:
    """`price` rounded to the nearest multiple of `tick`."""
    return (price / tick).to_integral_value(rounding=ROUND_HALF_EVEN) * tick


async def run(n_bots: int, want: int, max_seconds: float) -> tuple[list[float], list[float]]:
    """Reaction times (ms) of `n_bots` bots until `want` of them are collected (or `max_seconds`): from
    the book leaving the venue, and from it entering the venue (the venue's own matching included)."""
    clock = SystemClock()
    base = PaperExchange.from_settings("bench", PaperAccount(balance=Decimal(10_000_000)), clock)
    ex = TimedExchange("bench", base.venue, clock)
    ex.book_at, ex.entered_at, ex.stamping, ex.pending, ex.samples, ex.from_entry = {}, {}, {}, {}, [], []
    await ex.load_markets()
    rng = random.Random(1)
    mids = {s: Decimal(MIDS[s.split("/")[0]]) for s in SYMBOLS}

    def push(symbol: str, mid: Decimal, bots: Sequence[str]) -> None:
        tick = ex.market(symbol).tick_size
        bid = on_grid(mid, tick) - tick
        top = BookTop(symbol, bid, Decimal(5), bid + tick, Decimal(5), now_ms(clock))
        ex.stamp_book(top, bots)

    shared = AccountShared(ex, clock)
    events = EventLog(clock, capacity=1000)
    bots: list[Bot] = []
    by_symbol: dict[str, list[str]] = {s: [] for s in SYMBOLS}
    for i in range(n_bots):
        symbol = SYMBOLS[i % len(SYMBOLS)]
        spread = JUMP_SPREAD_BPS if n_bots == 1 else 5 + i % 20
        params: Any = parse_params(
            MarketMakerParams, {"levels": "3", "spread_bps": str(spread), "quote_interval_ms": "10"}
        )
        definition = BotDefinition(f"b{i}", "bench", symbol, "market_maker", params)
        bots.append(Bot(definition, ex, clock, events, BotOptions(), shared))
        by_symbol[symbol].append(f"b{i}")
    for s in SYMBOLS:
        push(s, mids[s], [])
    for bot in bots:
        await bot.start()
    await asyncio.sleep(0.5)
    tune_gc()  # start-up done, as the daemon does it
    full_collections = FullCollections()
    full_collections.install()
    ex.samples.clear()
    ex.from_entry.clear()
    deadline = time.monotonic() + max_seconds
    k = 0
    while len(ex.samples) < want and time.monotonic() < deadline:
        if n_bots == 1:  # a jump beyond the tolerance, alternately up and down
            symbol = SYMBOLS[0]
            sign = 1 if k % 2 == 0 else -1
            push(symbol, mids[symbol] * (1 + Decimal(sign * JUMP_BPS) / 10_000), by_symbol[symbol])
            await asyncio.sleep(JUMP_PERIOD_S)
        else:
            symbol = SYMBOLS[k % len(SYMBOLS)]
            move = Decimal(repr(round(rng.gauss(0, STEP_BPS), 3))) / 10_000
            mids[symbol] = mids[symbol] * (1 + move)
            push(symbol, mids[symbol], by_symbol[symbol])
            await asyncio.sleep(BOOK_PERIOD_S / len(SYMBOLS))
        k += 1
    full_collections.uninstall()
    ex.pending.clear()  # the stop's cancels are not reactions
    for bot in bots:
        await bot.stop()
    await ex.close()
    return ex.samples, ex.from_entry


def encode_batch(quotes: Sequence[Quote], symbol: str, ids: Sequence[str]) -> bytes:
    """A batch of quotes as the `batchOrders` parameter of Binance's `POST /fapi/v1/batchOrders`."""
    orders = []
    for quote, cid in zip(quotes, ids, strict=True):
        req = quote.to_request(symbol, cid)
        orders.append(
            {
                "symbol": "BTCUSDT",
                "side": req.side.value.upper(),
                "type": "LIMIT",
                "timeInForce": "GTX",
                "quantity": format(req.qty, "f"),
                "price": format(req.price, "f") if req.price is not None else "",
                "newClientOrderId": req.client_order_id,
            }
        )
    return json.dumps(orders, separators=(",", ":")).encode()


async def floor(want: int) -> list[float]:
    """`want` times: one task wake-up plus encoding one 3-order batch, in ms."""
    quotes = [Quote(Side.BUY, n, Decimal("49990.0") - n, Decimal("0.002")) for n in range(3)]
    ids = [f"mm.b0.b{n}.00000000{n}" for n in range(3)]
    event = asyncio.Event()
    out: list[float] = []
    started = 0.0

    async def waiter() -> None:
        while True:
            await event.wait()
            event.clear()
            encode_batch(quotes, "BTC/USDT:USDT", ids)
            out.append((time.perf_counter() - started) * 1000)

    task = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    while len(out) < want:
        started = time.perf_counter()
        event.set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    task.cancel()
    return out


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(label: str, samples: list[float]) -> None:
    print(
        f"{label} samples={len(samples)} p50_ms={statistics.median(samples):.3f} "
        f"p99_ms={pct(samples, 0.99):.3f} max_ms={max(samples):.3f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000, help="reactions to collect per case")
    parser.add_argument("--bots", type=int, default=100, help="bots in the many-bot case")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="give up a case after this long")
    args = parser.parse_args()
    base = asyncio.run(floor(args.samples))
    report("floor", base)
    results: dict[str, list[float]] = {}
    for label, n_bots in (("bots=1", 1), (f"bots={args.bots}", args.bots)):
        samples, from_entry = asyncio.run(run(n_bots, args.samples, args.max_seconds))
        results[label] = samples
        report(label, samples)
        report(f"{label} from the venue's entry (its matching included)", from_entry)
    many, one = results[f"bots={args.bots}"], results["bots=1"]
    print(
        f"reaction_p99_ms_100bots={pct(many, 0.99):.3f} reaction_p99_ms_1bot={pct(one, 0.99):.3f} "
        f"floor_ms={statistics.median(base):.4f} samples={min(len(many), len(one), len(base))}"
    )


if __name__ == "__main__":
    main()
