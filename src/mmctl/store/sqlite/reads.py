"""Read queries on the store's read connection (the `StoreReads` port), run on the store's reader thread.

Never call these on the event loop: `await store.read(lambda r: r.fills(bot="a"))` runs the function on
the reader thread inside one read transaction, so several queries in it see one consistent snapshot
while the writer goes on committing (WAL).

Conventions: times are integer ms, `since_ms` inclusive and `until_ms` exclusive; results are oldest
first; `limit` keeps the newest `limit` matching rows (None: all of them), except `events(after_seq=N)`,
which pages forward: the first `limit` events after N, so a follower never skips one.
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from typing import Any

from mmctl.model import Fill, IncomeRow, IncomeType, Side
from mmctl.store.records import (
    BotRecord,
    DesiredState,
    EquitySnapshot,
    EventRecord,
    IncomeSum,
    OrderRecord,
    PaperHistory,
    PaperState,
    ParamsChange,
    StatusChange,
    StoredFill,
    StoredIncome,
    StoredPaperTrade,
)
from mmctl.store.sqlite import ledger
from mmctl.store.sqlite.schema import OPEN_ORDERS_SQL

_FILL = (
    "account, bot, trade_id, order_id, client_order_id, symbol, side, price, qty, fee, fee_asset, maker, "
    "realized_pnl, ts_ms"
)
_ORDER = (
    "client_order_id, bot, account, symbol, side, type, price, qty, filled, avg_price, venue_order_id, "
    "status, post_only, reduce_only, created_ms, updated_ms"
)
# income_type: the venue's own type (`IncomeRow.venue_type`); kind: mmctl's (NULL before schema v4)
_INCOME = (
    "account, tran_id, ts_ms, symbol, income_type, amount, asset, trade_id, info, coalesce(kind, income_type)"
)
_EVENT = "seq, ts_ms, bot, kind, message, data, uid, user"
_BOT = "name, account, symbol, strategy, params, desired_state, created_ms, updated_ms"
_PAPER_TRADE = (
    "account, epoch, trade_id, order_id, client_order_id, symbol, side, price, qty, fee, fee_asset, maker, "
    "realized_pnl, ts_ms"
)
_SNAPSHOT = "ts_ms, account, bot, wallet, equity, unrealized_pnl, realized_pnl, fees, data"


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


class _Where:
    """AND-ed conditions with their parameters."""

    def __init__(self) -> None:
        self.terms: list[str] = []
        self.params: list[Any] = []

    def add(self, term: str, value: Any) -> None:
        if value is not None:
            self.terms.append(term)
            self.params.append(value)

    def sql(self) -> str:
        return f" WHERE {' AND '.join(self.terms)}" if self.terms else ""


class Reads:
    """The read queries; `conn` is used only by the thread that runs them."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._c = conn

    def _select(self, columns: str, table: str, where: _Where, order: str, limit: int | None) -> list[Any]:
        """Rows ordered by `order` ascending; with a limit, the newest `limit` of them."""
        sql = f"SELECT {columns} FROM {table}{where.sql()}"
        if limit is None:
            return self._c.execute(f"{sql} ORDER BY {order}", where.params).fetchall()
        desc = ", ".join(f"{term.strip()} DESC" for term in order.split(","))
        rows = self._c.execute(f"{sql} ORDER BY {desc} LIMIT ?", [*where.params, max(0, limit)]).fetchall()
        rows.reverse()
        return rows

    # --- bots ------------------------------------------------------------------------------------------

    def bots(self) -> list[BotRecord]:
        """Every bot, by name."""
        return [_bot(r) for r in self._c.execute(f"SELECT {_BOT} FROM bots ORDER BY name")]

    def bot(self, name: str) -> BotRecord | None:
        row = self._c.execute(f"SELECT {_BOT} FROM bots WHERE name = ?", (name,)).fetchone()
        return None if row is None else _bot(row)

    def params_history(self, name: str) -> list[ParamsChange]:
        """A bot's parameters over time, oldest first (the first entry is its creation)."""
        rows = self._c.execute(
            "SELECT bot, ts_ms, params FROM bot_params_history WHERE bot = ? ORDER BY id", (name,)
        )
        return [ParamsChange(r[0], r[1], json.loads(r[2])) for r in rows]

    # --- fills and income ------------------------------------------------------------------------------

    def fills(
        self,
        *,
        bot: str | None = None,
        account: str | None = None,
        symbol: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int | None = 1000,
    ) -> list[StoredFill]:
        w = _Where()
        w.add("bot = ?", bot)
        w.add("account = ?", account)
        w.add("symbol = ?", symbol)
        w.add("ts_ms >= ?", since_ms)
        w.add("ts_ms < ?", until_ms)
        return [_fill(r) for r in self._select(_FILL, "fills", w, "ts_ms, id", limit)]

    def bot_positions(self, *, account: str, symbol: str, before_ms: int) -> dict[str, Decimal]:
        """Each bot's signed position on `symbol` of `account` from its fills before `before_ms` (exact)."""
        return ledger.bot_positions(self._c, account, symbol, before_ms)

    def last_fill_ms(self, account: str) -> dict[str, int]:
        """The time of the newest recorded fill per symbol of `account` (where recovery resumes)."""
        rows = self._c.execute(
            "SELECT symbol, max(ts_ms) FROM fills WHERE account = ? GROUP BY symbol", (account,)
        )
        return {r[0]: r[1] for r in rows}

    def first_order_ms(self, account: str) -> dict[str, int]:
        """The creation time of the earliest recorded order (any status) per symbol of `account`, as the
        order was recorded (`submitting` or the venue's first answer): the earliest an mmctl order can
        have traded there. Reads every order of the account (no index leads with the account)."""
        rows = self._c.execute(
            "SELECT symbol, min(created_ms) FROM orders WHERE account = ? GROUP BY symbol", (account,)
        )
        return {r[0]: r[1] for r in rows}

    def income(
        self,
        *,
        account: str | None = None,
        symbol: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int | None = None,
    ) -> list[StoredIncome]:
        w = _Where()
        w.add("account = ?", account)
        w.add("symbol = ?", symbol)
        w.add("ts_ms >= ?", since_ms)
        w.add("ts_ms < ?", until_ms)
        return [_income(r) for r in self._select(_INCOME, "income", w, "ts_ms, id", limit)]

    def last_income_ms(self) -> dict[str, int]:
        """The time of the newest recorded income row per account (each account found by one index seek:
        a GROUP BY would read the whole index)."""
        return dict(
            self._c.execute(
                "WITH RECURSIVE a(name) AS (SELECT min(account) FROM income UNION ALL "
                "SELECT (SELECT min(account) FROM income WHERE account > a.name) FROM a "
                "WHERE a.name IS NOT NULL) "
                "SELECT name, (SELECT max(ts_ms) FROM income WHERE account = a.name) FROM a "
                "WHERE name IS NOT NULL"
            ).fetchall()
        )

    def income_sums(
        self,
        *,
        account: str,
        since_ms: int,
        until_ms: int,
        offset_ms: int = 0,
        symbol: str | None = None,
        attribute: bool = False,
        symbols: bool = True,
    ) -> list[IncomeSum]:
        """`account`'s income in [since_ms, until_ms) summed exactly by local day (`ts_ms + offset_ms`),
        type and symbol, and with `attribute` by the bot of a trade's fill and a funding row's time (see
        `IncomeSum`); from the summary tables where it can (`mmctl.store.sqlite.ledger`). With
        `symbols=False` sums may come back with symbol "" (the caller does not group by symbol)."""
        return ledger.income_sums(
            self._c,
            account=account,
            since_ms=since_ms,
            until_ms=until_ms,
            offset_ms=offset_ms,
            symbol=symbol,
            attribute=attribute,
            symbols=symbols,
        )

    # --- orders ----------------------------------------------------------------------------------------

    def orders(
        self,
        *,
        bot: str | None = None,
        account: str | None = None,
        since_ms: int | None = None,
        open_only: bool = False,
        limit: int | None = 1000,
    ) -> list[OrderRecord]:
        """Orders by creation time; `open_only`: submitting, new or partially filled ones."""
        w = _Where()
        w.add("bot = ?", bot)
        w.add("account = ?", account)
        w.add("created_ms >= ?", since_ms)
        if open_only:
            w.terms.append(OPEN_ORDERS_SQL)  # literal, so the partial index `orders_open` applies
        return [_order(r) for r in self._select(_ORDER, "orders", w, "created_ms, rowid", limit)]

    def order(self, client_order_id: str) -> OrderRecord | None:
        row = self._c.execute(
            f"SELECT {_ORDER} FROM orders WHERE client_order_id = ?", (client_order_id,)
        ).fetchone()
        return None if row is None else _order(row)

    def order_changes(self, client_order_id: str) -> list[StatusChange]:
        """Every recorded status of an order, oldest first."""
        rows = self._c.execute(
            "SELECT client_order_id, status, ts_ms, detail FROM order_status_changes "
            "WHERE client_order_id = ? ORDER BY id",
            (client_order_id,),
        )
        return [StatusChange(*r) for r in rows]

    # --- events ----------------------------------------------------------------------------------------

    def events(
        self,
        *,
        after_seq: int | None = None,
        since_ms: int | None = None,
        bot: str | None = None,
        kind: str | None = None,
        limit: int | None = 200,
    ) -> list[EventRecord]:
        w = _Where()
        w.add("seq > ?", after_seq)
        w.add("ts_ms >= ?", since_ms)
        w.add("bot = ?", bot)
        w.add("kind = ?", kind)
        if after_seq is not None and limit is not None:
            sql = f"SELECT {_EVENT} FROM events{w.sql()} ORDER BY seq LIMIT ?"
            return [_event(r) for r in self._c.execute(sql, [*w.params, max(0, limit)])]
        return [_event(r) for r in self._select(_EVENT, "events", w, "seq", limit)]

    def last_event_seq(self) -> int:
        """The highest sequence number ever assigned (0 if none), even if that event was pruned."""
        row = self._c.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        return 0 if row is None else int(row[0])

    # --- snapshots, paper accounts, meta ---------------------------------------------------------------

    def snapshots(
        self,
        *,
        account: str | None = None,
        bot: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        limit: int | None = None,
    ) -> list[EquitySnapshot]:
        """Equity snapshots; `bot=""` selects account-level ones."""
        w = _Where()
        w.add("account = ?", account)
        w.add("bot = ?", bot)
        w.add("ts_ms >= ?", since_ms)
        w.add("ts_ms < ?", until_ms)
        return [_snapshot(r) for r in self._select(_SNAPSHOT, "equity_snapshots", w, "ts_ms, id", limit)]

    def paper_state(self, account: str) -> PaperState | None:
        row = self._c.execute(
            "SELECT account, state, updated_ms FROM paper_state WHERE account = ?", (account,)
        ).fetchone()
        return None if row is None else PaperState(*row)

    def paper_trades(
        self, account: str, *, epoch: int | None = None, limit: int | None = None
    ) -> list[StoredPaperTrade]:
        """The paper venue's trades of `account` (of one epoch), by trade id; `limit` keeps the newest."""
        w = _Where()
        w.add("account = ?", account)
        w.add("epoch = ?", epoch)
        return [_paper_trade(r) for r in self._select(_PAPER_TRADE, "paper_trades", w, "seq", limit)]

    def paper_orders(self, account: str, *, epoch: int | None = None, limit: int | None = None) -> list[str]:
        """The paper venue's closed orders of `account` (of one epoch) as its JSON records, by order id."""
        w = _Where()
        w.add("account = ?", account)
        w.add("epoch = ?", epoch)
        return [r[0] for r in self._select("data", "paper_orders", w, "seq", limit)]

    def paper_income(self, account: str, *, from_id: int, since_ms: int | None = None) -> list[IncomeRow]:
        """`account`'s income rows with an integer id of at least `from_id` (the paper venue's ledger of
        one epoch), from `since_ms` on, oldest first."""
        sql = (
            f"SELECT {_INCOME} FROM income "
            "WHERE account = ? AND CAST(tran_id AS INTEGER) >= ? AND ts_ms >= ? "
            "ORDER BY CAST(tran_id AS INTEGER)"
        )
        rows = self._c.execute(sql, (account, from_id, -(2**63) if since_ms is None else since_ms))
        return [_income(r).row for r in rows]

    def paper_history(self, account: str) -> PaperHistory:
        """The highest trade, order and income ids, epoch and venue time `account` left in the store."""
        c = self._c
        trades = c.execute(
            "SELECT max(seq), max(epoch), max(ts_ms) FROM paper_trades WHERE account = ?", (account,)
        ).fetchone()
        orders = c.execute(
            "SELECT max(seq), max(epoch) FROM paper_orders WHERE account = ?", (account,)
        ).fetchone()
        income = c.execute(
            "SELECT max(CAST(tran_id AS INTEGER)), max(ts_ms) FROM income WHERE account = ?", (account,)
        ).fetchone()
        return PaperHistory(
            last_trade_id=trades[0] or 0,
            last_order_id=orders[0] or 0,
            last_income_id=income[0] or 0,
            last_epoch=max(trades[1] or 0, orders[1] or 0),
            last_ts_ms=max(trades[2] or 0, income[1] or 0),
        )

    def meta(self, key: str) -> str | None:
        row = self._c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])


