"""Opt-in: the adapter against Binance's real demo venue (demo-fapi.binance.com).

Runs only with MMCTL_LIVE_TESTS=1 and demo-trading keys in MMCTL_LIVE_API_KEY / MMCTL_LIVE_API_SECRET
(create them at https://demo.binance.com). It places one post-only bid far below the market and cancels
it; whatever happens, the symbol's orders are cancelled at the end.
"""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal

import pytest

from mmctl.clock import SystemClock
from mmctl.config.schema import BinanceAccount
from mmctl.exchange.binance.account import open_binance_account
from mmctl.exchange.rules import min_qty_for, round_price
from mmctl.model import OrderRequest, OrderStatus, Side

BTC = "BTC/USDT:USDT"

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        os.environ.get("MMCTL_LIVE_TESTS") != "1"
        or not (os.environ.get("MMCTL_LIVE_API_KEY") and os.environ.get("MMCTL_LIVE_API_SECRET")),
        reason="live test: set MMCTL_LIVE_TESTS=1 and MMCTL_LIVE_API_KEY / MMCTL_LIVE_API_SECRET (demo keys)",
    ),
]


async def test_demo_venue_round_trip() -> None:
    """Markets, book, balance, leverage, a resting post-only bid seen on the stream, cancelled, income."""
    ex = await open_binance_account("live", BinanceAccount(environment="demo"), SystemClock())
    try:
        rules = ex.market(BTC)
        assert rules.tick_size > 0
        assert rules.max_leverage >= 1
        top = await asyncio.wait_for(anext(ex.watch_book(BTC)), 30)
        assert top.bid < top.ask
        assert (await ex.balance()).asset == "USDT"
        assert 1 <= await ex.leverage(BTC) <= rules.max_leverage
        updates = ex.order_updates()
        price = round_price(top.bid * Decimal("0.9"), Side.BUY, rules.tick_size)
        req = OrderRequest(BTC, Side.BUY, min_qty_for(price, rules), price, "mmctl-live-test", post_only=True)
        (placed,) = await ex.place_orders([req])
        assert placed.order is not None, placed.error
        assert [o.client_order_id for o in await ex.open_orders(BTC)] == ["mmctl-live-test"]

        async def announced() -> None:
            async for update in updates:
                if update.order.client_order_id == "mmctl-live-test":
                    return

        await asyncio.wait_for(announced(), 30)
        cancelled = await ex.cancel_order(BTC, client_order_id="mmctl-live-test")
        assert cancelled.status is OrderStatus.CANCELED
        assert isinstance(await ex.income(ex.time.venue_now_ms() - 86_400_000), list)
        assert ex.health().connected
    finally:
        await ex.cancel_all(BTC)
        await ex.close()
