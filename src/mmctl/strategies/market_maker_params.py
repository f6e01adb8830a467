"""Parameters of the `market_maker` strategy (its quote math: `mmctl.strategies.market_maker`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar, Literal

from mmctl.errors import ValidationError
from mmctl.strategies.params import StrategyParams, spec

Reference = Literal["mid", "microprice"]


@dataclass(frozen=True, slots=True)
class MarketMakerParams(StrategyParams):
    """Parameters of the `market_maker` strategy (see the module docstring for the quote math)."""

    strategy: ClassVar[str] = "market_maker"

    spread_bps: Decimal = field(
        default=Decimal(10),
        metadata=spec(
            "distance of the first level from the reference price", min=Decimal(0), max=Decimal(5000)
        ),
    )
    levels: int = field(default=3, metadata=spec("price levels quoted on each side", min=1, max=20))
    level_step_bps: Decimal = field(
        default=Decimal(10),
        metadata=spec("extra distance of each further level, in bps", min=Decimal(0), max=Decimal(5000)),
    )
    order_size: Decimal = field(
        default=Decimal(0),
        metadata=spec(
            "first level's size in base units; 0 = the market's minimum size at the price",
            min=Decimal(0),
            unit="base",
        ),
    )
    size_step: Decimal = field(
        default=Decimal(0),
        metadata=spec(
            "size growth per level: level n is order_size × (1 + size_step)^n (0 = equal sizes)",
            min=Decimal(0),
            max=Decimal(1),
        ),
    )
    reference: Reference = field(
        default="mid", metadata=spec("reference price: mid, or microprice (the size-weighted mid)")
    )
    inventory_skew: Decimal = field(
        default=Decimal("0.5"),
        metadata=spec(
            "0..1: how strongly prices and sizes lean against the position, relative to max_position",
            min=Decimal(0),
            max=Decimal(1),
        ),
    )
    max_position: Decimal = field(
        default=Decimal(0),
        metadata=spec(
            "largest absolute position in base units; 0 = 10 × the first level's size",
            min=Decimal(0),
            unit="base",
        ),
    )
    min_spread_bps: Decimal = field(
        default=Decimal(2),
        metadata=spec(
            "no quote is ever closer than this to the reference price, whatever the skew",
            min=Decimal("0.1"),
            max=Decimal(5000),
        ),
    )

    def check(self) -> None:
        if 0 < self.max_position < self.order_size:
            raise ValidationError(
                f"max_position: {self.max_position} is smaller than order_size {self.order_size}",
                data={"field": "max_position"},
            )
