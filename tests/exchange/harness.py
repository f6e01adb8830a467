"""Contract-test harnesses: an `Exchange` plus a driver for what the port itself cannot do.

A harness is an async context manager factory `open_venue(balance=...) -> Venue`. The `VenueDriver`
moves the market (book tops, public trades) and the venue's time (funding, countdowns); each call returns
once the port reflects the change. Add an implementation by writing another factory and listing it in
`HARNESSES` (e.g. the ccxt adapter against a fake Binance server on 127.0.0.1).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from mmctl.clock import ManualClock
from mmctl.config.schema import PaperAccount
from mmctl.exchange.base import Exchange
from mmctl.exchange.paper import PaperExchange
from mmctl.model import BookTop, Side, Trade


class VenueDriver(Protocol):
    """Moves the market and the clock of a venue under test."""

    @property
    def funding_interval_s(self) -> int: ...

    async def set_book(
        self, symbol: str, bid: Decimal, ask: Decimal, qty: Decimal = Decimal("5")
    ) -> None: ...

    async def trade(self, symbol: str, side: Side, price: Decimal, qty: Decimal) -> None:
        """A public trade whose aggressor is on `side`."""
        ...

    async def advance(self, seconds: float) -> None:
        """Move the venue's time forward."""
        ...


@dataclass
class Venue:
    exchange: Exchange
    driver: VenueDriver


VenueFactory = Callable[..., AbstractAsyncContextManager[Venue]]


class PaperDriver:
    """Drives a `PaperExchange` through its synchronous venue hooks."""

    def __init__(self, exchange: PaperExchange, funding_interval_s: int) -> None:
        self.venue = exchange.venue
        self.funding_interval_s = funding_interval_s

    async def set_book(self, symbol: str, bid: Decimal, ask: Decimal, qty: Decimal = Decimal("5")) -> None:
        self.venue.on_book(BookTop(symbol, bid, qty, ask, qty, self.venue.now_ms))

    async def trade(self, symbol: str, side: Side, price: Decimal, qty: Decimal) -> None:
        self.venue.on_trade(Trade(symbol, price, qty, side, self.venue.now_ms))

    async def advance(self, seconds: float) -> None:
        self.venue.advance_to(self.venue.now_ms + round(seconds * 1000))


@asynccontextmanager
async def paper_venue(*, balance: Decimal = Decimal("10000")) -> AsyncIterator[Venue]:
    """A paper exchange that only moves when driven (its synthetic feed is never started)."""
    settings = PaperAccount(balance=balance)
    exchange = PaperExchange.from_settings("contract", settings, ManualClock())
    await exchange.load_markets()
    try:
        yield Venue(exchange, PaperDriver(exchange, settings.funding_interval_s))
    finally:
        await exchange.close()


HARNESSES: dict[str, VenueFactory] = {"paper": paper_venue}
