"""One market_maker bot run twice over the same events, in the backtest engine and as the daemon runs it,
each run taping what its paper venue received (see `tests/backtest/test_backtest_matches_bot.py`).

`Tape` is a venue order listener (`PaperVenue.add_listener`, the public seam both runs share): every order
event with the venue's time, as one comparable row (placements, amends, cancels, expiries and fills), so
equal tapes mean the same requests reached the venue at the same times and made the same fills.

- `backtest_run(spec, events)`: `SimBot(spec).run(events)`, the engine `run_backtest` wraps. Its venue
  exists once it has read the first event (the bot starts at the first book and first ticks when the
  next event is read), so the tape is attached from the event iterator at that point; it checks that
  the venue has seen no order yet.
- `daemon_run(params, events, ...)`: the real `Bot` on a `PaperExchange` of the default `PaperAccount`
  settings (the engine's defaults too) on the rig's `ManualClock`, which starts at `START_MS`, the first
  event's time; the bot is built and started on the first book. Then for each time slot of the data the
  clock moves to the slot and the loop settles (whatever is due then runs first: a heartbeat, a re-quote
  held back by `quote_interval_ms`, as the engine runs its timers before the events at their time), and
  each event of the slot is pushed into the venue (`on_book` / `on_trade`, as the paper feed does), the
  loop settling after each. The tape ends with the data, before the bot is stopped.

Times are on a 125 ms grid (`on_grid`): every clock reading is then a whole number of eighths of a
second, exact as a float, so the bot's own times (`now_ms`, its heartbeat and re-quote deadlines) agree
to the millisecond with the engine's integer milliseconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import NamedTuple

from tests.support.rig import PaperWorld
from tests.support.settle import settle

from mmctl.backtest.engine import BacktestSpec, Event
from mmctl.backtest.sim import Outcome, SimBot
from mmctl.bots.bot import Bot, BotOptions, BotState
from mmctl.bots.definition import BotDefinition
from mmctl.bots.events import Event as BotEvent
from mmctl.clock import now_ms
from mmctl.config.schema import PaperAccount
from mmctl.exchange.paper.venue import PaperVenue
from mmctl.model import BookTop, OrderUpdate
from mmctl.strategies.market_maker import MarketMakerParams

SYMBOL = "BTC/USDT:USDT"
START_MS = 1_700_000_000_000  # the rig's ManualClock starts at 1.7e9 s: the data starts there too
SLOT_MS = 125  # 1/8 s: exact in binary floating point
COUNTED = ("placed", "amended", "cancelled", "rejected", "post_only_rejects")
RESUMED = "cooldown over: quoting again"  # the engine's note and the daemon bot's state message


class Row(NamedTuple):
    """One order event on a venue: its time, what happened, the order's state after it, and the fill
    (price, qty, maker, fee, realized PnL) when it was one."""

    ms: int
    what: str  # place, amend, fill, canceled, expired
    cid: str
    side: str
    type: str
    price: Decimal | None
    qty: Decimal
    filled: Decimal
    post_only: bool
    reduce_only: bool
    fill: tuple[Decimal, Decimal, bool, Decimal, Decimal] | None = None


def on_grid(events: Sequence[Event]) -> list[Event]:
    """`events` with each time moved down to its 125 ms slot (still in time order, order kept)."""
    return [e if e.ts_ms % SLOT_MS == 0 else replace(e, ts_ms=e.ts_ms - e.ts_ms % SLOT_MS) for e in events]


class Tape:
    """Every order event of one venue, as `Row`s."""

    def __init__(self, venue: PaperVenue) -> None:
        self.venue = venue
        self.rows: list[Row] = []
        self._seen: set[str] = set()
        venue.add_listener(self)

    def __call__(self, update: OrderUpdate) -> None:
        order, fill = update.order, update.fill
        cid = order.client_order_id
        if fill is not None:
            what = "fill"
        elif not order.status.is_open:
            what = order.status.value.lower()  # canceled, expired
        else:
            what = "amend" if cid in self._seen else "place"
        self._seen.add(cid)
        self.rows.append(
            Row(
                self.venue.now_ms,
                what,
                cid,
                order.side.value,
                order.type.value,
                order.price,
                order.qty,
                order.filled,
                order.post_only,
                order.reduce_only,
                None if fill is None else (fill.price, fill.qty, fill.maker, fill.fee, fill.realized_pnl),
            )
        )

    def close(self) -> list[Row]:
        """Stop taping; the rows so far."""
        self.venue.remove_listener(self)
        return self.rows


@dataclass(frozen=True)
class Run:
    """What one run left: its tape, its request counts, its risk notes (ms, reason), its position and how
    many of its orders rest on the venue, when the data ends."""

    tape: list[Row]
    counts: dict[str, int]
    notes: list[tuple[int, str]]
    position: Decimal
    open_orders: int

    def of(self, *kinds: str) -> list[Row]:
        return [row for row in self.tape if row.what in kinds]


def backtest_run(spec: BacktestSpec, events: Sequence[Event]) -> tuple[Run, Outcome]:
    """The engine over `events`, taped from before its first tick."""
    sim = SimBot(spec)
    tapes: list[Tape] = []

    def feed() -> Iterator[Event]:
        yield events[0]
        venue = sim.venue  # built when the engine read the first event
        assert venue.open_orders() == [], "the tape would start too late"
        assert venue.last_trade_id == 0, "the tape would start too late"
        tapes.append(Tape(venue))
        yield from events[1:]

    out = sim.run(feed())
    counts = {key: getattr(out.metrics.orders, key) for key in COUNTED}
    notes = [(n.ts_ms, n.reason) for n in out.notes]
    return Run(tapes[0].close(), counts, notes, out.metrics.end_inventory, out.open_orders), out


class World(PaperWorld):
    """One paper account of the default settings, with no book before the data's first."""

    def __init__(self) -> None:
        super().__init__({"paper": PaperAccount(symbols=("BTCUSDT",))}, {SYMBOL: 0})

    async def open(self) -> None:
        await self.paper.load_markets()


