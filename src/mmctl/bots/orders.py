"""The diff between desired quotes and live orders: the fewest cancels and places that make them agree.

Quotes and live orders are matched by (side, level). A live order is kept when all of these hold:
- price: |live - desired| / desired × 10000 <= `tolerance_bps`;
- size: its remaining quantity equals the desired quantity, or it was placed for exactly the desired
  quantity and has partly filled (0 < remaining < desired): a partial fill's remainder rides on, so a
  level never rests more than desired and a fill costs no cancel and place;
- age: `now_ms - created_ms < max_age_ms`.
Otherwise it is cancelled and the desired quote placed. Live orders at a (side, level) no longer desired
are cancelled; of several live orders at one (side, level) at most one is kept (the first keepable one).
Apply the cancels before the places: the venue counts open orders against a limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext
from typing import TypeVar

from mmctl.bots.ids import parse
from mmctl.model import Order, Side
from mmctl.strategies.base import Quote

T = TypeVar("T")

PLACE_BATCH = 5  # Binance: orders per batchOrders request
CANCEL_BATCH = 10  # Binance: orders per batch cancel request
_EXACT = Context(prec=100)  # wide enough that the tolerance comparison is exact

Key = tuple[Side, int]


@dataclass(frozen=True, slots=True)
class LiveOrder:
    """One of the bot's open orders as the diff sees it. `qty` is the size it was placed with, if known."""

    client_order_id: str
    side: Side
    level: int
    price: Decimal
    remaining: Decimal
    created_ms: int
    qty: Decimal | None = None

    @property
    def key(self) -> Key:
        return (self.side, self.level)


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do: cancel `cancels`, then place `places`. `kept` are the live orders left alone."""

    cancels: tuple[LiveOrder, ...]
    places: tuple[Quote, ...]
    kept: tuple[LiveOrder, ...]

    @property
    def empty(self) -> bool:
        return not self.cancels and not self.places


def live_orders(orders: Iterable[Order], bot: str) -> list[LiveOrder]:
    """`bot`'s open limit orders among `orders` (manual and other bots' orders are skipped)."""
    out: list[LiveOrder] = []
    for order in orders:
        own = parse(order.client_order_id)
        if own is None or own.bot != bot or order.price is None or not order.status.is_open:
            continue
        out.append(
            LiveOrder(
                client_order_id=order.client_order_id,
                side=order.side,
                level=own.level,
                price=order.price,
                remaining=order.remaining,
                created_ms=order.created_ms,
                qty=order.qty,
            )
        )
    return out


def reconcile(
    desired: Sequence[Quote],
    live: Sequence[LiveOrder],
    *,
    tolerance_bps: Decimal,
    max_age_ms: int,
    now_ms: int,
) -> Plan:
    """The minimal plan that turns `live` into `desired` (see the module docstring for the rules)."""
    wanted = _by_key(desired)
    kept: dict[Key, int] = {}  # (side, level) -> index in `live` of the order kept there
    for i, order in enumerate(live):
        quote = wanted.get(order.key)
        if quote is None or order.key in kept:
            continue
        if keepable(order, quote, tolerance_bps=tolerance_bps, max_age_ms=max_age_ms, now_ms=now_ms):
            kept[order.key] = i
    kept_at = set(kept.values())
    cancels = [order for i, order in enumerate(live) if i not in kept_at]
    places = tuple(q for q in desired if (q.side, q.level) not in kept)
    return Plan(cancels=tuple(cancels), places=places, kept=tuple(live[i] for i in sorted(kept_at)))


def keepable(order: LiveOrder, quote: Quote, *, tolerance_bps: Decimal, max_age_ms: int, now_ms: int) -> bool:
    """True when `order` may stand in for `quote`: same side, close enough in price, right size, fresh."""
    return (
        order.side is quote.side
        and within_tolerance(order.price, quote.price, tolerance_bps)
        and size_matches(order, quote.qty)
        and now_ms - order.created_ms < max_age_ms
    )


def within_tolerance(live_price: Decimal, desired_price: Decimal, tolerance_bps: Decimal) -> bool:
    """|live - desired| / desired × 10000 <= tolerance_bps, computed exactly."""
    with localcontext(_EXACT):
        return abs(live_price - desired_price) * 10_000 <= tolerance_bps * desired_price


def size_matches(order: LiveOrder, desired_qty: Decimal) -> bool:
    """The remainder equals the desired size, or is a partial fill's remainder of an order of that size."""
    if order.remaining == desired_qty:
        return True
    return order.qty == desired_qty and 0 < order.remaining < desired_qty


def batches(items: Sequence[T], size: int) -> list[list[T]]:
    """`items` split into consecutive lists of at most `size` (the venue's batch limit)."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _by_key(desired: Sequence[Quote]) -> dict[Key, Quote]:
    out: dict[Key, Quote] = {}
    for quote in desired:
        key = (quote.side, quote.level)
        if key in out:
            raise ValueError(f"two desired quotes at {quote.side} level {quote.level}")
        out[key] = quote
    return out
