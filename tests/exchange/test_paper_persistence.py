"""The paper venue's saved state: exact round trips of every part, resumable market feeds, and saves
queued to a real SQLite store before anyone can see the change they contain."""

from __future__ import annotations

import asyncio
import itertools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from mmctl.clock import ManualClock
from mmctl.config.schema import PaperAccount
from mmctl.exchange.paper import PaperExchange, ReplayFeed, SyntheticFeed, SyntheticParams
from mmctl.exchange.paper.persist import PaperPersistence
from mmctl.exchange.paper.snapshot import Epoch, dumps, loads, order_from_json, order_json, restore_venue
from mmctl.model import BookTop, OrderUpdate, Side, Trade
from mmctl.store.records import PutPaperState, Write
from mmctl.store.sqlite.store import SqliteStore

from .builders import BTC, ETH, MARKETS, START_MS, book, limit, make_venue, market, trade

WALL = 1_764_568_741.0


def busy_venue() -> Any:
    """A venue with positions on two symbols, odd leverage, partial fills, flags, a countdown, funding."""
    venue = make_venue("10000.000", funding_interval_s=3600)
    book(venue, "90000.0", "90000.1")
    book(venue, "3000.00", "3000.01", symbol=ETH)
    venue.set_leverage(BTC, 7)
    venue.place(market(Side.BUY, "0.0100", "m1"))
    venue.place(market(Side.SELL, "0.50", "m2", symbol=ETH))
    venue.place(limit(Side.BUY, "89990.0", "0.005", "b1"))
    venue.place(limit(Side.BUY, "89990.0", "0.004", "b2"))  # same price: behind b1 in the queue
    venue.place(limit(Side.BUY, "89980.0", "0.003", "b3", post_only=False))
    venue.place(limit(Side.SELL, "90010.0", "0.004", "r1", reduce_only=True))
    trade(venue, Side.SELL, "89990.0", "0.002")  # b1 partially filled
    venue.place(limit(Side.SELL, "3001.00", "0.10", "e1", symbol=ETH))
    venue.cancel(ETH, client_order_id="e1")
    venue.arm_countdown(ETH, 90_000)
    venue.advance_to(START_MS + 3_600_000)  # one funding settlement
    return venue


def restored_copy(venue: Any) -> Any:
    text = dumps("paper", "synthetic", venue, Epoch(1, Decimal("10000.000")), {"kind": "none"}, 42)
    saved = loads(text)
    closed = [order_from_json(order_json(o)) for o in venue.orders.closed_since(0)]
    return restore_venue(
        saved,
        MARKETS,
        funding_rate=venue.funding_rate,
        funding_interval_s=3600,
        trades=list(venue.trades),
        closed_orders=closed,
        income=venue.wallet.rows,
    )


def test_every_part_of_the_venue_state_round_trips_exactly() -> None:
    """Wallet, positions, leverage, open orders (queue, fills, flags), ledger, trades, closed orders,
    countdowns, ids and clock come back identical, with the same decimal digits."""
    venue = busy_venue()
    copy = restored_copy(venue)
    assert dumps("paper", "synthetic", copy, Epoch(1, Decimal(10000)), {}, 42) == dumps(
        "paper", "synthetic", venue, Epoch(1, Decimal(10000)), {}, 42
    )
    assert str(copy.wallet.balance) == str(venue.wallet.balance)
    assert copy.balance() == venue.balance()
    assert copy.positions() == venue.positions()
    assert [str(p.qty) for p in copy.positions()] == [str(p.qty) for p in venue.positions()]
    assert copy.leverage(BTC) == 7
    assert copy.open_orders() == venue.open_orders()
    assert [o.client_order_id for o in copy.state(BTC).bids] == ["b1", "b2", "b3"]
    assert copy.income(0) == venue.income(0)
    assert copy.my_trades(BTC) == venue.my_trades(BTC)
    assert copy.order(ETH, client_order_id="e1") == venue.order(ETH, client_order_id="e1")
    assert copy.state(ETH).countdown_ms == venue.state(ETH).countdown_ms
    assert (copy.now_ms, copy.next_timer_ms, copy.next_funding_ms) == (
        venue.now_ms,
        venue.next_timer_ms,
        venue.next_funding_ms,
    )
    assert (copy.orders.last_id, copy.last_trade_id, copy.wallet.last_id) == (
        venue.orders.last_id,
        venue.last_trade_id,
        venue.wallet.last_id,
    )


def test_a_restored_venue_trades_on_exactly_like_the_original() -> None:
    """The same market events after the save give the same fills, cancels and income on both copies."""
    venue = busy_venue()
    copy = restored_copy(venue)
    seen: dict[str, list[OrderUpdate]] = {"a": [], "b": []}
    venue.add_listener(seen["a"].append)
    copy.add_listener(seen["b"].append)
    t = venue.now_ms
    for v in (venue, copy):
        v.on_trade(Trade(BTC, Decimal("89990.0"), Decimal("0.005"), Side.SELL, t + 1))
        v.on_book(BookTop(BTC, Decimal("90011.0"), Decimal(1), Decimal("90011.1"), Decimal(1), t + 2))
        v.advance_to(t + 200_000)  # the ETH countdown fires
        v.place(market(Side.SELL, "0.003", "m3"))
    assert seen["a"] == seen["b"]
    assert any(u.fill is not None and u.fill.client_order_id == "b2" for u in seen["b"])
    assert copy.income(0) == venue.income(0)
    assert copy.wallet.balance == venue.wallet.balance


