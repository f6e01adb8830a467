"""The venue's income types as PnL report lines.

Binance USDⓈ-M reports each income row with its `incomeType` (`GET /fapi/v1/income`); the paper venue's
ledger uses the same names. A report goes by that type (`IncomeRow.venue_type`), never by mmctl's coarser
`IncomeType`:
- REALIZED_PNL, COMMISSION and FUNDING_FEE are the lines `realized`, `commission` and `funding`;
- money moved without trading (`TRANSFER_TYPES`: deposits and withdrawals, transfers between accounts,
  sub-accounts and strategies, collateral moves, coin swaps, auto-exchange) adds to `transfers`, shown
  apart and never counted in `net`;
- every other type (WELCOME_BONUS, INSURANCE_CLEAR, REFERRAL_KICKBACK, COMMISSION_REBATE, API_REBATE,
  CONTEST_REWARD, OPTIONS_PREMIUM_FEE, OPTIONS_SETTLE_PROFIT, DELIVERED_SETTELMENT, FEE_RETURN,
  POSITION_LIMIT_INCREASE_FEE, BFUSD_REWARD, and any type the venue adds later) is a line of its own,
  counted in `net`, named after the type in lower case (`insurance_clear`); a name that would clash
  with another field of the report document gets the prefix `type_`.

Core layer: stdlib only.
"""

from __future__ import annotations

REALIZED = "realized"
COMMISSION = "commission"
FUNDING = "funding"
TRANSFERS = "transfers"
NET = "net"
FIXED_LINES = (REALIZED, COMMISSION, FUNDING, TRANSFERS)
"""The lines every report carries, zero or not; other types' lines only when the report has rows of them."""

FUNDING_TYPE = "FUNDING_FEE"
TRANSFER_TYPES = frozenset(
    {
        "TRANSFER",
        "INTERNAL_TRANSFER",
        "CROSS_COLLATERAL_TRANSFER",
        "STRATEGY_UMFUTURES_TRANSFER",
        "COIN_SWAP_DEPOSIT",
        "COIN_SWAP_WITHDRAW",
        "AUTO_EXCHANGE",
    }
)
"""Binance's income types that move money without trading (its documented list of `incomeType`s)."""

_FIXED = {"REALIZED_PNL": REALIZED, "COMMISSION": COMMISSION, FUNDING_TYPE: FUNDING}
_RESERVED = frozenset(
    {
        *FIXED_LINES, NET, "unrealized", "since", "until", "timezone", "complete_until", "complete",
        "accounts", "symbol", "bot", "by", "rows", "sync", "buckets", "key", "start",
    }
)  # fmt: skip


def is_transfer(venue_type: str) -> bool:
    """True for money moved without trading: its line is `transfers`, outside `net`."""
    return venue_type in TRANSFER_TYPES


def line_of(venue_type: str) -> str:
    """The report line a venue income type adds to (see the module docstring)."""
    fixed = _FIXED.get(venue_type)
    if fixed is not None:
        return fixed
    if venue_type in TRANSFER_TYPES:
        return TRANSFERS
    name = venue_type.lower()
    return f"type_{name}" if name in _RESERVED else name
