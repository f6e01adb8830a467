"""Binance USDⓈ-M request weights and order counts, its fixed windows, 429s and the 418 IP ban.

Weights per endpoint follow developers.binance.com ("Request Weight" of each endpoint). Windows are fixed
and aligned like Binance's: the weight per calendar minute (one IP: every client of the fake), new orders
per 10 seconds and per minute per account. Past a limit the request is refused with 429 and a
`Retry-After` (seconds to the window's end); `ban_after_429s` refusals within one minute ban the IP with
418 for `ban_seconds`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import BinanceError


@dataclass(slots=True)
class Limits:
    """The fake's limits (exchangeInfo.rateLimits reports the first three). Change them freely in tests."""

    weight_per_min: int = 2400
    orders_per_10s: int = 300
    orders_per_min: int = 1200
    ban_after_429s: int = 5
    ban_seconds: float = 120.0


@dataclass(frozen=True, slots=True)
class Cost:
    """What one request uses: IP weight, and new orders on the 10 s and 1 min counters."""

    weight: int
    orders_10s: int = 0
    orders_1m: int = 0


def _by_symbol(with_symbol: int, without: int) -> Callable[[Mapping[str, Any]], Cost]:
    return lambda p: Cost(with_symbol if p.get("symbol") else without)


def _depth(params: Mapping[str, Any]) -> Cost:
    try:
        limit = int(params.get("limit", 500))
    except ValueError:
        limit = 500
    return Cost(2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20)


_COSTS: dict[tuple[str, str], Cost | Callable[[Mapping[str, Any]], Cost]] = {
    ("GET", "/fapi/v1/ping"): Cost(1),
    ("GET", "/fapi/v1/time"): Cost(1),
    ("GET", "/fapi/v1/exchangeInfo"): Cost(1),
    ("GET", "/fapi/v1/depth"): _depth,
    ("GET", "/fapi/v1/ticker/bookTicker"): _by_symbol(2, 5),
    ("GET", "/fapi/v1/ticker/price"): _by_symbol(1, 2),
    ("GET", "/fapi/v2/ticker/price"): _by_symbol(1, 2),
    ("GET", "/fapi/v1/ticker/24hr"): _by_symbol(1, 40),
    ("GET", "/fapi/v1/premiumIndex"): _by_symbol(1, 10),
    ("GET", "/fapi/v1/leverageBracket"): Cost(1),
    ("GET", "/fapi/v1/symbolConfig"): Cost(5),
    ("GET", "/fapi/v1/accountConfig"): Cost(5),
    ("GET", "/fapi/v1/commissionRate"): Cost(20),
    ("GET", "/fapi/v1/rateLimit/order"): Cost(1),
    ("POST", "/fapi/v1/leverage"): Cost(1),
    ("POST", "/fapi/v1/marginType"): Cost(1),
    ("GET", "/fapi/v1/positionSide/dual"): Cost(30),
    ("POST", "/fapi/v1/positionSide/dual"): Cost(1),
    ("POST", "/fapi/v1/order"): Cost(0, 1, 1),
    ("PUT", "/fapi/v1/order"): Cost(0, 1, 1),
    ("GET", "/fapi/v1/order"): Cost(1),
    ("DELETE", "/fapi/v1/order"): Cost(1),
    ("POST", "/fapi/v1/batchOrders"): Cost(5, 5, 1),
    ("PUT", "/fapi/v1/batchOrders"): Cost(5, 5, 1),
    ("DELETE", "/fapi/v1/batchOrders"): Cost(1),
    ("GET", "/fapi/v1/openOrder"): Cost(1),
    ("GET", "/fapi/v1/openOrders"): _by_symbol(1, 40),
    ("GET", "/fapi/v1/allOrders"): Cost(5),
    ("DELETE", "/fapi/v1/allOpenOrders"): Cost(1),
    ("POST", "/fapi/v1/countdownCancelAll"): Cost(10),
    ("POST", "/fapi/v1/algoOrder"): Cost(0, 1, 1),  # "0 on IP rate limit"; counted as a new order
    ("DELETE", "/fapi/v1/algoOrder"): Cost(1),
    ("GET", "/fapi/v1/algoOrder"): Cost(1),
    ("DELETE", "/fapi/v1/algoOpenOrders"): Cost(1),
    ("GET", "/fapi/v1/openAlgoOrders"): _by_symbol(1, 40),
    ("GET", "/fapi/v2/account"): Cost(5),
    ("GET", "/fapi/v3/account"): Cost(5),
    ("GET", "/fapi/v2/balance"): Cost(5),
    ("GET", "/fapi/v3/balance"): Cost(5),
    ("GET", "/fapi/v2/positionRisk"): Cost(5),
    ("GET", "/fapi/v3/positionRisk"): Cost(5),
    ("GET", "/fapi/v1/userTrades"): Cost(5),
    ("GET", "/fapi/v1/income"): Cost(30),
    ("POST", "/fapi/v1/listenKey"): Cost(1),
    ("PUT", "/fapi/v1/listenKey"): Cost(1),
    ("DELETE", "/fapi/v1/listenKey"): Cost(1),
}


