"""The venue's own view of our request budget: usage headers and the published rate limits.

Every Binance USDⓈ-M answer carries `X-MBX-USED-WEIGHT-1M` (the IP's request weight in the current
minute) and order endpoints add `X-MBX-ORDER-COUNT-10S` / `X-MBX-ORDER-COUNT-1M` (the account's new
orders). `parse_usage(headers)` reads them (header names in any case); `UsageFeed` passes them on to the
daemon's request budgets: weight to the per-IP budget, order counts to the account's. The limits
themselves come from `exchangeInfo.rateLimits` (`limits_from_exchange_info`), so a change on Binance's side
reaches the budgets without a release. Pure: no I/O, no ccxt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from mmctl.exchange.budget import BudgetLimits

WEIGHT_1M = "x-mbx-used-weight-1m"
ORDERS_10S = "x-mbx-order-count-10s"
ORDERS_1M = "x-mbx-order-count-1m"


@dataclass(frozen=True, slots=True)
class Usage:
    """Usage one answer reported; None where the header was absent."""

    used_weight_1m: int | None = None
    order_count_10s: int | None = None
    order_count_1m: int | None = None

    @property
    def empty(self) -> bool:
        return self.used_weight_1m is None and self.order_count_10s is None and self.order_count_1m is None


class UsageSink(Protocol):
    """What the adapter feeds: `mmctl.exchange.budget.RequestBudget` satisfies it."""

    def observe(
        self,
        used_weight_1m: int | None = None,
        order_count_10s: int | None = None,
        order_count_1m: int | None = None,
    ) -> None: ...


@runtime_checkable
class LimitsSink(Protocol):
    """A budget whose limits can be replaced by the venue's published ones."""

    def set_limits(self, limits: BudgetLimits) -> None: ...


def parse_usage(headers: Mapping[str, str]) -> Usage:
    """The usage headers of one answer (names in any case; unparsable values are ignored)."""
    found: dict[str, int] = {}
    for key, value in headers.items():
        name = key.lower()
        if name in (WEIGHT_1M, ORDERS_10S, ORDERS_1M):
            number = _int(value)
            if number is not None:
                found[name] = number
    return Usage(found.get(WEIGHT_1M), found.get(ORDERS_10S), found.get(ORDERS_1M))


class UsageFeed:
    """Feeds each answer's usage to the IP budget (weight) and the account budget (order counts).

    With one budget for both (one account per IP) pass it as `ip_budget` and `account_budget`. The latest
    reported figures are kept for health and status."""

    def __init__(self, ip_budget: UsageSink | None = None, account_budget: UsageSink | None = None) -> None:
        self.ip_budget = ip_budget
        self.account_budget = account_budget
        self.last = Usage()

    def feed(self, usage: Usage) -> None:
        if usage.empty:
            return
        self.last = Usage(
            usage.used_weight_1m if usage.used_weight_1m is not None else self.last.used_weight_1m,
            usage.order_count_10s if usage.order_count_10s is not None else self.last.order_count_10s,
            usage.order_count_1m if usage.order_count_1m is not None else self.last.order_count_1m,
        )
        if self.ip_budget is not None and usage.used_weight_1m is not None:
            self.ip_budget.observe(used_weight_1m=usage.used_weight_1m)
        if self.account_budget is not None and (
            usage.order_count_10s is not None or usage.order_count_1m is not None
        ):
            self.account_budget.observe(
                order_count_10s=usage.order_count_10s, order_count_1m=usage.order_count_1m
            )

    def apply_limits(self, limits: BudgetLimits) -> None:
        """Give both budgets the venue's published limits, where they accept them."""
        for budget in {id(b): b for b in (self.ip_budget, self.account_budget) if b is not None}.values():
            if isinstance(budget, LimitsSink):
                budget.set_limits(limits)


def limits_from_exchange_info(info: Mapping[str, Any], base: BudgetLimits | None = None) -> BudgetLimits:
    """Binance's published limits from an exchangeInfo answer's `rateLimits`, over `base` (the defaults)
    for any limit it does not state. `use_fraction` is kept from `base`.

        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400}
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200}
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300}
    """
    base = base if base is not None else BudgetLimits()
    weight, orders_10s, orders_1m = base.weight_per_min, base.orders_per_10s, base.orders_per_min
    entries = info.get("rateLimits")
    for entry in entries if isinstance(entries, Sequence) else ():
        if not isinstance(entry, Mapping):
            continue
        seconds = _window_s(entry.get("interval"), entry.get("intervalNum"))
        limit = _int(entry.get("limit"))
        if seconds is None or limit is None or limit < 1:
            continue
        kind = entry.get("rateLimitType")
        if kind == "REQUEST_WEIGHT" and seconds == 60:
            weight = limit
        elif kind == "ORDERS" and seconds == 10:
            orders_10s = limit
        elif kind == "ORDERS" and seconds == 60:
            orders_1m = limit
    return BudgetLimits(
        weight_per_min=weight,
        orders_per_10s=orders_10s,
        orders_per_min=orders_1m,
        use_fraction=base.use_fraction,
    )


_UNIT_S = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}


def _window_s(interval: Any, count: Any) -> int | None:
    unit = _UNIT_S.get(str(interval))
    n = _int(count)
    return unit * n if unit is not None and n is not None and n > 0 else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None
