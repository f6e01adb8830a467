"""A bot feeds its strategy's signals: every public trade when the strategy asks for trades, its own fills,
and re-quotes when the signals change; a market_maker bot opens no trade stream. Paper venue, manual clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal

from tests.support.rig import PaperWorld
from tests.support.rig import scenario as run_scenario

from mmctl.bots.bot import Bot, BotOptions
from mmctl.bots.definition import BotDefinition
from mmctl.clock import now_ms
from mmctl.config.schema import PaperAccount
from mmctl.model import BookTop, Fill, MarketRules, Side, Trade
from mmctl.strategies.base import DataNeeds, PriceWindows, Quote, QuoteBands, Signals
from mmctl.strategies.market_maker import MarketMaker, MarketMakerParams
from mmctl.strategies.params import parse_params

SYMBOL = "BTC/USDT:USDT"
MID = Decimal(50000)
SHIFT_TICKS = 100  # how far every quote moves down per signals version (2 bps: beyond the tolerance)
# no heartbeat during a test: only books, fills and signals wake the bot
OPTIONS = BotOptions(stop_timeout_s=2.0, heartbeat_s=600.0)


class CountingSignals:
    """Counts what the bot feeds it; its version moves on every third public trade."""

    def __init__(self) -> None:
        self.trades: list[Trade] = []
        self.fills: list[tuple[Fill, Decimal]] = []
        self.books = 0
        self._version = 0

    @property
    def version(self) -> int:
        return self._version

    def on_book(self, book: BookTop) -> None:
        self.books += 1

    def on_trade(self, trade: Trade) -> None:
        self.trades.append(trade)
        if len(self.trades) % 3 == 0:
            self._version += 1

    def on_fill(self, fill: Fill, position: Decimal) -> None:
        self.fills.append((fill, position))


class TradeReadingMaker:
    """market_maker's ladder, every price moved `SHIFT_TICKS` ticks down per version of its signals,
    which read public trades (while `reads_trades`)."""

    name = "trade_reading_maker"
    description = "market_maker shifted by its trade-counting signals (test strategy)"
    params_cls = MarketMakerParams

    def __init__(self) -> None:
        self.inner = MarketMaker()
        self.reads_trades = True
        self.made: list[CountingSignals] = []
        self.versions_quoted: list[int] = []

    def needs(self, params: MarketMakerParams) -> DataNeeds:
        return DataNeeds(trades=self.reads_trades)

    def signals(self, params: MarketMakerParams, rules: MarketRules) -> Signals | None:
        self.made.append(CountingSignals())
        return self.made[-1]

    def check_against_market(
        self, params: MarketMakerParams, rules: MarketRules, reference_price: Decimal
    ) -> None:
        self.inner.check_against_market(params, rules, reference_price)

    def quotes(
        self,
        params: MarketMakerParams,
        book: BookTop,
        position: Decimal,
        rules: MarketRules,
        signals: Signals | None = None,
    ) -> list[Quote]:
        version = 0 if signals is None else signals.version
        self.versions_quoted.append(version)
        shift = rules.tick_size * SHIFT_TICKS * version
        return [
            replace(q, price=q.price - shift, ticks=None, grid=None)
            for q in self.inner.quotes(params, book, position, rules)
        ]

    def quote_bands(
        self,
        params: MarketMakerParams,
        book: BookTop,
        position: Decimal,
        rules: MarketRules,
        windows: PriceWindows,
        signals: Signals | None = None,
    ) -> QuoteBands | None:
        return None


class World(PaperWorld):
    def __init__(self) -> None:
        super().__init__({"paper": PaperAccount(symbols=("BTCUSDT",))}, {SYMBOL: MID}, size=Decimal(2))

    def bot(self, name: str = "b1") -> Bot:
        params = parse_params(
            MarketMakerParams,
            {"levels": "2", "spread_bps": "10", "level_step_bps": "10", "refresh_tolerance_bps": "1"},
        )
        definition = BotDefinition(name, "paper", SYMBOL, "market_maker", params)
        return Bot(definition, self.paper, self.clock, self.events, OPTIONS)

    def trade(self, side: Side, price: Decimal, qty: str = "0.001") -> None:
        self.paper.venue.on_trade(Trade(SYMBOL, price, Decimal(qty), side, now_ms(self.clock)))

    def prices(self) -> list[Decimal]:
        return sorted(o.price for o in self.paper.venue.open_orders(SYMBOL) if o.price is not None)


def scenario(body: Callable[[World], Awaitable[None]]) -> None:
    run_scenario(World(), body)


def test_trades_reach_the_signals_and_every_third_one_moves_the_quotes() -> None:
    """A bot whose strategy reads trades gets every public trade in its signals; the two trades that leave
    the version alone change no order, the third (a new version) wakes the bot, which re-quotes every level
    at once (without a book or heartbeat)."""

    async def body(w: World) -> None:
        strategy = TradeReadingMaker()
        bot = w.bot()
        bot.strategy = strategy
        await bot.start()
        await w.run(0.5)
        (signals,) = strategy.made
        tick = bot.exchange.market(SYMBOL).tick_size
        before = w.prices()
        assert len(before) == 4
        assert bot.market_data.trades.upstream_count() == 1
        w.trade(Side.BUY, MID)  # between our quotes: fills nothing
        w.trade(Side.SELL, MID)
        await w.run(0.5)
        assert [t.side for t in signals.trades] == [Side.BUY, Side.SELL]
        assert w.prices() == before
        assert set(strategy.versions_quoted) == {0}
        w.trade(Side.BUY, MID)
        await w.run(0.3)
        assert len(signals.trades) == 3
        assert 1 in strategy.versions_quoted
        assert w.prices() == [p - tick * SHIFT_TICKS for p in before]
        assert bot.quoter.stats.cancelled == 0  # moved in place by amends
        await bot.stop()

    scenario(body)


def test_the_bots_own_fills_reach_the_signals_with_the_position_after_each() -> None:
    """A public trade through the bot's bid fills it: the signals get that fill and the position after it
    (the bot's inventory), as well as the trade itself."""

    async def body(w: World) -> None:
        strategy = TradeReadingMaker()
        bot = w.bot()
        bot.strategy = strategy
        await bot.start()
        await w.run(0.5)
        (signals,) = strategy.made
        best_bid = max(o.price for o in w.paper.venue.open_orders(SYMBOL) if o.side is Side.BUY and o.price)
        w.trade(Side.SELL, best_bid, qty="10")
        await w.run(0.5)
        assert signals.fills
        fill, position = signals.fills[0]
        assert (fill.side, fill.price) == (Side.BUY, best_bid)
        assert position == fill.qty > 0
        assert signals.fills[-1][1] == bot.inventory.qty
        assert [t.price for t in signals.trades] == [best_bid]
        await bot.stop()

    scenario(body)


def test_params_that_stop_reading_trades_close_the_trade_stream() -> None:
    """When new params make the strategy read only the book, the running bot drops its trade subscription
    (the account's upstream closes); when they read trades again it subscribes anew."""

    async def body(w: World) -> None:
        strategy = TradeReadingMaker()
        bot = w.bot()
        bot.strategy = strategy
        await bot.start()
        await w.run(0.2)
        hub = bot.market_data.trades
        assert hub.subscriptions() == {SYMBOL: 1}
        strategy.reads_trades = False
        bot.update_definition(bot.definition)
        await w.run(0.2)
        assert hub.upstream_count() == 0
        strategy.reads_trades = True
        bot.update_definition(bot.definition)
        await w.run(0.2)
        assert hub.subscriptions() == {SYMBOL: 1}
        w.trade(Side.BUY, MID)
        await w.run(0.2)
        assert len(strategy.made[-1].trades) == 1
        await bot.stop()
        assert hub.upstream_count() == 0

    scenario(body)


def test_a_market_maker_bot_opens_no_trade_stream_and_has_no_fill_hook() -> None:
    """A market_maker bot (no signals) quotes and fills without any trade subscription or fill hook."""

    async def body(w: World) -> None:
        bot = w.bot()
        await bot.start()
        await w.run(0.5)
        assert bot.signals is None
        assert bot.fills.on_booked is None
        w.trade(Side.SELL, min(w.prices()), qty="10")
        await w.run(0.5)
        assert bot.inventory.qty > 0
        assert bot.market_data.trades.upstream_count() == 0
        assert bot.market_data.trades.subscriptions() == {}
        await bot.stop()

    scenario(body)


def test_a_position_held_at_start_is_handed_to_fresh_signals_at_its_entry_price() -> None:
    """A bot restarted with a position (its fills restored) gives its fresh signals one fill of that
    position at the bot's average entry price, so a strategy that manages positions keeps it."""

    async def body(w: World) -> None:
        strategy = TradeReadingMaker()
        bot = w.bot()
        bot.strategy = strategy
        bought = [
            Fill("t1", "o1", "", SYMBOL, Side.BUY, Decimal(49990), Decimal("0.002"), Decimal(0), "USDT", True,
                 Decimal(0), 1),
            Fill("t2", "o2", "", SYMBOL, Side.BUY, Decimal(49970), Decimal("0.002"), Decimal(0), "USDT", True,
                 Decimal(0), 2),
        ]  # fmt: skip
        bot.restore_fills(bought)
        await bot.start()
        await w.run(0.2)
        (signals,) = strategy.made
        held, position = signals.fills[0]
        assert (held.side, held.qty, held.price) == (Side.BUY, Decimal("0.004"), Decimal(49980))
        assert position == Decimal("0.004")
        await bot.stop()

    scenario(body)
