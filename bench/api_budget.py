"""API budget: what one market_maker bot at default parameters costs in Binance request weight.

Runs one default bot on each of the six built-in symbols of a paper account on the synthetic market
(default, realistic volatility: 60 % annualized, jumps off) for `MINUTES` of simulated time on a manual
clock (no real waiting), counts every request the bots make, and converts them with Binance USD-M's
published IP weights (developers.binance.com, "Request Weight"; the same costs ccxt 4.5's binanceusdm
declares), as `mmctl.exchange.weights` tabulates them:

    place 1 order      POST /fapi/v1/order            0 IP weight, 1 order (10 s and 1 min counters)
    place 2..5 orders  POST /fapi/v1/batchOrders      5 IP weight, 5 on the 10 s counter, 1 on the 1 min
    amend n orders     n × PUT /fapi/v1/order         0 IP weight, n orders (10 s and 1 min counters)
    cancel 1..10       DELETE /fapi/v1/batchOrders    1
    open orders        GET /fapi/v1/openOrders        1 (with a symbol; 40 without)
    countdown          POST /fapi/v1/countdownCancelAll 10 (arm and disarm)
    balance            GET /fapi/v3/account           5
    leverage           GET /fapi/v1/symbolConfig       5   (set: POST /fapi/v1/leverage 1)
    position           GET /fapi/v3/positionRisk       5
    load markets       GET /fapi/v1/exchangeInfo       1   (once per client)

The bots re-quote a level whose price or size changed by amending its order in place (one order-count
unit instead of a cancel and a new order); `orders_amended` counts those orders and
`order_count_per_bot_minute` what Binance's order counters see (orders placed and amended, per bot-minute;
cancels are not counted).

Budget: one IP has 2400 weight per minute; 40 bots per IP need <= 60 weight per bot-minute.
Last line: `weight_per_bot_minute=<n>`.

Usage: python bench/api_budget.py [simulated-minutes]   (default 20)
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Mapping, Sequence

from mmctl.bots.account import AccountShared
from mmctl.bots.bot import Bot, BotOptions
from mmctl.bots.definition import BotDefinition
from mmctl.bots.events import EventLog
from mmctl.clock import ManualClock
from mmctl.config.schema import PaperAccount
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.exchange.weights import Cost, cost
from mmctl.model import (
    Amend,
    AmendResult,
    Balance,
    CancelResult,
    MarketRules,
    OrderRequest,
    PlaceResult,
    Position,
)
from mmctl.strategies.market_maker import MarketMakerParams
from mmctl.strategies.params import parse_params

REQUEST_COST: dict[str, Cost] = {
    "place_single": cost("place_orders", 1),
    "place_batch": cost("place_orders", 2),
    "amend_single": cost("amend_orders", 1),
    "cancel_single": cost("cancel_orders", 1),
    "cancel_batch": cost("cancel_orders", 2),
    "open_orders": cost("open_orders"),
    "open_orders_all": cost("open_orders", symbol_given=False),
    "countdown": cost("arm_countdown"),
    "disarm_countdown": cost("disarm_countdown"),
    "balance": cost("balance"),
    "leverage": cost("leverage"),
    "set_leverage": cost("set_leverage"),
    "position": cost("position"),
    "load_markets": cost("load_markets"),
}
"""What each counted kind of request costs; the counts `orders_placed`/`orders_amended`/`orders_cancelled`
cost nothing themselves."""


def weight_of(key: str) -> int:
    return REQUEST_COST[key].weight if key in REQUEST_COST else 0


class CountingExchange(PaperExchange):
    """The paper exchange, counting requests as the Binance adapter would send them."""

    requests: Counter[str]
    orders_10s_counter: int
    markets_loaded: bool = False

    def count(self, key: str) -> None:
        self.requests[key] += 1
        self.orders_10s_counter += REQUEST_COST[key].orders_10s

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
        if requests:
            self.count("place_single" if len(requests) == 1 else "place_batch")
        self.requests["orders_placed"] += len(requests)
        return await super().place_orders(requests)

    async def amend_orders(self, symbol: str, amends: Sequence[Amend]) -> list[AmendResult]:
        for _ in amends:  # sent as concurrent single PUTs (mmctl.exchange.weights)
            self.count("amend_single")
        self.requests["orders_amended"] += len(amends)
        return await super().amend_orders(symbol, amends)

    async def cancel_orders(self, symbol: str, client_order_ids: Sequence[str]) -> list[CancelResult]:
        self.count("cancel_single" if len(client_order_ids) == 1 else "cancel_batch")
        self.requests["orders_cancelled"] += len(client_order_ids)
        return await super().cancel_orders(symbol, client_order_ids)

    async def open_orders(self, symbol: str | None = None) -> list:  # type: ignore[type-arg]
        self.count("open_orders" if symbol is not None else "open_orders_all")
        return await super().open_orders(symbol)

    async def arm_countdown(self, symbol: str, timeout_s: float) -> None:
        self.count("countdown")
        await super().arm_countdown(symbol, timeout_s)

    async def balance(self) -> Balance:
        self.count("balance")
        return await super().balance()

    async def leverage(self, symbol: str) -> int:
        self.count("leverage")
        return await super().leverage(symbol)

    async def set_leverage(self, symbol: str, leverage: int) -> int:
        self.count("set_leverage")
        return await super().set_leverage(symbol, leverage)

    async def position(self, symbol: str) -> Position:
        self.count("position")
        return await super().position(symbol)

    async def disarm_countdown(self, symbol: str) -> None:
        self.count("disarm_countdown")
        await super().disarm_countdown(symbol)

    async def load_markets(self) -> Mapping[str, MarketRules]:
        if not self.markets_loaded:  # the Binance adapter fetches exchangeInfo once
            self.count("load_markets")
            self.markets_loaded = True
        return await super().load_markets()


async def run(minutes: float) -> tuple[Counter[str], int, int]:
    clock = ManualClock()
    base = PaperExchange.from_settings("bench", PaperAccount(seed=3), clock)
    ex = CountingExchange("bench", base.venue, clock, base.feed)
    ex.requests, ex.orders_10s_counter = Counter(), 0
    await ex.load_markets()
    await ex.start()
    events = EventLog(clock)
    shared = AccountShared(ex, clock)
    params = parse_params(MarketMakerParams, {})
    symbols = sorted(ex.venue.markets)
    bots = [
        Bot(
            BotDefinition(f"b{i}", "bench", s, "market_maker", params),
            ex,
            clock,
            events,
            BotOptions(),
            shared,
        )
        for i, s in enumerate(symbols)
    ]
    await step(clock, 2.0)  # the feed publishes a first book for every symbol
    for bot in bots:
        await bot.start()
    await step(clock, minutes * 60)
    fills = sum(b.inventory.fills for b in bots)
    for bot in bots:
        await bot.stop()
    await ex.close()
    return ex.requests, len(bots), fills


async def step(clock: ManualClock, seconds: float, dt: float = 0.05) -> None:
    for _ in range(round(seconds / dt)):
        clock.advance(dt)
        for _ in range(20):
            await asyncio.sleep(0)


def main() -> None:
    minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    requests, n_bots, fills = asyncio.run(run(minutes))
    bot_minutes = n_bots * minutes
    weight = sum(weight_of(k) * v for k, v in requests.items())
    for key in sorted(requests):
        per = requests[key] / bot_minutes
        print(f"{key:18} {requests[key]:7d}  per bot-minute {per:7.2f}  weight {weight_of(key)}")
    orders = (requests["orders_placed"] + requests["orders_cancelled"]) / bot_minutes
    counted = (requests["orders_placed"] + requests["orders_amended"]) / bot_minutes
    print(f"bots={n_bots} simulated_minutes={minutes:g} fills={fills}")
    print(f"orders_placed_and_cancelled_per_bot_minute={orders:.1f}")
    print(f"orders_amended_per_bot_minute={requests['orders_amended'] / bot_minutes:.1f}")
    print(f"order_count_per_bot_minute={counted:.1f}")
    print(f"bots_per_ip_at_2400={2400 / (weight / bot_minutes):.0f}")
    print(f"weight_per_bot_minute={weight / bot_minutes:.1f}")


if __name__ == "__main__":
    main()
