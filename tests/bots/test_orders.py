"""Quote reconciliation (mmctl.bots.orders): the minimal cancels and places, and batching."""

from __future__ import annotations

from decimal import Context, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmctl.bots.ids import make_id
from mmctl.bots.orders import (
    CANCEL_BATCH,
    PLACE_BATCH,
    LiveOrder,
    Plan,
    batches,
    keepable,
    live_orders,
    reconcile,
    tolerance_window,
    within_tolerance,
)
from mmctl.model import Order, OrderStatus, OrderType, Side
from mmctl.strategies.base import Quote
from mmctl.strategies.ticks import Grid

D = Decimal
B, S = Side.BUY, Side.SELL
NOW = 1_000_000
TOL = D(2)
AGE = 300_000


def quote(side: Side, level: int, price: str, qty: str = "1") -> Quote:
    return Quote(side, level, D(price), D(qty))


def live(
    side: Side,
    level: int,
    price: str,
    remaining: str = "1",
    *,
    age_ms: int = 0,
    qty: str | None = None,
    cid: str | None = None,
) -> LiveOrder:
    return LiveOrder(
        client_order_id=cid or f"mm.t.{side.value[0]}{level}.{price}",
        side=side,
        level=level,
        price=D(price),
        remaining=D(remaining),
        created_ms=NOW - age_ms,
        qty=None if qty is None else D(qty),
    )


def plan(desired: list[Quote], live_: list[LiveOrder], tol: Decimal = TOL, age: int = AGE) -> Plan:
    return reconcile(desired, live_, tolerance_bps=tol, max_age_ms=age, now_ms=NOW)


def test_nothing_live_places_every_desired_quote() -> None:
    """With no live orders, the plan places every desired quote and cancels nothing."""
    desired = [quote(B, 0, "99"), quote(B, 1, "98"), quote(S, 0, "101")]
    p = plan(desired, [])
    assert p.places == tuple(desired)
    assert p.cancels == ()
    assert not p.empty


def test_matching_live_orders_are_left_alone() -> None:
    """Live orders at the desired price and size give an empty plan: no API calls at all."""
    desired = [quote(B, 0, "99"), quote(S, 0, "101")]
    orders = [live(B, 0, "99"), live(S, 0, "101")]
    p = plan(desired, orders)
    assert p.empty
    assert p.kept == tuple(orders)


def test_only_the_moved_level_is_replaced() -> None:
    """When one level's price moves past the tolerance, only that order is cancelled and re-placed."""
    desired = [quote(B, 0, "98"), quote(B, 1, "97"), quote(S, 0, "101")]
    orders = [live(B, 0, "99"), live(B, 1, "97"), live(S, 0, "101")]
    p = plan(desired, orders)
    assert p.cancels == (orders[0],)
    assert p.places == (desired[0],)


def test_tolerance_is_inclusive_on_both_sides_of_the_desired_price() -> None:
    """An order exactly at the tolerance above or below the desired price is kept; one tick more is not."""
    desired = [quote(B, 0, "10000")]  # 2 bps of 10000 is 2
    for price, kept in (("10002", True), ("9998", True), ("10002.01", False), ("9997.99", False)):
        p = plan(desired, [live(B, 0, price)])
        assert p.empty is kept, price


def test_zero_tolerance_keeps_only_the_exact_price() -> None:
    """With tolerance 0, any price difference replaces the order."""
    assert plan([quote(B, 0, "100")], [live(B, 0, "100")], tol=D(0)).empty
    assert not plan([quote(B, 0, "100")], [live(B, 0, "100.01")], tol=D(0)).empty


def test_orders_at_or_past_max_age_are_refreshed() -> None:
    """An order younger than max age is kept; at or past max age it is cancelled and re-placed."""
    desired = [quote(S, 0, "101")]
    assert plan(desired, [live(S, 0, "101", age_ms=AGE - 1)]).empty
    stale = live(S, 0, "101", age_ms=AGE)
    p = plan(desired, [stale])
    assert p.cancels == (stale,)
    assert p.places == tuple(desired)


