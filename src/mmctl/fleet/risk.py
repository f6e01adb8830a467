"""Daemon-wide risk guards (`FleetRiskMonitor`, from `[risk]` settings): the sum of absolute net position
notionals strictly above `max_total_notional`, or the net PnL of all bots since 00:00 UTC
(`utc_day_start_ms`) <= -daily_loss_limit → `STOP_ALL`; `on_trip` says whether the caller
(`mmctl.fleet.guard`) also flattens the positions.

Core layer like `mmctl.bots.risk`: pure checks, no I/O; the verdict types are shared with the per-bot guards.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, localcontext
from typing import Literal, Protocol

from mmctl.bots.risk import DAY_MS, EXACT, Guard, JsonScalar, RiskAction, RiskVerdict, money_text
from mmctl.model import ZERO


class FleetLimits(Protocol):
    """What `FleetRiskMonitor` reads from its settings (`mmctl.config.schema.RiskSettings`)."""

    @property
    def max_total_notional(self) -> Decimal: ...

    @property
    def daily_loss_limit(self) -> Decimal: ...

    @property
    def on_trip(self) -> Literal["stop", "flatten"]:
        """What a trip does to positions: "stop" leaves them open, "flatten" closes them too."""
        ...


def utc_day_start_ms(now_ms: int) -> int:
    """00:00 UTC of the day containing `now_ms` (epoch milliseconds): the start of the daily-loss window."""
    return now_ms - now_ms % DAY_MS


class FleetRiskMonitor:
    """Daemon-wide guards over every bot and account. Stateless between checks."""

    def __init__(self, settings: FleetLimits) -> None:
        self._settings = settings

    @property
    def settings(self) -> FleetLimits:
        return self._settings

    def update_settings(self, settings: FleetLimits) -> None:
        self._settings = settings

    def check(self, exposures: Mapping[str, Decimal], daily_net_pnl: Decimal) -> RiskVerdict:
        """`exposures`: symbol-or-account key → net position notional (its absolute value counts);
        `daily_net_pnl`: net PnL of all bots since `utc_day_start_ms(now)`. The daily loss is checked
        first."""
        return self._check_daily(daily_net_pnl) or self._check_notional(exposures) or RiskVerdict()

    def _check_daily(self, pnl: Decimal) -> RiskVerdict | None:
        limit = self._settings.daily_loss_limit
        if limit <= 0 or pnl > -limit:
            return None
        reason = (
            f"net PnL since 00:00 UTC {money_text(pnl)} reached the daily loss limit -{money_text(limit)} "
            "(daily_loss_limit): stopping every bot"
        )
        data: dict[str, JsonScalar] = {"pnl": money_text(pnl), "limit": money_text(limit)}
        return RiskVerdict(RiskAction.STOP_ALL, Guard.DAILY_LOSS_LIMIT, reason, data)

    def _check_notional(self, exposures: Mapping[str, Decimal]) -> RiskVerdict | None:
        limit = self._settings.max_total_notional
        if limit <= 0 or not exposures:
            return None
        with localcontext(EXACT):
            total = sum((abs(v) for v in exposures.values()), ZERO)
        if total <= limit:
            return None
        largest = max(exposures, key=lambda k: abs(exposures[k]))
        largest_notional = abs(exposures[largest])
        reason = (
            f"total net position notional {money_text(total)} is above max_total_notional "
            f"{money_text(limit)} "
            f"(largest: {largest} {money_text(largest_notional)}): stopping every bot"
        )
        data: dict[str, JsonScalar] = {
            "total_notional": money_text(total),
            "limit": money_text(limit),
            "largest": largest,
            "largest_notional": money_text(largest_notional),
        }
        return RiskVerdict(RiskAction.STOP_ALL, Guard.MAX_TOTAL_NOTIONAL, reason, data)
