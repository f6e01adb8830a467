"""Writes and reads through the store's typed API: uniqueness, exact decimals, orders, events, bots,
paper state, snapshots and the one-time TOML import."""

from __future__ import annotations

import asyncio
import decimal
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.store.conftest import SYMBOL, fill, income, order, request

from mmctl.errors import ConfigError, ValidationError
from mmctl.model import IncomeType, OrderStatus
from mmctl.store.records import (
    BotRecord,
    DeleteBot,
    DeletePaperState,
    DesiredState,
    EquitySnapshot,
    NewEvent,
    NewFill,
    NewIncome,
    NewSnapshot,
    OrderSnapshot,
    OrderStatusChange,
    OrderSubmitting,
    PutBot,
    PutPaperState,
    SetDesiredState,
    Write,
)
from mmctl.store.sqlite import SqliteDefinitionStore, SqliteStore
from mmctl.store.toml_files import TomlDefinitionStore

T0 = 1_700_000_000_000


async def test_a_fill_recorded_twice_is_stored_once(db: Path) -> None:
    """The same (account, symbol, trade id) arriving twice is stored once, and the second write says so."""
    store = SqliteStore.open(db)
    try:
        assert await store.record_fill("paper", "bot", fill("T1")) is True
        assert await store.record_fill("paper", "bot", fill("T1", price="1")) is False
        assert await store.record_fill("paper", "bot", fill("T1", symbol="ETH/USDT:USDT")) is True
        assert await store.record_fill("other", "bot", fill("T1")) is True
        fills = await store.read(lambda r: r.fills(account="paper", symbol=SYMBOL))
        assert [(f.fill.trade_id, f.fill.price) for f in fills] == [("T1", Decimal("37000.10"))]
    finally:
        await store.close()


async def test_income_rows_sharing_a_tran_id_are_both_kept_and_duplicates_dropped(db: Path) -> None:
    """REALIZED_PNL and COMMISSION rows with one tranId are two rows; a row seen again is stored once."""
    store = SqliteStore.open(db)
    try:
        pnl = income("9001", IncomeType.REALIZED_PNL, "1.25")
        fee = income("9001", IncomeType.COMMISSION, "-0.0074")
        assert await store.record_income("paper", pnl, {"tranId": 9001}) is True
        assert await store.record_income("paper", fee) is True
        assert await store.record_income("paper", pnl) is False
        rows = await store.read(lambda r: r.income(account="paper"))
        assert sorted((i.row.type, i.row.amount) for i in rows) == [
            (IncomeType.COMMISSION, Decimal("-0.0074")),
            (IncomeType.REALIZED_PNL, Decimal("1.25")),
        ]
        assert {i.row.type: dict(i.info) for i in rows}[IncomeType.REALIZED_PNL] == {"tranId": 9001}
        assert await store.read(lambda r: r.last_income_ms()) == {"paper": T0}
    finally:
        await store.close()


money = st.tuples(
    st.integers(0, 1),
    st.lists(st.integers(0, 9), min_size=1, max_size=40).map(tuple),
    st.integers(-30, 30),
).map(Decimal)


def test_decimals_round_trip_exactly_whatever_the_decimal_context(tmp_path: Path) -> None:
    """Any finite Decimal (sign, digits and exponent) written as money reads back identical."""
    store = SqliteStore.open(tmp_path / "db.sqlite", synchronous="NORMAL")
    counter = iter(range(10**9))

    async def round_trip(values: list[Decimal]) -> None:
        price, qty, fee, pnl = values
        trade = f"T{next(counter)}"
        f = fill(trade, price=str(price), qty=str(qty), fee=str(fee), realized_pnl=str(pnl))
        row = income(trade, amount=str(pnl))
        snap = EquitySnapshot(next(counter), "paper", "", price, qty, fee, pnl, price, {"x": qty})
        await store.write(NewFill("paper", "bot", f))
        await store.write(NewIncome("paper", row))
        await store.write(NewSnapshot(snap))
        got_fill, got_income, got_snap = await store.read(
            lambda r: (
                r.fills(limit=1)[0].fill,
                r.income(limit=1)[0].row,
                r.snapshots(limit=1)[0],
            )
        )
        for got, want in [
            (got_fill.price, price),
            (got_fill.qty, qty),
            (got_fill.fee, fee),
            (got_fill.realized_pnl, pnl),
            (got_income.amount, pnl),
            (got_snap.wallet, price),
            (got_snap.equity, qty),
            (got_snap.unrealized_pnl, fee),
            (got_snap.realized_pnl, pnl),
        ]:
            assert got.as_tuple() == want.as_tuple()
        assert got_snap.data == {"x": str(qty)}

    with asyncio.Runner() as runner, decimal.localcontext(prec=3, rounding=decimal.ROUND_FLOOR):

        @settings(max_examples=150, deadline=None)
        @given(values=st.lists(money, min_size=4, max_size=4))
        def check(values: list[Decimal]) -> None:
            runner.run(round_trip(values))

        try:
            check()
        finally:
            store.close_sync()


