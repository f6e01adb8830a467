"""Attributing an account's income to its bots, after the fact, from the store's records.

- REALIZED_PNL and COMMISSION rows name the trade that caused them; the recorded fill of that trade
  names the bot whose order made it (the store joins them: `StoreReads.income_sums(attribute=True)`).
  A row of any other type but funding and transfers that names a trade (a rebate of its fee, say) goes
  to that trade's bot the same way.
- A FUNDING_FEE payment is split between the bots that held a position on that symbol and account at
  the funding time, in proportion to each one's position, by `allocate_funding` (the live split's
  arithmetic). Each bot's position is rebuilt from its recorded fills strictly before the funding time
  (the venue settles funding on the position it holds at that instant, before trades of the same
  millisecond). As the live split does, the account's position is taken to be the bots' sum.
- Everything else (transfers, income that names no trade such as an insurance clearance or a bonus,
  trades no bot made, fills the store never saw) is `unattributed`.

Per-bot shares plus `unattributed` equal the account's total exactly.
Application layer: core and the store's records only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from mmctl.model import Side
from mmctl.pnl.funding import FundingSplit, allocate_funding
from mmctl.pnl.lines import ExactSum
from mmctl.store.records import StoredFill

UNATTRIBUTED = "unattributed"


def positions_at(
    fills: Iterable[StoredFill], times: Sequence[int], start: Mapping[str, Decimal] | None = None
) -> dict[int, dict[str, Decimal]]:
    """Each bot's signed position just before each of `times` (ascending), from `start` (each bot's
    position before the first fill given: the store sums the older fills) and its fills oldest first.
    Fills without a bot are left out."""
    held: dict[str, ExactSum] = {}
    for bot, qty in (start or {}).items():
        held.setdefault(bot, ExactSum()).add(qty)
    out: dict[int, dict[str, Decimal]] = {}
    pending = iter(sorted(set(times)))
    current = next(pending, None)
    for stored in fills:
        while current is not None and stored.fill.ts_ms >= current:
            out[current] = {bot: s.value for bot, s in held.items()}
            current = next(pending, None)
        if current is None:
            break
        if stored.bot is None:
            continue
        qty = stored.fill.qty if stored.fill.side is Side.BUY else -stored.fill.qty
        held.setdefault(stored.bot, ExactSum()).add(qty)
    while current is not None:
        out[current] = {bot: s.value for bot, s in held.items()}
        current = next(pending, None)
    return out


def split_funding(amount: Decimal, positions: Mapping[str, Decimal]) -> FundingSplit:
    """One funding payment over the bots' positions at its time (see the module docstring)."""
    return allocate_funding(amount, positions)
