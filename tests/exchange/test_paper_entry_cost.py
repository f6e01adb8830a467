"""The paper venue's cheaper order entry decides exactly as the straightforward computation does.

`check_margin` now derives the before/after/worst exposure from one long/short computation, the available
balance reuses each symbol's margin figures while their inputs are unchanged, and an order's `Order`
snapshot is reused while the order is unchanged. The reference below is the plain computation (three
exposure walks, every symbol recomputed per order, a fresh snapshot each time): over random scripts of
orders (some far too large for the margin or the leverage bracket), fills, book moves, leverage changes,
amends, cancels and funding, every margin decision, every balance figure (value and text) and every
order snapshot must match it exactly.
"""

from __future__ import annotations

import contextlib
from decimal import ROUND_CEILING, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmctl.clock import ManualClock
from mmctl.errors import InsufficientMargin, LeverageRejected, MmctlError
from mmctl.exchange.paper import PaperVenue, entry
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.exchange.paper.margin import available_balance
from mmctl.exchange.paper.state import LiveOrder, SymbolState
from mmctl.model import (
    ZERO,
    Amend,
    BookTop,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    StpMode,
    Trade,
)
from mmctl.pnl.position import CTX, MONEY_QUANTUM, money, unrealized_pnl

from .builders import BTC, ETH, START_MS, book, limit, make_venue, trade

# --- the reference: the straightforward computation, as the venue did it before ---------------------


def ref_exposure(s: SymbolState, side: Side | None = None, extra: Decimal = ZERO) -> Decimal:
    mark = s.mark_price() or ZERO
    position_notional = CTX.multiply(s.position_qty, mark)
    longs = CTX.add(position_notional, s.buy_notional)
    shorts = CTX.subtract(s.sell_notional, position_notional)
    if side is Side.BUY:
        longs = CTX.add(longs, extra)
    elif side is Side.SELL:
        shorts = CTX.add(shorts, extra)
    return max(longs, shorts, ZERO)


def ref_margin(s: SymbolState, side: Side | None = None, extra: Decimal = ZERO) -> Decimal:
    return CTX.divide(ref_exposure(s, side, extra), s.leverage)


def ref_balance(venue: PaperVenue) -> tuple[Decimal, Decimal, Decimal]:
    """(available, margin used, unrealized PnL), every symbol computed afresh."""
    upnl = ZERO
    for s in venue.symbol_states:
        if s.position_qty:
            mark = s.mark_price() or ZERO
            upnl = CTX.add(upnl, unrealized_pnl(s.position_qty, s.entry_price, mark))
    total = ZERO
    for s in venue.symbol_states:
        total = CTX.add(total, ref_margin(s))
    used = money(total)
    return CTX.subtract(CTX.add(venue.wallet.balance, upnl), used), used, upnl


def ref_margin_error(req: OrderRequest, venue: PaperVenue) -> MmctlError | None:
    """The error the margin check must raise for `req` on the venue's current state (None: it passes)."""
    s = venue.state(req.symbol)
    price = entry.taker_price(req, s.top) or req.price
    if req.reduce_only or price is None:
        return None
    notional = CTX.multiply(req.qty, price)
    before = ref_margin(s)
    after = ref_margin(s, req.side, notional)
    if after <= before:
        return None
    worst = ref_exposure(s, req.side, notional)
    cap = s.rules.notional_cap(s.leverage)
    if worst > cap:
        return LeverageRejected(
            f"order would take {s.symbol} exposure to {worst:.2f} USDT, above the {cap} cap at "
            f"{s.leverage}x leverage",
            data={"client_order_id": req.client_order_id, "notional_cap": str(cap)},
        )
    needed = CTX.subtract(after, before).quantize(MONEY_QUANTUM, rounding=ROUND_CEILING, context=CTX)
    free = ref_balance(venue)[0]
    if CTX.subtract(after, before) > free:
        return InsufficientMargin(
            f"order needs {needed} USDT initial margin at {s.leverage}x, only {free} available",
            data={
                "client_order_id": req.client_order_id,
                "required_margin": str(needed),
                "available_balance": str(free),
                "notional": str(notional),
                "leverage": s.leverage,
            },
        )
    return None


def ref_snapshot(order: LiveOrder) -> Order:
    return Order(
        id=order.id,
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side,
        type=order.type,
        price=order.price,
        qty=order.qty,
        filled=order.filled,
        avg_price=CTX.divide(order.cost, order.filled) if order.filled else None,
        status=order.status,
        post_only=order.post_only,
        reduce_only=order.reduce_only,
        created_ms=order.created_ms,
        updated_ms=order.updated_ms,
    )


def same(a: MmctlError, b: MmctlError) -> bool:
    return type(a) is type(b) and str(a) == str(b) and a.data == b.data


# --- the random market -----------------------------------------------------------------------------