def test_non_finite_or_float_money_and_unencodable_data_are_refused_at_construction() -> None:
    """A float or NaN amount, or data that is not JSON, raises ValidationError before reaching the store."""
    with pytest.raises(ValidationError, match=r"fill\.price"):
        NewFill("paper", "bot", fill(price="NaN"))
    with pytest.raises(ValidationError, match=r"row\.amount"):
        NewIncome("paper", income(amount="Infinity"))
    with pytest.raises(ValidationError, match="data"):
        NewEvent(T0, None, "info", "x", {"when": object()})
    with pytest.raises(ValidationError, match="status"):
        OrderStatusChange("id", "half-open", T0)


async def test_an_order_keeps_every_status_change_and_is_never_resurrected(db: Path) -> None:
    """Every status change of an order is kept in order; a late `new` after the fill does not reopen it."""
    store = SqliteStore.open(db)
    try:
        assert await store.write(OrderSubmitting("bot", "paper", request(), T0)) is True
        assert await store.write(OrderSubmitting("bot", "paper", request(), T0)) is False
        assert await store.read(lambda r: [o.status for o in r.orders(open_only=True)]) == ["submitting"]
        assert await store.write(OrderSnapshot("bot", "paper", order(OrderStatus.NEW, updated_ms=T0 + 1)))
        assert await store.write(
            OrderSnapshot(
                "bot", "paper", order(OrderStatus.PARTIALLY_FILLED, filled="0.004", updated_ms=T0 + 2)
            )
        )
        assert await store.write(
            OrderSnapshot("bot", "paper", order(OrderStatus.FILLED, filled="0.010", updated_ms=T0 + 3))
        )
        late = order(OrderStatus.NEW, updated_ms=T0 + 1)
        assert await store.write(OrderSnapshot("bot", "paper", late)) is False
        assert await store.write(OrderStatusChange("mm.bot.b0.1", "canceled", T0 + 4)) is True
        assert await store.write(OrderStatusChange("mm.unknown.b0.1", "not_found", T0 + 5)) is False
        record, changes, open_orders = await store.read(
            lambda r: (r.order("mm.bot.b0.1"), r.order_changes("mm.bot.b0.1"), r.orders(open_only=True))
        )
        assert record is not None
        assert (record.status, record.filled, record.venue_order_id, record.updated_ms) == (
            "canceled", Decimal("0.010"), "88001", T0 + 4,
        )  # fmt: skip
        assert [(c.status, c.ts_ms) for c in changes] == [
            ("submitting", T0),
            ("new", T0 + 1),
            ("partially_filled", T0 + 2),
            ("filled", T0 + 3),
            ("canceled", T0 + 4),
        ]
        assert open_orders == []
        assert store.failed is None
    finally:
        await store.close()


async def test_events_keep_their_sequence_and_page_forward_without_gaps(db: Path) -> None:
    """Events take the caller's seq when free (else the next one) and `after_seq` pages forward in order."""
    store = SqliteStore.open(db)
    try:
        assert await store.write(NewEvent(T0, "a", "state", "started", seq=10, uid=1000, user="alice")) == 10
        assert await store.write(NewEvent(T0, "a", "state", "dup", seq=10)) == 11
        for i in range(30):
            store.submit_nowait(
                NewEvent(T0 + i, "b" if i % 2 else "a", "fill" if i % 3 else "order", f"e{i}")
            )
        await store.flush()
        page1 = await store.read(lambda r: r.events(after_seq=0, limit=7))
        page2 = await store.read(lambda r: r.events(after_seq=page1[-1].seq, limit=100))
        seqs = [e.seq for e in page1 + page2]
        assert seqs == sorted(seqs)
        assert len(seqs) == 32
        assert len(set(seqs)) == 32
        assert (page1[0].uid, page1[0].user) == (1000, "alice")
        newest = await store.read(lambda r: r.events(limit=3))
        assert [e.message for e in newest] == ["e27", "e28", "e29"]
        only_b_fills = await store.read(lambda r: r.events(bot="b", kind="fill", limit=None))
        assert {(e.bot, e.kind) for e in only_b_fills} == {("b", "fill")}
        recent = await store.read(lambda r: r.events(since_ms=T0 + 28, limit=None))
        assert [e.message for e in recent] == ["e28", "e29"]
        assert await store.read(lambda r: r.last_event_seq()) == seqs[-1]
    finally:
        await store.close()


