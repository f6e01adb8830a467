"""Daemon-wide risk guards (mmctl.fleet.risk.FleetRiskMonitor) and the UTC day window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from mmctl.bots.risk import DAY_MS, Guard, RiskAction
from mmctl.config.schema import RiskSettings
from mmctl.fleet.risk import FleetRiskMonitor, utc_day_start_ms

D = Decimal
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def test_total_notional_over_the_cap_stops_all_and_at_the_cap_does_not() -> None:
    fleet = FleetRiskMonitor(RiskSettings(max_total_notional=D(10_000)))
    exposures = {"paper:BTC/USDT:USDT": D(6000), "paper:ETH/USDT:USDT": D(-4000)}  # signs do not offset
    assert fleet.check(exposures, D(0)).ok
    exposures["main:SOL/USDT:USDT"] = D("0.01")
    v = fleet.check(exposures, D(0))
    assert v.action is RiskAction.STOP_ALL
    assert v.guard is Guard.MAX_TOTAL_NOTIONAL
    assert v.halts
    assert v.data == {
        "total_notional": "10000.01",
        "limit": "10000",
        "largest": "paper:BTC/USDT:USDT",
        "largest_notional": "6000",
    }
    assert "\n" not in v.reason


def test_daily_loss_stops_all_at_the_limit_and_not_before() -> None:
    fleet = FleetRiskMonitor(RiskSettings(daily_loss_limit=D(500)))
    assert fleet.check({}, D("-499.99")).ok
    v = fleet.check({}, D(-500))
    assert v.action is RiskAction.STOP_ALL
    assert v.guard is Guard.DAILY_LOSS_LIMIT
    assert v.data == {"pnl": "-500", "limit": "500"}


def test_daily_loss_is_reported_first_when_both_trip() -> None:
    fleet = FleetRiskMonitor(RiskSettings(max_total_notional=D(1), daily_loss_limit=D(1)))
    assert fleet.check({"x": D(2)}, D(-2)).guard is Guard.DAILY_LOSS_LIMIT


def test_fleet_guards_are_off_by_default() -> None:
    fleet = FleetRiskMonitor(RiskSettings())
    assert fleet.check({"a": D(10) ** 12}, D(-(10**12))).ok


def test_update_settings_applies_new_limits() -> None:
    fleet = FleetRiskMonitor(RiskSettings())
    fleet.update_settings(RiskSettings(daily_loss_limit=D(5)))
    assert fleet.settings.daily_loss_limit == 5
    assert fleet.check({}, D(-5)).halts


def test_the_day_rolls_over_at_midnight_utc() -> None:
    before = ms("2025-11-20T23:59:59.999+00:00")
    midnight = ms("2025-11-21T00:00:00+00:00")
    assert utc_day_start_ms(before) == ms("2025-11-20T00:00:00+00:00")
    assert utc_day_start_ms(midnight) == midnight
    assert utc_day_start_ms(midnight + 1) == midnight
    # 19:00 in New York (UTC-5) is already the next UTC day
    assert utc_day_start_ms(ms("2025-11-20T19:00:00-05:00")) == midnight


def test_yesterdays_losses_stop_counting_after_midnight_utc() -> None:
    """A caller sums net PnL since utc_day_start_ms(now): a loss late yesterday does not carry over."""
    fleet = FleetRiskMonitor(RiskSettings(daily_loss_limit=D(100)))
    income = [(ms("2025-11-20T23:30:00+00:00"), D(-80)), (ms("2025-11-21T00:10:00+00:00"), D(-30))]

    def daily(now_ms: int) -> Decimal:
        start = utc_day_start_ms(now_ms)
        return sum((amount for ts, amount in income if start <= ts <= now_ms), D(0))

    late = ms("2025-11-20T23:59:00+00:00")
    assert daily(late) == -80
    assert fleet.check({}, daily(late)).ok
    income.append((late, D(-20)))
    assert fleet.check({}, daily(late)).halts  # -100 yesterday: the limit
    after = ms("2025-11-21T00:20:00+00:00")
    assert daily(after) == -30
    assert fleet.check({}, daily(after)).ok


@given(st.integers(min_value=-86_400_000 * 365, max_value=4_102_444_800_000))  # 1969 to 2100
def test_utc_day_start_matches_the_calendar(now_ms: int) -> None:
    at = EPOCH + timedelta(milliseconds=now_ms)
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    assert utc_day_start_ms(now_ms) == (midnight - EPOCH) // timedelta(milliseconds=1)
    assert 0 <= now_ms - utc_day_start_ms(now_ms) < DAY_MS
