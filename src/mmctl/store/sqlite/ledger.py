"""The income ledger's fast, exact sums: integer amounts per row and two summary tables (schema v3).

Every income row carries `amount_units`: its amount as an integer number of 1e-8 (`amount_units()`,
filled by the writer on insert; the exact text `amount` stays the record), or NULL when the amount has
more than 8 significant decimal places or 18 digits or more in units (such amounts are summed in Python
as Decimals). Triggers keep two summaries of the rows: the sum of their `amount_units` and their count
per account, UTC slot (`ts_ms // slot_ms`) and type (the venue's own, `income_type`, from schema v4 on:
every type stays apart): `income_quarters` (quarter-hours, per symbol) and `income_hours` (hours, all
symbols together). A report of 90 days by day reads a few thousand summary
rows instead of a million income rows, and stays exact:
- a summary covers whole slots; the report's first and last partial slots are read from the rows;
- a local day starts on an hour boundary in a zone whose UTC offset is whole hours (the hourly summary
  serves it unless symbols are asked for), and on a quarter-hour boundary in every zone whose offset is
  a whole number of quarter-hours (India's +5:30, Nepal's +5:45, Chatham's +12:45 included: the
  quarter-hour summary); a piece of the range with any other offset (historical local mean times) is
  read from the rows;
- rows whose `amount_units` is NULL are counted in the summaries but not summed: they are read from a
  partial index and added as Decimals;
- a trigger's `units + NEW.amount_units` turns into a REAL instead of failing when it would pass 2**63
  (SQLite's rule for `+`): such a slot is never trusted, the local day holding it is read from the rows,
  and a `sum()` over summary rows that would overflow is added in Python instead.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mmctl.pnl.income_types import FUNDING_TYPE, TRANSFER_TYPES
from mmctl.pnl.lines import ExactSum
from mmctl.store.records import IncomeSum

QUARTER_MS = 900_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
UNITS_PLACES = 8
MAX_UNITS = 10**18  # |amount_units| stays below this: a sum of nine rows cannot pass 2**63
_DAY_SHIFT_MS = 10_000 * DAY_MS  # keeps the day division's operand positive near 1970
_SHIFT_DAYS = _DAY_SHIFT_MS // DAY_MS

UNITS_SQL = (
    "CASE WHEN amount GLOB '*[^0-9.-]*' OR amount GLOB '?*-*' OR amount GLOB '*.*.*' THEN NULL "
    "WHEN instr(amount, '.') = 0 THEN CASE WHEN length(amount) <= 10 "
    "THEN CAST(amount AS INTEGER) * 100000000 END "
    "WHEN instr(amount, '.') <= 11 AND length(amount) - instr(amount, '.') BETWEEN 1 AND 8 "
    "THEN CAST(replace(amount, '.', '') AS INTEGER) "
    "* CAST(substr('100000000', 1, 9 - (length(amount) - instr(amount, '.'))) AS INTEGER) END"
)
"""`amount_units` computed in SQL from a plain-decimal text (at most 10 integer digits and 8 places), else
NULL: the migration's fast path; `amount_units()` then fills what this leaves NULL."""


@dataclass(frozen=True, slots=True)
class Summary:
    """One summary table: income summed per account, UTC slot of `slot_ms` (`ts_ms // slot_ms`), type
    and, when `symbols`, symbol (else the symbol column is '')."""

    table: str
    slot_ms: int
    symbols: bool

    def upsert(self, values: str) -> str:
        return (
            f"INSERT INTO {self.table} (account, slot, income_type, symbol, units, rows) VALUES ({values}) "
            "ON CONFLICT (account, slot, income_type, symbol) DO UPDATE SET "
            "units = units + excluded.units, rows = rows + excluded.rows"
        )

    @property
    def trigger(self) -> str:
        symbol = "NEW.symbol" if self.symbols else "''"
        values = f"NEW.account, NEW.ts_ms / {self.slot_ms}, NEW.income_type, {symbol}, "
        return self.upsert(values + "coalesce(NEW.amount_units, 0), 1")


QUARTERS = Summary("income_quarters", QUARTER_MS, symbols=True)
HOURS = Summary("income_hours", HOUR_MS, symbols=False)
SUMMARIES = (QUARTERS, HOURS)


