"""The health snapshot of a Binance account (no I/O): reachable, latency, clock offset, rate use, the
freshness of market data and of the user stream, each countdown's last refresh, and any IP ban.

`detail` values are strings (the port's `ExchangeHealth.detail`); a ban is shown with its end time.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

from mmctl.model import ExchangeHealth

if TYPE_CHECKING:
    from mmctl.exchange.binance.exchange import BinanceExchange


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def health_of(ex: BinanceExchange) -> ExchangeHealth:
    client, now = ex.client, ex.clock.monotonic()
    detail: dict[str, str] = {"venue": "binanceusdm", "environment": client.environment}
    banned = client.banned_until_ms > time.time() * 1000
    if banned:
        detail["banned_until"] = _iso(client.banned_until_ms)
    detail["reachable"] = "yes" if client.reachable else "no"
    if client.last_error:
        detail["last_error"] = client.last_error
    if ex.time.offset_ms is not None and ex.time.synced_at is not None:
        detail["clock_offset_ms"] = str(ex.time.offset_ms)
        detail["clock_synced_s_ago"] = f"{now - ex.time.synced_at:.0f}"
    usage = client.usage.last
    for key, value in (
        ("weight_1m", usage.used_weight_1m),
        ("orders_10s", usage.order_count_10s),
        ("orders_1m", usage.order_count_1m),
    ):
        if value is not None:
            detail[key] = str(value)
    user = ex.user
    detail["user_stream"] = user.state
    age = user.age_s()
    if age is not None:
        detail["user_stream_age_s"] = f"{age:.1f}"
    detail["user_stream_drops"] = str(user.drops)
    detail["reconciliations"] = str(user.reconciliations)
    detail["recovered_fills"] = str(ex.tracker.recovered_fills)
    for symbol, state in ex.books.states().items():
        detail[f"book:{symbol}"] = state
    overdue = False
    for symbol, (timeout_s, armed_at) in sorted(ex.countdowns.items()):
        since = now - armed_at
        late = since > timeout_s
        overdue = overdue or late
        detail[f"countdown:{symbol}"] = f"{timeout_s:g} s, refreshed {since:.1f} s ago" + (
            " (EXPIRED: orders were cancelled by Binance)" if late else ""
        )
    connected = (
        not ex.closed and client.reachable and not banned and (not user.running or user.state == "connected")
    )
    return ExchangeHealth(
        connected=connected and not overdue,
        market_data_age_s=ex.books.age_s(),
        latency_ms=client.latency_ms,
        detail=detail,
    )
