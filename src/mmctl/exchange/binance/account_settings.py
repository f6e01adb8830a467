"""A Binance USDⓈ-M account's per-symbol settings: leverage (fetched once, then kept current), margin
mode, and the dead-man's switch (countdown cancel-all) — `BinanceExchange`'s setting methods.

The account keeps what they know in two dicts it shares: `leverages` (also updated by the user
stream's ACCOUNT_CONFIG_UPDATE, `events.UserEvents`) and `countdowns` (read by `health.health_of`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from mmctl.errors import FilterRejected, LeverageRejected, OrderRejected
from mmctl.exchange.binance.errors import AlreadySet
from mmctl.exchange.rules import notional
from mmctl.model import MarketRules, Position

if TYPE_CHECKING:
    from mmctl.clock import Clock


class SettingsVenue(Protocol):
    """What the settings need from the Binance account."""

    clock: Clock
    leverages: dict[str, int]  # symbol → leverage, as last known
    countdowns: dict[str, tuple[float, float]]  # symbol → (timeout_s, armed at, monotonic)

    def market(self, symbol: str) -> MarketRules: ...

    async def call(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Any: ...

    async def position(self, symbol: str) -> Position: ...


async def leverage(venue: SettingsVenue, symbol: str) -> int:
    """The symbol's leverage: fetched once (GET symbolConfig), then kept current by `set_leverage`
    and the stream's ACCOUNT_CONFIG_UPDATE."""
    rules = venue.market(symbol)
    known = venue.leverages.get(rules.symbol)
    if known is not None:
        return known
    answer = await venue.call("fapiPrivateGetSymbolConfig", {"symbol": rules.id})
    for row in answer if isinstance(answer, list) else [answer]:
        if isinstance(row, Mapping) and row.get("symbol") == rules.id:
            venue.leverages[rules.symbol] = int(row["leverage"])
            return venue.leverages[rules.symbol]
    raise OrderRejected(f"Binance did not report a leverage for {rules.symbol}")


async def set_leverage(venue: SettingsVenue, symbol: str, leverage: int) -> int:
    """POST leverage, refused here (unsent) when out of range or when the position would exceed the
    new leverage's notional cap (Binance's -2027)."""
    rules = venue.market(symbol)
    top = rules.max_leverage
    if isinstance(leverage, bool) or not isinstance(leverage, int) or not 1 <= leverage <= top:
        raise LeverageRejected(
            f"leverage for {rules.symbol} must be an integer in 1..{top}, got {leverage!r}",
            data={"field": "leverage", "max_leverage": top},
        )
    held = await venue.position(rules.symbol)
    cap, size = rules.notional_cap(leverage), notional(held.mark_price, abs(held.qty))
    if size > cap:
        raise LeverageRejected(
            f"leverage {leverage} on {rules.symbol} allows a position of at most {cap} USDT, the "
            f"position is {size:.2f} USDT: reduce it or choose a lower leverage (Binance -2027)",
            data={"field": "leverage", "notional_cap": str(cap)},
        )
    answer = await venue.call("fapiPrivatePostLeverage", {"symbol": rules.id, "leverage": str(leverage)})
    venue.leverages[rules.symbol] = int(answer.get("leverage", leverage))
    return venue.leverages[rules.symbol]


async def set_margin_mode(venue: SettingsVenue, symbol: str, mode: str) -> None:
    """Cross or isolated margin for a symbol; Binance's "no need to change" counts as done."""
    if mode not in ("cross", "isolated"):
        raise FilterRejected(f"margin mode must be 'cross' or 'isolated', got {mode!r}")
    margin_type = "CROSSED" if mode == "cross" else "ISOLATED"
    with contextlib.suppress(AlreadySet):
        await venue.call(
            "fapiPrivatePostMarginType", {"symbol": venue.market(symbol).id, "marginType": margin_type}
        )


async def arm_countdown(venue: SettingsVenue, symbol: str, timeout_s: float) -> None:
    """POST countdownCancelAll: Binance cancels the symbol's orders unless re-armed within `timeout_s`
    (0 disarms)."""
    numeric = isinstance(timeout_s, int | float) and not isinstance(timeout_s, bool)
    if not (numeric and math.isfinite(timeout_s) and timeout_s >= 0):
        raise FilterRejected(
            f"countdown timeout must be a finite number of seconds >= 0, got {timeout_s!r}",
            data={"field": "timeout_s"},
        )
    rules = venue.market(symbol)
    await venue.call(
        "fapiPrivatePostCountdownCancelAll",
        {"symbol": rules.id, "countdownTime": str(round(timeout_s * 1000))},
    )
    if timeout_s > 0:
        venue.countdowns[rules.symbol] = (float(timeout_s), venue.clock.monotonic())
    else:
        venue.countdowns.pop(rules.symbol, None)
