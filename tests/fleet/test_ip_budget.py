"""Weight is shared by every account on the IP; order counts are each account's own (Binance's rules)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from tests.support.settle import settle

from mmctl.clock import ManualClock, now_ms
from mmctl.config.schema import PaperAccount
from mmctl.errors import BudgetExhausted
from mmctl.exchange.budget import BudgetLimits, RequestBudget
from mmctl.exchange.budgeted import BudgetedExchange
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.model import BookTop, OrderRequest, Side

BTC = "BTC/USDT:USDT"


def test_two_accounts_draw_weight_from_one_ip_budget_and_orders_from_their_own() -> None:
    """Two accounts share their IP's weight budget (one account's reads can exhaust it for both) but each has
    its own order counters."""

    async def main() -> None:
        clock = ManualClock()
        exact = {"use_fraction": 1.0, "safety_reserve": 0.0, "start_share": 1.0}
        ip = RequestBudget(
            clock,
            BudgetLimits(weight_per_min=10, orders_per_10s=1000, orders_per_min=1000, **exact),
            name="the IP",
        )
        accounts = {}
        for name in ("a", "b"):
            paper = PaperExchange.from_settings(name, PaperAccount(symbols=("BTCUSDT",)), clock)
            await paper.load_markets()
            paper.venue.on_book(
                BookTop(BTC, Decimal("50000.0"), Decimal(1), Decimal("50000.1"), Decimal(1), now_ms(clock))
            )
            own = RequestBudget(
                clock, BudgetLimits(weight_per_min=1000, orders_per_10s=1, orders_per_min=1, **exact)
            )
            accounts[name] = BudgetedExchange(paper, own, ip)
        a, b = accounts["a"], accounts["b"]
        await a.balance()  # 5 weight
        await a.balance()  # 10: the IP's minute is full
        with pytest.raises(BudgetExhausted, match="the IP"):  # another account, same IP: refused
            await b.balance()
        clock.advance(61)
        await b.balance()
        order = OrderRequest(BTC, Side.BUY, Decimal("0.003"), Decimal("49000.0"), "o-1", post_only=True)
        await a.place_orders([order])  # a's single order slot
        placing_b = asyncio.ensure_future(
            b.place_orders(
                [OrderRequest(BTC, Side.BUY, Decimal("0.003"), Decimal("49000.0"), "o-2", post_only=True)]
            )
        )
        await settle()
        assert placing_b.done()  # b's order counters are its own
        third = OrderRequest(BTC, Side.BUY, Decimal("0.003"), Decimal("48000.0"), "o-3", post_only=True)
        with pytest.raises(BudgetExhausted):  # a has used its order allowance for this window
            await a.place_orders([third])
        clock.advance(61)
        await a.place_orders([third])
        assert ip.usage()["orders_1m"] == 0
        assert a.budget.usage()["weight_1m"] == 0

    asyncio.run(main())
