"""Market rules for strategy and bot tests: one made-up perpetual `X/USDT:USDT` with the grid and minimums
a test asks for (Binance's usual fees and one leverage bracket)."""

from __future__ import annotations

from decimal import Decimal

from mmctl.model import LeverageBracket, MarketRules


def x_market(tick: str, step: str, min_notional: str, min_qty: str | None = None) -> MarketRules:
    """`X/USDT:USDT` with this tick, step and minimum notional; the minimum quantity is one step unless
    given."""
    return MarketRules(
        symbol="X/USDT:USDT",
        id="XUSDT",
        base="X",
        quote="USDT",
        tick_size=Decimal(tick),
        step_size=Decimal(step),
        min_qty=Decimal(step if min_qty is None else min_qty),
        max_qty=Decimal(10**7),
        min_notional=Decimal(min_notional),
        max_open_orders=200,
        brackets=(LeverageBracket(125, Decimal(50_000), Decimal("0.004")),),
        maker_fee=Decimal("0.0002"),
        taker_fee=Decimal("0.0005"),
    )
