"""Paper matching-engine throughput: book and trade events per second through `PaperVenue`.

Ten resting orders per side on BTCUSDT, a pre-generated stream of book tops jittering around the mid and
public trades reaching random depths, about 1% of which fill one of our quotes (the quotes are topped up
between chunks of events, as a bot would). Event generation is not timed. Budget (the product's,
also listed in README.md, Development): >= 1,000,000 events/s per core. Prints a reference figure
(empty Python calls per second, measured in the same run).

Also the cost of order entry on the book of a 100-bot daemon (no budget of its own: it is part of the
bot reaction time, `bench/bot_reaction.py`): 100 bots over the six built-in symbols, three post-only
quotes a side each (600 resting orders, a position on every symbol so that the margin check has
unrealized PnL to add up); each step one bot re-quotes one side, cancelling its three orders and placing
three new ones. Every place and cancel is timed on its own; medians over `ENTRY_STEPS` steps.

The last line is `paper_events_per_s=<n> place_us=<median> cancel_us=<median>`.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

try:
    import mmctl  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mmctl.exchange.paper import PaperVenue, builtin_markets
from mmctl.model import BookTop, OrderRequest, OrderType, Side, Trade

SYMBOL = "BTC/USDT:USDT"
TICK = Decimal("0.1")
MID_TICKS = 900_000  # 90,000.0
LEVELS = 10
FIRST_LEVEL = 8  # ticks from the mid of the nearest quote
QTY = Decimal("0.005")
EVENTS = 500_000
CHUNK = 1_000
ROUNDS = 3

MarketEvent = BookTop | Trade
Event = tuple[Callable[[MarketEvent], None], MarketEvent]


def make_venue() -> PaperVenue:
    markets = builtin_markets(Decimal("0.0002"), Decimal("0.0005"), [SYMBOL])
    return PaperVenue(markets, balance=Decimal("1000000000"), start_ms=1_700_000_000_000)


def make_events(n: int, start_ms: int, seed: int = 7) -> list[MarketEvent]:
    rng = random.Random(seed)
    prices = {t: Decimal(t) * TICK for t in range(MID_TICKS - 100, MID_TICKS + 100)}
    book_qty, ask_qty, trade_qty = Decimal("1.5"), Decimal("2.5"), Decimal("0.003")
    out: list[MarketEvent] = []
    for i in range(n):
        ts = start_ms + 1 + i
        mid = MID_TICKS + rng.randint(-3, 3)
        if i % 2 == 0:
            out.append(BookTop(SYMBOL, prices[mid], book_qty, prices[mid + 1], ask_qty, ts))
        else:
            reach = min(int(rng.expovariate(0.6)), 90)
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            price = prices[mid + 1 + reach if side is Side.BUY else mid - reach]
            out.append(Trade(SYMBOL, price, trade_qty, side, ts))
    return out


def bind(events: list[MarketEvent], venue: PaperVenue) -> list[Event]:
    on_book, on_trade = venue.on_book, venue.on_trade
    return [(on_book, e) if type(e) is BookTop else (on_trade, e) for e in events]  # type: ignore[misc]


def top_up(venue: PaperVenue, counter: list[int]) -> None:
    """Keep LEVELS quotes per side at fixed prices around the mid."""
    st = venue.state(SYMBOL)
    for side, orders in ((Side.BUY, st.bids), (Side.SELL, st.asks)):
        have = {o.price for o in orders}
        for level in range(LEVELS):
            offset = FIRST_LEVEL + level
            ticks = MID_TICKS - offset if side is Side.BUY else MID_TICKS + 1 + offset
            price = Decimal(ticks) * TICK
            if price not in have:
                counter[0] += 1
                venue.place(OrderRequest(SYMBOL, side, QTY, price, f"q{counter[0]}", post_only=True))


def run(events: list[Event], venue: PaperVenue) -> float:
    counter = [0]
    top_up(venue, counter)
    start = time.perf_counter()
    for begin in range(0, len(events), CHUNK):
        for push, event in events[begin : begin + CHUNK]:
            push(event)
        top_up(venue, counter)
    return time.perf_counter() - start


def reference_calls_per_s(n: int) -> float:
    def noop(_: object) -> None:
        return None

    pairs = [(noop, i) for i in range(n)]
    start = time.perf_counter()
    for fn, arg in pairs:
        fn(arg)
    return n / (time.perf_counter() - start)


ENTRY_MIDS = {
    "BTC/USDT:USDT": "50000",
    "ETH/USDT:USDT": "3000",
    "SOL/USDT:USDT": "150",
    "BNB/USDT:USDT": "600",
    "XRP/USDT:USDT": "0.6",
    "DOGE/USDT:USDT": "0.15",
}
ENTRY_BOTS = 100
ENTRY_STEPS = 5_000


def on_grid(value: Decimal, unit: Decimal) -> Decimal:
    """`value` rounded down to a multiple of `unit` (a tick or a step)."""
    return (value / unit).to_integral_value(rounding=ROUND_DOWN) * unit


class EntryBook:
    """The 100-bot book: each bot's quotes and a step that re-quotes one side of one bot."""

    def __init__(self) -> None:
        markets = builtin_markets(Decimal("0.0002"), Decimal("0.0005"), list(ENTRY_MIDS))
        self.venue = PaperVenue(markets, balance=Decimal("10000000"), start_ms=1_700_000_000_000)
        self.rng = random.Random(3)
        self.count = 0
        self.live: dict[tuple[int, Side], list[str]] = {}
        self.place_us: list[float] = []
        self.cancel_us: list[float] = []
        for symbol, mid in ENTRY_MIDS.items():
            rules = self.venue.markets[symbol]
            bid = on_grid(Decimal(mid), rules.tick_size)
            self.venue.on_book(BookTop(symbol, bid, Decimal(5), bid + rules.tick_size, Decimal(5), 0))
            qty = on_grid(Decimal(200) / Decimal(mid), rules.step_size) + rules.step_size
            self.venue.place(OrderRequest(symbol, Side.BUY, qty, None, "", type=OrderType.MARKET))
        for bot in range(ENTRY_BOTS):
            for side in (Side.BUY, Side.SELL):
                self.quote(bot, side, timed=False)

    def quote(self, bot: int, side: Side, *, timed: bool) -> None:
        symbol = list(ENTRY_MIDS)[bot % len(ENTRY_MIDS)]
        rules = self.venue.markets[symbol]
        mid = Decimal(ENTRY_MIDS[symbol]) * (1 + Decimal(self.rng.randint(-3, 3)) / 10_000)
        spread = Decimal(5 + bot % 20 + self.rng.randint(0, 2)) / 10_000
        ids = []
        for level in range(3):
            offset = mid * spread * (1 + level)
            price = on_grid(mid - offset if side is Side.BUY else mid + offset, rules.tick_size)
            qty = on_grid(Decimal(150) / price, rules.step_size) + rules.step_size
            self.count += 1
            req = OrderRequest(symbol, side, qty, price, f"mm.b{bot}.{self.count}", post_only=True)
            start = time.perf_counter()
            order = self.venue.place(req)
            if timed:
                self.place_us.append((time.perf_counter() - start) * 1e6)
            ids.append(order.client_order_id)
        self.live[(bot, side)] = ids

    def step(self) -> None:
        bot, side = self.rng.randrange(ENTRY_BOTS), self.rng.choice((Side.BUY, Side.SELL))
        symbol = list(ENTRY_MIDS)[bot % len(ENTRY_MIDS)]
        for cid in self.live[(bot, side)]:
            start = time.perf_counter()
            self.venue.cancel(symbol, client_order_id=cid)
            self.cancel_us.append((time.perf_counter() - start) * 1e6)
        self.quote(bot, side, timed=True)


