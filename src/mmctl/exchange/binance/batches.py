"""Matching a batch answer (POST or DELETE batchOrders) to the requests that made it.

Binance answers a batch with one element per request: an order, or `{"code": ..., "msg": ...}` for a leg
it refused. Successful legs are matched by client order id, never by position (ccxt, for one, re-sorts
results by timestamp, which moves failed legs first); failed legs carry no id, so they go, in their order,
to the requests that got no order. A request with neither gets a `TransientError`: its outcome is unknown.
Pure.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from mmctl.errors import ExchangeError, TransientError
from mmctl.exchange.binance.errors import is_leg_error, leg_error

Leg = Mapping[str, Any] | ExchangeError


def match_legs(client_order_ids: Sequence[str], answer: Any) -> list[Leg]:
    """One answer element (an order mapping or an error) per client order id, in the ids' order."""
    wanted = set(client_order_ids)
    orders: dict[str, Mapping[str, Any]] = {}
    errors: deque[ExchangeError] = deque()
    for item in answer if isinstance(answer, list) else ():
        if is_leg_error(item):
            errors.append(leg_error(item))
        elif isinstance(item, Mapping) and str(item.get("clientOrderId")) in wanted:
            orders.setdefault(str(item["clientOrderId"]), item)
    out: list[Leg] = []
    for cid in client_order_ids:
        if cid in orders:
            out.append(orders.pop(cid))
        elif errors:
            out.append(errors.popleft())
        else:
            out.append(
                TransientError(
                    f"Binance's batch answer has no result for {cid}: its outcome is unknown",
                    data={"client_order_id": cid},
                )
            )
    return out
