"""The diff between desired quotes and live orders: the fewest cancels and places that make them agree.

Quotes and live orders are matched by (side, level). A live order is kept when all of these hold:
- price: |live - desired| / desired × 10000 <= `tolerance_bps`;
- size: its remaining quantity equals the desired quantity, or it was placed for exactly the desired
  quantity and has partly filled (0 < remaining < desired): a partial fill's remainder rides on, so a
  level never rests more than desired and a fill costs no cancel and place;
- age: `now_ms - created_ms < max_age_ms`;
- flags: it was placed post-only and reduce-only exactly as the quote asks.
Otherwise it is cancelled and the desired quote placed. Live orders at a (side, level) no longer desired
are cancelled; of several live orders at one (side, level) at most one is kept (the first keepable one).
Apply the cancels before the places: the venue counts open orders against a limit.

With `amend=True` (what the quoter sends) a replaced order whose level is still wanted is amended in place
instead (`Plan.amends`: one order-count unit instead of two, the client id kept): the first order at that
(side, level) that is not kept is amended to the desired price and to a total of its filled part plus
the desired size (so it rests the desired size, as a new order would), when
- its placed size is known (`qty`, to tell the filled part) and its flags are the quote's (an amend
  keeps the order's flags), and
- the amend changes its price or total: an amend that changes nothing is refused by the venue
  (Binance -5027), so an order too old but already at the desired price and size is cancelled and
  placed anew.
A side change is a different (side, level): a cancel and a place. Send cancels, then amends, then places.
An amend resets the order's age (`created_ms` is when it was quoted at its price and size): it is then
a fresh quote at the back of its price level, as a new order would be. Without `amend` the plan is the
replace view, which leaves the same orders resting once carried out (the band is computed from it).

The price test runs in integer ticks when the desired quote carries its ticks and grid (the strategies'
integer path does) and the live price is on that grid: |l - d| × 10000 × den <= num × d for a tolerance of
num/den bps, the same inequality multiplied out, so the plan is the one the Decimal test gives.
`tolerance_window` inverts it: the desired prices (ticks) under which a live order stays in tolerance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext
from typing import TypeVar

from mmctl.bots.ids import parse
from mmctl.model import Amend, Order, Side
from mmctl.strategies.base import Quote
from mmctl.strategies.ticks import Grid, Ratio, ratio

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
    post_only: bool = True
    reduce_only: bool = False

    @property
    def key(self) -> Key:
        return (self.side, self.level)

    @property
    def filled(self) -> Decimal | None:
        """The part already filled (None when the placed size is unknown)."""
        return None if self.qty is None else _EXACT.subtract(self.qty, self.remaining)


@dataclass(frozen=True, slots=True)
class Amendment:
    """Amend `order` in place to `quote`: its price, and a total of its filled part plus the quote's size."""

    order: LiveOrder
    quote: Quote

    def to_amend(self) -> Amend:
        order, quote = self.order, self.quote
        if order.qty is None or order.remaining == order.qty:  # nothing filled (the usual case)
            qty = quote.qty
        else:
            qty = _EXACT.add(_EXACT.subtract(order.qty, order.remaining), quote.qty)
        return Amend(order.client_order_id, order.side, quote.price, qty, order.reduce_only)


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do: cancel `cancels`, then amend `amends`, then place `places`. `kept` are the live orders
    left alone."""

    cancels: tuple[LiveOrder, ...]
    places: tuple[Quote, ...]
    kept: tuple[LiveOrder, ...]
    amends: tuple[Amendment, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.cancels and not self.places and not self.amends


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
                post_only=order.post_only,
                reduce_only=order.reduce_only,
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
    amend: bool = False,
) -> Plan:
    """The minimal plan that turns `live` into `desired` (see the module docstring for the rules); with
    `amend`, replaced orders whose level is still wanted are amended instead where the venue allows."""
    wanted = _by_key(desired)
    tn, td = _tolerance(tolerance_bps)
    scale = 10_000 * td
    kept: dict[Key, int] = {}  # (side, level) -> index in `live` of the order kept there
    for i, order in enumerate(live):
        key = (order.side, order.level)
        quote = wanted.get(key)
        if quote is None or key in kept or now_ms - order.created_ms >= max_age_ms:
            continue
        if not same_flags(order, quote):
            continue
        if order.remaining != quote.qty and not size_matches(order, quote.qty):
            continue
        grid, ticks = quote.grid, quote.ticks
        at = None if grid is None or ticks is None else grid.index_of_kept(order.price)
        if at is not None and ticks is not None:  # the integer test
            keep = abs(at - ticks) * scale <= tn * ticks
        else:
            keep = within_tolerance(order.price, quote.price, tolerance_bps)
        if keep:
            kept[key] = i
    if not kept:  # a reaction to a move: everything is replaced
        plan = Plan(cancels=tuple(live), places=tuple(desired), kept=())
    else:
        kept_at = set(kept.values())
        cancels = tuple(order for i, order in enumerate(live) if i not in kept_at)
        places = tuple(q for q in desired if (q.side, q.level) not in kept)
        plan = Plan(cancels=cancels, places=places, kept=tuple(live[i] for i in sorted(kept_at)))
    return _with_amends(plan) if amend and plan.cancels and plan.places else plan


def _with_amends(plan: Plan) -> Plan:
    """`plan` with each replaced order whose level is still wanted amended instead, where it can be."""
    wanted = {(q.side, q.level): q for q in plan.places}
    amends: list[Amendment] = []
    cancels: list[LiveOrder] = []
    for order in plan.cancels:
        quote = wanted.get((order.side, order.level))
        if quote is not None and amendable(order, quote):
            del wanted[(order.side, order.level)]  # one order per level
            amends.append(Amendment(order, quote))
        else:
            cancels.append(order)
    if not amends:
        return plan
    places = tuple(q for q in plan.places if (q.side, q.level) in wanted)
    return Plan(cancels=tuple(cancels), places=places, kept=plan.kept, amends=tuple(amends))


def amendable(order: LiveOrder, quote: Quote) -> bool:
    """True when amending `order` to `quote` is what placing `quote` would give: same side, size known,
    the quote's flags (an amend keeps the order's), and the amend changes the price or the total."""
    if order.side is not quote.side or order.qty is None or not same_flags(order, quote):
        return False
    if order.remaining <= 0:
        return False
    total = _EXACT.add(_EXACT.subtract(order.qty, order.remaining), quote.qty)
    return order.price != quote.price or total != order.qty


def same_flags(order: LiveOrder, quote: Quote) -> bool:
    """True when `order` was placed with the quote's flags (post-only, reduce-only)."""
    return order.post_only is quote.post_only and order.reduce_only is quote.reduce_only


