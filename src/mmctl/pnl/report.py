"""`mmctl pnl`: profit and loss over any time range, from the store's copy of the venue's income ledger.

`build_report(store, request, ...)` sums the stored income rows of the requested accounts (the caller
brings their ledgers up to date first: `mmctl.pnl.sync`) into report lines (`mmctl.pnl.lines`: realized,
commission, funding, every other type the venue reports as its own line, transfers apart, net; by the
venue's own type of each row, `mmctl.pnl.income_types`), optionally for one symbol or one bot, and
groups them `by` day, week or month in the report's zone (`mmctl.pnl.buckets`), or by symbol, bot or
the venue's type (`REALIZED_PNL`, `INSURANCE_CLEAR`, `INTERNAL_TRANSFER`, ...). The store adds the rows
in SQL as exact integers, grouped by local day, type and symbol (and, when bots matter, by the bot of
each trade and the time of each funding payment); without bots it reads its hourly and quarter-hourly
sums instead of the rows (`mmctl.store.sqlite.ledger`), so a 90-day report over a million-row ledger
reads a few thousand groups. Bot attribution: `mmctl.pnl.attribution`.

Exact: every bucket's lines sum to the report's lines, and per-bot lines plus `unattributed` equal the
account's. Every bucket carries the report's lines (the fixed four, and each other type the report has
rows of), so each bucket has the same fields; `pnl_doc` gives the wire document (money as plain
decimal strings), `docs/json.md` describes it.
Application layer: core and the `Store` port.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from decimal import Decimal
from typing import Any, cast

from mmctl.pnl.attribution import UNATTRIBUTED, positions_at, split_funding
from mmctl.pnl.buckets import KEYS, TIME_BUCKETS, day_of, offset_segments, time_buckets
from mmctl.pnl.income_types import FUNDING, FUNDING_TYPE, line_of
from mmctl.pnl.lines import UNITS_EXPONENT, ExactSum, Lines, plain
from mmctl.rpc.protocol import PnlDoc
from mmctl.store.base import Store, StoreReads
from mmctl.store.records import IncomeSum, StoredFill
from mmctl.timefmt import iso_utc


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """What to report: [since_ms, until_ms) of `accounts`, optionally one symbol (unified form) or one
    bot's share, grouped `by` one of `mmctl.pnl.buckets.GROUPINGS` (None: totals only)."""

    since_ms: int
    until_ms: int
    zone: tzinfo
    zone_name: str
    accounts: tuple[str, ...]
    symbol: str | None = None
    bot: str | None = None
    by: str | None = None

    @property
    def attributed(self) -> bool:
        return self.bot is not None or self.by == "bot"


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    lines: dict[str, Decimal]
    start_ms: int | None = None


@dataclass(frozen=True, slots=True)
class PnlReport:
    request: ReportRequest
    lines: dict[str, Decimal]
    buckets: list[Bucket]
    rows: int
    complete_until_ms: int
    unrealized: Decimal | None = None
    sync: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Part:
    """One contribution to the report: `units` × 10**exponent on `line` (of the venue's `venue_type`),
    with what it can be grouped by."""

    day: int
    venue_type: str
    line: str
    symbol: str
    bot: str | None
    units: int
    exponent: int = UNITS_EXPONENT


@dataclass
class _AccountData:
    sums: list[IncomeSum]
    fills: dict[str, list[StoredFill]]
    base: dict[str, dict[str, Decimal]] = field(default_factory=dict)


def _read(request: ReportRequest) -> Callable[[StoreReads], dict[str, _AccountData]]:
    segments = offset_segments(request.since_ms, request.until_ms, request.zone)

    def read(r: StoreReads) -> dict[str, _AccountData]:
        out: dict[str, _AccountData] = {}
        for account in request.accounts:
            sums = [
                s
                for start, end, offset in segments
                for s in r.income_sums(
                    account=account,
                    since_ms=start,
                    until_ms=end,
                    offset_ms=offset,
                    symbol=request.symbol,
                    attribute=request.attributed,
                    symbols=request.by == "symbol",
                )
            ]
            span: dict[str, tuple[int, int]] = {}  # per symbol: first and last funding time
            for s in sums:
                if s.ts_ms is not None:
                    first, last = span.get(s.symbol, (s.ts_ms, s.ts_ms))
                    span[s.symbol] = (min(first, s.ts_ms), max(last, s.ts_ms))
            # each bot's position before the first funding time, summed by the store; then the fills
            # of the period only (not the whole history)
            base = {
                symbol: r.bot_positions(account=account, symbol=symbol, before_ms=first)
                for symbol, (first, _) in span.items()
            }
            fills = {
                symbol: r.fills(account=account, symbol=symbol, since_ms=first, until_ms=last, limit=None)
                for symbol, (first, last) in span.items()
            }
            out[account] = _AccountData(sums, fills, base)
        return out

    return read


async def build_report(
    store: Store,
    request: ReportRequest,
    *,
    complete_until_ms: int,
    unrealized: Decimal | None = None,
    sync: Sequence[Mapping[str, Any]] = (),
) -> PnlReport:
    """The report of `request` from what the store holds (see the module docstring)."""
    data = await store.read(_read(request))
    return assemble(request, data, complete_until_ms=complete_until_ms, unrealized=unrealized, sync=sync)


