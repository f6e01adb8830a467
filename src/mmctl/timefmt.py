"""Points in time on the wire: ISO 8601 UTC strings with milliseconds and a `Z`.

Inside mmctl a point in time is integer epoch milliseconds; every JSON document (RPC results, `--json`
output, exported definitions) carries it as `iso_utc(ms)`, e.g. `"2026-12-01T05:59:01.123Z"`, and
`parse_iso_utc` reads one back. Integer arithmetic only, so the conversion is exact both ways.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def iso_utc(ts_ms: int) -> str:
    """Epoch milliseconds as ISO 8601 UTC with milliseconds and a `Z`."""
    moment = _EPOCH + timedelta(milliseconds=ts_ms)
    return moment.isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def parse_iso_utc(text: str) -> int:
    """An ISO 8601 time with a UTC offset (`Z` or `+hh:mm`) as epoch milliseconds.

    Raises `ValueError` for anything else, a time without an offset included (it would be ambiguous)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{text!r} has no UTC offset (end it with Z, e.g. 2026-12-01T05:59:01.123Z)")
    return (moment - _EPOCH) // _MS
