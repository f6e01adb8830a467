"""The account's markets: every trading USDⓈ-M perpetual of exchangeInfo, with its leverage brackets.

`MarketIndex.build(exchange_info, leverage_brackets, maker_fee, taker_fee)` turns the two raw answers into
`MarketRules` keyed by unified symbol (`BTC/USDT:USDT`, as ccxt names it: base/quote:settle), with the
venue-id index and each symbol's raw exchangeInfo entry (for ccxt's websockets). `lookup` accepts either
form and raises `UnknownSymbol` for anything that is not a trading USDⓈ-M perpetual. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from mmctl.errors import UnknownSymbol
from mmctl.exchange.binance.convert import brackets, is_usdm_perpetual, market_rules
from mmctl.model import MarketRules

STANDARD_MAKER_FEE = Decimal("0.0002")
STANDARD_TAKER_FEE = Decimal("0.0005")
"""Binance USDⓈ-M's regular-user (VIP 0) rates, until the account's own are fetched for a symbol."""


def unified(raw_symbol: Mapping[str, Any]) -> str:
    """ccxt's unified name of a perpetual: `BASE/QUOTE:SETTLE`."""
    base, quote = raw_symbol["baseAsset"], raw_symbol["quoteAsset"]
    return f"{base}/{quote}:{raw_symbol.get('marginAsset') or quote}"


@dataclass
class MarketIndex:
    rules: dict[str, MarketRules]
    by_id: dict[str, str]
    raw: dict[str, Mapping[str, Any]]

    @classmethod
    def build(
        cls,
        exchange_info: Mapping[str, Any],
        leverage_brackets: Sequence[Mapping[str, Any]],
        maker_fee: Decimal = STANDARD_MAKER_FEE,
        taker_fee: Decimal = STANDARD_TAKER_FEE,
    ) -> MarketIndex:
        tiers = {
            str(entry.get("symbol")): brackets(entry.get("brackets") or ())
            for entry in leverage_brackets
            if isinstance(entry, Mapping)
        }
        rules: dict[str, MarketRules] = {}
        by_id: dict[str, str] = {}
        raw: dict[str, Mapping[str, Any]] = {}
        for entry in exchange_info.get("symbols") or ():
            if not isinstance(entry, Mapping) or not is_usdm_perpetual(entry):
                continue
            name, venue_id = unified(entry), str(entry["symbol"])
            rules[name] = market_rules(entry, name, tiers.get(venue_id, ()), maker_fee, taker_fee)
            by_id[venue_id] = name
            raw[name] = entry
        return cls(rules, by_id, raw)

    def lookup(self, symbol: str) -> MarketRules:
        """Rules by unified symbol or venue id."""
        found = self.rules.get(symbol)
        if found is None and symbol in self.by_id:
            found = self.rules[self.by_id[symbol]]
        if found is None:
            raise UnknownSymbol(
                f"{symbol} is not a trading Binance USDⓈ-M perpetual",
                data={"field": "symbol", "symbol": symbol},
            )
        return found

    def symbol_of(self, venue_id: str) -> str:
        """The unified symbol of a venue id (the id itself for a market outside the index)."""
        return self.by_id.get(venue_id, venue_id)

    def with_fees(self, symbol: str, maker_fee: Decimal, taker_fee: Decimal) -> MarketRules:
        """Replace one market's fee rates (the account's own, once fetched)."""
        rules = replace(self.lookup(symbol), maker_fee=maker_fee, taker_fee=taker_fee)
        self.rules[rules.symbol] = rules
        return rules
