"""Parameters of the `avellaneda_stoikov` strategy (its quote math: `mmctl.strategies.avellaneda_stoikov`).

Units keep the parameters independent of the symbol: prices are measured in bps of the reference price,
inventory in lots (one lot = the first level's size, `order_size`, or the venue minimum when it is 0),
time in seconds. So γ is in 1/(bps·lot), σ in bps/√s (1 bps/√s ≈ 56 % a year), k in 1/bps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar

from mmctl.errors import ValidationError
from mmctl.strategies.market_maker_params import Reference
from mmctl.strategies.params import StrategyParams, spec

MAX_BPS = Decimal(5000)
WEEK_S = 7 * 86_400


@dataclass(frozen=True, slots=True)
class AvellanedaStoikovParams(StrategyParams):
    """Parameters of the `avellaneda_stoikov` strategy (see the module docstrings for the math)."""

    strategy: ClassVar[str] = "avellaneda_stoikov"

    gamma: Decimal = field(
        default=Decimal("0.05"),
        metadata=spec(
            "risk aversion γ in 1/(bps·lot): the reservation price moves q·γ·σ²·τ bps against an "
            "inventory of q lots",
            min=Decimal("0.000001"),
            max=Decimal(100),
            unit="1/(bps·lot)",
        ),
    )
    sigma: Decimal = field(
        default=Decimal(0),
        metadata=spec(
            "volatility σ of the reference price in bps per √second (1 ≈ 56 % a year); "
            "0 = estimate online from the mid",
            min=Decimal(0),
            max=Decimal(100),
            unit="bps/√s",
        ),
    )
    sigma_window_s: int = field(
        default=300,
        metadata=spec(
            "seconds of mid history σ is estimated from (1-second log returns)", min=10, max=86_400
        ),
    )
    k: Decimal = field(
        default=Decimal(0),
        metadata=spec(
            "order-arrival decay k in 1/bps: trades reach δ bps from the mid at a rate ∝ e^(−k·δ); "
            "0 = estimate online from public trades",
            min=Decimal(0),
            max=Decimal(1000),
            unit="1/bps",
        ),
    )
    k_window_s: int = field(
        default=600,
        metadata=spec("seconds of public trades k is estimated from", min=10, max=86_400),
    )
    horizon_s: int = field(
        default=0,
        metadata=spec(
            "0 = infinite horizon (τ = tau_s); else τ = time left in a session of horizon_s seconds, "
            "sessions starting at multiples of horizon_s since the Unix epoch (86400 = UTC days)",
            min=0,
            max=WEEK_S,
        ),
    )
    tau_s: Decimal = field(
        default=Decimal(10),
        metadata=spec(
            "infinite horizon only: the fixed time to horizon τ = 1/ω in seconds",
            min=Decimal("0.001"),
            max=Decimal(WEEK_S),
        ),
    )
    min_spread_bps: Decimal = field(
        default=Decimal(2),
        metadata=spec(
            "narrowest total spread; each side stays at least half of it from the reference",
            min=Decimal("0.1"),
            max=MAX_BPS,
        ),
    )
    max_spread_bps: Decimal = field(
        default=Decimal(100),
        metadata=spec(
            "widest total spread before the inventory skew; no side is further than this from the reference",
            min=Decimal("0.1"),
            max=MAX_BPS,
        ),
    )
    levels: int = field(default=3, metadata=spec("price levels quoted on each side", min=1, max=20))
    level_step_bps: Decimal = field(
        default=Decimal(10),
        metadata=spec("extra distance of each further level, in bps", min=Decimal(0), max=MAX_BPS),
    )
    order_size: Decimal = field(
        default=Decimal(0),
        metadata=spec(
            "first level's size in base units (one lot); 0 = the market's minimum size at the price",
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
    max_position: Decimal = field(
        default=Decimal(0),
        metadata=spec(
            "largest absolute position in base units; 0 = 10 × the first level's size",
            min=Decimal(0),
            unit="base",
        ),
    )
    reference: Reference = field(
        default="mid", metadata=spec("reference price s: mid, or microprice (the size-weighted mid)")
    )

    def check(self) -> None:
        if self.max_spread_bps < self.min_spread_bps:
            raise ValidationError(
                f"max_spread_bps: {self.max_spread_bps} is below min_spread_bps {self.min_spread_bps}",
                data={"field": "max_spread_bps"},
            )
        if 0 < self.max_position < self.order_size:
            raise ValidationError(
                f"max_position: {self.max_position} is smaller than order_size {self.order_size}",
                data={"field": "max_position"},
            )
