"""Per-bot risk guards (mmctl.bots.risk.BotRiskMonitor): each fires in its scenario, and not before."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmctl.bots.risk import BotRiskMonitor, Guard, RiskAction, RiskVerdict
from mmctl.strategies.market_maker import MarketMakerParams

T0 = 1_000.0
D = Decimal


def monitor(**changes: object) -> BotRiskMonitor:
    """A monitor with only the named guards on (stale data off unless given), reset at T0."""
    values: dict[str, object] = {"stale_data_s": 0, **changes}
    m = BotRiskMonitor(MarketMakerParams().replace(**values))
    m.reset(T0)
    return m


def test_a_losing_run_stops_at_max_loss_and_not_before() -> None:
    m = monitor(max_loss="100")
    for i, pnl in enumerate(["5", "-20", "-60", "-99.99"]):
        assert m.check(T0 + i, D(pnl)).ok, pnl
    v = m.check(T0 + 10, D("-100"))  # the boundary itself trips: pnl <= -max_loss
    assert v.action is RiskAction.STOP
    assert v.guard is Guard.MAX_LOSS
    assert v.halts
    assert v.data == {"pnl": "-100", "limit": "100", "on_loss": "stop"}
    assert "-100" in v.reason
    assert "\n" not in v.reason


def test_a_loss_verdict_latches_until_reset() -> None:
    m = monitor(max_loss="10")
    assert m.check(T0, D("-10.5")).action is RiskAction.STOP
    assert m.check(T0 + 1, D(50)).action is RiskAction.STOP  # recovering does not undo a stop
    m.reset(T0 + 2)
    assert m.check(T0 + 2, D(0)).ok


def test_flatten_instead_of_stop_when_on_loss_is_flatten() -> None:
    stop = monitor(max_loss="10", on_loss="stop").check(T0, D(-11))
    flatten = monitor(max_loss="10", on_loss="flatten").check(T0, D(-11))
    assert (stop.action, flatten.action) == (RiskAction.STOP, RiskAction.FLATTEN)
    assert flatten.halts
    assert flatten.data["on_loss"] == "flatten"
    assert "flattening" in flatten.reason
    dd = monitor(max_drawdown="5", on_loss="flatten")
    assert dd.check(T0, D(20)).ok
    assert dd.check(T0 + 1, D(15)).action is RiskAction.FLATTEN


def test_a_drawdown_from_the_peak_trips_and_a_smaller_one_does_not() -> None:
    m = monitor(max_drawdown="30")
    for i, pnl in enumerate(["10", "50", "25", "40", "20.01"]):  # peak 50; deepest dip 29.99
        assert m.check(T0 + i, D(pnl)).ok, pnl
    assert m.peak == D(50)
    v = m.check(T0 + 10, D(20))
    assert v.action is RiskAction.STOP
    assert v.guard is Guard.MAX_DRAWDOWN
    assert v.data == {"pnl": "20", "peak": "50", "drawdown": "30", "limit": "30", "on_loss": "stop"}


def test_drawdown_counts_from_the_start_when_pnl_never_rose() -> None:
    m = monitor(max_drawdown="30")
    assert m.check(T0, D("-29.99")).ok
    assert m.check(T0 + 1, D(-30)).guard is Guard.MAX_DRAWDOWN


def test_loss_is_reported_before_drawdown_when_both_trip() -> None:
    m = monitor(max_loss="10", max_drawdown="10")
    assert m.check(T0, D(-10)).guard is Guard.MAX_LOSS


def test_reset_forgets_the_peak() -> None:
    m = monitor(max_drawdown="30")
    assert m.check(T0, D(100)).ok
    m.reset(T0 + 1)
    assert m.peak == 0
    assert m.check(T0 + 1, D(75)).ok  # 25 below the old peak is no longer a drawdown


def test_a_stalled_feed_pulls_quotes_until_data_returns() -> None:
    m = monitor(stale_data_s=10)
    m.on_book(D(100), T0)
    assert m.check(T0 + 9.999, D(0)).ok
    v = m.check(T0 + 10, D(0))
    assert v.action is RiskAction.PULL
    assert v.guard is Guard.STALE_DATA
    assert not v.halts
    assert v.data == {"age_s": 10.0, "limit_s": 10}
    assert m.check(T0 + 60, D(0)).action is RiskAction.PULL
    m.on_book(D(100), T0 + 61)  # data returns
    assert m.check(T0 + 61, D(0)).ok


def test_no_book_since_start_is_stale_too() -> None:
    m = monitor(stale_data_s=5)
    assert m.check(T0 + 4, D(0)).ok
    v = m.check(T0 + 5, D(0))
    assert v.action is RiskAction.PULL
    assert "since start" in v.reason


def test_without_reset_the_first_call_is_the_start() -> None:
    m = BotRiskMonitor(MarketMakerParams(stale_data_s=5))
    assert m.check(T0, D(0)).ok
    assert m.check(T0 + 5, D(0)).action is RiskAction.PULL


def test_bad_mids_are_not_data() -> None:
    m = monitor(stale_data_s=5, max_move_bps="10")
    m.on_book(D(100), T0)
    for bad in (D(0), D(-1), D("NaN"), D("Infinity")):
        m.on_book(bad, T0 + 4)
    assert m.check(T0 + 5, D(0)).action is RiskAction.PULL  # still stale, and no move seen


def test_a_sudden_move_pauses_until_the_cooldown_then_quoting_resumes() -> None:
    m = monitor(max_move_bps="50", move_window_s=10, cooldown_s=60)
    m.on_book(D(100), T0)
    m.on_book(D("100.50"), T0 + 2)  # exactly 50 bps: not more than the limit
    assert m.check(T0 + 2, D(0)).ok
    m.on_book(D("100.51"), T0 + 3)  # 51 bps within 3 s
    v = m.check(T0 + 3, D(0))
    assert v.action is RiskAction.PAUSE
    assert v.guard is Guard.MAX_MOVE
    assert v.until_s == T0 + 63
    assert m.paused_until == T0 + 63
    assert v.data == {
        "move_bps": "51.00",
        "limit_bps": "50",
        "window_s": 10,
        "high": "100.51",
        "low": "100",
        "cooldown_s": 60,
        "until_s": T0 + 63,
    }
    for t in (T0 + 4, T0 + 30, T0 + 62.999):
        m.on_book(D("100.51"), t)
        assert m.check(t, D(0)) == v  # the same move does not trip again
    m.on_book(D("100.51"), T0 + 63)
    assert m.check(T0 + 63, D(0)).ok
    assert m.paused_until is None


def test_a_downward_move_and_a_spike_that_reverts_trip_too() -> None:
    down = monitor(max_move_bps="50")
    down.on_book(D(100), T0)
    down.on_book(D("99.4"), T0 + 1)
    assert down.check(T0 + 1, D(0)).action is RiskAction.PAUSE
    spike = monitor(max_move_bps="50")
    spike.on_book(D(100), T0)
    spike.on_book(D(101), T0 + 1)
    spike.on_book(D(100), T0 + 2)  # back where it was before the next check
    assert spike.check(T0 + 2, D(0)).action is RiskAction.PAUSE


def test_a_slow_drift_of_the_same_size_does_not_trip() -> None:
    m = monitor(max_move_bps="50", move_window_s=10)
    # +1 % over 100 s in 1 s steps: about 1 bp per second, 10 bps per window
    for i in range(101):
        t = T0 + i
        m.on_book(D(100) + D("0.01") * i, t)
        assert m.check(t, D(0)).ok, i
    assert len(m.window) <= 12  # only the window's points are kept


def test_the_mid_that_prevailed_at_the_window_start_counts() -> None:
    m = monitor(max_move_bps="50", move_window_s=10)
    m.on_book(D(100), T0)  # a quiet book: no update for 60 s
    m.on_book(D(101), T0 + 60)
    assert m.check(T0 + 60, D(0)).action is RiskAction.PAUSE


def test_moves_older_than_the_window_are_forgotten() -> None:
    m = monitor(max_move_bps="50", move_window_s=10)
    m.on_book(D(100), T0)
    m.on_book(D(101), T0 + 1)  # a big move, but nobody checks until it is out of the window
    assert m.check(T0 + 11, D(0)).ok


def test_a_new_move_during_the_cooldown_restarts_it() -> None:
    m = monitor(max_move_bps="50", move_window_s=10, cooldown_s=60)
    m.on_book(D(100), T0)
    m.on_book(D(101), T0 + 1)
    assert m.check(T0 + 1, D(0)).until_s == T0 + 61
    m.on_book(D(102), T0 + 30)
    assert m.check(T0 + 30, D(0)).until_s == T0 + 90


def test_the_circuit_breaker_pause_comes_before_a_stale_pull() -> None:
    m = monitor(max_move_bps="50", stale_data_s=5, cooldown_s=60)
    m.on_book(D(100), T0)
    m.on_book(D(101), T0 + 1)
    assert m.check(T0 + 1, D(0)).action is RiskAction.PAUSE
    assert m.check(T0 + 30, D(0)).action is RiskAction.PAUSE  # stale as well, but paused until T0 + 61
    assert m.check(T0 + 61, D(0)).action is RiskAction.PULL


def test_a_loss_overrides_a_pause() -> None:
    m = monitor(max_move_bps="50", max_loss="10")
    m.on_book(D(100), T0)
    m.on_book(D(101), T0 + 1)
    assert m.check(T0 + 1, D(0)).action is RiskAction.PAUSE
    assert m.check(T0 + 2, D(-10)).action is RiskAction.STOP


def test_every_guard_is_off_at_zero() -> None:
    m = monitor(max_loss="0", max_drawdown="0", max_move_bps="0", stale_data_s=0)
    m.on_book(D(100), T0)
    m.on_book(D(200), T0 + 1)
    assert m.check(T0 + 1, D(1000)).ok
    assert m.check(T0 + 10_000, D(-1_000_000)).ok


def test_the_defaults_keep_only_the_stale_data_guard() -> None:
    m = BotRiskMonitor(MarketMakerParams())
    m.reset(T0)
    m.on_book(D(100), T0)
    m.on_book(D(150), T0 + 1)
    assert m.check(T0 + 1, D(-1_000_000)).ok
    assert m.check(T0 + 11, D(0)).action is RiskAction.PULL


def test_update_params_applies_new_limits() -> None:
    m = monitor()
    assert m.check(T0, D(-50)).ok
    m.update_params(m.params.replace(max_loss="50"))
    assert m.check(T0 + 1, D(-50)).action is RiskAction.STOP


def test_update_params_moves_or_ends_a_pause() -> None:
    m = monitor(max_move_bps="50", cooldown_s=60)
    m.on_book(D(100), T0)
    m.on_book(D(101), T0 + 1)
    assert m.check(T0 + 1, D(0)).until_s == T0 + 61
    m.update_params(m.params.replace(cooldown_s=10))
    v = m.check(T0 + 5, D(0))
    assert (v.until_s, v.data["cooldown_s"]) == (T0 + 11, 10)
    assert m.check(T0 + 11, D(0)).ok
    m.on_book(D(102), T0 + 12)
    assert m.check(T0 + 12, D(0)).action is RiskAction.PAUSE
    m.update_params(m.params.replace(max_move_bps="0"))
    assert m.check(T0 + 13, D(0)).ok


def test_verdicts_are_json_safe() -> None:
    m = monitor(max_move_bps="50")
    m.on_book(D(100), T0)
    m.on_book(D(101), T0 + 1)
    out = json.loads(json.dumps(m.check(T0 + 1, D(0)).to_dict()))
    assert out["action"] == "pause"
    assert out["guard"] == "max_move_bps"
    assert out["data"]["move_bps"] == "100.00"
    assert json.dumps(RiskVerdict().to_dict())


def test_memory_is_bounded_by_the_window() -> None:
    m = monitor(max_move_bps="10000", move_window_s=5)
    for i in range(20_000):  # 100 updates a second for 200 s, steadily rising: worst case for one deque
        m.on_book(D(100) + D("0.0001") * i, T0 + i / 100)
    assert len(m.window) <= 502


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.floats(0, 30, allow_nan=False),
            st.decimals(min_value=-10_000, max_value=10_000, places=2),
            st.decimals(min_value=1, max_value=100_000, places=2),
        ),
        max_size=40,
    ),
    stale=st.integers(0, 20),
    move=st.sampled_from(["0", "5", "100"]),
)
def test_never_a_stop_without_loss_limits(
    steps: list[tuple[float, Decimal, Decimal]], stale: int, move: str
) -> None:
    """With max_loss = max_drawdown = 0 no PnL path and no market ever stops or flattens the bot."""
    m = monitor(stale_data_s=stale, max_move_bps=move)
    now = T0
    for dt, pnl, mid in steps:
        now += dt
        m.on_book(mid, now)
        v = m.check(now, pnl)
        assert not v.halts
        assert v.action in (RiskAction.OK, RiskAction.PULL, RiskAction.PAUSE)


@settings(max_examples=200, deadline=None)
@given(
    pnls=st.lists(st.decimals(min_value=-1000, max_value=1000, places=2), min_size=1, max_size=30),
    max_loss=st.decimals(min_value=0, max_value=500, places=2),
    max_drawdown=st.decimals(min_value=0, max_value=500, places=2),
)
def test_loss_guards_trip_exactly_when_the_rules_say(
    pnls: list[Decimal], max_loss: Decimal, max_drawdown: Decimal
) -> None:
    """The first halt comes at the first check where pnl <= -max_loss or peak - pnl >= max_drawdown, and
    `loss_tripped` (the reaction's look-ahead, no side effect) says so before each check; with both
    guards off `watches_loss` tells the PnL need not be computed."""
    m = monitor(max_loss=str(max_loss), max_drawdown=str(max_drawdown))
    assert m.watches_loss is (max_loss > 0 or max_drawdown > 0)
    peak = Decimal(0)
    for i, pnl in enumerate(pnls):
        peak = max(peak, pnl)
        expected = (max_loss > 0 and pnl <= -max_loss) or (max_drawdown > 0 and peak - pnl >= max_drawdown)
        assert m.loss_tripped(pnl) is expected
        assert m.check(T0 + i, pnl).halts is expected
        if expected:
            break


@settings(max_examples=100, deadline=None)
@given(mids=st.lists(st.decimals(min_value=1, max_value=1000, places=3), min_size=1, max_size=60))
def test_the_window_range_matches_a_brute_force_one(mids: list[Decimal]) -> None:
    """The window's high and low equal those of every mid in it plus the one prevailing at its start."""
    m = monitor(max_move_bps="0", move_window_s=7)
    for i, mid in enumerate(mids):
        m.on_book(mid, T0 + i)
        m.window.trim(T0 + i - 7)
        kept = mids[max(0, i - 7) : i + 1]
        assert m.window.extremes() == (max(kept), min(kept))


@pytest.mark.parametrize("mid", ["100", "0.00001234", "65000.1"])
def test_the_move_boundary_is_exact_at_any_price(mid: str) -> None:
    """Exactly max_move_bps never trips; one more unit in the last place does."""
    low = D(mid)
    high = low * (1 + D(50) / 10_000)
    m = monitor(max_move_bps="50")
    m.on_book(low, T0)
    m.on_book(high, T0 + 1)
    assert m.check(T0 + 1, D(0)).ok
    m.on_book(high + high.scaleb(-20), T0 + 2)
    assert m.check(T0 + 2, D(0)).action is RiskAction.PAUSE
