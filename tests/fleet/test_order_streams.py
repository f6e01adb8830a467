"""The accounts' order streams are subscribed for the daemon's life once opened: a fill on a stopped bot's
leftover order is recorded under that bot and booked into its inventory, and a fill that arrives while a
bot's inventory is rebuilt from the store is booked once, after it (nothing falls between the two)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from tests.support.rig import BTC, PaperFleet, scenario

from mmctl.bots.ids import ClientIdGenerator
from mmctl.bots.recorder import StoreRecorder
from mmctl.clock import now_ms
from mmctl.config.schema import PaperAccount
from mmctl.model import OrderRequest, Side, Trade
from mmctl.store.sqlite.store import SqliteStore

QTY = Decimal("0.002")


def fleet(tmp_path: Path) -> tuple[PaperFleet, SqliteStore]:
    """A fleet on one paper account recording to a real store."""
    rig = PaperFleet({"paper": PaperAccount()}, {BTC: "90000"})
    store = SqliteStore.open(tmp_path / "mmctl.sqlite", rig.clock, synchronous="NORMAL")
    rig.manager = rig.new_manager(rig.exchanges, recorder=StoreRecorder(store, rig.clock))
    return rig, store


async def leftover_bid(rig: PaperFleet, ids: ClientIdGenerator) -> str:
    """A resting bid carrying a bot's client id, as a crash would leave it."""
    cid = ids.new_id(Side.BUY, 0)
    await rig.manual(OrderRequest(BTC, Side.BUY, QTY, Decimal("89990.0"), cid, post_only=True))
    return cid


def sell_through(rig: PaperFleet, price: str) -> None:
    """A taker sell trade down to `price` (fills our bids at or above it)."""
    ts = now_ms(rig.clock)
    rig.paper.venue.on_trade(Trade(BTC, Decimal(price), Decimal("1"), Side.SELL, ts))


def test_a_fill_on_a_stopped_bots_leftover_order_is_recorded_and_booked(tmp_path: Path) -> None:
    """With the streams open and the bot loaded but stopped, a fill of its leftover order lands in the
    store under its name and in its inventory."""
    rig, store = fleet(tmp_path)

    async def body(f: PaperFleet) -> None:
        await f.manager.create("lefty", "paper", BTC, "market_maker", {"levels": 1})
        await f.manager.open_order_streams()
        await leftover_bid(f, ClientIdGenerator("lefty", 1))
        sell_through(f, "89980.0")
        await f.run(0.5)
        await store.flush()
        fills = await store.read(lambda r: r.fills(bot="lefty"))
        assert [row.fill.qty for row in fills] == [QTY]
        assert f.manager.bot("lefty").inventory.qty == QTY
        await store.close()

    scenario(rig, body)


def test_a_fill_arriving_as_the_inventory_rebuild_starts_is_booked_once(tmp_path: Path) -> None:
    """A fill delivered as inventories are rebuilt from the store (the account's events are held for the
    rebuild) is booked exactly once: the bot's position equals the sum of its recorded fills."""
    rig, store = fleet(tmp_path)

    async def body(f: PaperFleet) -> None:
        await f.manager.create("rebuilt", "paper", BTC, "market_maker", {"levels": 1})
        await f.manager.open_order_streams()
        ids = ClientIdGenerator("rebuilt", 1)
        await leftover_bid(f, ids)
        await leftover_bid(f, ids)
        sell_through(f, "89980.0")  # both fill: one is booked before the rebuild, ...
        await f.run(0.2)
        await leftover_bid(f, ids)
        asyncio.get_running_loop().call_soon(sell_through, f, "89980.0")  # ... this one during the rebuild
        await f.manager.restore_inventories()
        await f.run(0.2)
        await store.flush()
        recorded = sum(row.fill.qty for row in await store.read(lambda r: r.fills(bot="rebuilt")))
        assert recorded == 3 * QTY
        assert f.manager.bot("rebuilt").inventory.qty == recorded
        await store.close()

    scenario(rig, body)
