"""The `binanceusdm` account settings: defaults, validation naming the key, URL overrides."""

from __future__ import annotations

from typing import Any

import pytest

from mmctl.config.load import parse_settings
from mmctl.config.schema import BinanceAccount
from mmctl.errors import ConfigError
from mmctl.exchange.binance.adapter import BinanceClient
from mmctl.exchange.binance.urls import futures_ws_base, rebase, rewrite_rest


def account(**keys: Any) -> BinanceAccount:
    settings = parse_settings({"accounts": {"my-main": {"exchange": "binanceusdm", **keys}}})
    found = settings.accounts["my-main"]
    assert isinstance(found, BinanceAccount)
    return found


def test_defaults_fill_in_the_credential_variables() -> None:
    """An empty table gets live hosts, a 120 s countdown refreshed every 30 s, and default variables."""
    a = account()
    assert (a.environment, a.rest_url, a.ws_url, a.countdown_s, a.countdown_refresh_s) == (
        "live",
        "",
        "",
        120.0,
        30.0,
    )
    assert (a.api_key_env, a.api_secret_env) == ("MMCTL_MY_MAIN_API_KEY", "MMCTL_MY_MAIN_API_SECRET")


@pytest.mark.parametrize(
    ("keys", "named"),
    [
        ({"environment": "testnet"}, "environment"),
        ({"countdown_s": 5}, "countdown_s"),
        ({"countdown_s": 601}, "countdown_s"),
        ({"countdown_s": 60, "countdown_refresh_s": 30}, "countdown_refresh_s"),
        ({"rest_url": "ftp://127.0.0.1"}, "rest_url"),
        ({"rest_url": "127.0.0.1:8765"}, "rest_url"),
        ({"ws_url": "http://127.0.0.1:8765/ws"}, "ws_url"),
        ({"api_key_env": "NOT A NAME"}, "api_key_env"),
        ({"api_secret": "do-not-put-secrets-here"}, "api_secret"),
    ],
)
def test_bad_values_name_their_key(keys: dict[str, Any], named: str) -> None:
    """Each bad value or unknown key is a ConfigError naming accounts.my-main.<key>."""
    with pytest.raises(ConfigError) as caught:
        account(**keys)
    assert f"accounts.my-main.{named}" in str(caught.value) or repr(f"accounts.my-main.{named}") in str(
        caught.value
    )


def test_rest_url_replaces_scheme_host_and_port_and_keeps_paths() -> None:
    """Every REST base keeps its path; a prefix on the override is kept in front of it; ws is untouched."""
    api = {
        "fapiPublic": "https://fapi.binance.com/fapi/v1",
        "fapiPrivateV3": "https://fapi.binance.com/fapi/v3",
        "sapi": "https://api.binance.com/sapi/v1",
        "ws": {"linear": "wss://fstream.binance.com/ws"},
    }
    rewrite_rest(api, "http://127.0.0.1:8765")
    assert api["fapiPublic"] == "http://127.0.0.1:8765/fapi/v1"
    assert api["fapiPrivateV3"] == "http://127.0.0.1:8765/fapi/v3"
    assert api["sapi"] == "http://127.0.0.1:8765/sapi/v1"
    assert api["ws"] == {"linear": "wss://fstream.binance.com/ws"}
    assert rebase("https://fapi.binance.com/fapi/v1", "https://proxy.local/binance/") == (
        "https://proxy.local/binance/fapi/v1"
    )


def test_ws_url_is_the_base_before_public_market_and_private() -> None:
    """The override ends in /ws (ccxt turns it into /public/ws, /market/ws, /private/ws)."""
    assert futures_ws_base("ws://127.0.0.1:8765/ws") == "ws://127.0.0.1:8765/ws"
    assert futures_ws_base("ws://127.0.0.1:8765") == "ws://127.0.0.1:8765/ws"


@pytest.mark.parametrize(
    ("environment", "rest_url", "ws_url", "rest", "ws"),
    [
        ("live", "", "", "https://fapi.binance.com/fapi/v1", "wss://fstream.binance.com/ws"),
        ("demo", "", "", "https://demo-fapi.binance.com/fapi/v1", "wss://fstream.binancefuture.com/ws"),
        (
            "demo",
            "http://127.0.0.1:9",
            "ws://127.0.0.1:9/ws",
            "http://127.0.0.1:9/fapi/v1",
            "ws://127.0.0.1:9/ws",
        ),
    ],
)
def test_the_environment_picks_the_hosts_and_overrides_replace_them(
    environment: str, rest_url: str, ws_url: str, rest: str, ws: str
) -> None:
    """live = fapi.binance.com, demo = Binance's demo futures hosts; rest_url / ws_url replace either."""
    client = BinanceClient(None, environment=environment, rest_url=rest_url, ws_url=ws_url)
    assert (client.rest_base, client.ws_base) == (rest, ws)
