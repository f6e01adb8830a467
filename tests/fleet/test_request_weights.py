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
    assert cost(method) == Cost(weight, 0, 0)


def test_a_single_place_is_one_order_on_both_counters_and_no_weight() -> None:
    assert cost("place_orders", 1) == Cost(weight=0, orders_10s=1, orders_1m=1)


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_a_batch_place_costs_weight_5_five_orders_per_10s_and_one_per_minute(n: int) -> None:
    assert cost("place_orders", n) == Cost(weight=5, orders_10s=5, orders_1m=1)


def test_an_empty_place_sends_nothing() -> None:
    assert cost("place_orders", 0).free


def test_an_oversized_batch_is_priced_as_one_batch_never_less() -> None:
    assert cost("place_orders", 6) == cost("place_orders", 5)


def test_open_orders_without_a_symbol_costs_40() -> None:
    assert cost("open_orders", symbol_given=False) == Cost(40)
    assert cost("open_orders", symbol_given=True) == Cost(1)


def test_a_cancel_batch_costs_one_whatever_its_size() -> None:
    assert cost("cancel_orders", 10) == cost("cancel_orders", 1) == Cost(1)


def test_an_unknown_method_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="fetch_everything"):
        cost("fetch_everything")


def test_a_negative_batch_size_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="n_requests"):
        cost("place_orders", -1)


def test_every_member_of_the_exchange_port_is_priced() -> None:
    port = {name for name in dir(Exchange) if not name.startswith("_")}
    assert port == METHODS


def test_costs_add_up_and_cannot_be_negative() -> None:
    assert Cost(1, 2, 3) + Cost(4, 5, 6) == Cost(5, 7, 9)
    with pytest.raises(ValueError, match="negative"):
        Cost(-1)
