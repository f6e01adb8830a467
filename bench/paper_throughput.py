"""Paper matching-engine throughput: book and trade events per second through `PaperVenue`.

Ten resting orders per side on BTCUSDT, a pre-generated stream of book tops jittering around the mid and
public trades reaching random depths, about 1% of which fill one of our quotes (the quotes are topped up
between chunks of events, as a bot would). Event generation is not timed. Budget (the product's,
also listed in README.md, Development): >= 1,000,000 events/s per core. Prints a reference figure
(empty Python calls per second, measured in the same run) and, as the last line,
`paper_events_per_s=<n>`.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

try:
    import mmctl  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mmctl.exchange.paper import PaperVenue, builtin_markets
from mmctl.model import BookTop, OrderRequest, Side, Trade

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
    print(f"paper_events_per_s={best:.0f}")


if __name__ == "__main__":
    main()
