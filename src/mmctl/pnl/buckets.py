"""Time buckets of a PnL report in the report's zone: local days, ISO weeks (from Monday) and months.

A zone's UTC offset is constant between its transitions, so `offset_segments` cuts a report's time range
into pieces of one offset each; on a piece, the local day of `ts_ms` is `(ts_ms + offset) // DAY_MS` days
after 1970-01-01, which the store computes in SQL. Days then roll up into weeks and months here. A day
of 23 or 25 hours (a daylight-saving change) is one bucket, as a person reading the calendar expects.

Core layer: stdlib only (`zoneinfo` through the caller's `tzinfo`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo

from mmctl.timeparse import day_start_ms

DAY_MS = 86_400_000
EPOCH_DAY = date(1970, 1, 1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

TIME_BUCKETS = ("day", "week", "month")
GROUPINGS = (*TIME_BUCKETS, "symbol", "bot", "type")


def offset_ms(ts_ms: int, zone: tzinfo) -> int:
    """The zone's UTC offset at `ts_ms`, in ms."""
    offset = (_EPOCH + ts_ms * _MS).astimezone(zone).utcoffset()
    return 0 if offset is None else offset // _MS


def offset_segments(since_ms: int, until_ms: int, zone: tzinfo) -> list[tuple[int, int, int]]:
    """[since_ms, until_ms) as (start, end, offset) pieces, each with one UTC offset in `zone`.
    Probes once a day and finds each change by bisection (zones change at most a few times a year)."""
    pieces: list[tuple[int, int, int]] = []
    start = since_ms
    while start < until_ms:
        off = offset_ms(start, zone)
        probe = start
        while probe < until_ms and offset_ms(probe, zone) == off:
            probe = min(probe + DAY_MS, until_ms)
        if probe >= until_ms and offset_ms(until_ms - 1, zone) == off:
            pieces.append((start, until_ms, off))
            break
        low, high = max(start, probe - DAY_MS), probe  # offset(low) == off, offset(high) != off
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if offset_ms(mid, zone) == off else (low, mid)
        pieces.append((start, high, off))
        start = high
    return pieces


def day_of(ordinal: int) -> date:
    """The date `ordinal` days after 1970-01-01."""
    return EPOCH_DAY + timedelta(days=ordinal)


def local_date(ts_ms: int, zone: tzinfo) -> date:
    return (_EPOCH + ts_ms * _MS).astimezone(zone).date()


def _week(d: date) -> tuple[str, date]:
    year, week, _ = d.isocalendar()
    return f"{year}-W{week:02d}", d - timedelta(days=d.weekday())


def _month(d: date) -> tuple[str, date]:
    return f"{d.year:04d}-{d.month:02d}", d.replace(day=1)


def _day(d: date) -> tuple[str, date]:
    return d.isoformat(), d


KEYS: dict[str, Callable[[date], tuple[str, date]]] = {"day": _day, "week": _week, "month": _month}
"""A date's bucket key (`2026-03-08`, `2026-W10`, `2026-03`) and the bucket's first day."""


def time_buckets(since_ms: int, until_ms: int, zone: tzinfo, by: str) -> list[tuple[str, int]]:
    """Every `by` bucket that [since_ms, until_ms) touches, in order: its key and when it starts (ms)."""
    key_of = KEYS[by]
    first, last = local_date(since_ms, zone), local_date(max(since_ms, until_ms - 1), zone)
    out: list[tuple[str, int]] = []
    d = first
    while d <= last:
        key, start = key_of(d)
        if not out or out[-1][0] != key:
            out.append((key, day_start_ms(start, zone)))
        d += timedelta(days=1)
    return out
