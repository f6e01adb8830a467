"""The bot runtime on the paper venue, driven book by book on a manual clock (no real waiting)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from tests.support.rig import PaperWorld
from tests.support.rig import scenario as run_scenario

from mmctl.bots.bot import Bot, BotOptions, BotState
from mmctl.bots.definition import BotDefinition
from mmctl.clock import now_ms
from mmctl.config.schema import PaperAccount
from mmctl.errors import AuthError, VenueUnavailable
from mmctl.exchange.base import Exchange
from mmctl.exchange.faults import FaultyExchange
from mmctl.fleet.manager import BotManager
from mmctl.model import OrderRequest, Side, Trade
from mmctl.store.base import MemoryDefinitionStore
from mmctl.strategies.market_maker import MarketMakerParams
from mmctl.strategies.params import parse_params

SYMBOL = "BTC/USDT:USDT"
OPTIONS = BotOptions(stop_timeout_s=2.0, max_failures=3, backoff_base_s=0.1, backoff_max_s=0.4)


class World(PaperWorld):
    """A paper venue with no feed, a manual clock, and helpers to move the market."""

    def __init__(self) -> None:
        super().__init__({"paper": PaperAccount(symbols=("BTCUSDT",))}, {SYMBOL: 50000}, size=Decimal(2))
        self.faulty = FaultyExchange(self.paper, self.clock)

    @property
    def mid(self) -> Decimal:
        return self.mids[SYMBOL]

    @property
    def venue_orders(self) -> list[str]:
        return self.orders(symbol=SYMBOL)

    def book(self, mid: Decimal | None = None) -> None:
        if mid is not None:
            self.mids[SYMBOL] = mid
        self.books()

    def best_bid(self, prefix: str = "mm.") -> Decimal:
        """The highest resting bid among orders whose client id starts with `prefix`."""
        bids = [
            o.price
            for o in self.paper.venue.open_orders(SYMBOL)
            if o.side is Side.BUY and o.price is not None and o.client_order_id.startswith(prefix)
        ]
        return max(bids)

    def trade(self, side: Side, price: Decimal, qty: Decimal) -> None:
        self.paper.venue.on_trade(Trade(SYMBOL, price, qty, side, now_ms(self.clock)))

    def bot(self, exchange: Exchange | None = None, name: str = "b1", **params: str) -> Bot:
        p = parse_params(
            MarketMakerParams, {"levels": "2", "spread_bps": "10", "level_step_bps": "10", **params}
        )
        definition = BotDefinition(name, "paper", SYMBOL, "market_maker", p)
        return Bot(definition, exchange or self.paper, self.clock, self.events, OPTIONS)


def scenario(body: Callable[[World], Awaitable[None]]) -> None:
    run_scenario(World(), body)


def test_start_places_post_only_quotes_on_both_sides_at_every_level() -> None:
    async def body(w: World) -> None:
        bot = w.bot()
        await bot.start()
        await w.run(0.5)
        orders = w.paper.venue.open_orders(SYMBOL)
        bids = sorted((o for o in orders if o.side is Side.BUY), key=lambda o: -o.price)  # type: ignore[operator]
        asks = sorted((o for o in orders if o.side is Side.SELL), key=lambda o: o.price)  # type: ignore[arg-type,return-value]
        assert bot.state is BotState.RUNNING
        assert len(bids) == 2
        assert len(asks) == 2
        assert all(o.post_only for o in orders)
        assert bids[0].price is not None
        assert bids[0].price < w.mid < asks[0].price  # type: ignore[operator]
        assert [o.client_order_id.split(".")[2] for o in bids] == ["b0", "b1"]
        await bot.stop()

    scenario(body)


def test_a_trade_through_the_bid_fills_and_the_level_is_quoted_again() -> None:
    async def body(w: World) -> None:
        bot = w.bot()
        await bot.start()
        await w.run(0.5)
        w.trade(Side.SELL, w.best_bid(), Decimal(10))
        await w.run(0.5)
        assert bot.inventory.qty > 0
        assert bot.inventory.fills >= 1
        assert any(e.kind == "fill" for e in w.events.since(0, "b1"))
        assert len([o for o in w.paper.venue.open_orders(SYMBOL) if o.side is Side.BUY]) == 2
        await bot.stop()

    scenario(body)


def test_stop_cancels_every_order_and_confirms() -> None:
    async def body(w: World) -> None:
        bot = w.bot()
        await bot.start()
        await w.run(0.5)
        assert w.venue_orders
        result = await bot.stop()
        assert result["cancelled"] == 4
        assert w.venue_orders == []
        assert bot.state is BotState.STOPPED

    scenario(body)


def test_small_book_moves_within_tolerance_cost_no_cancels() -> None:
    """A move within the refresh tolerance changes no order; a wider one re-prices every order, by amends
    in place (no cancel)."""

    async def body(w: World) -> None:
        bot = w.bot(refresh_tolerance_bps="5")
        await bot.start()
        await w.run(0.5)
        before = sorted(w.venue_orders)
        prices = {o.client_order_id: o.price for o in w.paper.venue.open_orders(SYMBOL)}
        w.book(w.mid + Decimal("1"))  # 0.2 bps
        await w.run(0.5)
        assert sorted(w.venue_orders) == before
        assert bot.quoter.stats.cancelled == 0
        w.book(w.mid + Decimal("100"))  # 20 bps: everything moves
        await w.run(0.5)
        now = {o.client_order_id: o.price for o in w.paper.venue.open_orders(SYMBOL)}
        assert all(now.get(cid) != price for cid, price in prices.items())
        assert bot.quoter.stats.cancelled == 0
        assert bot.quoter.stats.amended >= 2  # the sells the jump filled are placed anew
        await bot.stop()

    scenario(body)


def test_leftover_orders_of_the_bot_are_cancelled_at_start_and_manual_orders_kept() -> None:
    async def body(w: World) -> None:
        leftover = OrderRequest(
            SYMBOL, Side.BUY, Decimal("0.003"), Decimal("45000"), "mm.b1.b0.zzzz", post_only=True
        )
        manual = OrderRequest(
            SYMBOL, Side.BUY, Decimal("0.003"), Decimal("44000"), "my-own-order", post_only=True
        )
        results = await w.paper.place_orders([leftover, manual])
        assert all(r.ok for r in results)
        bot = w.bot()
        await bot.start()
        await w.run(0.3)
        assert "mm.b1.b0.zzzz" not in w.venue_orders
        assert "my-own-order" in w.venue_orders
        await bot.stop()
        assert w.venue_orders == ["my-own-order"]

    scenario(body)


def test_parameter_change_applies_at_the_next_tick() -> None:
    async def body(w: World) -> None:
        bot = w.bot(levels="3")
        await bot.start()
        await w.run(0.5)
        assert len(w.venue_orders) == 6
        new = parse_params(MarketMakerParams, {"levels": "1", "spread_bps": "10"})
        bot.update_definition(BotDefinition("b1", "paper", SYMBOL, "market_maker", new))
        await w.run(0.5)
        assert len(w.venue_orders) == 2
        await bot.stop()

    scenario(body)


def test_start_fails_clearly_when_the_venue_is_unreachable() -> None:
    async def body(w: World) -> None:
        w.faulty.fail("balance")
        bot = w.bot(w.faulty)
        with pytest.raises(VenueUnavailable, match="cannot reach account 'paper'"):
            await bot.start()
        assert bot.state is BotState.ERROR
        assert w.venue_orders == []

    scenario(body)


def test_transient_failures_are_retried_without_stopping_the_bot() -> None:
    async def body(w: World) -> None:
        bot = w.bot(w.faulty)
        await bot.start()
        w.faulty.fail("place_orders", times=2)
        w.book(w.mid + Decimal("100"))
        await w.run(2.0)
        assert bot.state is BotState.RUNNING
        assert len(w.venue_orders) == 4
        assert any(e.kind == "retry" for e in w.events.since(0, "b1"))
        await bot.stop()

    scenario(body)


def test_a_venue_failing_every_call_puts_the_bot_in_error_holding_no_orders() -> None:
    async def body(w: World) -> None:
        bot = w.bot(w.faulty)
        await bot.start()
        w.faulty.fail()  # every call from now on
        await w.run(5.0)
        assert bot.state is BotState.ERROR
        assert bot.last_error is not None
        assert "consecutive failures" in bot.last_error
        assert w.venue_orders == []

    scenario(body)


def test_repeated_failures_after_quoting_end_in_error_with_orders_cancelled() -> None:
    async def body(w: World) -> None:
        bot = w.bot(w.faulty)
        await bot.start()
        await w.run(0.5)
        assert len(w.venue_orders) == 4
        w.faulty.fail("place_orders")  # quoting fails, cancelling still works
        w.book(w.mid + Decimal("100"))
        await w.run(5.0)
        assert bot.state is BotState.ERROR
        assert w.venue_orders == []

    scenario(body)


def test_a_fatal_error_stops_the_bot_at_once_and_cancels() -> None:
    async def body(w: World) -> None:
        bot = w.bot(w.faulty)
        await bot.start()
        await w.run(0.5)
        w.faulty.fail("place_orders", error=AuthError("API key revoked"))
        w.book(w.mid + Decimal("100"))
        await w.run(1.0)
        assert bot.state is BotState.ERROR
        assert bot.last_error == "API key revoked"
        assert w.venue_orders == []

    scenario(body)


def test_when_even_cancels_fail_the_venue_countdown_removes_the_orders() -> None:
    async def body(w: World) -> None:
        bot = w.bot(w.faulty)
        await bot.start()
        await w.run(0.5)
        assert len(w.venue_orders) == 4
        w.faulty.fail()
        await w.run(6.0)
        assert bot.state is BotState.ERROR
        assert "orders may remain" in (bot.last_error or "")
        w.paper.venue.advance_to(now_ms(w.clock) + int(OPTIONS.countdown_s * 1000) + 1)
        assert w.venue_orders == []

    scenario(body)


def test_stop_with_flatten_closes_the_bots_position() -> None:
    async def body(w: World) -> None:
        bot = w.bot()
        await bot.start()
        await w.run(0.5)
        w.trade(Side.SELL, w.best_bid(), Decimal(10))
        await w.run(0.3)
        held = bot.inventory.qty
        assert held > 0
        result = await bot.stop(flatten=True)
        assert result["flatten"]["closed"] == str(held)
        assert (await w.paper.position(SYMBOL)).qty == 0
        assert bot.inventory.qty == 0
        assert w.venue_orders == []

    scenario(body)


def test_two_bots_on_one_symbol_keep_their_own_inventory() -> None:
    async def body(w: World) -> None:
        a, b = w.bot(name="a", spread_bps="10"), w.bot(name="b", spread_bps="30")
        await a.start()
        await b.start()
        await w.run(0.5)
        w.trade(Side.SELL, w.best_bid("mm.a.b0"), Decimal("0.001"))
        await w.run(0.3)
        assert a.inventory.qty == Decimal("0.001")
        assert b.inventory.qty == 0
        await a.stop()
        assert all(cid.startswith("mm.b.") for cid in w.venue_orders)
        await b.stop()
        assert w.venue_orders == []

    scenario(body)


def test_manager_shutdown_stops_every_running_bot() -> None:
    async def body(w: World) -> None:
        manager = BotManager({"paper": w.paper}, MemoryDefinitionStore(), w.clock, w.events, options=OPTIONS)
        await manager.create("x1", "paper", "BTCUSDT", "market_maker", {"levels": "2"})
        await manager.create("x2", "paper", "BTCUSDT", "market_maker", {"levels": "1", "spread_bps": "40"})
        outcomes = await manager.start([], all_bots=True)
        assert all(o["ok"] for o in outcomes)
        await w.run(0.5)
        assert len(w.venue_orders) == 6
        await manager.shutdown()
        assert w.venue_orders == []
        assert {b.state for b in manager.bots.values()} == {BotState.STOPPED}

    scenario(body)
