"""Usage headers and published rate limits reach the daemon's request budgets."""

from __future__ import annotations

from mmctl.clock import ManualClock
from mmctl.exchange.binance.usage import (
    Usage,
    UsageFeed,
    limits_from_exchange_info,
    parse_usage,
)
from mmctl.exchange.budget import BudgetLimits, RequestBudget


def test_headers_are_read_in_any_case_and_bad_values_ignored() -> None:
    """X-MBX-USED-WEIGHT-1M and the order counts parse whatever their case; junk is skipped."""
    usage = parse_usage(
        {"x-mbx-used-weight-1m": "123", "X-MBX-ORDER-COUNT-10S": "4", "X-Mbx-Order-Count-1M": "oops"}
    )
    assert usage == Usage(used_weight_1m=123, order_count_10s=4, order_count_1m=None)
    assert parse_usage({"Content-Type": "application/json"}).empty


def test_weight_goes_to_the_ip_budget_and_orders_to_the_account_budget() -> None:
    """The IP budget learns the reported weight, the account budget the order counts, each only its own."""
    clock = ManualClock()
    ip, account = RequestBudget(clock), RequestBudget(clock)
    feed = UsageFeed(ip, account)
    feed.feed(Usage(used_weight_1m=500, order_count_10s=7, order_count_1m=9))
    assert (ip.usage()["weight_1m"], ip.usage()["orders_10s"]) == (500, 0)
    assert (account.usage()["weight_1m"], account.usage()["orders_10s"], account.usage()["orders_1m"]) == (
        0,
        7,
        9,
    )
    feed.feed(Usage(used_weight_1m=20))  # lower than what is known: nothing changes
    assert ip.usage()["weight_1m"] == 500
    assert feed.last == Usage(20, 7, 9)


def test_rate_limits_come_from_exchange_info() -> None:
    """REQUEST_WEIGHT per minute and ORDERS per 10 s and per minute are read; the rest keeps defaults."""
    info = {
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 400},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
        ]
    }
    limits = limits_from_exchange_info(info, BudgetLimits(use_fraction=0.5))
    assert (limits.weight_per_min, limits.orders_per_10s, limits.orders_per_min) == (6000, 100, 400)
    assert limits.use_fraction == 0.5
    assert limits_from_exchange_info({}) == BudgetLimits()


class LimitsRecorder:
    """A budget stand-in that accepts published limits (what `RequestBudget.set_limits` would do)."""

    def __init__(self) -> None:
        self.limits: list[BudgetLimits] = []

    def observe(self, **_: int | None) -> None:
        pass

    def set_limits(self, limits: BudgetLimits) -> None:
        self.limits.append(limits)


def test_published_limits_are_applied_once_per_budget() -> None:
    """A budget that takes limits gets them once even when it is both the IP and the account budget."""
    shared = LimitsRecorder()
    UsageFeed(shared, shared).apply_limits(BudgetLimits(weight_per_min=100))
    assert [x.weight_per_min for x in shared.limits] == [100]
