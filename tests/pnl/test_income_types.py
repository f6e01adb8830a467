"""Income types beyond realized PnL, commission and funding: each is its own line in `net`, transfers of
every kind stay outside it, `--by type` buckets by the venue's type, every grouping sums to the total,
attribution follows trade ids, and the JSON/CSV documents (and the CLI printing them) carry the lines."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.cli.fake_daemon import FakeDaemon

from mmctl.cli.app import main
from mmctl.clock import ManualClock
from mmctl.model import Fill, IncomeRow, IncomeType, Side
from mmctl.pnl.export import csv_text
from mmctl.pnl.lines import exact_sum
from mmctl.pnl.report import PnlReport, ReportRequest, build_report, pnl_doc
from mmctl.rpc.protocol import dumps
from mmctl.store.records import NewFill, NewIncome
from mmctl.store.sqlite import SqliteStore

ACCOUNT = "main"
BTC = "BTC/USDT:USDT"
DAY_MS = 86_400_000
START = int(datetime(2026, 3, 7, tzinfo=UTC).timestamp() * 1000)
UNTIL = START + 3 * DAY_MS

# (venue type, mmctl's type, day, amount, trade id, symbol)
LEDGER = [
    ("REALIZED_PNL", IncomeType.REALIZED_PNL, 0, "12.5", "T1", BTC),
    ("COMMISSION", IncomeType.COMMISSION, 0, "-0.75", "T1", BTC),
    ("API_REBATE", IncomeType.COMMISSION, 0, "0.125", "T1", BTC),  # names bot a's trade
    ("REALIZED_PNL", IncomeType.REALIZED_PNL, 1, "-2", "T9", BTC),  # a hand-made trade
    ("INSURANCE_CLEAR", IncomeType.REALIZED_PNL, 1, "-4.5", None, BTC),
    ("FUNDING_FEE", IncomeType.FUNDING_FEE, 1, "-0.3", None, BTC),
    ("WELCOME_BONUS", IncomeType.TRANSFER, 2, "5", None, ""),
    ("TRANSFER", IncomeType.TRANSFER, 0, "1000", None, ""),
    ("INTERNAL_TRANSFER", IncomeType.TRANSFER, 2, "-100", None, ""),
    ("COIN_SWAP_DEPOSIT", IncomeType.TRANSFER, 2, "7", None, ""),
]
OTHERS = ("api_rebate", "insurance_clear", "welcome_bonus")
LINES = ["realized", "commission", "funding", *OTHERS, "transfers", "net"]


def ledger_rows() -> list[IncomeRow]:
    """LEDGER as rows; tranIds count per type from 1 (Binance's are unique only within a type), so rows
    of different types share them."""
    rows, count = [], dict.fromkeys((venue for venue, *_ in LEDGER), 0)
    for i, (venue, kind, day, amount, trade, symbol) in enumerate(LEDGER):
        count[venue] += 1
        ts = START + day * DAY_MS + 3_600_000 + i
        rows.append(IncomeRow(str(count[venue]), ts, symbol, kind, Decimal(amount), "USDT", trade, venue))
    return rows


def bot_fill() -> Fill:
    return Fill("T1", "o1", "mm.a.b0.1", BTC, Side.BUY, Decimal(60000), Decimal("0.01"), Decimal("0.75"),
                "USDT", False, Decimal("12.5"), START + 3_600_000)  # fmt: skip


async def stored(tmp: Path) -> SqliteStore:
    store = SqliteStore.open(tmp / "mmctl.sqlite", ManualClock(), synchronous="OFF")
    await store.write(NewFill(ACCOUNT, "a", bot_fill()))
    for row in ledger_rows():
        assert await store.write(NewIncome(ACCOUNT, row))
    return store


async def report(store: SqliteStore, **kw: Any) -> PnlReport:
    request = ReportRequest(START, UNTIL, UTC, "UTC", (ACCOUNT,), **kw)
    return await build_report(store, request, complete_until_ms=UNTIL)


def total(venue_types: tuple[str, ...]) -> Decimal:
    return exact_sum(Decimal(amount) for venue, _, _, amount, *_ in LEDGER if venue in venue_types)


async def test_other_types_are_lines_in_net_and_transfers_stay_apart(tmp_path: Path) -> None:
    """Each type besides the fixed three is its own line counted in net; every transfer kind is in
    `transfers`, outside net; the lines come in a fixed order."""
    store = await stored(tmp_path)
    try:
        whole = await report(store)
    finally:
        await store.close()
    assert list(whole.lines) == LINES
    assert whole.lines["realized"] == Decimal("10.5")
    assert whole.lines["commission"] == Decimal("-0.75")
    assert whole.lines["funding"] == Decimal("-0.3")
    assert whole.lines["insurance_clear"] == Decimal("-4.5")
    assert whole.lines["api_rebate"] == Decimal("0.125")
    assert whole.lines["welcome_bonus"] == Decimal(5)
    assert whole.lines["transfers"] == total(("TRANSFER", "INTERNAL_TRANSFER", "COIN_SWAP_DEPOSIT"))
    profit = ("realized", "commission", "funding", *OTHERS)
    assert whole.lines["net"] == exact_sum(whole.lines[line] for line in profit) == Decimal("10.075")
    assert whole.rows == len(LEDGER)


@pytest.mark.parametrize("by", ["type", "day", "week", "symbol", "bot"])
async def test_every_grouping_sums_to_the_total_with_the_same_lines_in_each_bucket(
    tmp_path: Path, by: str
) -> None:
    """Each bucket carries the report's lines, and each line summed over the buckets is the total's."""
    store = await stored(tmp_path)
    try:
        whole = await report(store)
        grouped = await report(store, by=by)
    finally:
        await store.close()
    assert grouped.lines == whole.lines
    for bucket in grouped.buckets:
        assert list(bucket.lines) == LINES, bucket.key
    for line in LINES:
        assert exact_sum(b.lines[line] for b in grouped.buckets) == whole.lines[line], line


async def test_by_type_buckets_are_the_venues_own_types(tmp_path: Path) -> None:
    """`--by type` has one bucket per venue type; a transfer type's bucket has transfers but zero net."""
    store = await stored(tmp_path)
    try:
        by_type = await report(store, by="type")
        by_day = await report(store, by="day")
    finally:
        await store.close()
    buckets = {b.key: b.lines for b in by_type.buckets}
    assert list(buckets) == sorted({venue for venue, *_ in LEDGER})
    assert (
        buckets["INSURANCE_CLEAR"]["insurance_clear"] == buckets["INSURANCE_CLEAR"]["net"] == Decimal("-4.5")
    )
    assert buckets["INTERNAL_TRANSFER"]["transfers"] == Decimal(-100)
    assert buckets["INTERNAL_TRANSFER"]["net"] == 0
    assert buckets["REALIZED_PNL"]["realized"] == Decimal("10.5")
    days = {b.key: b.lines for b in by_day.buckets}
    assert days["2026-03-07"]["api_rebate"] == Decimal("0.125")
    assert days["2026-03-09"]["welcome_bonus"] == Decimal(5)
    assert days["2026-03-09"]["net"] == Decimal(5)


async def test_a_trade_ids_rows_go_to_its_bot_and_the_rest_is_unattributed(tmp_path: Path) -> None:
    """A rebate naming bot a's trade is a's like the trade's PnL and fee; income with no bot trade
    (insurance clearance, bonus, transfers, a hand-made trade) is unattributed; the two add up to the
    account exactly, and `--bot a` is a's bucket."""
    store = await stored(tmp_path)
    try:
        whole = await report(store)
        by_bot = await report(store, by="bot")
        only_a = await report(store, bot="a")
    finally:
        await store.close()
    buckets = {b.key: b.lines for b in by_bot.buckets}
    assert list(buckets) == ["a", "unattributed"]
    a, rest = buckets["a"], buckets["unattributed"]
    assert (a["realized"], a["commission"], a["api_rebate"], a["funding"]) == (
        Decimal("12.5"), Decimal("-0.75"), Decimal("0.125"), Decimal("-0.3"),
    )  # fmt: skip
    assert (a["insurance_clear"], a["welcome_bonus"], a["transfers"]) == (0, 0, 0)
    assert (rest["realized"], rest["insurance_clear"], rest["welcome_bonus"]) == (
        Decimal(-2), Decimal("-4.5"), Decimal(5),
    )  # fmt: skip
    assert rest["transfers"] == whole.lines["transfers"]
    for line in LINES:
        assert a[line] + rest[line] == whole.lines[line], line
    assert only_a.lines == {line: a[line] for line in only_a.lines}
    assert list(only_a.lines) == ["realized", "commission", "funding", "api_rebate", "transfers", "net"]


async def test_the_json_shape_keeps_the_fixed_lines_and_adds_the_types_present(tmp_path: Path) -> None:
    """The document always has realized, commission, funding, transfers and net; another type's field
    (its name in lower case) is there when the range has rows of it, at the top level and in each bucket;
    money is a plain string."""
    store = await stored(tmp_path)
    try:
        full = json.loads(dumps(pnl_doc(await report(store, by="day"))))
        request = ReportRequest(START, START + DAY_MS, UTC, "UTC", (ACCOUNT,), symbol=BTC)
        first_day = json.loads(dumps(pnl_doc(await build_report(store, request, complete_until_ms=UNTIL))))
        quiet = ReportRequest(UNTIL, UNTIL + DAY_MS, UTC, "UTC", (ACCOUNT,), by="day")
        empty = json.loads(dumps(pnl_doc(await build_report(store, quiet, complete_until_ms=UNTIL))))
    finally:
        await store.close()
    assert (full["insurance_clear"], full["welcome_bonus"], full["api_rebate"]) == ("-4.5", "5", "0.125")
    assert [b["insurance_clear"] for b in full["buckets"]] == ["0", "-4.5", "0"]
    lines = ("realized", "commission", "funding", "transfers", "net")
    assert all(name in first_day for name in lines)
    assert first_day["api_rebate"] == "0.125"
    assert "insurance_clear" not in first_day
    assert [k for k in empty if k in (*lines, *OTHERS)] == list(lines)
    assert set(empty["buckets"][0]) == {"key", "start", *lines}


async def test_csv_and_the_cli_print_every_line(
    tmp_path: Path, short_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--csv` has a column per line (other types between funding and transfers) whose bucket rows sum
    to the total row; `--json` prints the daemon's document; plain output is the same table."""
    store = await stored(tmp_path)
    try:
        doc = json.loads(dumps(pnl_doc(await report(store, by="type"))))
    finally:
        await store.close()
    columns = ["key", "start", *LINES, "unrealized"]
    rows = list(csv.reader(io.StringIO(csv_text(doc))))
    assert rows[0] == columns
    for i, line in enumerate(LINES, start=2):
        assert exact_sum(Decimal(r[i]) for r in rows[1:-1]) == Decimal(rows[-1][i]) == Decimal(doc[line])
    with FakeDaemon(short_tmp / "fake.sock", handlers={"pnl.report": lambda params: doc}) as daemon:
        outputs = []
        for flags in (["--json"], ["--csv"], []):
            with pytest.raises(SystemExit) as info:
                main(["--socket", str(daemon.path), "pnl", "--by", "type", *flags])
            assert info.value.code in (0, None)
            outputs.append(capsys.readouterr().out)
    assert json.loads(outputs[0]) == doc
    assert list(csv.reader(io.StringIO(outputs[1]))) == rows
    assert outputs[2].splitlines()[0].split("\t") == columns
    assert [line.split("\t")[0] for line in outputs[2].splitlines()[1:]] == [r[0] for r in rows[1:]]
