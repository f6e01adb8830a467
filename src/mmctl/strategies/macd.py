"""The `macd` strategy: long when the MACD line crosses above its signal line, short when it crosses below
(`MacdRule`: always in the market after the first cross unless `sides` forbids the direction); orders,
sizing and exits are the directional strategies' (`mmctl.strategies.directional_strategy`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from mmctl.errors import ValidationError
from mmctl.strategies.directional import MacdRule
from mmctl.strategies.directional_params import DirectionalParams, check_directional
from mmctl.strategies.directional_strategy import DirectionalStrategy
from mmctl.strategies.params import spec


@dataclass(frozen=True, slots=True)
class MacdParams(DirectionalParams):
    """Parameters of the `macd` strategy."""

    strategy: ClassVar[str] = "macd"

    fast: int = field(
        default=12,
        metadata=spec("candles in the fast EMA (shorter than slow)", min=1, max=1000, unit="candles"),
    )
    slow: int = field(default=26, metadata=spec("candles in the slow EMA", min=2, max=1000, unit="candles"))
    signal: int = field(
        default=9,
        metadata=spec("candles in the signal line's EMA of the MACD", min=1, max=1000, unit="candles"),
    )

    def check(self) -> None:
        check_directional(self)
        if self.fast >= self.slow:
            raise ValidationError(
                f"fast: {self.fast} must be shorter than slow ({self.slow})", data={"field": "fast"}
            )


def macd_rule(params: MacdParams) -> MacdRule:
    """The signal rule of these params."""
    return MacdRule(params.fast, params.slow, params.signal)


class Macd(DirectionalStrategy[MacdParams]):
    """The `macd` strategy object held by the registry."""

    def __init__(self) -> None:
        super().__init__(
            "macd",
            "long when the MACD crosses above its signal line, short when below; with exits",
            MacdParams,
            macd_rule,
        )
