"""The `rsi` strategy: long when Wilder's RSI of the candle closes crosses up through `oversold`, short
when it crosses down through `overbought`, flat again once it has crossed 50 (`RsiRule`); orders, sizing
and exits are the directional strategies' (`mmctl.strategies.directional_strategy`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar

from mmctl.strategies.directional import RsiRule
from mmctl.strategies.directional_params import DirectionalParams
from mmctl.strategies.directional_strategy import DirectionalStrategy
from mmctl.strategies.params import spec


@dataclass(frozen=True, slots=True)
class RsiParams(DirectionalParams):
    """Parameters of the `rsi` strategy."""

    strategy: ClassVar[str] = "rsi"

    period: int = field(
        default=14, metadata=spec("candles in the RSI (Wilder's smoothing)", min=2, max=1000, unit="candles")
    )
    oversold: Decimal = field(
        default=Decimal(30),
        metadata=spec("go long when the RSI crosses up through this", min=Decimal(1), max=Decimal(49)),
    )
    overbought: Decimal = field(
        default=Decimal(70),
        metadata=spec("go short when the RSI crosses down through this", min=Decimal(51), max=Decimal(99)),
    )


def rsi_rule(params: RsiParams) -> RsiRule:
    """The signal rule of these params."""
    return RsiRule(params.period, float(params.oversold), float(params.overbought))


class Rsi(DirectionalStrategy[RsiParams]):
    """The `rsi` strategy object held by the registry."""

    def __init__(self) -> None:
        super().__init__(
            "rsi",
            "long when the RSI leaves oversold, short when it leaves overbought, flat past 50; with exits",
            RsiParams,
            rsi_rule,
        )
