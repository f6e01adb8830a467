"""The shared time parser (`mmctl.timeparse`): every accepted form, time zones across DST, bad input."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from freezegun import freeze_time
from hypothesis import given
from hypothesis import strategies as st

from mmctl.errors import ValidationError
from mmctl.timeparse import parse_time

NOW = 1_764_568_741_123  # 2025-12-01T05:59:01.123Z
UNITS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def ms(text: str) -> int:
    """Epoch ms of an ISO time with an offset (the oracle, independent of the parser under test)."""
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def wall_now_ms() -> int:
    return int(time.time() * 1000)


def test_iso_with_z_or_offset_is_exact_and_ignores_the_zone() -> None:
    """An ISO time with `Z` or an offset means that instant, whatever `tz` says."""
    assert parse_time("2026-12-01T05:59:01.123Z", now_ms=NOW) == ms("2026-12-01T05:59:01.123+00:00")
    assert parse_time("2025-11-20T11:00-05:00", now_ms=NOW, tz="Asia/Tokyo") == ms("2025-11-20T16:00+00:00")
    assert parse_time("2025-11-20t11:00z", now_ms=NOW) == ms("2025-11-20T11:00+00:00")


def test_a_date_or_naive_time_is_a_wall_time_in_the_zone_default_utc() -> None:
    """A date is its midnight and a time without offset is read in `tz` (UTC when not given)."""
    assert parse_time("2026-12-01", now_ms=NOW) == ms("2026-12-01T00:00+00:00")
    assert parse_time("2026-12-01", now_ms=NOW, tz="Europe/Berlin") == ms("2026-12-01T00:00+01:00")
    assert parse_time("2026-07-01 09:30", now_ms=NOW, tz="America/New_York") == ms("2026-07-01T09:30-04:00")
    assert parse_time("2026-07-01T09:30", now_ms=NOW, tz="UTC") == ms("2026-07-01T09:30+00:00")


@given(n=st.integers(min_value=0, max_value=2000), unit=st.sampled_from(sorted(UNITS)), upper=st.booleans())
def test_relative_times_are_that_many_units_before_now(n: int, unit: str, upper: bool) -> None:
    """`<n><m|h|d|w>` (any case) is exactly n minutes, hours, 24-hour days or weeks before now."""
    text = f"{n}{unit.upper() if upper else unit}"
    assert parse_time(text, now_ms=NOW) == NOW - n * UNITS[unit]


@given(a=st.integers(min_value=0, max_value=500), b=st.integers(min_value=0, max_value=500))
def test_relative_times_are_ordered_and_consistent_across_units(a: int, b: int) -> None:
    """More units is earlier, and 60m = 1h, 24h = 1d, 7d = 1w."""
    assert (parse_time(f"{a}h", now_ms=NOW) <= parse_time(f"{b}h", now_ms=NOW)) == (a >= b)
    assert parse_time(f"{60 * a}m", now_ms=NOW) == parse_time(f"{a}h", now_ms=NOW)
    assert parse_time(f"{24 * a}h", now_ms=NOW) == parse_time(f"{a}d", now_ms=NOW)
    assert parse_time(f"{7 * a}d", now_ms=NOW) == parse_time(f"{a}w", now_ms=NOW)


def test_now_is_the_given_present() -> None:
    """`now` (any case) is `now_ms` itself."""
    assert parse_time("now", now_ms=NOW) == NOW
    assert parse_time(" NOW ", now_ms=NOW) == NOW


@freeze_time("2025-12-01 05:59:01")
def test_today_and_yesterday_are_midnights_in_utc_by_default() -> None:
    """`today`/`yesterday` are the starts of the current and previous UTC day."""
    now = wall_now_ms()
    assert parse_time("today", now_ms=now) == ms("2025-12-01T00:00+00:00")
    assert parse_time("Yesterday", now_ms=now) == ms("2025-11-30T00:00+00:00")


@freeze_time("2025-12-01 03:00:00")  # still Nov 30 in New York
def test_today_in_new_york_is_new_yorks_calendar_day() -> None:
    """Before New York's midnight in UTC terms, `today` there is still the previous UTC date."""
    now = wall_now_ms()
    assert parse_time("today", now_ms=now, tz="America/New_York") == ms("2025-11-30T00:00-05:00")
    assert parse_time("yesterday", now_ms=now, tz="America/New_York") == ms("2025-11-29T00:00-05:00")


@freeze_time("2026-11-02 04:30:00")  # 23:30 EST on Nov 1, the 25-hour day the clocks went back
def test_today_and_yesterday_across_the_autumn_dst_change_in_new_york() -> None:
    """On the day New York leaves DST, today's midnight was still EDT and yesterday's too (a 25 h day)."""
    now = wall_now_ms()
    today = parse_time("today", now_ms=now, tz="America/New_York")
    assert today == ms("2026-11-01T00:00-04:00")
    assert now - today == 24 * 3_600_000 + 30 * 60_000  # 23.5 h of wall clock, 24.5 h elapsed
    assert parse_time("yesterday", now_ms=now, tz="America/New_York") == ms("2026-10-31T00:00-04:00")