def test_the_synthetic_market_resumes_with_exactly_the_events_it_would_have_produced() -> None:
    """A feed rebuilt from `state(T)` yields the very events after T that the original feed yields."""
    params = SyntheticParams(seed=9, trade_intensity=5.0, jump_rate_per_hour=30.0)
    markets = list(MARKETS.values())
    reference = list(itertools.islice(SyntheticFeed(markets, params, START_MS).events(), 40_000))
    cut = reference[25_000].ts_ms
    original = SyntheticFeed(markets, params, START_MS)
    for event in original.events():  # deliver everything up to the cut, as the driver does
        if event.ts_ms > cut:
            break
    state = json.loads(json.dumps(original.state(cut)))
    resumed = SyntheticFeed(markets, params, 0, resume=state, after_ms=cut)
    after = [e for e in reference if e.ts_ms > cut]
    assert list(itertools.islice(resumed.events(), len(after))) == after


def test_a_replay_resumes_after_the_saved_venue_time(tmp_path: Path) -> None:
    """A replay rebuilt with `after_ms` yields exactly the rows after that time."""
    rows = [f"{i},90000.{i},1.0,90000.{i + 1},1.0,{START_MS + i * 10},{START_MS + i * 10}" for i in range(9)]
    (tmp_path / "BTCUSDT-bookTicker-2024-01-01.csv").write_text("\n".join(rows) + "\n")
    whole = list(ReplayFeed.from_path(str(tmp_path), MARKETS).events())
    cut = START_MS + 40
    resumed = ReplayFeed.from_path(str(tmp_path), MARKETS, after_ms=cut)
    assert resumed.state(cut) == {"kind": "replay", "after_ms": cut}
    assert list(resumed.events()) == [e for e in whole if e.ts_ms > cut]


class RecordingStore:
    """A real SQLite store that also remembers the order in which writes were queued."""

    def __init__(self, store: SqliteStore) -> None:
        self.inner = store
        self.queued: list[Write[Any]] = []

    def submit_nowait(self, op: Write[Any]) -> None:
        self.queued.append(op)
        self.inner.submit_nowait(op)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def saved_trade_ids(ops: list[Write[Any]]) -> set[str]:
    return {f.trade_id for op in ops if isinstance(op, PutPaperState) for f in op.trades}


async def test_the_state_with_a_change_is_queued_before_anyone_sees_the_change(tmp_path: Path) -> None:
    """A fill or an accepted order is in a queued state write before the order stream or the caller
    sees it, and book ticks that change nothing write nothing."""
    clock = ManualClock(WALL)
    store = RecordingStore(SqliteStore.open(tmp_path / "db.sqlite", clock, synchronous="NORMAL"))
    settings = PaperAccount(symbols=("BTCUSDT",), trade_intensity=20.0, trade_decay=0.0)
    exchange = PaperExchange.from_settings("paper", settings, clock)
    PaperPersistence(exchange, store, "paper", clock, Epoch(1, settings.balance), "synthetic").attach()  # type: ignore[arg-type]
    updates = exchange.order_updates()
    late: list[str] = []

    async def bot() -> None:
        async for update in updates:
            if update.fill is not None and update.fill.trade_id not in saved_trade_ids(store.queued):
                late.append(update.fill.trade_id)

    watcher = asyncio.create_task(bot())
    await exchange.start()
    await clock.run_for(1.0, step=0.1)
    assert store.queued == []  # a market without our orders changes nothing
    top = exchange.book(BTC)
    assert top is not None
    [placed] = await exchange.place_orders([limit(Side.BUY, str(top.bid - 5), "0.003", "q1")])
    assert placed.order is not None
    last = store.queued[-1]
    assert isinstance(last, PutPaperState)
    assert "q1" in last.state  # the accepted order was saved before the caller got it
    await clock.run_for(3.0, step=0.1)  # every taker sale reaches our bid: it fills
    await asyncio.sleep(0)
    assert saved_trade_ids(store.queued), "the resting order should have filled"
    assert late == []
    await exchange.close()
    watcher.cancel()
    await store.inner.close()


async def test_history_is_written_row_by_row_and_the_state_stays_compact(tmp_path: Path) -> None:
    """Each save carries only the new income rows and trades, so the state text does not grow with them."""
    clock = ManualClock(WALL)
    store = RecordingStore(SqliteStore.open(tmp_path / "db.sqlite", clock, synchronous="NORMAL"))
    settings = PaperAccount(symbols=("BTCUSDT",))
    exchange = PaperExchange.from_settings("paper", settings, clock)
    PaperPersistence(exchange, store, "paper", clock, Epoch(1, settings.balance), "synthetic").attach()  # type: ignore[arg-type]
    book(exchange.venue, "90000.0", "90000.1")
    sizes = []
    for i in range(40):
        await exchange.place_orders([market(Side.BUY if i % 2 else Side.SELL, "0.002")])
        sizes.append(len(store.queued[-1].state))  # type: ignore[attr-defined]
    saves = [op for op in store.queued if isinstance(op, PutPaperState)]
    assert [len(op.trades) for op in saves] == [1] * 40
    assert sum(len(op.income) for op in saves) == len(exchange.venue.wallet.rows)
    assert max(sizes) - min(sizes) < 100
    await store.inner.flush()
    trades, ledger = await store.inner.read(
        lambda r: (r.paper_trades("paper"), r.paper_income("paper", from_id=1))
    )
    assert [t.fill for t in trades] == list(exchange.venue.trades)
    assert ledger == exchange.venue.wallet.rows
    await exchange.close()
    await store.inner.close()