def amount_units(amount: Decimal) -> int | None:
    """`amount` as an integer of 1e-8 when that is exact and below `MAX_UNITS` in size, else None."""
    sign, digits, exponent = amount.as_tuple()
    if not isinstance(exponent, int):
        return None
    shift = exponent + UNITS_PLACES
    if shift > 18:
        return None
    n = int("".join(map(str, digits)) or "0")
    units: int = n * pow(10, shift) if shift >= 0 else n // pow(10, -shift)
    if shift < 0 and n % pow(10, -shift):
        return None
    if units >= MAX_UNITS:
        return None
    return -units if sign else units


# --- migration v3 ---------------------------------------------------------------------------------------


def migrate_v3(conn: sqlite3.Connection) -> None:
    """Add `amount_units` (filled for existing rows), the summary tables (built from them), their triggers
    and the partial index of rows summed in Python."""
    conn.execute("ALTER TABLE income ADD COLUMN amount_units INTEGER")
    conn.execute(f"UPDATE income SET amount_units = {UNITS_SQL}")
    odd = conn.execute("SELECT id, amount FROM income WHERE amount_units IS NULL").fetchall()
    conn.executemany(
        "UPDATE income SET amount_units = ? WHERE id = ?",
        [(units, id_) for id_, text in odd if (units := _units_of_text(text)) is not None],
    )
    for summary in SUMMARIES:
        _build(conn, summary)
    conn.execute("CREATE INDEX income_odd ON income(account, ts_ms) WHERE amount_units IS NULL")


def _build(conn: sqlite3.Connection, summary: Summary) -> None:
    conn.execute(
        f"CREATE TABLE {summary.table} (account TEXT NOT NULL, slot INTEGER NOT NULL, "
        "income_type TEXT NOT NULL, symbol TEXT NOT NULL, units INTEGER NOT NULL, rows INTEGER NOT NULL, "
        "PRIMARY KEY (account, slot, income_type, symbol)) WITHOUT ROWID"
    )
    symbol = "symbol" if summary.symbols else "''"
    keys = f"account, ts_ms / {summary.slot_ms}, income_type, {symbol}"
    try:
        conn.execute(
            f"INSERT INTO {summary.table} SELECT {keys}, sum(coalesce(amount_units, 0)), count(*) "
            "FROM income GROUP BY 1, 2, 3, 4"
        )
    except sqlite3.OperationalError as e:  # a slot past 2**63: row by row, as the trigger does
        if "overflow" not in str(e):
            raise
        conn.execute(f"DELETE FROM {summary.table}")
        rows = conn.execute(f"SELECT {keys}, coalesce(amount_units, 0) FROM income").fetchall()
        for row in rows:
            conn.execute(summary.upsert("?, ?, ?, ?, ?, 1"), row)
    conn.execute(f"CREATE TRIGGER {summary.table}_add AFTER INSERT ON income BEGIN {summary.trigger}; END")


def _units_of_text(text: str) -> int | None:
    try:
        return amount_units(Decimal(text))
    except ArithmeticError:
        return None


# --- reading ----------------------------------------------------------------------------------------------


def _day_sql(ts: str, offset_ms: int) -> str:
    return f"({ts} + {int(offset_ms)} + {_DAY_SHIFT_MS}) / {DAY_MS} - {_SHIFT_DAYS}"


def _day(ts_ms: int, offset_ms: int) -> int:
    return (ts_ms + offset_ms) // DAY_MS