@freeze_time("2026-03-09 03:30:00")  # 23:30 EDT on Mar 8, the 23-hour day the clocks went forward
def test_today_and_yesterday_across_the_spring_dst_change_in_new_york() -> None:
    """On the day New York enters DST, today's midnight was EST (-05:00) and the day is 23 hours long."""
    now = wall_now_ms()
    today = parse_time("today", now_ms=now, tz="America/New_York")
    assert today == ms("2026-03-08T00:00-05:00")
    assert now - today == 22 * 3_600_000 + 30 * 60_000  # 23.5 h of wall clock, 22.5 h elapsed
    assert parse_time("yesterday", now_ms=now, tz="America/New_York") == ms("2026-03-07T00:00-05:00")


def test_a_wall_time_the_clocks_skipped_is_an_error_that_says_so() -> None:
    """02:30 on New York's spring-forward day never happened: an error suggesting an exact time."""
    with pytest.raises(ValidationError, match=r"does not exist in America/New_York.*03:30-04:00"):
        parse_time("2026-03-08T02:30", now_ms=NOW, tz="America/New_York")


def test_a_wall_time_that_happened_twice_is_an_error_naming_both() -> None:
    """01:30 on New York's fall-back day happened twice: an error naming both offsets."""
    with pytest.raises(ValidationError, match=r"happened twice.*01:30-04:00.*01:30-05:00"):
        parse_time("2026-11-01T01:30", now_ms=NOW, tz="America/New_York")


@freeze_time("2026-09-06 12:00:00")
def test_today_is_an_error_where_midnight_did_not_exist() -> None:
    """Santiago skipped 00:00 on 2026-09-06, so `today` there is refused, not guessed."""
    with pytest.raises(ValidationError, match="does not exist in America/Santiago"):
        parse_time("today", now_ms=wall_now_ms(), tz="America/Santiago")


@pytest.mark.parametrize(
    "text",
    ["", "   ", "soon", "-1d", "1.5h", "10x", "10 m", "d7", "24", "2026-13-01", "2026-12-01T25:00Z", "1e3h"],
)
def test_unreadable_text_is_one_line_naming_the_field_and_the_forms(text: str) -> None:
    """Anything else is a ValidationError naming the field and listing every accepted form."""
    with pytest.raises(ValidationError) as info:
        parse_time(text, now_ms=NOW, field="until")
    message = info.value.message
    assert "\n" not in message
    assert message.startswith("until: ")
    assert all(
        form in message for form in ("ISO 8601", "90m", "24h", "7d", "2w", "now", "today", "yesterday")
    )
    assert info.value.data == {"field": "until"}


def test_a_huge_text_is_not_echoed_in_full() -> None:
    """A pasted 10 kB value is cut short in the error message."""
    with pytest.raises(ValidationError) as info:
        parse_time("9" * 10_000, now_ms=NOW)
    assert len(info.value.message) < 400


@pytest.mark.parametrize("text", ["9999999w", "2000000d", "1969-12-31T23:59Z"])
def test_times_outside_1970_to_9999_are_refused(text: str) -> None:
    """A result before the epoch or beyond the year 9999 is out of range, not an overflow."""
    with pytest.raises(ValidationError, match="out of range"):
        parse_time(text, now_ms=NOW)


@pytest.mark.parametrize("zone", ["Nope/Zone", "../../etc/passwd", "", "America/New_York\x00"])
def test_an_unknown_zone_is_an_error_naming_tz(zone: str) -> None:
    """A zone that is not an IANA name is a ValidationError on the field `tz`."""
    with pytest.raises(ValidationError, match="unknown time zone") as info:
        parse_time("today", now_ms=NOW, tz=zone)
    assert info.value.data == {"field": "tz"}


def test_utc_names_and_tzinfo_objects_are_accepted() -> None:
    """`tz` may be "UTC", "Z" or a tzinfo; all mean what they say."""
    expected = ms("2025-12-01T00:00+00:00")
    for zone in ("UTC", "utc", "Z", UTC, None):
        assert parse_time("today", now_ms=NOW, tz=zone) == expected


def test_this_week_and_this_month_start_in_the_zone() -> None:
    """`this-week` is Monday 00:00 and `this-month` the 1st 00:00 of the current period in --tz."""
    now = ms("2026-03-11T03:00+00:00")  # Tuesday 23:00 on March 10 in New York (EDT since March 8)
    assert parse_time("this-week", now_ms=now, tz="America/New_York") == ms("2026-03-09T00:00-04:00")
    assert parse_time("this-month", now_ms=now, tz="America/New_York") == ms("2026-03-01T00:00-05:00")
    assert parse_time("THIS-WEEK", now_ms=now) == ms("2026-03-09T00:00+00:00")
