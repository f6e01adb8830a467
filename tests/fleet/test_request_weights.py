"""Binance USDⓈ-M request costs per `Exchange` port method (`mmctl.exchange.weights`)."""

from __future__ import annotations

import pytest

from mmctl.exchange.base import Exchange
from mmctl.exchange.weights import METHODS, Cost, cost


@pytest.mark.parametrize(
    ("method", "weight"),
    [
        ("cancel_order", 1),
        ("cancel_orders", 1),
        ("cancel_all", 1),
        ("open_orders", 1),
        ("fetch_order", 1),
        ("balance", 5),
        ("positions", 5),
        ("position", 5),
        ("leverage", 5),
        ("set_leverage", 1),
        ("income", 30),
        ("arm_countdown", 10),
        ("disarm_countdown", 10),
        ("server_time_ms", 1),
        ("load_markets", 1),
        ("market", 0),
        ("book", 0),
        ("health", 0),
        ("watch_book", 0),
        ("order_updates", 0),
    ],
)
def test_each_method_costs_its_binance_ip_weight_and_no_orders(method: str, weight: int) -> None:
    """Each method other than placement costs Binance's documented IP weight for its request (0 for those
    that send none) and nothing on the order counters."""
    assert cost(method) == Cost(weight, 0, 0)


def test_a_single_place_is_one_order_on_both_counters_and_no_weight() -> None:
    """A single order placement costs one order on the 10 s and the minute counters and no weight."""
    assert cost("place_orders", 1) == Cost(weight=0, orders_10s=1, orders_1m=1)


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_a_batch_place_costs_weight_5_five_orders_per_10s_and_one_per_minute(n: int) -> None:
    """A batch placement of 2 to 5 orders costs weight 5, five orders on the 10 s counter and one on the
    minute counter."""
    assert cost("place_orders", n) == Cost(weight=5, orders_10s=5, orders_1m=1)


def test_an_empty_place_sends_nothing() -> None:
    """Placing no order is free."""
    assert cost("place_orders", 0).free


def test_an_oversized_batch_is_priced_as_one_batch_never_less() -> None:
    """A batch above Binance's five orders is priced like a full batch, never less."""
    assert cost("place_orders", 6) == cost("place_orders", 5)


def test_open_orders_without_a_symbol_costs_40() -> None:
    """Open orders for every symbol weigh 40 and for one symbol weigh 1."""
    assert cost("open_orders", symbol_given=False) == Cost(40)
    assert cost("open_orders", symbol_given=True) == Cost(1)


def test_a_cancel_batch_costs_one_whatever_its_size() -> None:
    """A batch cancel weighs 1 whether it cancels one order or ten."""
    assert cost("cancel_orders", 10) == cost("cancel_orders", 1) == Cost(1)


def test_an_unknown_method_is_a_value_error() -> None:
    """Pricing a method the port does not have raises a `ValueError` naming it."""
    with pytest.raises(ValueError, match="fetch_everything"):
        cost("fetch_everything")


def test_a_negative_batch_size_is_a_value_error() -> None:
    """A negative number of requests raises a `ValueError` naming `n_requests`."""
    with pytest.raises(ValueError, match="n_requests"):
        cost("place_orders", -1)


def test_every_member_of_the_exchange_port_is_priced() -> None:
    """The priced methods are exactly the public members of the `Exchange` port, so a new port method cannot
    go unpriced."""
    port = {name for name in dir(Exchange) if not name.startswith("_")}
    assert port == METHODS


def test_costs_add_up_and_cannot_be_negative() -> None:
    """Costs add counter by counter and a negative cost is refused."""
    assert Cost(1, 2, 3) + Cost(4, 5, 6) == Cost(5, 7, 9)
    with pytest.raises(ValueError, match="negative"):
        Cost(-1)