def daemon_run(params: MarketMakerParams, events: Sequence[Event], *, bot: str, options: BotOptions) -> Run:
    """The daemon's bot `bot` over `events` (see the module docstring)."""
    return asyncio.run(_daemon(params, events, bot, options))


async def _daemon(params: MarketMakerParams, events: Sequence[Event], name: str, options: BotOptions) -> Run:
    w = World()
    await w.open()
    try:
        clock, venue = w.clock, w.paper.venue
        first = events[0]
        assert type(first) is BookTop
        assert first.ts_ms == now_ms(clock) == venue.now_ms
        notes: list[tuple[int, str]] = []

        def note(e: BotEvent) -> None:  # what the engine notes: risk verdicts and resumes
            if e.bot == name and (e.kind == "risk" or (e.kind == "state" and e.message == RESUMED)):
                notes.append((e.ts_ms, e.message))

        w.events.listeners.append(note)
        tape = Tape(venue)
        venue.on_book(first)
        definition = BotDefinition(name, "paper", SYMBOL, "market_maker", params)
        bot = Bot(definition, w.paper, clock, w.events, options)
        await bot.start()
        await settle()
        slot = first.ts_ms
        for event in events[1:]:
            ts = event.ts_ms
            if ts != slot:
                slot = ts
                clock.advance((ts - now_ms(clock)) / 1000)
                venue.advance_to(ts)  # venue time moves with the clock, as under the paper feed
                assert now_ms(clock) == ts
                await settle()  # what is due at the slot runs before its events
            venue.on_event(event)
            await settle()
        rows = tape.close()
        counts = {key: getattr(bot.quoter.stats, key) for key in COUNTED}
        resting = len(venue.open_orders(SYMBOL))
        if bot.state is BotState.RUNNING:
            await w.until_done(bot.stop())
        else:
            assert bot.state is BotState.STOPPED, (bot.state, bot.last_error)
        return Run(rows, counts, notes, bot.inventory.qty, resting)
    finally:
        await w.close()


def first_difference(a: Sequence[Row], b: Sequence[Row], context: int = 3) -> str:
    """Where two tapes part, with a few rows of each around that point ("" when they are equal)."""
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    if at == len(a) == len(b):
        return ""
    lo = max(0, at - context)

    def rows(tape: Sequence[Row]) -> str:
        return "\n".join(f"  {i}: {row}" for i, row in enumerate(tape[lo : at + context], lo))

    return f"tapes part at row {at} (of {len(a)} and {len(b)}):\nbacktest:\n{rows(a)}\ndaemon:\n{rows(b)}"
