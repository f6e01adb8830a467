"""A paper venue driven through fills of two bots and of hand-placed orders, with funding, recorded into a
real SQLite store the way the daemon records them (fills with their bot, income synced from the venue)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from pathlib import Path

from tests.exchange.builders import BTC, ETH, START_MS, book, make_venue, market

from mmctl.clock import ManualClock
from mmctl.exchange.paper import PaperExchange, PaperVenue
from mmctl.model import Side
from mmctl.pnl.report import PnlReport, ReportRequest, build_report
from mmctl.pnl.sync import sync_income
from mmctl.store.records import NewFill
from mmctl.store.sqlite import SqliteStore

ACCOUNT = "paper"
HOUR_MS = 3_600_000
BOTS = {"a": "mm.a.", "b": "mm.b.", None: "manual."}


@dataclass(frozen=True)
class Step:
    """A market order of `who` (a bot name, or None for a hand-placed one), or `hours` of time passing."""

    who: str | None = None
    side: Side = Side.BUY
    qty: str = "0.002"
    symbol: str = BTC
    mid: int = 60000
    hours: int = 0


def drive(steps: list[Step]) -> PaperVenue:
    venue = make_venue("1000000")
    for i, step in enumerate(steps):
        if step.hours:
            venue.advance_to(venue.now_ms + step.hours * HOUR_MS)
            continue
        mid = Decimal(step.mid) if step.symbol == BTC else Decimal(step.mid) / 20
        book(venue, str(mid), str(mid + Decimal("0.5")), symbol=step.symbol)
        qty = step.qty if step.symbol == BTC else str(Decimal(step.qty) * 20)
        venue.place(market(step.side, qty, f"{BOTS[step.who]}{i}", symbol=step.symbol))
        venue.advance_to(venue.now_ms + 1000)
    return venue


def bot_of(client_order_id: str) -> str | None:
    return next((bot for bot, prefix in BOTS.items() if bot and client_order_id.startswith(prefix)), None)


async def record(venue: PaperVenue, store: SqliteStore) -> int:
    """Record the venue's fills with their bots and sync its ledger; returns the sync's complete_until."""
    for fill in venue.trades:
        await store.write(NewFill(ACCOUNT, bot_of(fill.client_order_id), fill))
    exchange = PaperExchange(ACCOUNT, venue, ManualClock())
    result = await sync_income(exchange, store, ACCOUNT, first_since_ms=0)
    return result.complete_until_ms


def open_store(directory: Path) -> SqliteStore:
    return SqliteStore.open(directory / "mmctl.sqlite", ManualClock(), synchronous="OFF")


async def report(
    store: SqliteStore,
    until_ms: int,
    *,
    by: str | None = None,
    bot: str | None = None,
    symbol: str | None = None,
    since_ms: int = START_MS - 86_400_000,
) -> PnlReport:
    request = ReportRequest(since_ms, until_ms, UTC, "UTC", (ACCOUNT,), symbol, bot, by)
    return await build_report(store, request, complete_until_ms=until_ms)


__all__ = ["BTC", "ETH", "Step", "drive", "open_store", "record", "report"]
