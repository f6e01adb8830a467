"""Points in time typed by a person (`--since`, `--until`): one parser for every command that takes one.

`parse_time(text, now_ms=..., tz=...)` returns epoch milliseconds. Accepted forms:

- ISO 8601 with an offset or `Z`: `2026-12-01T05:59:01Z`, `2025-11-20T11:00-05:00`. The offset wins;
  the zone is not used.
- ISO 8601 without an offset, a date (`2026-12-01`, midnight) or a date and time
  (`2026-12-01T09:30`): a wall time in the zone `tz` (an IANA name such as `America/New_York`; default
  UTC), so cron's `--since 2026-12-01 --tz Europe/Berlin` means Berlin's midnight.
- Relative, before now: `90m`, `24h`, `7d`, `2w` (minutes, hours, days, weeks; a day is exactly 24 h
  here, so `7d` is 168 hours before now whatever the clocks did meanwhile).
- `now`; `today` and `yesterday`: the start (00:00) of that calendar day in the zone `tz`;
  `this-week` and `this-month`: the start (00:00) of the current ISO week (Monday) and of the first day of
  the current month in the zone `tz`.

Wall times are resolved with `zoneinfo`, so they are right across daylight-saving changes. A wall time
that does not exist in the zone (skipped when the clocks went forward) or that happened twice (when they
went back) is an error that says so and how to be exact (give an offset), never a silent guess.
Keywords and units are case-insensitive. Results before 1970 or after the year 9999 are refused.

Core layer: stdlib only and no I/O of its own (`zoneinfo` reads the system's time-zone database).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mmctl.errors import ValidationError

FORMS = (
    "ISO 8601 (2026-12-01T05:59:01Z, 2025-11-20T11:00-05:00, 2026-12-01 in --tz), "
    "a time before now (90m, 24h, 7d, 2w), now, today, yesterday, this-week or this-month"
)
"""The accepted forms, as error messages and help texts name them."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_MAX_MS = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - _EPOCH) // _MS
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}
_RELATIVE = re.compile(r"(\d{1,9})([mhdw])")
_MAX_TEXT = 64  # longer than any accepted form; a longer text is not echoed back in full
_DAY_WORDS: dict[str, Callable[[date], date]] = {
    "today": lambda d: d,
    "yesterday": lambda d: d - timedelta(days=1),
    "this-week": lambda d: d - timedelta(days=d.weekday()),
    "this-month": lambda d: d.replace(day=1),
}


def parse_time(text: str, *, now_ms: int, tz: str | tzinfo | None = None, field: str = "since") -> int:
    """`text` as epoch milliseconds; `ValidationError` naming `field` and the accepted forms if it is not
    a time. `now_ms` is the present (relative forms, today, yesterday); `tz` the zone of wall times."""
    zone = zone_of(tz)
    raw = text.strip()
    word = raw.lower()
    if word == "now":
        return now_ms
    if word in _DAY_WORDS:
        today = (_EPOCH + now_ms * _MS).astimezone(zone).date()
        day = _DAY_WORDS[word](today)
        return _checked(_wall(datetime.combine(day, datetime.min.time()), zone, raw, field), raw, field)
    relative = _RELATIVE.fullmatch(word)
    if relative:
        return _checked(now_ms - int(relative[1]) * _UNIT_MS[relative[2]], raw, field)
    moment = _iso(raw)
    if moment is None:
        raise _error(f"{field}: {_shown(raw)} is not a time; use {FORMS}", field)
    if moment.tzinfo is None:
        return _checked(_wall(moment, zone, raw, field), raw, field)
    return _checked((moment - _EPOCH) // _MS, raw, field)


def zone_of(tz: str | tzinfo | None) -> tzinfo:
    """The zone named `tz` (None or "UTC": UTC); `ValidationError` naming the field `tz` if unknown."""
    if tz is None:
        return UTC
    if isinstance(tz, tzinfo):
        return tz
    name = tz.strip()
    if name.upper() in ("UTC", "Z"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:
        raise _error(
            f"tz: unknown time zone {_shown(name)}; use an IANA name such as America/New_York, or UTC",
            "tz",
        ) from e


def day_start_ms(day: date, zone: tzinfo) -> int:
    """When calendar day `day` begins in `zone`, as epoch ms: its 00:00 (the first one where midnight
    happened twice), or where the clocks skipped midnight the first instant that exists that day.
    For day buckets: unlike `parse_time("today")`, never an error."""
    midnight = datetime.combine(day, datetime.min.time())
    starts = sorted(midnight.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))
    on_day = [s for s in starts if s.astimezone(zone).date() == day]
    return ((on_day or starts)[0] - _EPOCH) // _MS


def _iso(raw: str) -> datetime | None:
    """An ISO 8601 date (its midnight) or date-time, naive or with an offset; None if `raw` is neither."""
    if len(raw) > _MAX_TEXT or not raw[:1].isdigit():
        return None
    try:
        return datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        return None


def _wall(moment: datetime, zone: tzinfo, raw: str, field: str) -> int:
    """A naive wall time in `zone` as epoch ms; an error if the zone skipped it or had it twice."""
    early = moment.replace(tzinfo=zone, fold=0)
    late = moment.replace(tzinfo=zone, fold=1)
    name = getattr(zone, "key", None) or str(zone)
    shifted = early.astimezone(UTC).astimezone(zone)
    if shifted.replace(tzinfo=None) != moment:
        raise _error(
            f"{field}: {_shown(raw)} does not exist in {name} (the clocks skipped it); "
            f"give an offset, e.g. {_offset(shifted)}",
            field,
        )
    if early.utcoffset() != late.utcoffset():
        first, second = (_offset(early), _offset(late))
        raise _error(
            f"{field}: {_shown(raw)} happened twice in {name} (at {first} and at {second}); "
            "give the offset you mean",
            field,
        )
    return (early - _EPOCH) // _MS


def _offset(moment: datetime) -> str:
    return moment.isoformat(timespec="minutes")


def _checked(ms: int, raw: str, field: str) -> int:
    if not 0 <= ms <= _MAX_MS:
        raise _error(f"{field}: {_shown(raw)} is out of range (1970 to 9999)", field)
    return ms


def _shown(raw: str) -> str:
    return repr(raw if len(raw) <= _MAX_TEXT else raw[:_MAX_TEXT] + "…")


def _error(message: str, field: str) -> ValidationError:
    return ValidationError(message, data={"field": field})
