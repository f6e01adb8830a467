"""The paper exchange's built-in Binance USDⓈ-M perpetual markets and symbol resolution.

The figures are a snapshot of Binance's public `exchangeInfo` filters (PRICE_FILTER tickSize/minPrice/
maxPrice, LOT_SIZE stepSize/minQty/maxQty, MARKET_LOT_SIZE maxQty, MIN_NOTIONAL, MAX_NUM_ORDERS,
PERCENT_PRICE multiplierUp/multiplierDown: 1.05/0.95 for BTC, ETH and XRP in the snapshot, assumed for the
others) and of its published
leverage brackets (`/fapi/v1/leverageBracket`) as of 2023-2025. Binance changes brackets from time to
time (tier-1 leverage and caps have been lowered on several symbols since), so treat them as realistic
examples, not as the live values. `REFERENCE_PRICES` are rough market levels used to start the
synthetic market's random walk near real prices.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from mmctl.errors import UnknownSymbol
from mmctl.model import LeverageBracket, MarketRules

D = Decimal
MAX_OPEN_ORDERS = 200  # Binance MAX_NUM_ORDERS for these symbols
DEFAULT_LEVERAGE = 20  # Binance's default for a new symbol (or the symbol's max when lower)
BAND = (D("1.0500"), D("0.9500"))  # PERCENT_PRICE multiplierUp, multiplierDown


def _brackets(rows: Iterable[tuple[int, int, str]]) -> tuple[LeverageBracket, ...]:
    return tuple(LeverageBracket(lev, D(cap), D(mmr)) for lev, cap, mmr in rows)


# (max leverage, notional cap in USDT, maintenance margin rate), ascending caps. Snapshot, see above.
_BTC_BRACKETS = _brackets(
    [
        (125, 50_000, "0.004"),
        (100, 250_000, "0.005"),
        (50, 3_000_000, "0.01"),
        (20, 20_000_000, "0.025"),
        (10, 40_000_000, "0.05"),
        (5, 100_000_000, "0.1"),
        (4, 120_000_000, "0.125"),
        (3, 200_000_000, "0.15"),
        (2, 300_000_000, "0.25"),
        (1, 500_000_000, "0.5"),
    ]
)
_ETH_BRACKETS = _brackets(
    [
        (125, 50_000, "0.004"),
        (100, 250_000, "0.005"),
        (50, 2_000_000, "0.01"),
        (20, 10_000_000, "0.025"),
        (10, 20_000_000, "0.05"),
        (5, 50_000_000, "0.1"),
        (4, 80_000_000, "0.125"),
        (3, 150_000_000, "0.15"),
        (2, 200_000_000, "0.25"),
        (1, 300_000_000, "0.5"),
    ]
)
_MAJOR_ALT_BRACKETS = _brackets(  # SOL, BNB, XRP
    [
        (75, 10_000, "0.005"),
        (50, 100_000, "0.0065"),
        (40, 500_000, "0.01"),
        (25, 1_000_000, "0.02"),
        (20, 2_000_000, "0.025"),
        (10, 5_000_000, "0.05"),
        (5, 10_000_000, "0.1"),
        (4, 12_500_000, "0.125"),
        (2, 25_000_000, "0.25"),
        (1, 50_000_000, "0.5"),
    ]
)
_DOGE_BRACKETS = _brackets(
    [
        (75, 5_000, "0.005"),
        (50, 50_000, "0.0065"),
        (40, 250_000, "0.01"),
        (25, 1_000_000, "0.02"),
        (20, 2_000_000, "0.025"),
        (10, 5_000_000, "0.05"),
        (5, 10_000_000, "0.1"),
        (4, 12_500_000, "0.125"),
        (2, 25_000_000, "0.25"),
        (1, 50_000_000, "0.5"),
    ]
)


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """One built-in market's filters, before the account's fees are attached."""

    base: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    brackets: tuple[LeverageBracket, ...]
    min_price: Decimal
    max_price: Decimal
    multiplier_up: Decimal
    multiplier_down: Decimal

    @property
    def id(self) -> str:
        return f"{self.base}USDT"

    @property
    def symbol(self) -> str:
        return f"{self.base}/USDT:USDT"


def _spec(base: str, filters: str, brackets: tuple[LeverageBracket, ...]) -> MarketSpec:
    """`filters`: tickSize stepSize minQty maxQty market maxQty minNotional minPrice maxPrice."""
    tick, step, min_qty, max_qty, market_max, min_notional, min_price, max_price = map(D, filters.split())
    return MarketSpec(
        base, tick, step, min_qty, max_qty, market_max, min_notional, brackets, min_price, max_price, *BAND
    )


BUILTIN_MARKETS: tuple[MarketSpec, ...] = (
    _spec("BTC", "0.10 0.001 0.001 1000 120 100 556.80 4529764", _BTC_BRACKETS),
    _spec("ETH", "0.01 0.001 0.001 10000 2000 20 39.86 306177", _ETH_BRACKETS),
    _spec("SOL", "0.01 1 1 1000000 5000 5 0.42 6857", _MAJOR_ALT_BRACKETS),
    _spec("BNB", "0.01 0.01 0.01 100000 2000 5 6.60 100000", _MAJOR_ALT_BRACKETS),
    _spec("XRP", "0.0001 0.1 0.1 10000000 2000000 5 0.0143 100000", _MAJOR_ALT_BRACKETS),
    _spec("DOGE", "0.00001 1 1 50000000 30000000 5 0.00244 30", _DOGE_BRACKETS),
)

REFERENCE_PRICES: Mapping[str, float] = {
    "BTC/USDT:USDT": 90_000.0,
    "ETH/USDT:USDT": 3_000.0,
    "SOL/USDT:USDT": 140.0,
    "BNB/USDT:USDT": 900.0,
    "XRP/USDT:USDT": 2.1,
    "DOGE/USDT:USDT": 0.15,
}


def rules_for(spec: MarketSpec, maker_fee: Decimal, taker_fee: Decimal) -> MarketRules:
    return MarketRules(
        symbol=spec.symbol,
        id=spec.id,
        base=spec.base,
        quote="USDT",
        tick_size=spec.tick_size,
        step_size=spec.step_size,
        min_qty=spec.min_qty,
        max_qty=spec.max_qty,
        min_notional=spec.min_notional,
        max_open_orders=MAX_OPEN_ORDERS,
        brackets=spec.brackets,
        maker_fee=maker_fee,
        taker_fee=taker_fee,
        market_max_qty=spec.market_max_qty,
        min_price=spec.min_price,
        max_price=spec.max_price,
        multiplier_up=spec.multiplier_up,
        multiplier_down=spec.multiplier_down,
    )


def builtin_markets(
    maker_fee: Decimal, taker_fee: Decimal, only: Sequence[str] = ()
) -> dict[str, MarketRules]:
    """The built-in markets keyed by unified symbol, limited to `only` (either symbol form) if given.

    Raises `UnknownSymbol` naming the first entry of `only` that is not a built-in market."""
    all_rules = {s.symbol: rules_for(s, maker_fee, taker_fee) for s in BUILTIN_MARKETS}
    if not only:
        return all_rules
    index = SymbolIndex(all_rules.values())
    chosen = [index.resolve(name) for name in only]
    return {r.symbol: r for r in chosen}


def default_leverage(rules: MarketRules) -> int:
    return min(DEFAULT_LEVERAGE, rules.max_leverage)


class SymbolIndex:
    """Finds a market by unified symbol (`BTC/USDT:USDT`) or venue id (`BTCUSDT`)."""

    def __init__(self, markets: Iterable[MarketRules]) -> None:
        self._by_name: dict[str, MarketRules] = {}
        for rules in markets:
            self._by_name[rules.symbol] = rules
            self._by_name[rules.id] = rules

    def resolve(self, symbol: str) -> MarketRules:
        rules = self._by_name.get(symbol) if isinstance(symbol, str) else None
        if rules is None:
            raise self.unknown(symbol)
        return rules

    def unknown(self, symbol: object) -> UnknownSymbol:
        """The error for a symbol that is not one of these markets."""
        known = ", ".join(sorted({r.id for r in self._by_name.values()}))
        return UnknownSymbol(
            f"unknown symbol {symbol!r} on the paper exchange (markets: {known})",
            data={"field": "symbol", "symbol": str(symbol)},
        )

    def get(self, symbol: str) -> MarketRules | None:
        return self._by_name.get(symbol)
