"""The Binance adapter as an `Exchange` contract venue: real ccxt against a local `FakeBinance`.

`binance_venue(balance=...)` starts a fake server, opens the account with `open_binance_account` (the
daemon's factory) pointed at it through `rest_url` / `ws_url`, and yields it with a `BinanceDriver` that
moves the fake's market and time the way the contract's `VenueDriver` asks:

- `set_book` moves the fake's top of book and, when the adapter watches that symbol, returns once the
  adapter's `book()` shows it;
- `trade` is a taker trade on the fake (it fills resting orders it reaches);
- `advance(seconds)` moves the fake's clock (signed requests then need a clock resync, which the adapter
  does on -1021), brings its countdowns closer and settles funding at each funding time passed.

The fake funds its account with a TRANSFER income row when it starts. The venue is opened with the fake's
clock 100 days ahead of that row, beyond Binance's three months of income history, so income queries see
only what the test itself does (as the paper venue's ledger does).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tests.fakebinance.fixture import running_fake
from tests.fakebinance.server import FakeBinance

from mmctl.clock import SystemClock
from mmctl.config.schema import BinanceAccount
from mmctl.exchange.binance.account import open_binance_account
from mmctl.exchange.binance.exchange import BinanceExchange
from mmctl.model import Side

FUNDING_INTERVAL_S = 28_800
FUNDING_RATE = Decimal("0.0001")
HISTORY_SHIFT_MS = 100 * 86_400_000
DEADLINE_S = 5.0
ACCOUNT = "contract"
ENV = {"MMCTL_CONTRACT_API_KEY": "k", "MMCTL_CONTRACT_API_SECRET": "s"}


async def eventually(predicate: Callable[[], bool], what: str, within_s: float = DEADLINE_S) -> None:
    """Poll `predicate` on the loop until true, or fail after `within_s` seconds."""
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


class BinanceDriver:
    """Drives a `FakeBinance` for the contract suite (see the module docstring)."""

    funding_interval_s = FUNDING_INTERVAL_S

    def __init__(self, fake: FakeBinance, exchange: BinanceExchange) -> None:
        self.fake = fake
        self.exchange = exchange
        self.elapsed_s = 0.0

    async def set_book(self, symbol: str, bid: Decimal, ask: Decimal, qty: Decimal = Decimal("5")) -> None:
        rules = self.exchange.market(symbol)
        self.fake.set_book(rules.id, bid, ask, qty, qty)
        if rules.symbol in self.exchange.books.subscribed():

            def shown() -> bool:
                top = self.exchange.book(rules.symbol)
                return top is not None and (top.bid, top.ask) == (bid, ask)

            await eventually(shown, f"the adapter to show {bid}/{ask}")

    async def trade(self, symbol: str, side: Side, price: Decimal, qty: Decimal) -> None:
        self.fake.trade(self.exchange.market(symbol).id, side.value.upper(), price, qty)

    async def advance(self, seconds: float) -> None:
        before = int(self.elapsed_s // FUNDING_INTERVAL_S)
        self.elapsed_s += seconds
        self.fake.clock_offset_ms += round(seconds * 1000)
        self.fake.advance_countdowns(seconds)
        for _ in range(int(self.elapsed_s // FUNDING_INTERVAL_S) - before):
            for symbol in sorted(self.fake.positions()):
                self.fake.funding(symbol, FUNDING_RATE)


@dataclass
class Venue:
    exchange: BinanceExchange
    driver: BinanceDriver
    fake: FakeBinance


VenueFactory = Callable[..., AbstractAsyncContextManager[Venue]]


def settings_for(fake: FakeBinance, **overrides: Any) -> BinanceAccount:
    return BinanceAccount(rest_url=fake.rest_url, ws_url=fake.ws_url, **overrides)


async def open_on(fake: FakeBinance, **options: Any) -> BinanceExchange:
    """The daemon's factory, opening the contract account on `fake` (options: the factory's keywords)."""
    options.setdefault("env", ENV)
    options.setdefault("request_timeout_s", 3.0)
    return await open_binance_account(ACCOUNT, settings_for(fake), SystemClock(), **options)


@asynccontextmanager
async def binance_venue(*, balance: Decimal = Decimal("10000"), **options: Any) -> AsyncIterator[Venue]:
    """A fake Binance server and the adapter opened on it (see the module docstring); `options` go to
    `open_binance_account` (timeouts, quiet spells, budgets)."""
    async with running_fake(balance=balance) as fake:
        fake.clock_offset_ms = HISTORY_SHIFT_MS
        exchange = await open_on(fake, **options)
        try:
            yield Venue(exchange, BinanceDriver(fake, exchange), fake)
        finally:
            await exchange.close()