def test_a_level_no_longer_desired_is_cancelled() -> None:
    """Live orders whose (side, level) is not desired any more are cancelled, without a place."""
    desired = [quote(B, 0, "99")]
    orders = [live(B, 0, "99"), live(B, 1, "98"), live(S, 0, "101")]
    p = plan(desired, orders)
    assert p.cancels == (orders[1], orders[2])
    assert p.places == ()


def test_side_is_part_of_the_match() -> None:
    """A sell at level 0 never stands in for a desired buy at level 0."""
    p = plan([quote(B, 0, "100")], [live(S, 0, "100")])
    assert len(p.cancels) == 1
    assert p.places == (quote(B, 0, "100"),)


def test_duplicates_on_one_level_keep_a_single_order() -> None:
    """Of several live orders at one (side, level) at most one is kept; the first keepable one."""
    desired = [quote(B, 0, "99")]
    first, second = live(B, 0, "99", cid="a"), live(B, 0, "99", cid="b")
    p = plan(desired, [first, second])
    assert p.kept == (first,)
    assert p.cancels == (second,)
    assert p.places == ()


def test_a_keepable_duplicate_is_preferred_over_a_stale_first() -> None:
    """If the first order at a level must go but a later duplicate fits, the duplicate is kept: no place."""
    desired = [quote(B, 0, "99")]
    stale, good = live(B, 0, "99", age_ms=AGE, cid="a"), live(B, 0, "99", cid="b")
    p = plan(desired, [stale, good])
    assert p.kept == (good,)
    assert p.cancels == (stale,)
    assert p.places == ()


def test_size_change_replaces_the_order() -> None:
    """An order whose remaining size differs from the desired size (and is no partial fill of it) goes."""
    assert not plan([quote(B, 0, "99", "2")], [live(B, 0, "99", "1")]).empty
    assert not plan([quote(B, 0, "99", "1")], [live(B, 0, "99", "2")]).empty


def test_partial_fill_remainder_of_the_desired_size_is_kept() -> None:
    """A partly filled order placed for the desired size rides on; one placed for another size does not."""
    desired = [quote(B, 0, "99", "1")]
    assert plan(desired, [live(B, 0, "99", "0.4", qty="1")]).empty
    assert not plan(desired, [live(B, 0, "99", "0.4", qty="2")]).empty  # was bigger: replace
    assert not plan(desired, [live(B, 0, "99", "0.4")]).empty  # original size unknown: replace
    assert not plan([quote(B, 0, "99", "0.5")], [live(B, 0, "99", "0.4", qty="1")]).empty


def test_duplicate_desired_levels_are_rejected() -> None:
    """Two desired quotes at one (side, level) are a caller bug."""
    with pytest.raises(ValueError, match="two desired quotes"):
        plan([quote(B, 0, "99"), quote(B, 0, "98")], [])


def test_within_tolerance_is_exact_for_long_decimals() -> None:
    """The tolerance comparison does not lose precision to the thread's decimal context."""
    desired = D("12345.678901234567890123456789")
    with localcontext(Context(prec=100)):
        edge = desired + desired * TOL / 10_000  # exactly at the tolerance
        beyond = edge + D("1E-40")
    assert within_tolerance(edge, desired, TOL)
    assert not within_tolerance(beyond, desired, TOL)


