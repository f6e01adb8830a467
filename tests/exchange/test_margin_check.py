"""`mmctl.exchange.margin`: whether a bot's first orders fit the available margin (notional / leverage).

The pure check must agree with the paper venue, which charges the same initial margin when the orders are
placed: it says "fits" exactly when the venue accepts them on a fresh account.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmctl.errors import InsufficientMargin
from mmctl.exchange.margin import check_orders, initial_margin
from mmctl.model import OrderRequest, OrderType, Side

from .builders import BTC, book, limit, make_venue

D = Decimal


def test_initial_margin_is_notional_over_leverage_rounded_up() -> None:
    """100 USDT at 3x needs 33.33333334 USDT: never less than the exact share."""
    assert initial_margin(D("100"), 3) == D("33.33333334")
    assert initial_margin(D("180.0"), 20) == D("9.00000000")
    with decimal.localcontext(decimal.Context(prec=3, rounding=decimal.ROUND_DOWN)):
        assert initial_margin(D("100"), 3) == D("33.33333334")
    with pytest.raises(ValueError, match="leverage"):
        initial_margin(D("100"), 0)


def test_quotes_on_both_sides_are_charged_for_the_larger_side() -> None:
    """Bids worth 300 and asks worth 180 at 20x need 15 USDT; the refusal line carries the numbers."""
    orders = [
        limit(Side.BUY, "90000.0", "0.002"),
        limit(Side.BUY, "60000.0", "0.002"),
        limit(Side.SELL, "90010.0", "0.002"),
        limit(Side.SELL, "90020.0", "0.001", reduce_only=True),
    ]
    check = check_orders(orders, 20, D("10"))
    assert (check.buy_notional, check.sell_notional) == (D("300.0000"), D("180.0200"))
    assert check.required == D("15.00000000")
    assert not check.fits
    assert check.shortfall == D("5.00000000")
    assert check.describe() == (
        f"{BTC}: orders of 300.00 USDT notional need 15.00000000 USDT initial margin at 20x; "
        "10 USDT available (short by 5.00000000 USDT)"
    )


def test_market_orders_are_priced_at_the_mark() -> None:
    """A market order needs the mark price; without one the check refuses to guess."""
    order = OrderRequest(BTC, Side.BUY, D("0.01"), None, "m", type=OrderType.MARKET)
    assert check_orders([order], 10, D("100"), mark_price=D("90000")).required == D("90.00000000")
    with pytest.raises(ValueError, match="mark_price"):
        check_orders([order], 10, D("100"))


@settings(max_examples=120, deadline=None)
@given(
    balance_cents=st.integers(min_value=0, max_value=200_000),
    leverage=st.integers(min_value=1, max_value=125),
    steps=st.integers(min_value=2, max_value=400),
)
def test_the_check_agrees_with_the_paper_venue(balance_cents: int, leverage: int, steps: int) -> None:
    """fits is True exactly when the paper venue accepts the order on a fresh account."""
    venue = make_venue(str(D(balance_cents) / 100))
    book(venue, "60000.0", "60010.0")
    venue.set_leverage(BTC, min(leverage, venue.state(BTC).rules.max_leverage))
    lev = venue.leverage(BTC)
    order = limit(Side.BUY, "59990.0", str(D(steps) / 1000))
    check = check_orders([order], lev, venue.balance().available)
    if check.fits:
        venue.place(order)
        return
    with pytest.raises(InsufficientMargin) as refused:
        venue.place(order)
    assert D(refused.value.data["required_margin"]) == check.required
