"""`mmctl health` for a Binance account: the checks `daemon.checks.account_checks` builds from the
adapter's health (reachable with latency and clock offset, Binance's reported use against its limits,
stream freshness, IP ban with its end time, venue countdowns)."""

from __future__ import annotations

from decimal import Decimal

from mmctl.clock import SystemClock
from mmctl.daemon.checks import account_checks, binance_checks
from mmctl.daemon.health import Check
from mmctl.exchange.budget import AccountBudgets, RequestBudget
from mmctl.model import ExchangeHealth, OrderRequest, Side

from .harness import binance_venue, eventually

BTC = "BTC/USDT:USDT"


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


async def test_a_live_account_shows_reachability_latency_clock_usage_streams_and_countdown() -> None:
    """Through the adapter on the fake: every Binance check passes and carries its figures."""
    ip, own = RequestBudget(SystemClock()), RequestBudget(SystemClock())
    async with binance_venue(ip_budget=ip, account_budget=own) as v:
        watch = v.exchange.watch_book(BTC)
        await anext(watch)
        await eventually(lambda: v.exchange.books.states() == {BTC: "streaming"}, "the book stream")
        await v.exchange.arm_countdown(BTC, 120)
        await v.exchange.place_orders(
            [OrderRequest(BTC, Side.BUY, Decimal("0.002"), Decimal("89000.0"), "h-1")]
        )
        checks = by_name(account_checks({"main": v.exchange}, {}, {"main": AccountBudgets(own, ip)}))
        reach = checks["account:main"]
        assert reach.ok, reach
        assert "reachable (live)" in reach.detail
        assert "latency" in reach.detail
        assert "clock offset" in reach.detail
        rate = checks["rate:main"]
        assert rate.ok, rate
        assert "weight/min" in rate.detail
        assert "/2400" in rate.detail
        assert "orders/10s 1/300" in rate.detail
        streams = checks["streams:main"]
        assert streams.ok, streams
        assert "user stream connected" in streams.detail
        assert "market data" in streams.detail
        countdown = checks[f"venue_countdown:main:{BTC}"]
        assert countdown.ok
        assert countdown.detail.startswith("120 s, refreshed")
        assert {"budget:main", "budget:ip"} <= set(checks)


def test_a_ban_fails_the_account_check_with_its_end_time() -> None:
    """An IP ban is a failing account check that names when it ends."""
    h = ExchangeHealth(False, None, None, {"venue": "binanceusdm", "banned_until": "2026-12-01T10:00:00Z"})
    (reach, *_rest) = binance_checks("main", h, None)
    assert not reach.ok
    assert "banned by Binance until 2026-12-01T10:00:00Z" in reach.detail


def test_unreachable_usage_near_the_limits_stale_streams_and_an_expired_countdown_fail() -> None:
    """Each problem fails its own check: unreachable (with the last error), Binance's reported weight
    above 90 % of its limit, a reconnecting user stream, a countdown that ran out on the venue."""
    detail = {
        "venue": "binanceusdm",
        "reachable": "no",
        "last_error": "Binance answered HTTP 503",
        "weight_1m": "2300",
        "orders_10s": "12",
        "user_stream": "reconnecting",
        f"countdown:{BTC}": "120 s, refreshed 130.0 s ago (EXPIRED: orders were cancelled by Binance)",
    }
    checks = by_name(binance_checks("main", ExchangeHealth(False, 3.0, 40.0, detail), None))
    assert not checks["account:main"].ok
    assert "unreachable: Binance answered HTTP 503" in checks["account:main"].detail
    assert not checks["rate:main"].ok
    assert "weight/min 2300/2400" in checks["rate:main"].detail
    assert not checks["streams:main"].ok
    assert not checks[f"venue_countdown:main:{BTC}"].ok