def tolerance_window(live_price: Decimal, grid: Grid, tolerance_bps: Decimal) -> tuple[int, int] | None:
    """The desired prices, in ticks of `grid`, within `tolerance_bps` of `live_price` (inclusive): the
    d with |live - d × tick| × 10000 <= tolerance × d × tick. None for a tolerance of 10000 bps or more."""
    ln, ld = grid.index_ratio(live_price)  # the live price in ticks, an exact fraction
    return tolerance_window_ticks(ln, ld, tolerance_bps)


def tolerance_window_ticks(ln: int, ld: int, tolerance_bps: Decimal) -> tuple[int, int] | None:
    """`tolerance_window` for a live price of `ln / ld` ticks (`ld` > 0)."""
    tn, td = _tolerance(tolerance_bps)
    if tn >= 10_000 * td:
        return None
    # |l - d| * 10000 <= t * d  <=>  l * 10000 / (10000 + t) <= d <= l * 10000 / (10000 - t)
    low = -((-ln * 10_000 * td) // (ld * (10_000 * td + tn)))
    high = (ln * 10_000 * td) // (ld * (10_000 * td - tn))
    return low, high


_TOLERANCES: dict[Decimal, Ratio] = {}


def _tolerance(tolerance_bps: Decimal) -> Ratio:
    """`tolerance_bps` as an exact fraction (remembered: a bot's tolerance rarely changes)."""
    found = _TOLERANCES.get(tolerance_bps)
    if found is None:
        if len(_TOLERANCES) >= 256:
            _TOLERANCES.clear()
        found = _TOLERANCES[tolerance_bps] = ratio(tolerance_bps)
    return found


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
