"""The countdown keys of every account type: defaults, bounds, and the refresh-interval rule checked on
load, for paper accounts as for Binance ones."""

from __future__ import annotations

from typing import Any

import pytest

from mmctl.config.load import parse_settings
from mmctl.config.schema import BinanceAccount, PaperAccount
from mmctl.errors import ConfigError


def account(exchange: str, **keys: Any) -> PaperAccount | BinanceAccount:
    return parse_settings({"accounts": {"a": {"exchange": exchange, **keys}}}).accounts["a"]


@pytest.mark.parametrize("exchange", ["paper", "binanceusdm"])
def test_defaults_are_a_120_s_countdown_refreshed_every_30_s(exchange: str) -> None:
    """Both account types default to countdown_s = 120 and countdown_refresh_s = 30."""
    a = account(exchange)
    assert (a.countdown_s, a.countdown_refresh_s) == (120.0, 30.0)


@pytest.mark.parametrize("exchange", ["paper", "binanceusdm"])
@pytest.mark.parametrize(
    ("keys", "key"),
    [
        ({"countdown_s": 9.5}, "countdown_s"),
        ({"countdown_s": 601}, "countdown_s"),
        ({"countdown_s": "fast"}, "countdown_s"),
        ({"countdown_s": 40, "countdown_refresh_s": 20}, "countdown_refresh_s"),
        ({"countdown_refresh_s": 0.5}, "countdown_refresh_s"),
        ({"countdown_refresh_s": float("nan")}, "countdown_refresh_s"),
    ],
)
def test_bad_countdowns_are_refused_naming_the_key(exchange: str, keys: dict[str, Any], key: str) -> None:
    """Out of 10..600, a refresh not under half the countdown, or not a number: an error naming the key."""
    with pytest.raises(ConfigError, match=rf"accounts\.a\.{key}"):
        account(exchange, **keys)


def test_a_short_countdown_with_a_fast_refresh_is_accepted_on_paper() -> None:
    """The minimum countdown (10 s) with a refresh under half of it is a valid paper account."""
    a = account("paper", countdown_s=10, countdown_refresh_s=4.5)
    assert (a.countdown_s, a.countdown_refresh_s) == (10.0, 4.5)