def test_live_orders_keeps_only_this_bots_open_limit_orders() -> None:
    """Manual orders, other bots' orders (even a prefix-sharing name) and closed orders are skipped."""

    def order(cid: str, status: OrderStatus = OrderStatus.NEW, price: str | None = "99") -> Order:
        return Order(
            id=cid,
            client_order_id=cid,
            symbol="X",
            side=B,
            type=OrderType.LIMIT,
            price=None if price is None else D(price),
            qty=D(2),
            filled=D("0.5"),
            avg_price=None,
            status=status,
            post_only=True,
            reduce_only=False,
            created_ms=5,
            updated_ms=6,
        )

    mine = order(make_id("a", B, 3, 7), OrderStatus.PARTIALLY_FILLED)
    orders = [
        mine,
        order("manual-1"),
        order(make_id("ab", B, 0, 1)),
        order(make_id("a", B, 0, 2), OrderStatus.CANCELED),
        order(make_id("a", B, 1, 3), price=None),
    ]
    assert live_orders(orders, "a") == [
        LiveOrder(mine.client_order_id, B, 3, D(99), D("1.5"), 5, qty=D(2)),
    ]


@pytest.mark.parametrize(
    ("n", "size", "lengths"), [(0, 5, []), (5, 5, [5]), (6, 5, [5, 1]), (23, 10, [10, 10, 3])]
)
def test_batches_split_at_the_limit(n: int, size: int, lengths: list[int]) -> None:
    """Items are split in order into batches of at most `size`."""
    items = list(range(n))
    out = batches(items, size)
    assert [len(b) for b in out] == lengths
    assert [x for b in out for x in b] == items


def test_binance_batch_limits_and_bad_sizes() -> None:
    """Binance allows 5 places and 10 cancels per batch; a batch size below 1 is refused."""
    assert (PLACE_BATCH, CANCEL_BATCH) == (5, 10)
    with pytest.raises(ValueError, match="at least 1"):
        batches([1], 0)


# --- property ---------------------------------------------------------------------------------------------

KEYS = [(side, level) for side in Side for level in range(4)]


@st.composite
def situations(draw: st.DrawFn) -> tuple[list[Quote], list[LiveOrder], Decimal, int]:
    keys = draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=len(KEYS)))
    desired = [
        Quote(side, level, D(draw(st.integers(9_900, 10_100))), D(draw(st.integers(1, 3))))
        for side, level in keys
    ]
    orders = []
    for i in range(draw(st.integers(0, 10))):
        side, level = draw(st.sampled_from(KEYS))
        qty = D(draw(st.integers(1, 3)))
        orders.append(
            LiveOrder(
                client_order_id=f"o{i}",
                side=side,
                level=level,
                price=D(draw(st.integers(9_895, 10_105))),
                remaining=qty - draw(st.sampled_from([D(0), D(0), D("0.5")])),
                created_ms=NOW - draw(st.integers(0, 2 * AGE)),
                qty=draw(st.sampled_from([qty, None])),
            )
        )
    tol = D(draw(st.integers(0, 5)))
    return desired, orders, tol, AGE


@settings(max_examples=300, deadline=None)
@given(situations())
def test_applying_the_plan_leaves_exactly_the_desired_levels_fresh_and_in_tolerance(
    case: tuple[list[Quote], list[LiveOrder], Decimal, int],
) -> None:
    """After the plan, each desired (side, level) has one fresh order within tolerance, nothing else is live,
    and no cancelled order could have been kept."""
    desired, orders, tol, age = case
    p = reconcile(desired, orders, tolerance_bps=tol, max_age_ms=age, now_ms=NOW)
    cancelled = {id(o) for o in p.cancels}
    assert len(cancelled) == len(p.cancels)
    survivors = [o for o in orders if id(o) not in cancelled]
    assert survivors == list(p.kept)
    placed = [
        LiveOrder(f"new{i}", q.side, q.level, q.price, q.qty, NOW, q.qty) for i, q in enumerate(p.places)
    ]
    after = survivors + placed
    by_key = {(q.side, q.level): q for q in desired}
    assert sorted((o.side, o.level) for o in after) == sorted(by_key)
    for o in after:
        assert keepable(o, by_key[(o.side, o.level)], tolerance_bps=tol, max_age_ms=age, now_ms=NOW)
        assert o.remaining <= by_key[(o.side, o.level)].qty
    kept_keys = {(o.side, o.level) for o in p.kept}
    for o in p.cancels:  # minimal: a cancelled order was unwanted, unfit, or its level is served already
        key = (o.side, o.level)
        fit = key in by_key and keepable(o, by_key[key], tolerance_bps=tol, max_age_ms=age, now_ms=NOW)
        assert not fit or key in kept_keys
    assert all((q.side, q.level) not in kept_keys for q in p.places)