async def test_bots_keep_definition_desired_state_and_params_history(db: Path) -> None:
    """Bot rows keep their desired state across updates; a params change appends to the history."""
    store = SqliteStore.open(db)
    try:
        bot = BotRecord("a", "paper", SYMBOL, "market_maker", {"levels": 3}, created_ms=T0, updated_ms=T0)
        await store.write(PutBot(bot))
        assert await store.write(SetDesiredState("a", DesiredState.PAUSED, T0 + 1)) is True
        assert await store.write(SetDesiredState("nobody", DesiredState.RUNNING, T0 + 1)) is False
        await store.write(
            PutBot(BotRecord("a", "paper", SYMBOL, "market_maker", {"levels": 3}, updated_ms=T0 + 2))
        )
        await store.write(
            PutBot(BotRecord("a", "paper", SYMBOL, "market_maker", {"levels": 5}, updated_ms=T0 + 3))
        )
        got, history = await store.read(lambda r: (r.bot("a"), r.params_history("a")))
        assert got is not None
        assert (got.desired_state, dict(got.params), got.created_ms, got.updated_ms) == (
            DesiredState.PAUSED, {"levels": 5}, T0, T0 + 3,
        )  # fmt: skip
        assert got.definition()["params"] == {"levels": 5}
        assert [(h.ts_ms, dict(h.params)) for h in history] == [(T0, {"levels": 3}), (T0 + 3, {"levels": 5})]
        assert await store.write(DeleteBot("a")) is True
        assert await store.read(lambda r: (r.bots(), r.params_history("a"))) == ([], [])
    finally:
        await store.close()


async def test_paper_state_and_snapshots_are_replaced_not_duplicated(db: Path) -> None:
    """A paper account's state is one row, replaced on each save; a snapshot at the same time replaces too."""
    store = SqliteStore.open(db)
    try:
        await store.write(PutPaperState("paper", '{"v": 1}', T0))
        await store.write(PutPaperState("paper", '{"v": 2}', T0 + 1))
        state = await store.read(lambda r: r.paper_state("paper"))
        assert state is not None
        assert (state.state, state.updated_ms) == ('{"v": 2}', T0 + 1)
        snap = EquitySnapshot(T0, "paper", "", Decimal(1), Decimal(2), Decimal(3), Decimal(4), Decimal(5))
        await store.write(NewSnapshot(snap))
        await store.write(NewSnapshot(EquitySnapshot(T0, "paper", "", *[Decimal(9)] * 5)))
        snaps = await store.read(lambda r: r.snapshots(account="paper", bot=""))
        assert [s.wallet for s in snaps] == [Decimal(9)]
        assert await store.write(DeletePaperState("paper")) is True
        assert await store.read(lambda r: r.paper_state("paper")) is None
    finally:
        await store.close()


async def test_fill_reads_filter_by_bot_and_time_and_keep_the_newest(db: Path) -> None:
    """fills(bot, since, until, limit) returns the newest matching fills, oldest first."""
    store = SqliteStore.open(db)
    try:
        for i in range(10):
            await store.submit(NewFill("paper", "a" if i < 7 else "b", fill(f"T{i}", ts_ms=T0 + i)))
        await store.flush()
        got = await store.read(lambda r: r.fills(bot="a", since_ms=T0 + 2, until_ms=T0 + 6, limit=3))
        assert [f.fill.trade_id for f in got] == ["T3", "T4", "T5"]
        assert len(await store.read(lambda r: r.fills(bot="a", limit=None))) == 7
        assert await store.read(lambda r: r.last_fill_ms("paper")) == {SYMBOL: T0 + 9}
    finally:
        await store.close()


async def test_legacy_toml_definitions_are_imported_once(db: Path, tmp_path: Path) -> None:
    """The first import adds each bots/*.toml definition (stopped) and counts them; later ones add none."""
    bots_dir = tmp_path / "bots"
    toml = TomlDefinitionStore(bots_dir)
    for name in ("a", "b"):
        toml.save(name, {"version": 1, "name": name, "account": "paper", "symbol": SYMBOL,
                         "strategy": "market_maker", "created_ms": T0, "params": {"levels": 2}})  # fmt: skip
    (bots_dir / "c.toml").write_text("this is = = not toml")
    store = SqliteStore.open(db)
    try:
        with pytest.raises(ConfigError, match=r"c\.toml"):
            await store.import_toml(bots_dir)
        assert await store.read(lambda r: r.bots()) == []  # nothing imported; the next start tries again
        (bots_dir / "c.toml").unlink()
        seen: list[str] = []

        def validate(d: dict[str, object]) -> dict[str, object]:
            seen.append(str(d["name"]))
            return d

        assert await store.import_toml(bots_dir, validate) == 2
        assert seen == ["a", "b"]
        assert await store.import_toml(bots_dir, validate) == 0
        bots = await store.read(lambda r: r.bots())
        assert [(b.name, b.desired_state, b.created_ms) for b in bots] == [
            ("a", DesiredState.STOPPED, T0), ("b", DesiredState.STOPPED, T0),
        ]  # fmt: skip
    finally:
        await store.close()