def assemble(
    request: ReportRequest,
    data: Mapping[str, _AccountData],
    *,
    complete_until_ms: int,
    unrealized: Decimal | None = None,
    sync: Sequence[Mapping[str, Any]] = (),
) -> PnlReport:
    total = Lines()
    grouped: dict[str, Lines] = defaultdict(Lines)
    key_of = _key_function(request)
    rows = 0
    for account_data in data.values():
        rows += sum(s.rows for s in account_data.sums)
        for part in _parts(account_data, request.attributed):
            if request.bot is not None and part.bot != request.bot:
                continue
            total.add_units(part.line, part.units, part.exponent)
            if key_of is not None:
                grouped[key_of(part)].add_units(part.line, part.units, part.exponent)
    return PnlReport(
        request=request,
        lines=total.as_dict(),
        buckets=_buckets(request, grouped, total.names()),
        rows=rows,
        complete_until_ms=min(complete_until_ms, request.until_ms),
        unrealized=unrealized,
        sync=[dict(s) for s in sync],
    )


def _parts(data: _AccountData, attributed: bool) -> Iterator[_Part]:
    funding: dict[tuple[str, int], list[IncomeSum]] = defaultdict(list)
    for s in data.sums:
        if attributed and s.ts_ms is not None:
            funding[(s.symbol, s.ts_ms)].append(s)
            continue
        kind, line = s.venue_type, line_of(s.venue_type)
        bot = (s.bot or UNATTRIBUTED) if attributed else None
        yield _Part(s.day, kind, line, s.symbol, bot, s.units)
        for amount in s.rest:
            yield _amount_part(s.day, kind, line, s.symbol, bot, amount)
    times: dict[str, list[int]] = defaultdict(list)
    for symbol, ts in funding:
        times[symbol].append(ts)
    held = {
        symbol: positions_at(data.fills.get(symbol, ()), ts, data.base.get(symbol, {}))
        for symbol, ts in times.items()
    }
    for (symbol, ts), sums in sorted(funding.items()):
        positions = held[symbol][ts]
        for s in sums:  # one payment per symbol and time; several rows are split each on its own
            for amount in _amounts(s):
                split = split_funding(amount, positions)
                for bot, share in split.shares.items():
                    if share:
                        yield _amount_part(s.day, FUNDING_TYPE, FUNDING, symbol, bot, share)
                yield _amount_part(s.day, FUNDING_TYPE, FUNDING, symbol, UNATTRIBUTED, split.unattributed)


def _amounts(s: IncomeSum) -> list[Decimal]:
    units = Decimal(f"{s.units}E{UNITS_EXPONENT}")
    return [units, *s.rest] if s.units or not s.rest else list(s.rest)


def _amount_part(day: int, kind: str, line: str, symbol: str, bot: str | None, amount: Decimal) -> _Part:
    exact = ExactSum()
    exact.add(amount)
    return _Part(day, kind, line, symbol, bot, exact.units, exact.exponent)


def _key_function(request: ReportRequest) -> Callable[[_Part], str] | None:
    by = request.by
    if by is None:
        return None
    if by in TIME_BUCKETS:
        key_of = KEYS[by]
        return lambda p: key_of(day_of(p.day))[0]
    if by == "symbol":
        return lambda p: p.symbol
    if by == "type":
        return lambda p: p.venue_type
    if by == "bot":
        return lambda p: p.bot or UNATTRIBUTED
    raise ValueError(f"unknown grouping {by!r}")


def _buckets(request: ReportRequest, grouped: Mapping[str, Lines], names: Sequence[str]) -> list[Bucket]:
    """The buckets, each with the report's line `names` (the same fields in every bucket)."""
    if request.by is None:
        return []
    if request.by in TIME_BUCKETS:
        return [
            Bucket(key, grouped.get(key, Lines()).as_dict(names), start)
            for key, start in time_buckets(request.since_ms, request.until_ms, request.zone, request.by)
        ]
    keys = set(grouped)
    if request.by == "bot" and request.bot is None:
        keys.add(UNATTRIBUTED)
    ordered = sorted(keys, key=lambda k: (k == UNATTRIBUTED, k))
    return [Bucket(key, grouped.get(key, Lines()).as_dict(names)) for key in ordered]


def pnl_doc(report: PnlReport) -> PnlDoc:
    """The report as `mmctl pnl --json` prints it (docs/json.md, "pnl")."""
    q = report.request
    doc: dict[str, Any] = {
        "since": iso_utc(q.since_ms),
        "until": iso_utc(q.until_ms),
        "timezone": q.zone_name,
        "complete_until": iso_utc(report.complete_until_ms),
        "complete": report.complete_until_ms >= q.until_ms - 1,
        "accounts": list(q.accounts),
        "symbol": q.symbol,
        "bot": q.bot,
        "by": q.by,
        **{name: plain(v) for name, v in report.lines.items()},
        "unrealized": None if report.unrealized is None else plain(report.unrealized),
        "rows": report.rows,
        "sync": report.sync,
    }
    if q.by is not None:
        doc["buckets"] = [
            {
                "key": b.key,
                "start": None if b.start_ms is None else iso_utc(b.start_ms),
                **{name: plain(v) for name, v in b.lines.items()},
            }
            for b in report.buckets
        ]
    return cast(PnlDoc, doc)