# --- the integer path --------------------------------------------------------------------------------------

GRIDS = [Grid(D(t)) for t in ("0.1", "0.01", "0.5", "0.25", "1", "0.00001")]


@st.composite
def ticked_situations(draw: st.DrawFn) -> tuple[list[Quote], list[Quote], list[LiveOrder], Decimal]:
    """The same desired quotes with and without their ticks, live orders on and off the grid, and a
    tolerance with up to 3 decimals."""
    grid = draw(st.sampled_from(GRIDS))
    keys = draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=len(KEYS)))
    plain, ticked = [], []
    for side, level in keys:
        ticks = draw(st.integers(1, 10**7))
        qty = D(draw(st.integers(1, 3)))
        plain.append(Quote(side, level, grid.value(ticks), qty))
        ticked.append(Quote(side, level, grid.value(ticks), qty, ticks, grid))
    orders = []
    for i in range(draw(st.integers(0, 10))):
        side, level = draw(st.sampled_from(KEYS))
        near = next((q.ticks for q in ticked if (q.side, q.level) == (side, level)), None)
        at = (near or draw(st.integers(1, 10**7))) + draw(st.integers(-2000, 2000))
        price = grid.value(max(at, 1))
        if draw(st.integers(0, 5)) == 0:
            price += D("0.000001")  # off the grid: the Decimal test decides
        qty = D(draw(st.integers(1, 3)))
        orders.append(LiveOrder(f"o{i}", side, level, price, qty, NOW - draw(st.integers(0, 2 * AGE)), qty))
    tol = draw(st.decimals(min_value=0, max_value=1000, places=3))
    return plain, ticked, orders, tol


@settings(max_examples=300, deadline=None)
@given(ticked_situations())
def test_the_integer_price_test_makes_the_plan_the_decimal_test_makes(
    case: tuple[list[Quote], list[Quote], list[LiveOrder], Decimal],
) -> None:
    """Quotes carrying their ticks are matched in integer ticks; the plan is the one the exact Decimal
    comparison gives for the same quotes without ticks."""
    plain, ticked, orders, tol = case
    fast = reconcile(ticked, orders, tolerance_bps=tol, max_age_ms=AGE, now_ms=NOW)
    slow = reconcile(plain, orders, tolerance_bps=tol, max_age_ms=AGE, now_ms=NOW)
    assert fast == slow


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(GRIDS),
    st.integers(1, 10**8),
    st.decimals(min_value=0, max_value=9999, places=3),
    st.integers(-3, 3),
)
def test_the_tolerance_window_holds_exactly_the_desired_prices_within_tolerance(
    grid: Grid, live_ticks: int, tol: Decimal, off: int
) -> None:
    """`tolerance_window` gives the desired prices (ticks) a live order is kept for: its ends are within
    the tolerance, the prices just beyond them are not (an off-grid order may have an empty window)."""
    live_price = grid.value(live_ticks) + (D(off) / 1000 if off else 0)
    window = tolerance_window(live_price, grid, tol)
    assert window is not None
    low, high = window
    for d in {low - 1, low, high, high + 1, live_ticks - 1, live_ticks, live_ticks + 1}:
        if d > 0:
            assert within_tolerance(live_price, grid.value(d), tol) == (low <= d <= high)


def test_a_tolerance_of_the_whole_price_has_no_window() -> None:
    """At 10000 bps or more any desired price at all would do: no finite window, the caller wakes."""
    assert tolerance_window(D("100.0"), Grid(D("0.1")), D(10_000)) is None