def cost_of(method: str, path: str, params: Mapping[str, Any]) -> Cost:
    """The cost Binance charges for one request (1 weight for a path it does not know)."""
    entry = _COSTS.get((method, path), Cost(1))
    return entry if isinstance(entry, Cost) else entry(params)


@dataclass(slots=True)
class _Window:
    length_s: int
    start: int = -1
    used: int = 0

    def roll(self, now: float) -> None:
        start = int(now // self.length_s) * self.length_s
        if start != self.start:
            self.start, self.used = start, 0

    def retry_after(self, now: float) -> int:
        return max(1, math.ceil(self.start + self.length_s - now))


@dataclass(slots=True)
class _OrderWindows:
    ten_s: _Window = field(default_factory=lambda: _Window(10))
    minute: _Window = field(default_factory=lambda: _Window(60))


class RateLimiter:
    """Counts weight and orders, refuses past the limits, bans after repeated refusals."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.time) -> None:
        self.limits = limits
        self.clock = clock
        self._weight = _Window(60)
        self._refusals = _Window(60)
        self._orders: dict[str, _OrderWindows] = {}
        self.banned_until: float | None = None

    def check_ban(self) -> None:
        """418 while the IP is banned."""
        now = self.clock()
        if self.banned_until is not None and now >= self.banned_until:
            self.banned_until = None
        if self.banned_until is not None:
            raise self._ban_error(now)

    def charge(self, cost: Cost, account_key: str | None) -> None:
        """Count one request; 429 (-1003 weight, -1015 orders) past a limit, 418 once refusals pile up."""
        now = self.clock()
        self._weight.roll(now)
        self._weight.used += cost.weight
        if self._weight.used > self.limits.weight_per_min:
            limit = self.limits.weight_per_min
            self._refuse(now, BinanceError(-1003, retry_after=self._weight.retry_after(now), limit=limit))
        if account_key is None or not (cost.orders_10s or cost.orders_1m):
            return
        windows = self.order_windows(account_key)
        windows.ten_s.used += cost.orders_10s
        windows.minute.used += cost.orders_1m
        for window, limit, interval in (
            (windows.ten_s, self.limits.orders_per_10s, "10 SECOND"),
            (windows.minute, self.limits.orders_per_min, "1 MINUTE"),
        ):
            if window.used > limit:
                error = BinanceError(
                    -1015, retry_after=window.retry_after(now), limit=limit, interval=interval
                )
                self._refuse(now, error)

    def order_windows(self, account_key: str) -> _OrderWindows:
        """The account's order counters, rolled to the current windows."""
        now = self.clock()
        windows = self._orders.setdefault(account_key, _OrderWindows())
        windows.ten_s.roll(now)
        windows.minute.roll(now)
        return windows

    def used_weight(self) -> int:
        """Weight used in the current minute."""
        self._weight.roll(self.clock())
        return self._weight.used

    def headers(self, account_key: str | None) -> dict[str, str]:
        """The usage headers Binance sends (order counts only when the request named an account)."""
        out = {"X-MBX-USED-WEIGHT-1M": str(self.used_weight())}
        if account_key is not None:
            windows = self.order_windows(account_key)
            out["X-MBX-ORDER-COUNT-10S"] = str(windows.ten_s.used)
            out["X-MBX-ORDER-COUNT-1M"] = str(windows.minute.used)
        return out

    def reset(self) -> None:
        """Forget all usage and any ban."""
        self._weight = _Window(60)
        self._refusals = _Window(60)
        self._orders.clear()
        self.banned_until = None

    def _refuse(self, now: float, error: BinanceError) -> None:
        self._refusals.roll(now)
        self._refusals.used += 1
        if self._refusals.used > self.limits.ban_after_429s:
            self.banned_until = now + self.limits.ban_seconds
            raise self._ban_error(now)
        raise error

    def _ban_error(self, now: float) -> BinanceError:
        assert self.banned_until is not None
        until_ms = int(self.banned_until * 1000)
        msg = (
            f"Way too many requests; IP(127.0.0.1) banned until {until_ms}. "
            "Please use the websocket for live updates to avoid bans."
        )
        return BinanceError(-1003, msg, status=418, retry_after=max(1, math.ceil(self.banned_until - now)))
