"""Quoting strategies and their registry: `STRATEGIES[name]` is what `--strategy NAME` selects."""

from __future__ import annotations

from typing import Any

from mmctl.errors import ValidationError
from mmctl.strategies.base import Quote, Strategy
from mmctl.strategies.market_maker import MarketMaker

STRATEGIES: dict[str, Strategy[Any]] = {"market_maker": MarketMaker()}


def get_strategy(name: str) -> Strategy[Any]:
    """The registered strategy called `name`; `ValidationError` (field `strategy`) if there is none."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValidationError(
            f"unknown strategy {name!r} (known: {', '.join(sorted(STRATEGIES))})", data={"field": "strategy"}
        ) from None


__all__ = ["STRATEGIES", "Quote", "Strategy", "get_strategy"]
