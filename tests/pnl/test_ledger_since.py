"""`status`/`portfolio` PnL since a bot's start and since `[reports] pnl_since`: the `pnl.report` figures,
refreshed after each scheduled ledger sync."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.support.rig import BTC, PaperFleet, scenario

from mmctl.config.schema import PaperAccount, ReportSettings, Settings
from mmctl.daemon.pnl_jobs import PnlJobs
from mmctl.daemon.pnl_methods import register_pnl_methods
from mmctl.fleet.portfolio import portfolio
from mmctl.model import OrderRequest, OrderType, Side
from mmctl.pnl.since import LedgerSince
from mmctl.rpc.registry import MethodTable
from mmctl.store.records import NewFill
from mmctl.store.sqlite import SqliteStore
from mmctl.timefmt import iso_utc

ZONE = "America/New_York"


def test_figures_since_start_and_since_pnl_since_are_the_pnl_reports(tmp_path: Path) -> None:
    """After a sync, a bot's figures since its start and since pnl_since equal `pnl.report` for it, the
    account's equal the account's report, and portfolio carries them."""
    rig = PaperFleet({"paper": PaperAccount()}, {BTC: "60000"})
    store = SqliteStore.open(tmp_path / "mmctl.sqlite", rig.clock, synchronous="OFF")
    settings = Settings(reports=ReportSettings(timezone=ZONE, pnl_since="today"))
    service = register_pnl_methods(MethodTable(), store, rig.manager, lambda: settings)
    ledger = LedgerSince(store, rig.manager, lambda: ("today", ZONE), rig.clock)
    jobs = PnlJobs(service, store, rig.manager, lambda: settings, rig.clock, ledger)

    async def body(rig: PaperFleet) -> None:
        try:
            await rig.manager.create("b1", "paper", "BTCUSDT", "market_maker", {})
            assert ledger.bot_doc("b1") == {"pnl_since_start": None, "pnl_since": None, "ledger_as_of": None}
            start = int(rig.clock.time() * 1000)
            rig.manager.bots["b1"].started_ms = start
            for n, who in enumerate(("mm.b1.", "hand.")):
                req = OrderRequest(BTC, Side.BUY, Decimal("0.01"), None, f"{who}{n}", type=OrderType.MARKET)
                await rig.manual(req)
                fill = rig.paper.venue.trades[-1]
                await store.write(NewFill("paper", "b1" if who == "mm.b1." else None, fill))
            advance(rig, 1)
            await jobs.sync_ledgers()
            mine = await service.report(since=iso_utc(start), bot="b1")
            doc = ledger.bot_doc("b1")
            assert doc["pnl_since_start"] == shown(mine, iso_utc(start))
            assert Decimal(doc["pnl_since_start"]["commission"]) == -rig.paper.venue.trades[0].fee
            today = await service.report(tz=ZONE, by="bot")
            b1 = next(b for b in today["buckets"] if b["key"] == "b1")
            assert doc["pnl_since"] == shown(b1, today["since"])
            assert ledger.account_doc("paper")["pnl_since"] == shown(today, today["since"])
            view = await portfolio(rig.manager, rig.manager.started_ms, ledger)
            assert view["bots"][0]["pnl_since_start"] == doc["pnl_since_start"]
            assert view["accounts"][0]["pnl_since"] == ledger.account_doc("paper")["pnl_since"]
            assert view["ledger_as_of"] == iso_utc(start + 1000)
            advance(rig, 60)  # a later trade: the next refresh adds only what is new
            req = OrderRequest(BTC, Side.SELL, Decimal("0.02"), None, "mm.b1.9", type=OrderType.MARKET)
            await rig.manual(req)
            await store.write(NewFill("paper", "b1", rig.paper.venue.trades[-1]))
            advance(rig, 1)
            await jobs.sync_ledgers()
            again = await service.report(since=iso_utc(start), bot="b1")
            assert ledger.bot_doc("b1")["pnl_since_start"] == shown(again, iso_utc(start))
            today = await service.report(tz=ZONE)
            assert ledger.account_doc("paper")["pnl_since"] == shown(today, today["since"])
        finally:
            await store.close()

    scenario(rig, body)


def advance(rig: PaperFleet, seconds: float) -> None:
    """Move the clock and the paper venue with it."""
    rig.clock.advance(seconds)
    rig.paper.venue.advance_to(int(rig.clock.time() * 1000))


def shown(lines: dict[str, Any], since: str) -> dict[str, Any]:
    return {"since": since, **{k: lines[k] for k in ("realized", "commission", "funding", "net")}}
