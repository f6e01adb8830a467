"""The `Exchange` port's public trade stream (`watch_trades`), run against every implementation.

tests/binance/test_contract.py imports these tests to run them against the Binance adapter on the fake
server. A venue may take a moment to subscribe (Binance: a SUBSCRIBE on a socket), and trades published
before that reach nobody, as on Binance: each test first sends probe trades (a size no real trade here
uses) until every subscriber has seen one, then the trades it checks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal

from mmctl.exchange.base import TradeStream
from mmctl.model import Side, Trade

from .harness import Venue, VenueFactory
from .test_contract import BTC, DEADLINE_S, ready

PROBE_QTY = Decimal("0.001")
PROBE_WAIT_S = 0.2  # how long one probe is given to arrive before the next is sent


async def within(predicate: Callable[[], bool], seconds: float) -> bool:
    """Poll `predicate` on the loop for at most `seconds`; whether it became true."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


async def eventually(predicate: Callable[[], bool], what: str) -> None:
    """Poll `predicate` on the loop until true, or fail after `DEADLINE_S` seconds."""
    if not await within(predicate, DEADLINE_S):
        raise AssertionError(f"timed out waiting for {what}")


class Reader:
    """Reads a trade stream in a task, as fast as the loop allows, into `seen` (probes left out)."""

    def __init__(self, stream: TradeStream) -> None:
        self.stream = stream
        self.seen: list[Trade] = []
        self.probes = 0
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for trade in self.stream:
            if trade.qty == PROBE_QTY:
                self.probes += 1
            else:
                self.seen.append(trade)

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.stream.aclose()


async def subscribed(v: Venue, readers: list[Reader]) -> None:
    """Send probe trades until every reader has received one."""
    deadline = time.monotonic() + DEADLINE_S
    while not all(r.probes for r in readers):
        if time.monotonic() > deadline:
            raise AssertionError("no probe trade reached every subscriber")
        await v.driver.trade(BTC, Side.BUY, Decimal("60005.0"), PROBE_QTY)
        await within(lambda: all(r.probes for r in readers), PROBE_WAIT_S)


TRADES = [
    (Side.BUY, "60001.0", "0.003"),
    (Side.SELL, "59999.0", "0.004"),
    (Side.SELL, "59998.5", "0.005"),
    (Side.BUY, "60002.3", "0.006"),
    (Side.BUY, "60002.3", "0.007"),
]


async def test_watch_trades_delivers_every_trade_in_order_to_every_subscriber(
    open_venue: VenueFactory,
) -> None:
    """Every public trade after subscribing reaches each of two subscribers, in order and unconflated, with
    the unified symbol, the taker's side and the exact price and size, and none is dropped."""
    async with open_venue() as v:
        ex = await ready(v)
        readers = [Reader(ex.watch_trades(BTC)), Reader(ex.watch_trades(ex.market(BTC).id))]
        try:
            await subscribed(v, readers)
            for side, price, qty in TRADES:
                await v.driver.trade(BTC, side, Decimal(price), Decimal(qty))
            await eventually(lambda: all(len(r.seen) >= len(TRADES) for r in readers), "every trade")
            expected = [(BTC, side, Decimal(price), Decimal(qty)) for side, price, qty in TRADES]
            for r in readers:
                assert [(t.symbol, t.side, t.price, t.qty) for t in r.seen] == expected
                assert r.stream.dropped == 0
            stamps = [t.ts_ms for t in readers[0].seen]
            assert stamps == sorted(stamps)
        finally:
            for r in readers:
                await r.close()


async def test_a_closed_trade_stream_ends_and_others_go_on(open_venue: VenueFactory) -> None:
    """A subscriber that closes its trade stream stops iterating; another subscriber of the symbol keeps
    receiving trades."""
    async with open_venue() as v:
        ex = await ready(v)
        leaving, staying = Reader(ex.watch_trades(BTC)), Reader(ex.watch_trades(BTC))
        try:
            await subscribed(v, [leaving, staying])
            await leaving.stream.aclose()
            await eventually(leaving.task.done, "the closed stream to end")
            await v.driver.trade(BTC, Side.SELL, Decimal("59990.0"), Decimal("0.002"))
            await eventually(lambda: len(staying.seen) == 1, "the trade after the other left")
            assert leaving.seen == []
        finally:
            await leaving.close()
            await staying.close()
