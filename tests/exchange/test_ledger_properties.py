"""The income ledger always sums exactly to the wallet's change, over random orders, fills and funding.

Random sequences of quotes, market orders, reduce-only orders, GTC orders in every self-trade prevention
mode, public trades, book moves, cancels and time jumps (with a one-minute funding interval) run on the
synchronous venue. After every step: the wallet change equals the sum of the income rows, rejected
requests changed nothing, the venue's per-side open notional (used for margin) matches its open orders,
and our own resting orders never cross each other (self-trade prevention and post-only treat them as
part of the book).
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from mmctl.errors import MmctlError
from mmctl.exchange.paper import PaperVenue
from mmctl.model import BookTop, OrderRequest, OrderType, Side, StpMode, Trade

from .builders import BTC, ETH, make_venue

TICKS = {BTC: Decimal("0.1"), ETH: Decimal("0.01")}
STEPS = {BTC: Decimal("0.001"), ETH: Decimal("0.001")}
START_MID = {BTC: 600_000, ETH: 300_000}  # in ticks

symbols = st.sampled_from([BTC, ETH])
sides = st.sampled_from([Side.BUY, Side.SELL])
offsets = st.integers(min_value=-30, max_value=30)
sizes = st.integers(min_value=1, max_value=60)
actions = st.one_of(
    st.tuples(st.just("quote"), symbols, sides, offsets, sizes, st.booleans(), st.booleans()),
    st.tuples(st.just("market"), symbols, sides, offsets, sizes, st.booleans(), st.booleans()),
    st.tuples(st.just("trade"), symbols, sides, offsets, sizes, st.booleans(), st.booleans()),
    st.tuples(st.just("book"), symbols, sides, offsets, sizes, st.booleans(), st.booleans()),
    st.tuples(st.just("wait"), symbols, sides, offsets, sizes, st.booleans(), st.booleans()),
    st.tuples(st.just("cancel"), symbols, sides, offsets, sizes, st.booleans(), st.booleans()),
    st.tuples(st.just("stp"), symbols, sides, offsets, sizes, st.booleans(), st.booleans()),
)
STP_MODES = list(StpMode)
Action = tuple[str, str, Side, int, int, bool, bool]


class Market:
    def __init__(self, venue: PaperVenue) -> None:
        self.venue = venue
        self.mid = dict(START_MID)
        for symbol in START_MID:
            self.move(symbol, 0)

    def price(self, symbol: str, ticks: int) -> Decimal:
        return Decimal(ticks) * TICKS[symbol]

    def move(self, symbol: str, by: int) -> None:
        self.mid[symbol] += by
        bid, ask = self.price(symbol, self.mid[symbol]), self.price(symbol, self.mid[symbol] + 1)
        self.venue.on_book(BookTop(symbol, bid, Decimal(3), ask, Decimal(3), self.venue.now_ms))

    def apply(self, action: Action) -> None:
        kind, symbol, side, offset, size, flag_a, flag_b = action
        qty = size * STEPS[symbol]
        price = self.price(symbol, self.mid[symbol] + offset)
        if kind == "quote":
            self.venue.place(OrderRequest(symbol, side, qty, price, "", post_only=flag_a, reduce_only=flag_b))
        elif kind == "market":
            self.venue.place(
                OrderRequest(symbol, side, qty, None, "", type=OrderType.MARKET, reduce_only=flag_b)
            )
        elif kind == "trade":
            self.venue.on_trade(Trade(symbol, price, qty, side, self.venue.now_ms))
        elif kind == "book":
            self.move(symbol, offset)
        elif kind == "stp":  # a GTC order in any self-trade prevention mode, often meeting our own orders
            mode = STP_MODES[size % len(STP_MODES)]
            self.venue.place(OrderRequest(symbol, side, qty, price, "", reduce_only=flag_b, stp_mode=mode))
        elif kind == "wait":
            self.venue.advance_to(self.venue.now_ms + size * 7_000)
        else:
            self.venue.cancel_all(symbol)


def assert_own_orders_never_cross(venue: PaperVenue) -> None:
    """Our resting orders are part of the book: our best bid stays below our best ask."""
    for st_ in venue.symbol_states:
        assert st_.best_bid < st_.best_ask


def snapshot(venue: PaperVenue) -> tuple[object, ...]:
    return (venue.wallet.balance, len(venue.wallet.rows), venue.open_orders(), venue.positions())


def assert_open_notional_matches_orders(venue: PaperVenue) -> None:
    for st_ in venue.symbol_states:
        assert st_.reduce_only_resting == sum(o.reduce_only for o in st_.orders())
        for side, total in ((Side.BUY, st_.buy_notional), (Side.SELL, st_.sell_notional)):
            orders = [o for o in st_.side_list(side) if not o.reduce_only]
            assert total == sum((o.remaining * o.price for o in orders if o.price is not None), Decimal(0))


@settings(max_examples=80, deadline=None)
@given(script=st.lists(actions, min_size=1, max_size=60))
def test_wallet_change_equals_the_sum_of_income_rows(script: list[Action]) -> None:
    """Whatever happens, wallet − start == Σ income rows, exactly; rejections change nothing."""
    venue = make_venue("5000", funding_rate="0.0003", funding_interval_s=60)
    start = venue.wallet.balance
    market = Market(venue)
    for action in script:
        before = snapshot(venue)
        try:
            market.apply(action)
        except MmctlError:
            assert snapshot(venue) == before
        assert venue.wallet.balance - start == sum((r.amount for r in venue.wallet.rows), Decimal(0))
        assert_open_notional_matches_orders(venue)
        assert_own_orders_never_cross(venue)
    assert len({r.id for r in venue.wallet.rows}) == len(venue.wallet.rows)
