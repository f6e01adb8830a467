"""`pnl.report` through the daemon's method table: the ledger is synced first; bad input changes nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.support.rig import BTC, PaperFleet, scenario

from mmctl.config.schema import PaperAccount, Settings
from mmctl.daemon.pnl_methods import register_pnl_methods
from mmctl.errors import ValidationError
from mmctl.model import OrderRequest, OrderType, Side
from mmctl.rpc import protocol as proto
from mmctl.rpc.registry import MethodTable
from mmctl.store.sqlite import SqliteStore


def rig_with_table(tmp: Path) -> tuple[PaperFleet, SqliteStore, MethodTable]:
    rig = PaperFleet({"paper": PaperAccount()}, {BTC: "60000"})
    store = SqliteStore.open(tmp / "mmctl.sqlite", rig.clock, synchronous="OFF")
    table = MethodTable()
    register_pnl_methods(table, store, rig.manager, Settings)
    return rig, store, table


async def call(table: MethodTable, **params: Any) -> Any:
    method = table.get(proto.PNL_REPORT)
    assert method is not None
    return await method.handler(**method.bind(params))


async def income_rows(store: SqliteStore) -> int:
    return len(await store.read(lambda r: r.income(limit=None)))


def test_a_report_right_after_a_fill_includes_it(tmp_path: Path) -> None:
    """A hand-placed taker trade's commission is in the very next report, synced from the venue."""
    rig, store, table = rig_with_table(tmp_path)

    async def body(rig: PaperFleet) -> None:
        try:
            before = await call(table, since="1h", by="type")
            await rig.manual(
                OrderRequest(BTC, Side.BUY, Decimal("0.01"), None, "hand.1", type=OrderType.MARKET)
            )
            after = await call(table, since="1h", by="type")
            fee = rig.paper.venue.trades[-1].fee
            assert Decimal(after["commission"]) - Decimal(before["commission"]) == -fee
            assert after["sync"][0]["rows_new"] >= 1
            assert after["complete"]
            assert sum(Decimal(b["net"]) for b in after["buckets"]) == Decimal(after["net"])
            by_bot = await call(table, since="1h", by="bot")
            assert [b["key"] for b in by_bot["buckets"]] == ["unattributed"]
        finally:
            await store.close()

    scenario(rig, body)


BAD = [
    ({"since": "2h", "until": "3h"}, "since"),
    ({"tz": "Mars/Olympus"}, "tz"),
    ({"since": "last tuesday"}, "since"),
    ({"bot": "ghost"}, "bot"),
    ({"account": "nowhere"}, "account"),
    ({"until": "2999-01-01T00:00Z"}, "until"),
    ({"since": "2999-01-01T00:00Z"}, "since"),
    ({"bot": "x", "symbol": BTC}, "bot"),
    ({"by": "hour"}, "by"),
    ({"since": "2026-03-08T02:30", "tz": "America/New_York"}, "since"),
]


@pytest.mark.parametrize(("params", "field"), BAD)
def test_bad_input_is_one_validation_error_and_syncs_nothing(
    tmp_path: Path, params: dict[str, Any], field: str
) -> None:
    """Each bad input is a ValidationError naming its field (exit 2), and no income row is recorded."""
    rig, store, table = rig_with_table(tmp_path)

    async def body(rig: PaperFleet) -> None:
        try:
            await rig.manual(
                OrderRequest(BTC, Side.BUY, Decimal("0.01"), None, "hand.1", type=OrderType.MARKET)
            )
            with pytest.raises(ValidationError) as caught:
                await call(table, **params)
            assert (caught.value.data or {}).get("field") == field
            assert "\n" not in caught.value.message
            assert await income_rows(store) == 0
        finally:
            await store.close()

    scenario(rig, body)
