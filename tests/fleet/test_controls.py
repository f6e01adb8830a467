"""Fleet controls on the paper venue: pause/resume, leverage rules, cancel-all forms, portfolio totals."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest

from mmctl.bots.account import FIGURES_TTL_S
from mmctl.bots.bot import BotOptions, BotState
from mmctl.bots.events import EventLog
from mmctl.clock import ManualClock, now_ms
from mmctl.config.schema import PaperAccount
from mmctl.errors import InvalidState, LeverageRejected, ValidationError
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.fleet import controls
from mmctl.fleet.manager import BotManager
from mmctl.fleet.portfolio import portfolio
from mmctl.model import BookTop, OrderRequest, OrderType, Side, Trade
from mmctl.store.base import MemoryDefinitionStore

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
OPTIONS = BotOptions(stop_timeout_s=2.0)


class Fleet:
    def __init__(self) -> None:
        self.clock = ManualClock()
        settings = PaperAccount(symbols=("BTCUSDT", "ETHUSDT"), balance=Decimal(1_000_000))
        self.paper = PaperExchange.from_settings("paper", settings, self.clock)
        self.manager = BotManager(
            {"paper": self.paper}, MemoryDefinitionStore(), self.clock, EventLog(self.clock), options=OPTIONS
        )

    def book(self, symbol: str, mid: str) -> None:
        m, half = Decimal(mid), Decimal("0.05")
        self.paper.venue.on_book(
            BookTop(symbol, m - half, Decimal(5), m + half, Decimal(5), now_ms(self.clock))
        )

    def orders(self, symbol: str | None = None) -> list[str]:
        return sorted(o.client_order_id for o in self.paper.venue.open_orders(symbol))

    async def run(self, seconds: float) -> None:
        for _ in range(int(seconds / 0.05)):
            self.clock.advance(0.05)
            for _ in range(30):
                await asyncio.sleep(0)

    async def manual(self, req: OrderRequest) -> None:
        (result,) = await self.paper.place_orders([req])
        assert result.ok, result.error


def scenario(body: Callable[[Fleet], Awaitable[None]]) -> None:
    async def main() -> None:
        f = Fleet()
        await f.paper.load_markets()
        f.book(BTC, "50000")
        f.book(ETH, "3000")
        try:
            await body(f)
        finally:
            await f.manager.shutdown()
            await f.paper.close()

    asyncio.run(main())


async def two_btc_bots_and_one_eth(f: Fleet) -> None:
    m = f.manager
    await m.create("b1", "paper", "BTCUSDT", "market_maker", {"levels": "2"})
    await m.create("b2", "paper", "BTCUSDT", "market_maker", {"levels": "1", "spread_bps": "40"})
    await m.create("e1", "paper", "ETHUSDT", "market_maker", {"levels": "1"})
    assert all(o["ok"] for o in await m.start([], all_bots=True))
    await f.run(0.5)


def test_pause_cancels_and_keeps_watching_then_resume_quotes_again() -> None:
    async def body(f: Fleet) -> None:
        await two_btc_bots_and_one_eth(f)
        (out,) = await f.manager.pause(["b1"])
        assert out["ok"]
        assert out["cancelled"] == 4
        assert not any(cid.startswith("mm.b1.") for cid in f.orders())
        f.book(BTC, "50100")
        await f.run(0.5)
        bot = f.manager.bot("b1")
        assert bot.state is BotState.PAUSED
        assert not any(cid.startswith("mm.b1.") for cid in f.orders())
        assert bot.last_tick_ms is not None  # still ticking: watching the market
        await f.manager.resume(["b1"])
        await f.run(0.5)
        assert len([c for c in f.orders() if c.startswith("mm.b1.")]) == 4

    scenario(body)


def test_pause_and_resume_refuse_bots_in_the_wrong_state() -> None:
    async def body(f: Fleet) -> None:
        await f.manager.create("idle", "paper", "BTCUSDT", "market_maker", {})
        (out,) = await f.manager.pause(["idle"])
        assert not out["ok"]
        assert "only a running bot" in out["error"]
        with pytest.raises(InvalidState):
            await f.manager.bot("idle").resume()

    scenario(body)


def test_leverage_set_within_range_and_shared_by_bots_on_the_symbol() -> None:
    async def body(f: Fleet) -> None:
        await two_btc_bots_and_one_eth(f)
        info = await controls.set_leverage(f.manager, "b1", 20)
        assert info["leverage"] == 20
        assert info["previous"] == 5
        assert info["shared_with"] == ["b2"]
        assert "share it" in info["note"]
        assert await f.paper.leverage(BTC) == 20
        assert f.manager.bot("b2").params.leverage == 20  # its next start keeps the shared setting
        assert f.manager.bot("e1").params.leverage == 5

    scenario(body)


@pytest.mark.parametrize("value", [0, -3, 126, 1000])
def test_leverage_outside_1_to_the_symbol_max_is_refused_unchanged(value: int) -> None:
    async def body(f: Fleet) -> None:
        await f.manager.create("b1", "paper", "BTCUSDT", "market_maker", {})
        before = await f.paper.leverage(BTC)
        with pytest.raises(ValidationError, match="between 1 and"):
            await controls.set_leverage(f.manager, "b1", value)
        assert await f.paper.leverage(BTC) == before

    scenario(body)


def test_leverage_above_the_positions_bracket_cap_is_refused_with_the_reason() -> None:
    async def body(f: Fleet) -> None:
        await f.manager.create("b1", "paper", "BTCUSDT", "market_maker", {})
        rules = f.paper.market(BTC)
        big = rules.notional_cap(rules.max_leverage) / Decimal(50000) + 1  # just above the top tier's cap
        qty = (big // rules.step_size) * rules.step_size
        await f.paper.set_leverage(BTC, 2)
        await f.manual(OrderRequest(BTC, Side.BUY, qty, None, "manual-big", type=OrderType.MARKET))
        with pytest.raises(LeverageRejected, match="exceeds the"):
            await controls.set_leverage(f.manager, "b1", rules.max_leverage)
        assert await f.paper.leverage(BTC) == 2

    scenario(body)


def test_cancel_all_by_bot_pauses_it_and_leaves_the_others() -> None:
    async def body(f: Fleet) -> None:
        await two_btc_bots_and_one_eth(f)
        (out,) = await controls.cancel_bots(f.manager, ["b1"])
        assert out["ok"]
        assert f.manager.bot("b1").state is BotState.PAUSED
        assert f.manager.bot("b2").state is BotState.RUNNING
        assert not any(c.startswith("mm.b1.") for c in f.orders())
        assert any(c.startswith("mm.b2.") for c in f.orders())

    scenario(body)


def test_cancel_all_on_a_symbol_includes_manual_orders_and_pauses_its_bots() -> None:
    async def body(f: Fleet) -> None:
        await two_btc_bots_and_one_eth(f)
        await f.manual(
            OrderRequest(BTC, Side.BUY, Decimal("0.01"), Decimal("40000.0"), "by-hand", post_only=True)
        )
        result = await controls.cancel_symbol(f.manager, "paper", "BTCUSDT")
        cancelled = {o["client_order_id"] for o in result["cancelled"]}
        assert "by-hand" in cancelled
        assert any(c.startswith("mm.b1.") for c in cancelled)
        assert result["remaining"] == []
        assert sorted(result["paused"]) == ["b1", "b2"]
        assert f.orders(BTC) == []
        await f.run(0.5)
        assert f.orders(BTC) == []  # paused bots do not re-quote
        assert f.manager.bot("e1").state is BotState.RUNNING
        assert f.orders(ETH)

    scenario(body)


def test_cancel_all_everything_clears_every_symbol() -> None:
    async def body(f: Fleet) -> None:
        await two_btc_bots_and_one_eth(f)
        await f.manual(
            OrderRequest(ETH, Side.SELL, Decimal("0.1"), Decimal("3500.00"), "eth-hand", post_only=True)
        )
        results = await controls.cancel_everything(f.manager)
        assert {r["symbol"] for r in results} == {BTC, ETH}
        assert f.orders() == []
        assert {b.state for b in f.manager.bots.values()} == {BotState.PAUSED}

    scenario(body)


def test_cancel_all_on_an_unknown_symbol_is_a_validation_error() -> None:
    async def body(f: Fleet) -> None:
        with pytest.raises(ValidationError, match="FOOUSDT"):
            await controls.cancel_symbol(f.manager, "paper", "FOOUSDT")

    scenario(body)


def test_portfolio_totals_equal_the_sum_of_the_bots() -> None:
    async def body(f: Fleet) -> None:
        await two_btc_bots_and_one_eth(f)
        for symbol, price in ((BTC, "49900"), (ETH, "2990")):
            f.paper.venue.on_trade(Trade(symbol, Decimal(price), Decimal(5), Side.SELL, now_ms(f.clock)))
        await f.run(0.5)
        f.clock.advance(FIGURES_TTL_S)  # the account's figures are refreshed at most this often
        doc = await portfolio(f.manager, 0)
        assert sum(Decimal(b["position"]) != 0 for b in doc["bots"]) >= 2
        for key in ("realized_pnl", "fees", "unrealized_pnl", "net_pnl", "notional"):
            assert Decimal(doc["totals"][key]) == sum(Decimal(b[key]) for b in doc["bots"])
        (account,) = doc["accounts"]
        assert {p["symbol"] for p in account["positions"]} == {BTC, ETH}
        assert Decimal(account["income_since_start"]["COMMISSION"]) == -sum(
            Decimal(b["fees"]) for b in doc["bots"]
        )

    scenario(body)