def _bot(r: Any) -> BotRecord:
    return BotRecord(r[0], r[1], r[2], r[3], json.loads(r[4]), DesiredState(r[5]), r[6], r[7])


def _fill(r: Any) -> StoredFill:
    fill = Fill(
        trade_id=r[2],
        order_id=r[3],
        client_order_id=r[4],
        symbol=r[5],
        side=Side(r[6]),
        price=Decimal(r[7]),
        qty=Decimal(r[8]),
        fee=Decimal(r[9]),
        fee_asset=r[10],
        maker=bool(r[11]),
        realized_pnl=Decimal(r[12]),
        ts_ms=r[13],
    )
    return StoredFill(account=r[0], bot=r[1], fill=fill)


def _paper_trade(r: Any) -> StoredPaperTrade:
    stored = _fill((r[0], None, *r[2:]))
    return StoredPaperTrade(account=r[0], epoch=r[1], fill=stored.fill)


def _income(r: Any) -> StoredIncome:
    row = IncomeRow(
        id=r[1],
        ts_ms=r[2],
        symbol=r[3],
        type=IncomeType(r[9]),
        amount=Decimal(r[5]),
        asset=r[6],
        trade_id=r[7],
        venue_type=r[4],
    )
    return StoredIncome(account=r[0], row=row, info=json.loads(r[8]))


def _order(r: Any) -> OrderRecord:
    return OrderRecord(
        client_order_id=r[0],
        bot=r[1],
        account=r[2],
        symbol=r[3],
        side=r[4],
        type=r[5],
        price=_dec(r[6]),
        qty=Decimal(r[7]),
        filled=Decimal(r[8]),
        avg_price=_dec(r[9]),
        venue_order_id=r[10],
        status=r[11],
        post_only=bool(r[12]),
        reduce_only=bool(r[13]),
        created_ms=r[14],
        updated_ms=r[15],
    )


def _event(r: Any) -> EventRecord:
    return EventRecord(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7])


def _snapshot(r: Any) -> EquitySnapshot:
    return EquitySnapshot(
        r[0],
        r[1],
        r[2],
        Decimal(r[3]),
        Decimal(r[4]),
        Decimal(r[5]),
        Decimal(r[6]),
        Decimal(r[7]),
        json.loads(r[8]),
    )
