"""The paper account's wallet and income ledger: every wallet movement is one income row.

`Wallet.credit` is the only way the balance changes, and it always appends the matching row, so the
rows sum exactly to the wallet's change (amounts are quantized to 1e-8 by the caller). Rows are kept
for `RETENTION_MS` of venue time (Binance keeps about three months) and served oldest first, in numbered
pages, like `GET /fapi/v1/income` with its `page` parameter.
"""

from __future__ import annotations

import bisect
import itertools
from decimal import Decimal

from mmctl.model import IncomeRow, IncomeType
from mmctl.pnl.position import CTX

RETENTION_MS = 90 * 24 * 3600 * 1000
MAX_PAGE = 1000  # Binance's largest `limit` for the income endpoint
_PRUNE_EVERY = 1024


class Wallet:
    """The settlement-asset wallet of a paper account and its income ledger."""

    def __init__(self, balance: Decimal, asset: str = "USDT") -> None:
        self.asset = asset
        self.balance = balance
        self._rows: list[IncomeRow] = []
        self._ts: list[int] = []
        self.last_id = 0  # ids are "1", "2", ...; never reused (a reset continues from here)
        self._appends = 0

    def credit(
        self, ts_ms: int, symbol: str, income_type: IncomeType, amount: Decimal, trade_id: str | None = None
    ) -> IncomeRow | None:
        """Move the wallet by `amount` (signed) and record it; a zero amount records nothing."""
        if amount == 0:
            return None
        self.balance = CTX.add(self.balance, amount)
        ts_ms = max(ts_ms, self._ts[-1]) if self._ts else ts_ms
        self.last_id += 1
        row = IncomeRow(str(self.last_id), ts_ms, symbol, income_type, amount, self.asset, trade_id)
        self._rows.append(row)
        self._ts.append(ts_ms)
        self._appends += 1
        if self._appends % _PRUNE_EVERY == 0:
            self._prune(ts_ms - RETENTION_MS)
        return row

    def income(
        self,
        since_ms: int,
        *,
        until_ms: int | None = None,
        income_type: IncomeType | None = None,
        symbol: str | None = None,
        limit: int = MAX_PAGE,
        page: int = 1,
    ) -> list[IncomeRow]:
        """Page `page` (from 1) of the rows with `since_ms <= ts_ms <= until_ms` and the given type and
        symbol, oldest first, `limit` rows a page (clamped to 1..1000): rows (page-1)*limit onwards, as
        Binance's `GET /fapi/v1/income` pages."""
        limit = max(1, min(MAX_PAGE, limit))
        skip = (page - 1) * limit
        start = bisect.bisect_left(self._ts, since_ms)
        if income_type is None and symbol is None:  # no filter: the page is a slice
            start, skip = start + skip, 0
        out: list[IncomeRow] = []
        for row in itertools.islice(self._rows, start, None):
            if until_ms is not None and row.ts_ms > until_ms:
                break
            if income_type is not None and row.type != income_type:
                continue
            if symbol is not None and row.symbol != symbol:
                continue
            if skip:
                skip -= 1
                continue
            out.append(row)
            if len(out) >= limit:
                break
        return out

    @property
    def rows(self) -> list[IncomeRow]:
        """Every retained row, oldest first (a copy)."""
        return list(self._rows)

    def rows_after(self, row_id: int) -> list[IncomeRow]:
        """The retained rows whose id is above `row_id`, oldest first (walks back from the newest)."""
        rows = self._rows
        i = len(rows)
        while i > 0 and int(rows[i - 1].id) > row_id:
            i -= 1
        return rows[i:]

    def restore(self, balance: Decimal, last_id: int, rows: list[IncomeRow]) -> None:
        """Put back a saved wallet: its balance, id counter and retained rows (oldest first)."""
        self.balance = balance
        self.last_id = last_id
        self._rows = list(rows)
        self._ts = [row.ts_ms for row in rows]

    def _prune(self, before_ms: int) -> None:
        cut = bisect.bisect_left(self._ts, before_ms)
        if cut:
            del self._rows[:cut]
            del self._ts[:cut]