def income_sums(
    conn: sqlite3.Connection,
    *,
    account: str,
    since_ms: int,
    until_ms: int,
    offset_ms: int = 0,
    symbol: str | None = None,
    attribute: bool = False,
    symbols: bool = True,
) -> list[IncomeSum]:
    """See `StoreReads.income_sums`: from a summary for whole slots when nothing is attributed and the
    offset allows (see the module docstring), from the rows otherwise. With `symbols=False` (and no
    `symbol`) the sums may come back with symbol '' (the hourly summary keeps no symbols)."""
    summary = _pick(offset_ms, symbol, symbols)
    if attribute or summary is None:
        return row_sums(conn, account, since_ms, until_ms, offset_ms, symbol, attribute)
    slot = summary.slot_ms
    first, end = -(-since_ms // slot), until_ms // slot
    if first >= end:
        return row_sums(conn, account, since_ms, until_ms, offset_ms, symbol, False)
    lo, hi = first * slot, end * slot
    out = row_sums(conn, account, since_ms, lo, offset_ms, symbol, False)
    out += row_sums(conn, account, hi, until_ms, offset_ms, symbol, False)
    where, params = "WHERE account = ? AND slot >= ? AND slot < ?", [account, first, end]
    if symbol is not None:
        where, params = where + " AND symbol = ?", [*params, symbol]
    sums, distrusted = _summary_sums(conn, summary, where, params, offset_ms)
    out += sums
    for day, kind, sym in sorted(distrusted):  # a slot past 2**63 that day: that day's rows, as Decimals
        start, stop = max(lo, day * DAY_MS - offset_ms), min(hi, (day + 1) * DAY_MS - offset_ms)
        redo = row_sums(conn, account, start, stop, offset_ms, sym or symbol, False, "NULL")
        out += [x for x in redo if x.venue_type == kind]
    odd_params: list[Any] = [account, lo, hi]
    odd_sql = "SELECT ts_ms, income_type, symbol, amount FROM income INDEXED BY income_odd WHERE "
    odd_sql += "account = ? AND amount_units IS NULL AND ts_ms >= ? AND ts_ms < ?"
    if symbol is not None:
        odd_sql, odd_params = odd_sql + " AND symbol = ?", [*odd_params, symbol]
    for ts, kind, sym, amount in conn.execute(odd_sql, odd_params):
        day, key = _day(ts, offset_ms), sym if summary.symbols else ""
        if (day, kind, key) not in distrusted:
            out.append(IncomeSum(day, kind, key, None, None, 0, (Decimal(amount),), 0))
    return out


def _pick(offset_ms: int, symbol: str | None, symbols: bool) -> Summary | None:
    if symbol is None and not symbols and offset_ms % HOUR_MS == 0:
        return HOURS
    if offset_ms % QUARTER_MS == 0:
        return QUARTERS
    return None


def _summary_sums(
    conn: sqlite3.Connection, summary: Summary, where: str, params: list[Any], offset_ms: int
) -> tuple[list[IncomeSum], set[tuple[int, str, str]]]:
    """The summary's rows summed by local day, type and symbol (in Python if SQL would overflow), and the
    (day, type, symbol) groups holding a slot whose sum passed 2**63 (a REAL: not trusted, not summed)."""
    day = _day_sql(f"slot * {summary.slot_ms}", offset_ms)
    good = "CASE WHEN typeof(units) = 'integer' THEN units ELSE 0 END"
    head = f"SELECT {day}, income_type, symbol"
    bad = "typeof(units) != 'integer'"
    try:
        rows: Iterable[tuple[int, str, str, int, int, int]] = conn.execute(
            f"{head}, sum({good}), sum(rows), sum({bad}) FROM {summary.table} {where} GROUP BY 1, 2, 3",
            params,
        ).fetchall()
    except sqlite3.OperationalError as e:
        if "overflow" not in str(e):
            raise
        totals: dict[tuple[int, str, str], list[int]] = {}
        for d, t, s, units, count, is_bad in conn.execute(
            f"{head}, {good}, rows, {bad} FROM {summary.table} {where}", params
        ):
            acc = totals.setdefault((d, t, s), [0, 0, 0])
            acc[0] += units
            acc[1] += count
            acc[2] += is_bad
        rows = [(d, t, s, u, c, b) for (d, t, s), (u, c, b) in totals.items()]
    sums, distrusted = [], set()
    for d, t, s, units, count, is_bad in rows:
        if is_bad:
            distrusted.add((d, t, s))
        else:
            sums.append(IncomeSum(d, t, s, None, None, units, (), count))
    return sums, distrusted


_UNATTRIBUTED_TYPES = ", ".join(f"'{t}'" for t in sorted({FUNDING_TYPE, *TRANSFER_TYPES}))
"""Types whose rows are never given to a bot by their trade id: funding (split by position instead) and
transfers. Any other row whose trade id names a recorded fill goes to that fill's bot."""


def row_sums(
    conn: sqlite3.Connection,
    account: str,
    since_ms: int,
    until_ms: int,
    offset_ms: int,
    symbol: str | None,
    attribute: bool,
    units: str = "amount_units",
) -> list[IncomeSum]:
    """The rows in [since_ms, until_ms) summed in SQL as integers (`amount_units`; NULL ones come back as
    Decimals), grouped by local day, type and symbol, and with `attribute` by the bot of a trade's fill
    and a funding row's time. An integer sum past 2**63 is redone with every amount as a Decimal."""
    if since_ms >= until_ms:
        return []
    try:
        return _row_sums(conn, account, since_ms, until_ms, offset_ms, symbol, attribute, units)
    except sqlite3.OperationalError as e:
        if "overflow" not in str(e) or units == "NULL":
            raise
        return _row_sums(conn, account, since_ms, until_ms, offset_ms, symbol, attribute, "NULL")


def _row_sums(
    conn: sqlite3.Connection,
    account: str,
    since_ms: int,
    until_ms: int,
    offset_ms: int,
    symbol: str | None,
    attribute: bool,
    units: str,
) -> list[IncomeSum]:
    bot, ts, join = "NULL", "NULL", ""
    if attribute:
        bot = f"CASE WHEN i.income_type NOT IN ({_UNATTRIBUTED_TYPES}) THEN f.bot END"
        ts = f"CASE WHEN i.income_type = '{FUNDING_TYPE}' THEN i.ts_ms END"
        join = (
            " LEFT JOIN fills f ON f.account = i.account AND f.symbol = i.symbol AND f.trade_id = i.trade_id"
        )
    params: list[Any] = [account, since_ms, until_ms]
    where = " WHERE i.account = ? AND i.ts_ms >= ? AND i.ts_ms < ?"
    if symbol is not None:
        where, params = where + " AND i.symbol = ?", [*params, symbol]
    u = "i.amount_units" if units == "amount_units" else units
    inner = (
        f"SELECT i.ts_ms AS ts_ms, i.income_type AS t, i.symbol AS s, i.amount AS a, {bot} AS b, "
        f"{ts} AS ft, {u} AS u FROM income i{join}{where}"
    )
    sql = (
        f"SELECT {_day_sql('ts_ms', offset_ms)}, t, s, b, ft, sum(u), "
        "group_concat(CASE WHEN u IS NULL THEN a END, ' '), count(*) "
        f"FROM ({inner}) GROUP BY 1, t, s, b, ft"
    )
    return [
        IncomeSum(
            day=r[0],
            venue_type=r[1],
            symbol=r[2],
            bot=r[3],
            ts_ms=r[4],
            units=r[5] or 0,
            rest=tuple(Decimal(a) for a in r[6].split(" ")) if r[6] else (),
            rows=r[7],
        )
        for r in conn.execute(sql, params)
    ]


# --- positions from fills ---------------------------------------------------------------------------------


def bot_positions(conn: sqlite3.Connection, account: str, symbol: str, before_ms: int) -> dict[str, Decimal]:
    """Each bot's signed position on `symbol` from its recorded fills before `before_ms`, exact. SQL counts
    the fills per bot, side and quantity text (a bot trades a few sizes); Python multiplies and adds
    exactly. Fills without a bot are left out."""
    rows = conn.execute(
        "SELECT bot, side, qty, count(*) FROM fills WHERE account = ? AND symbol = ? AND ts_ms < ? "
        "AND bot IS NOT NULL GROUP BY bot, side, qty",
        (account, symbol, before_ms),
    )
    held: dict[str, ExactSum] = {}
    for bot, side, qty, count in rows:
        sign, digits, exponent = Decimal(qty).as_tuple()
        assert isinstance(exponent, int)  # the store holds finite quantities only
        units = int("".join(map(str, digits)) or "0") * count
        negative = bool(sign) != (side == "sell")
        held.setdefault(bot, ExactSum()).add_units(-units if negative else units, exponent)
    return {bot: acc.value for bot, acc in held.items()}