def order_entry_us() -> tuple[float, float]:
    """Median microseconds per place and per cancel on the 100-bot book (best of `ROUNDS`)."""
    place, cancel = float("inf"), float("inf")
    for _ in range(ROUNDS):
        entry_book = EntryBook()
        entry_book.venue.add_listener(lambda update: None)  # an order stream is always listening
        for _ in range(ENTRY_STEPS):
            entry_book.step()
        place = min(place, statistics.median(entry_book.place_us))
        cancel = min(cancel, statistics.median(entry_book.cancel_us))
    return place, cancel


def main() -> None:
    best = 0.0
    fills = 0
    events = make_events(EVENTS, make_venue().now_ms)
    for _ in range(ROUNDS):
        venue = make_venue()
        elapsed = run(bind(events, venue), venue)
        best = max(best, EVENTS / elapsed)
        fills = sum(1 for row in venue.wallet.rows if row.type == "COMMISSION")
    print(f"events={EVENTS} fills_last_round={fills} rounds={ROUNDS} (best round reported)")
    print(f"reference_noop_calls_per_s={reference_calls_per_s(EVENTS):.0f}")
    place_us, cancel_us = order_entry_us()
    print(f"order_entry bots={ENTRY_BOTS} resting={ENTRY_BOTS * 6} steps={ENTRY_STEPS} (best round reported)")
    print(f"paper_events_per_s={best:.0f} place_us={place_us:.1f} cancel_us={cancel_us:.1f}")


if __name__ == "__main__":
    main()
