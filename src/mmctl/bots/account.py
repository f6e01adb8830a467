"""Per-account state that every bot of the account shares, so N bots do not pay N times for it: the
order-event stream (one router), the book subscriptions (one hub), the venue's reachability (a recent
balance call), each symbol's leverage, and each symbol's exchange-side countdown cancel (Binance keeps
one per symbol and account: one refresh serves every bot quoting it).

Concurrent callers for the same key wait on one request instead of sending their own.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from mmctl.bots.market_data import MarketDataHub
from mmctl.bots.router import OrderRouter
from mmctl.clock import Clock
from mmctl.errors import ExchangeError, VenueUnavailable
from mmctl.exchange.base import Exchange
from mmctl.model import ZERO, Balance, Position

REACHABLE_TTL_S = 5.0  # a balance call this recent proves the venue reachable for a start
FIGURES_TTL_S = 2.0  # balance and positions for status views: at most one request per account per 2 s


class AccountShared:
    def __init__(self, exchange: Exchange, clock: Clock, name: str = "") -> None:
        self.exchange = exchange
        self.clock = clock
        self.name = name or exchange.name
        self.router = OrderRouter(exchange, clock)  # one order-event subscription
        self.market_data = MarketDataHub(exchange, clock)  # one book subscription per symbol
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._reachable_at = -1e18
        self._leverage: dict[str, int] = {}
        self._armed_at: dict[str, float] = {}
        self._balance: tuple[float, Balance] | None = None
        self._positions: tuple[float, list[Position]] | None = None

    async def check_reachable(self) -> None:
        """Raise `VenueUnavailable` unless the venue answered a balance call in the last few seconds."""
        async with self._locks["reachable"]:
            if self.clock.monotonic() - self._reachable_at < REACHABLE_TTL_S:
                return
            try:
                await self.exchange.balance()
            except ExchangeError as e:
                raise VenueUnavailable(
                    f"cannot reach account {self.name!r}: {e.message}", data={"code": e.code}
                ) from None
            self._reachable_at = self.clock.monotonic()

    async def balance(self, max_age_s: float = FIGURES_TTL_S) -> Balance:
        """The account's balance, at most `max_age_s` old (one request serves every status view)."""
        async with self._locks["balance"]:
            now = self.clock.monotonic()
            if self._balance is None or now - self._balance[0] > max_age_s:
                self._balance = (now, await self.exchange.balance())
                self._reachable_at = now
            return self._balance[1]

    async def position(self, symbol: str, max_age_s: float = FIGURES_TTL_S) -> Position:
        """The account's net position on `symbol` (flat when absent), at most `max_age_s` old."""
        async with self._locks["positions"]:
            now = self.clock.monotonic()
            if self._positions is None or now - self._positions[0] > max_age_s:
                self._positions = (now, await self.exchange.positions())
            positions = self._positions[1]
        rules = self.exchange.market(symbol)
        for p in positions:
            if p.symbol == rules.symbol:
                return p
        book = self.exchange.book(rules.symbol)
        mark = book.mid if book is not None else ZERO
        return Position(rules.symbol, ZERO, ZERO, mark, ZERO, self._leverage.get(rules.symbol, 0))

    async def leverage(self, symbol: str) -> int:
        """The symbol's leverage, fetched once and then kept up to date by this process."""
        key = self.exchange.market(symbol).symbol
        async with self._locks[f"leverage:{key}"]:
            if key not in self._leverage:
                self._leverage[key] = await self.exchange.leverage(key)
            return self._leverage[key]

    async def ensure_leverage(self, symbol: str, leverage: int) -> None:
        """Set the symbol's leverage on the venue unless it is already known to be `leverage`."""
        async with self._locks[f"leverage:{symbol}"]:
            if self._leverage.get(symbol) == leverage:
                return
            if await self.exchange.leverage(symbol) != leverage:
                await self.exchange.set_leverage(symbol, leverage)
            self._leverage[symbol] = leverage

    def note_leverage(self, symbol: str, leverage: int) -> None:
        """Leverage was changed by other means (the leverage command)."""
        self._leverage[symbol] = leverage

    async def keep_countdown(
        self, symbol: str, timeout_s: float, refresh_s: float, force: bool = False
    ) -> bool:
        """Arm or refresh the symbol's countdown cancel when due (or `force`); True if a request went out."""
        if not force and self._fresh(symbol, refresh_s):  # the hot path: no lock, no wait
            return False
        async with self._locks[f"countdown:{symbol}"]:
            if not force and self._fresh(symbol, refresh_s):  # refreshed while we waited
                return False
            await self.exchange.arm_countdown(symbol, timeout_s)
            self._armed_at[symbol] = self.clock.monotonic()
            return True

    def _fresh(self, symbol: str, refresh_s: float) -> bool:
        return self.clock.monotonic() - self._armed_at.get(symbol, -1e18) < refresh_s

    def countdown_age_s(self, symbol: str) -> float | None:
        armed = self._armed_at.get(symbol)
        return None if armed is None else self.clock.monotonic() - armed

    async def disarm_countdown(self, symbol: str) -> None:
        async with self._locks[f"countdown:{symbol}"]:
            await self.exchange.disarm_countdown(symbol)
            self._armed_at.pop(symbol, None)
