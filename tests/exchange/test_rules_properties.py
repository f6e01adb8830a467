"""Properties of the side-aware rounding and the notional checks in `mmctl.exchange.rules`."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmctl.errors import FilterRejected
from mmctl.exchange.paper import BUILTIN_MARKETS, builtin_markets
from mmctl.exchange.paper.markets import REFERENCE_PRICES
from mmctl.exchange.rules import check_order, min_qty_for, on_grid, round_price, round_qty
from mmctl.model import MarketRules, OrderRequest, Side

MARKETS = list(builtin_markets(Decimal("0.0002"), Decimal("0.0005")).values())
INCREMENTS = sorted({s.tick_size for s in BUILTIN_MARKETS} | {s.step_size for s in BUILTIN_MARKETS})

values = st.decimals(min_value=Decimal("0.00001"), max_value=Decimal("1000000"), places=6)
markets = st.sampled_from(MARKETS)


@settings(max_examples=200)
@given(price=values, tick=st.sampled_from(INCREMENTS))
def test_bids_round_down_and_asks_round_up_by_less_than_a_tick(price: Decimal, tick: Decimal) -> None:
    """A rounded bid is on the grid, at most the price and within one tick; asks mirror it."""
    bid = round_price(price, Side.BUY, tick)
    ask = round_price(price, Side.SELL, tick)
    assert on_grid(bid, tick)
    assert on_grid(ask, tick)
    assert bid <= price < bid + tick
    assert ask - tick < price <= ask


@settings(max_examples=200)
@given(qty=values, step=st.sampled_from(INCREMENTS))
def test_sizes_round_down_to_the_step(qty: Decimal, step: Decimal) -> None:
    """A rounded size is on the step grid, never above the input, and less than a step below it."""
    rounded = round_qty(qty, step)
    assert on_grid(rounded, step)
    assert rounded <= qty < rounded + step


@settings(max_examples=150)
@given(rules=markets, scale=st.decimals(min_value=Decimal("0.2"), max_value=Decimal("5"), places=3))
def test_min_qty_for_is_the_smallest_size_the_filters_accept(rules: MarketRules, scale: Decimal) -> None:
    """min_qty_for(price) passes check_order at that price, and one step less does not."""
    price = round_price(Decimal(str(REFERENCE_PRICES[rules.symbol])) * scale, Side.BUY, rules.tick_size)
    qty = min_qty_for(price, rules)
    check_order(OrderRequest(rules.symbol, Side.BUY, qty, price, "x"), rules)
    smaller = qty - rules.step_size
    if smaller > 0:
        with pytest.raises(FilterRejected):
            check_order(OrderRequest(rules.symbol, Side.BUY, smaller, price, "x"), rules)


@settings(max_examples=150)
@given(rules=markets, price=values, qty=values)
def test_check_order_agrees_with_the_notional_minimum(
    rules: MarketRules, price: Decimal, qty: Decimal
) -> None:
    """A rounded order passes check_order exactly when it meets the qty, price and notional limits."""
    price = max(round_price(price, Side.BUY, rules.tick_size), rules.tick_size)
    qty = round_qty(qty, rules.step_size)
    request = OrderRequest(rules.symbol, Side.BUY, qty, price, "x")
    valid = (
        rules.min_qty <= qty <= rules.max_qty
        and rules.min_price <= price <= rules.max_price
        and price * qty >= rules.min_notional
    )
    try:
        check_order(request, rules)
    except FilterRejected:
        assert not valid
    else:
        assert valid