TICKS = {BTC: Decimal("0.1"), ETH: Decimal("0.01")}
STEP = Decimal("0.001")
START_MID = {BTC: 600_000, ETH: 300_000}  # in ticks
LEVERAGES = [1, 3, 7, 20, 50, 100, 125]  # 3 and 7 make margins that do not divide exactly

symbols = st.sampled_from([BTC, ETH])
sides = st.sampled_from([Side.BUY, Side.SELL])
kinds = st.sampled_from(
    [
        *("quote", "quote", "quote", "big", "market", "gtc", "reduce", "trade", "book", "leverage"),
        *("amend", "cancel", "cancel_all", "wait"),
    ]
)
Action = tuple[str, str, Side, int, int]
actions = st.tuples(
    kinds, symbols, sides, st.integers(min_value=-30, max_value=30), st.integers(min_value=1, max_value=400)
)


class Script:
    """Applies random actions to a venue, checking every order entry against the reference."""

    def __init__(self, venue: PaperVenue) -> None:
        self.venue = venue
        self.mid = dict(START_MID)
        self.updates: list[OrderUpdate] = []
        venue.add_listener(self.updates.append)
        self.margin_errors: list[type[MmctlError]] = []
        for symbol in START_MID:
            self.move(symbol, 0)

    def price(self, symbol: str, offset: int) -> Decimal:
        return Decimal(self.mid[symbol] + offset) * TICKS[symbol]

    def move(self, symbol: str, by: int) -> None:
        self.mid[symbol] += by
        bid, ask = self.price(symbol, 0), self.price(symbol, 1)
        self.venue.on_book(BookTop(symbol, bid, Decimal(3), ask, Decimal(3), self.venue.now_ms))

    def place(self, req: OrderRequest) -> None:
        expected = ref_margin_error(req, self.venue)
        try:
            order = self.venue.place(req)
        except (InsufficientMargin, LeverageRejected) as e:
            error: MmctlError | None = e
            order = None
        except MmctlError:
            return  # an earlier check refused it: the margin check was not reached
        else:
            error = None
        if error is not None or expected is not None:
            assert error is not None
            assert expected is not None
            assert same(error, expected), (error, expected)
            self.margin_errors.append(type(error))
            return
        assert order is not None
        live = self.venue.orders.find(order.id, None)
        assert live is not None
        assert order == ref_snapshot(live)
        assert order == next(u.order for u in reversed(self.updates) if u.order.id == order.id)

    def apply(self, action: Action) -> None:
        kind, symbol, side, offset, size = action
        qty = size * STEP
        v = self.venue
        if kind == "quote":
            self.place(OrderRequest(symbol, side, qty, self.price(symbol, offset), "", post_only=True))
        elif kind == "big":  # far beyond the margin or the bracket at most leverages
            self.place(OrderRequest(symbol, side, qty * 25, self.price(symbol, offset), "", post_only=True))
        elif kind == "market":
            self.place(OrderRequest(symbol, side, qty, None, "", type=OrderType.MARKET))
        elif kind == "gtc":
            mode = list(StpMode)[size % len(StpMode)]
            self.place(OrderRequest(symbol, side, qty, self.price(symbol, offset), "", stp_mode=mode))
        elif kind == "reduce":
            self.place(OrderRequest(symbol, side, qty, self.price(symbol, offset), "", reduce_only=True))
        elif kind == "trade":
            v.on_trade(Trade(symbol, self.price(symbol, offset), qty, side, v.now_ms))
        elif kind == "book":
            self.move(symbol, offset)
        elif kind == "leverage":
            with contextlib.suppress(MmctlError):
                v.set_leverage(symbol, LEVERAGES[size % len(LEVERAGES)])
        elif kind == "amend":
            self.amend(symbol, offset, qty)
        elif kind == "cancel":
            orders = v.open_orders(symbol)
            if orders:
                v.cancel(symbol, orders[size % len(orders)].id)
        elif kind == "cancel_all":
            v.cancel_all(symbol)
        else:
            v.advance_to(v.now_ms + size * 1_000)

    def amend(self, symbol: str, offset: int, qty: Decimal) -> None:
        orders = [o for o in self.venue.open_orders(symbol) if o.type is OrderType.LIMIT]
        if not orders:
            return
        order = orders[int(qty * 1000) % len(orders)]
        amend = Amend(order.client_order_id, order.side, self.price(symbol, offset), qty)
        with contextlib.suppress(MmctlError):
            self.venue.amend(symbol, amend)

    def check(self) -> None:
        v = self.venue
        available, used, upnl = ref_balance(v)
        bal = v.balance()
        assert (str(bal.available), str(bal.margin_used), str(bal.unrealized_pnl)) == (
            str(available),
            str(used),
            str(upnl),
        )
        assert str(available_balance(v.wallet, v.symbol_states)) == str(available)
        for order in v.orders.open.values():
            assert order.snapshot() == ref_snapshot(order)


