"""The Binance adapter's public trade stream over real ccxt and the fake server: it comes back after the
sockets drop, and counts the trades it missed meanwhile."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from tests.exchange.test_contract_trades import within
from tests.fakebinance.server import FakeBinance

from mmctl.model import Side, Trade

from .harness import DEADLINE_S, binance_venue, eventually

BTC = "BTC/USDT:USDT"


async def test_trades_flow_again_after_the_sockets_drop_and_the_gap_is_counted() -> None:
    """After the fake closes every WebSocket, the adapter resubscribes by itself: later trades reach the
    subscriber in order, a trade sent while the socket was down is missing and counted as a gap."""
    async with binance_venue() as v:
        await v.exchange.load_markets()
        stream = v.exchange.watch_trades(BTC)
        seen: list[Trade] = []

        async def read() -> None:
            async for trade in stream:
                seen.append(trade)

        reader = asyncio.create_task(read())
        try:
            await trade_until_seen(v.fake, seen, Decimal("0.001"))
            assert v.exchange.trades.gaps() == {BTC: 0}
            v.fake.faults.drop_ws()
            v.fake.trade("BTCUSDT", "SELL", Decimal("59000.0"), Decimal("0.002"))  # after the close: lost
            await trade_until_seen(v.fake, seen, Decimal("0.003"))
            assert Decimal("0.002") not in {t.qty for t in seen}
            assert v.exchange.trades.gaps()[BTC] >= 1
            assert v.exchange.trades.states() == {BTC: "streaming"}
            v.fake.trade("BTCUSDT", "BUY", Decimal("61000.5"), Decimal("0.004"))
            v.fake.trade("BTCUSDT", "SELL", Decimal("60999.5"), Decimal("0.005"))
            await eventually(lambda: seen[-1].qty == Decimal("0.005"), "the last trade")
            assert [(t.side, t.price, t.qty) for t in seen[-2:]] == [
                (Side.BUY, Decimal("61000.5"), Decimal("0.004")),
                (Side.SELL, Decimal("60999.5"), Decimal("0.005")),
            ]
            assert stream.dropped == 0
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await stream.aclose()


async def trade_until_seen(fake: FakeBinance, seen: list[Trade], qty: Decimal) -> None:
    """Send a trade of `qty` every 100 ms until the subscriber has one (a trade sent while the stream is
    still (re)subscribing reaches nobody, as on Binance)."""
    deadline = time.monotonic() + DEADLINE_S
    while not any(t.qty == qty for t in seen):
        if time.monotonic() > deadline:
            raise AssertionError(f"no trade of {qty} reached the subscriber")
        fake.trade("BTCUSDT", "BUY", Decimal("60000.0"), qty)
        await within(lambda: any(t.qty == qty for t in seen), 0.1)