async def test_the_definition_store_adapter_round_trips_definitions(db: Path) -> None:
    """SqliteDefinitionStore serves the synchronous DefinitionStore port from the database."""
    from mmctl.clock import ManualClock

    store = SqliteStore.open(db)
    try:
        definitions = SqliteDefinitionStore(store, ManualClock())
        d = {"version": 1, "name": "a", "account": "paper", "symbol": SYMBOL, "strategy": "market_maker",
             "created_ms": T0, "params": {"levels": 2, "spread_bps": "7.5"}}  # fmt: skip
        definitions.save("a", d)
        definitions.save("b", {**d, "name": "b"})
        definitions.delete("b")
        await store.flush()
        assert await asyncio.to_thread(definitions.load_all) == {"a": d}
    finally:
        await store.close()


async def test_writes_queued_together_give_the_same_results_as_one_by_one(db: Path, tmp_path: Path) -> None:
    """A batch holding many writes (duplicates, one order's whole life, events) matches them done singly."""

    def script() -> list[Write[Any]]:
        return [
            OrderSubmitting("bot", "paper", request(), T0),
            NewFill("paper", "bot", fill("T1")),
            OrderSnapshot("bot", "paper", order(OrderStatus.NEW, updated_ms=T0 + 1)),
            NewFill("paper", "bot", fill("T1")),
            NewEvent(T0, "bot", "fill", "first"),
            OrderSnapshot("bot", "paper", order(OrderStatus.FILLED, filled="0.010", updated_ms=T0 + 3)),
            NewIncome("paper", income("9", IncomeType.COMMISSION)),
            OrderSnapshot("bot", "paper", order(OrderStatus.NEW, updated_ms=T0 + 2)),  # late: ignored
            NewIncome("paper", income("9", IncomeType.REALIZED_PNL, "1")),
            NewEvent(T0, "bot", "info", "at seq 50", seq=50),
            NewIncome("paper", income("9", IncomeType.COMMISSION)),
            NewEvent(T0, "bot", "info", "next"),
            OrderStatusChange("mm.bot.b0.1", "canceled", T0 + 4),
            OrderSubmitting("bot", "paper", request(), T0 + 5),
        ]

    async def outcome(store: SqliteStore, results: list[Any]) -> tuple[Any, ...]:
        return (
            results,
            await store.read(
                lambda r: (
                    r.order("mm.bot.b0.1"),
                    [(c.status, c.ts_ms) for c in r.order_changes("mm.bot.b0.1")],
                    [(f.fill.trade_id, f.fill.price) for f in r.fills()],
                    sorted((i.row.type, i.row.amount) for i in r.income()),
                    [(e.seq, e.message) for e in r.events(limit=None)],
                )
            ),
        )

    one_by_one = SqliteStore.open(db)
    together = SqliteStore.open(tmp_path / "together.sqlite")
    try:
        singly = [await one_by_one.write(op) for op in script()]
        batched = list(await asyncio.gather(*(together.write(op) for op in script())))
        assert together.batches == 1
        assert await outcome(one_by_one, singly) == await outcome(together, batched)
        assert batched == [True, True, True, False, 1, True, True, False, True, 50, False, 51, True, False]
    finally:
        await one_by_one.close()
        await together.close()


async def test_a_prune_queued_between_writes_sees_exactly_the_writes_before_it(db: Path) -> None:
    """Within one batch, a prune removes old rows queued before it and not those queued after it."""
    store = SqliteStore.open(db)
    try:
        results = await asyncio.gather(
            store.write(NewEvent(T0, None, "info", "old, before")),
            store.prune(retain_days=1, now_ms=T0 + 10 * 86_400_000),
            store.write(NewEvent(T0, None, "info", "old, after")),
        )
        assert results[1].events == 1
        assert [e.message for e in await store.read(lambda r: r.events())] == ["old, after"]
    finally:
        await store.close()