@settings(max_examples=120, deadline=None)
@given(script=st.lists(actions, min_size=1, max_size=70))
def test_margin_decisions_and_balances_match_the_plain_computation(script: list[Action]) -> None:
    """Every margin accept/reject (with its message and figures), balance and snapshot equals the plain
    computation's, exactly, over random scripts."""
    run = Script(make_venue("5000", funding_rate="0.0003", funding_interval_s=60))
    for action in script:
        run.apply(action)
        run.check()


def test_the_scripts_big_orders_meet_both_margin_rejections() -> None:
    """The script's "big" orders meet both margin rejections, so the property above does compare them."""
    run = Script(make_venue("5000"))
    run.apply(("big", BTC, Side.BUY, -5, 400))  # 10 BTC: 30,000 initial margin at 20x
    run.apply(("leverage", BTC, Side.BUY, 0, 6))  # 125x: a 50,000 notional cap
    run.apply(("big", BTC, Side.BUY, -5, 400))
    assert run.margin_errors == [InsufficientMargin, LeverageRejected]


# --- a batch whose later orders no longer fit ---------------------------------------------------------


async def test_a_batch_rejects_the_orders_that_no_longer_fit_with_the_available_balance_left() -> None:
    """In one batch each order sees the margin the earlier ones took: the 4th bid is refused with
    exactly the balance left (1000 - 3 x 295), and a later sell covered by the bids still passes."""
    venue = make_venue("1000")
    book(venue, "60000.0", "60000.1")
    exchange = PaperExchange("paper", venue, ManualClock(START_MS / 1000))
    bids = [limit(Side.BUY, "59000.0", "0.100", f"b{i}") for i in range(4)]  # 295 USDT each at 20x
    ask = limit(Side.SELL, "61000.0", "0.100", "a0")
    expected = ref_margin_error(bids[3], venue)  # none yet: alone it fits
    assert expected is None
    results = await exchange.place_orders([*bids, ask])
    assert [r.ok for r in results] == [True, True, True, False, True]
    error = results[3].error
    assert isinstance(error, InsufficientMargin)
    assert error.data["available_balance"] == str(Decimal("1000") - Decimal("885.00000000"))
    assert error.data["required_margin"] == "295.00000000"
    after = ref_balance(venue)
    assert venue.balance().available == after[0] == Decimal("115.00000000")


# --- snapshots follow every change, even within one venue millisecond ---------------------------------


def test_snapshot_follows_a_fill_and_an_amend_in_the_same_millisecond() -> None:
    """A reused snapshot never hides a change: a fill and then an amend at the placement's own venue time
    show in the order's state, while the `Order` returned earlier keeps the state it had."""
    venue = make_venue()
    book(venue, "60000.0", "60000.1")
    placed = venue.place(limit(Side.BUY, "59990.0", "0.010", "q1"))
    # the same venue time throughout: `updated_ms` alone cannot tell the states apart
    trade(venue, Side.SELL, "59990.0", "0.004")
    filled = venue.order(BTC, client_order_id="q1")
    assert (filled.status, filled.filled, filled.avg_price) == (
        OrderStatus.PARTIALLY_FILLED,
        Decimal("0.004"),
        Decimal("59990.0"),
    )
    assert (placed.status, placed.filled, placed.updated_ms) == (OrderStatus.NEW, ZERO, filled.updated_ms)
    trade(venue, Side.SELL, "59990.0", "0.002")  # status and time unchanged: only the fill tells
    again = venue.order(BTC, client_order_id="q1")
    assert (again.status, again.filled, again.updated_ms) == (
        OrderStatus.PARTIALLY_FILLED,
        Decimal("0.006"),
        filled.updated_ms,
    )
    amended = venue.amend(BTC, Amend("q1", Side.BUY, Decimal("59980.0"), Decimal("0.010")))  # price only
    assert (amended.price, amended.qty) == (Decimal("59980.0"), Decimal("0.010"))
    assert venue.order(BTC, client_order_id="q1") == amended
    cancelled = venue.cancel(BTC, client_order_id="q1")
    assert cancelled.status is OrderStatus.CANCELED
    assert filled.status is OrderStatus.PARTIALLY_FILLED


def test_available_balance_follows_a_leverage_change_at_an_unchanged_mark() -> None:
    """Per-symbol margin figures are recomputed when only the leverage changed (same mark, same orders)."""
    venue = make_venue("10000")
    book(venue, "60000.0", "60000.1")
    venue.place(limit(Side.BUY, "59000.0", "0.100", "b"))
    assert venue.balance().margin_used == Decimal("295.00000000")  # 5,900 at 20x
    venue.set_leverage(BTC, 7)
    assert venue.balance().margin_used == money(Decimal("5900.0") / 7)
    assert venue.balance() == venue.balance()
    with pytest.raises(InsufficientMargin):
        venue.place(limit(Side.BUY, "59000.0", "1.200", "too-much"))  # 70,800 at 7x: 10,114 > 9,157
