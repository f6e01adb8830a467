"""Paper accounts on one manual clock, helpers to move their markets, and a bot manager over them.

`PaperWorld` is the venue side (bot-level tests build their own `Bot`s on it); `PaperFleet` adds a
`BotManager` over a memory definition store. `scenario` runs a test body on a rig inside one event loop:
markets loaded and first books published before, the manager shut down (with simulated time moving)
and the accounts closed after, whatever the body raised. Time only moves through `mmctl.clock`'s
`ManualClock`, by the settle policy of `tests.support.settle`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from tests.support.settle import advance, until_done

from mmctl.bots.bot import BotOptions
from mmctl.bots.events import EventLog
from mmctl.clock import ManualClock, now_ms
from mmctl.config.schema import PaperAccount
from mmctl.exchange.base import Exchange
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.fleet.manager import BotManager
from mmctl.model import BookTop, OrderRequest
from mmctl.store.base import MemoryDefinitionStore

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"
HALF_SPREAD = Decimal("0.05")
OPTIONS = BotOptions(stop_timeout_s=2.0, max_failures=3, backoff_base_s=0.1, backoff_max_s=0.2)
"""Bot options of the manager tests: quick stops and retries, in simulated seconds."""

R = TypeVar("R", bound="PaperWorld")


def book_top(symbol: str, mid: Decimal, size: Decimal, ts_ms: int, half: Decimal = HALF_SPREAD) -> BookTop:
    """A book `mid ± half` with `size` on each side."""
    return BookTop(symbol, mid - half, size, mid + half, size, ts_ms)


class PaperWorld:
    """Paper accounts (name → settings) on one manual clock, with a default mid per symbol.

    Books are `mid ± half` with `size` on each side. `books()` publishes every symbol's default mid on
    every account; `books(symbol, mid)` publishes one book once, leaving the defaults (`mids`) as they
    are. `books_every` (in steps of `run`) republishes the defaults while time passes, as a live feed
    would; None publishes nothing by itself.
    """

    def __init__(
        self,
        accounts: Mapping[str, PaperAccount],
        mids: Mapping[str, Decimal | str | int],
        size: Decimal = Decimal(9),
        books_every: int | None = None,
        half: Decimal = HALF_SPREAD,
    ) -> None:
        self.clock = ManualClock()
        self.events = EventLog(self.clock)
        self.papers = {name: PaperExchange.from_settings(name, s, self.clock) for name, s in accounts.items()}
        self.mids = {symbol: Decimal(mid) for symbol, mid in mids.items()}
        self.size = size
        self.half = half
        self.books_every = books_every

    @property
    def paper(self) -> PaperExchange:
        """The only paper account (a rig with several names the one it means)."""
        (only,) = self.papers.values()
        return only

    def books(self, symbol: str | None = None, mid: Decimal | str | None = None) -> None:
        for paper in self.papers.values():
            for sym, default in self.mids.items():
                if symbol is None or sym == symbol:
                    m = default if mid is None else Decimal(mid)
                    paper.venue.on_book(book_top(sym, m, self.size, now_ms(self.clock), self.half))

    def orders(self, prefix: str = "", account: str | None = None, symbol: str | None = None) -> list[str]:
        """Client ids of the open orders on one account's venue (the only one by default), sorted."""
        paper = self.paper if account is None else self.papers[account]
        return sorted(
            o.client_order_id for o in paper.venue.open_orders(symbol) if o.client_order_id.startswith(prefix)
        )

    async def manual(self, req: OrderRequest, account: str | None = None) -> None:
        """Place an order by hand (not a bot's), asserting the venue took it."""
        paper = self.paper if account is None else self.papers[account]
        (result,) = await paper.place_orders([req])
        assert result.ok, result.error

    async def run(self, seconds: float, refresh_books: bool = True) -> None:
        """Let `seconds` of simulated time pass, republishing the default books every `books_every`
        steps (from the first) unless `refresh_books` is false."""
        every = self.books_every if refresh_books else None

        def on_step(i: int) -> None:
            if every is not None and i % every == 0:
                self.books()

        await advance(self.clock, seconds, on_step)

    async def until_done(self, aw: Awaitable[Any]) -> Any:
        return await until_done(self.clock, aw)

    async def open(self) -> None:
        for paper in self.papers.values():
            await paper.load_markets()
        self.books()

    async def close(self) -> None:
        for paper in self.papers.values():
            await paper.close()


class PaperFleet(PaperWorld):
    """A `PaperWorld` with a `BotManager` over its accounts and a memory definition store.

    `wrap(name, paper)` gives the exchange the manager uses for an account (a budgeted or faulty wrapper;
    the paper exchange itself by default); `manager_kw` goes to `BotManager` (risk, budgets, ...).
    """

    def __init__(
        self,
        accounts: Mapping[str, PaperAccount],
        mids: Mapping[str, Decimal | str | int],
        size: Decimal = Decimal(9),
        books_every: int | None = None,
        half: Decimal = HALF_SPREAD,
        options: BotOptions = OPTIONS,
        wrap: Callable[[str, PaperExchange], Exchange] | None = None,
        **manager_kw: Any,
    ) -> None:
        super().__init__(accounts, mids, size, books_every, half)
        self.store = MemoryDefinitionStore()
        self.options = options
        self.exchanges: dict[str, Exchange] = {
            name: paper if wrap is None else wrap(name, paper) for name, paper in self.papers.items()
        }
        self.manager = self.new_manager(self.exchanges, **manager_kw)

    def new_manager(self, accounts: Mapping[str, Exchange], **manager_kw: Any) -> BotManager:
        """A manager over this rig's store, clock and options (a daemon restart makes a second one)."""
        return BotManager(
            dict(accounts), self.store, self.clock, EventLog(self.clock), options=self.options, **manager_kw
        )

    async def close(self) -> None:
        await self.until_done(self.manager.shutdown())
        await super().close()


def scenario(rig: R, body: Callable[[R], Awaitable[None]]) -> None:
    """Run `body(rig)` in a fresh event loop: `rig.open()` before, `rig.close()` after, always."""

    async def main() -> None:
        await rig.open()
        try:
            await body(rig)
        finally:
            await rig.close()

    asyncio.run(main())
