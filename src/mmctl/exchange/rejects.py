"""Binance USDⓈ-M order rejections and the mmctl error each one is, in one table.

Codes and names are Binance's (developers.binance.com/docs/derivatives/usds-margined-futures/error-code).
The paper venue raises these errors with the same code (`data["binance_code"]` and the message), and the
Binance adapter maps a response's code through `BINANCE_REJECTS`, so a rule broken on either venue is the
same error to the bot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mmctl.errors import (
    FilterRejected,
    InsufficientMargin,
    OrderRejected,
    PostOnlyWouldCross,
    ReduceOnlyRejected,
)

BINANCE_REJECTS: Mapping[int, tuple[type[OrderRejected], str]] = {
    -2019: (InsufficientMargin, "MARGIN_NOT_SUFFICIEN"),
    -2022: (ReduceOnlyRejected, "REDUCE_ONLY_REJECT"),
    -4002: (FilterRejected, "PRICE_GREATER_THAN_MAX_PRICE"),
    -4003: (FilterRejected, "QTY_LESS_THAN_ZERO"),
    -4004: (FilterRejected, "QTY_LESS_THAN_MIN_QTY"),
    -4005: (FilterRejected, "QTY_GREATER_THAN_MAX_QTY"),
    -4013: (FilterRejected, "PRICE_LESS_THAN_MIN_PRICE"),
    -4014: (FilterRejected, "PRICE_NOT_INCREASED_BY_TICK_SIZE"),
    -4016: (FilterRejected, "PRICE_HIGHTER_THAN_MULTIPLIER_UP"),
    -4023: (FilterRejected, "QTY_NOT_INCREASED_BY_STEP_SIZE"),
    -4024: (FilterRejected, "PRICE_LOWER_THAN_MULTIPLIER_DOWN"),
    -4131: (FilterRejected, "MARKET_ORDER_REJECT"),
    -4164: (FilterRejected, "MIN_NOTIONAL"),
    -5022: (PostOnlyWouldCross, "GTX_ORDER_REJECT"),
}
"""Binance code -> (mmctl error class, Binance's name for it)."""


def reject(code: int, message: str, **data: Any) -> OrderRejected:
    """The mmctl error for Binance rejection `code`, its message ending with the code."""
    cls, name = BINANCE_REJECTS[code]
    return cls(f"{message} (Binance {code} {name})", data={**data, "binance_code": code})
