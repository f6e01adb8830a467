"""The `mean_reversion` strategy: long when the close is `entry_z` standard deviations below its rolling
mean, short when as far above, flat once back within `exit_z` (`MeanReversionRule`); orders, sizing and
exits are the directional strategies' (`mmctl.strategies.directional_strategy`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar

from mmctl.errors import ValidationError
from mmctl.strategies.directional import MeanReversionRule
from mmctl.strategies.directional_params import DirectionalParams, check_directional
from mmctl.strategies.directional_strategy import DirectionalStrategy
from mmctl.strategies.params import spec


@dataclass(frozen=True, slots=True)
class MeanReversionParams(DirectionalParams):
    """Parameters of the `mean_reversion` strategy."""

    strategy: ClassVar[str] = "mean_reversion"

    period: int = field(
        default=20,
        metadata=spec("candles in the rolling mean and deviation", min=2, max=1000, unit="candles"),
    )
    entry_z: Decimal = field(
        default=Decimal(2),
        metadata=spec(
            "enter against a move of this many standard deviations",
            min=Decimal("0.1"),
            max=Decimal(10),
            unit="σ",
        ),
    )
    exit_z: Decimal = field(
        default=Decimal("0.5"),
        metadata=spec(
            "flat once the close is back within this many standard deviations (below entry_z)",
            min=Decimal(0),
            max=Decimal(10),
            unit="σ",
        ),
    )

    def check(self) -> None:
        check_directional(self)
        if self.exit_z >= self.entry_z:
            raise ValidationError(
                f"exit_z: {self.exit_z} must be below entry_z ({self.entry_z})", data={"field": "exit_z"}
            )


def mean_reversion_rule(params: MeanReversionParams) -> MeanReversionRule:
    """The signal rule of these params."""
    return MeanReversionRule(params.period, float(params.entry_z), float(params.exit_z))


class MeanReversion(DirectionalStrategy[MeanReversionParams]):
    """The `mean_reversion` strategy object held by the registry."""

    def __init__(self) -> None:
        super().__init__(
            "mean_reversion",
            "long after a drop of entry_z deviations below the mean, short after a rise; with exits",
            MeanReversionParams,
            mean_reversion_rule,
        )
