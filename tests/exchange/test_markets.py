"""The built-in markets carry Binance's filters and leverage brackets, and resolve in both symbol forms."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mmctl.errors import UnknownSymbol
from mmctl.exchange.paper import BUILTIN_MARKETS, builtin_markets
from mmctl.exchange.paper.markets import SymbolIndex, default_leverage

MARKETS = builtin_markets(Decimal("0.0002"), Decimal("0.0005"))


def test_the_six_majors_exist_in_unified_form() -> None:
    """BTC, ETH, SOL, BNB, XRP and DOGE perpetuals are built in, keyed by unified symbol."""
    assert sorted(MARKETS) == sorted(f"{b}/USDT:USDT" for b in ("BTC", "ETH", "SOL", "BNB", "XRP", "DOGE"))
    assert {r.id for r in MARKETS.values()} == {s.id for s in BUILTIN_MARKETS}


@pytest.mark.parametrize(
    ("symbol", "tick", "step", "min_notional"),
    [
        ("BTC/USDT:USDT", "0.10", "0.001", "100"),
        ("ETH/USDT:USDT", "0.01", "0.001", "20"),
        ("SOL/USDT:USDT", "0.01", "1", "5"),
        ("BNB/USDT:USDT", "0.01", "0.01", "5"),
        ("XRP/USDT:USDT", "0.0001", "0.1", "5"),
        ("DOGE/USDT:USDT", "0.00001", "1", "5"),
    ],
)
def test_filters_match_binance(symbol: str, tick: str, step: str, min_notional: str) -> None:
    """Tick, step and minimum notional are Binance's; 200 open orders at most."""
    rules = MARKETS[symbol]
    assert (rules.tick_size, rules.step_size, rules.min_notional) == (
        Decimal(tick),
        Decimal(step),
        Decimal(min_notional),
    )
    assert rules.min_qty == rules.step_size
    assert rules.max_open_orders == 200
    assert rules.max_qty > rules.min_qty


def test_brackets_are_ordered_and_btc_tier_one_is_125x_to_50k() -> None:
    """Caps ascend, leverage and maintenance rates move the right way, BTC tier 1 is 125x up to 50,000."""
    for rules in MARKETS.values():
        caps = [b.notional_cap for b in rules.brackets]
        levs = [b.max_leverage for b in rules.brackets]
        mmrs = [b.maint_margin_rate for b in rules.brackets]
        assert caps == sorted(caps)
        assert levs == sorted(levs, reverse=True)
        assert mmrs == sorted(mmrs)
        assert levs[-1] == 1
    btc = MARKETS["BTC/USDT:USDT"]
    assert (btc.brackets[0].max_leverage, btc.brackets[0].notional_cap) == (125, Decimal(50_000))
    assert btc.notional_cap(20) > btc.notional_cap(100)


def test_default_leverage_is_20_or_the_symbol_max() -> None:
    """New symbols start at 20x (or the symbol's max when lower)."""
    assert all(default_leverage(r) == min(20, r.max_leverage) for r in MARKETS.values())


def test_symbols_resolve_in_both_forms_and_unknown_ones_are_classified() -> None:
    """BTCUSDT and BTC/USDT:USDT resolve to the same rules; anything else raises UnknownSymbol."""
    index = SymbolIndex(MARKETS.values())
    assert index.resolve("BTCUSDT") is index.resolve("BTC/USDT:USDT")
    for bad in ("btcusdt", "BTC/USDT", "", None):
        with pytest.raises(UnknownSymbol):
            index.resolve(bad)  # type: ignore[arg-type]


def test_a_subset_of_markets_can_be_chosen() -> None:
    """builtin_markets(only=...) keeps the named markets, in either form, and refuses unknown ones."""
    chosen = builtin_markets(Decimal(0), Decimal(0), ["ETHUSDT", "DOGE/USDT:USDT"])
    assert sorted(chosen) == ["DOGE/USDT:USDT", "ETH/USDT:USDT"]
    with pytest.raises(UnknownSymbol):
        builtin_markets(Decimal(0), Decimal(0), ["LUNAUSDT"])
