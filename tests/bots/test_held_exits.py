"""Exits held on the venue: a bot whose strategy names them places them as close-position conditional
orders with its own ids, the venue closes the position by itself when one triggers, and every stop
cancels them. Paper venue, manual clock, the manager's runtime."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.support.rig import BTC, PaperFleet
from tests.support.rig import scenario as run_scenario

from mmctl.bots.held_exits import STOP_LEVEL, TAKE_PROFIT_LEVEL
from mmctl.bots.ids import parse
from mmctl.config.schema import PaperAccount
from mmctl.exchange.conditional import ConditionalKind
from mmctl.exchange.rules import ceil_to, floor_to
from mmctl.model import BookTop, Fill, MarketRules, Side, Trade
from mmctl.strategies import registry
from mmctl.strategies.base import HeldExit, Quote, Signals
from mmctl.strategies.market_maker import MarketMaker, MarketMakerParams

STOP_BPS = Decimal("0.99")
TARGET_BPS = Decimal("1.01")


class Entry:
    """Signals that remember the price of the bot's first fill."""

    def __init__(self) -> None:
        self.price: Decimal | None = None
        self.version = 0

    def on_book(self, book: BookTop) -> None:
        pass

    def on_trade(self, trade: Trade) -> None:
        pass

    def on_fill(self, fill: Fill, position: Decimal) -> None:
        if self.price is None:
            self.price, self.version = fill.price, self.version + 1


class BuyAndHold(MarketMaker):
    """Buys ten times the minimum size at the ask until it has a position (a marketable limit), then holds
    a stop 1 % below its entry and a take-profit 1 % above (test strategy)."""

    name = "buy_and_hold"
    description = "buy once, hold exits on the venue (test strategy)"

    def signals(self, params: MarketMakerParams, rules: MarketRules) -> Signals | None:
        return Entry()

    def quotes(
        self,
        params: MarketMakerParams,
        book: BookTop,
        position: Decimal,
        rules: MarketRules,
        signals: Signals | None = None,
    ) -> list[Quote]:
        assert isinstance(signals, Entry)
        if position != 0 or signals.price is not None:
            return []
        return [Quote(Side.BUY, 0, book.ask, rules.min_qty * 10, post_only=False)]

    def quote_bands(self, *args: Any, **kwargs: Any) -> None:
        return None

    def held_exits(
        self, params: Any, position: Decimal, rules: MarketRules, signals: Signals | None
    ) -> list[HeldExit]:
        assert isinstance(signals, Entry)
        if position <= 0 or signals.price is None:
            return []
        return [
            HeldExit("stop", floor_to(signals.price * STOP_BPS, rules.tick_size)),
            HeldExit("take_profit", ceil_to(signals.price * TARGET_BPS, rules.tick_size)),
        ]


class Rig(PaperFleet):
    def __init__(self) -> None:
        super().__init__(
            {"paper": PaperAccount(symbols=("BTCUSDT",))}, {BTC: 90_000}, books_every=1, half=Decimal("0.1")
        )


def scenario(body: Any) -> None:
    strategy = BuyAndHold()
    reg = registry()
    reg.strategies["buy_and_hold"] = strategy  # a strategy registered as a plugin would be
    try:
        run_scenario(Rig(), body)
    finally:
        del reg.strategies["buy_and_hold"]


async def holding(r: Rig) -> list[Any]:
    await r.manager.create("h1", "paper", "BTCUSDT", "buy_and_hold", {})
    [started] = await r.until_done(r.manager.start(["h1"]))
    assert started["ok"], started
    await r.run(1)
    assert r.manager.bot("h1").inventory.qty > 0
    return await r.paper.open_conditionals(BTC)


def test_a_position_gets_a_stop_and_a_take_profit_held_on_the_venue_with_the_bots_ids() -> None:
    """Once the bot holds a position, the venue holds a close-position stop and take-profit for it, each
    carrying the bot's id at its exit level."""

    async def body(r: Rig) -> None:
        held = await holding(r)
        by_kind = {o.kind: o for o in held}
        assert set(by_kind) == {ConditionalKind.STOP_MARKET, ConditionalKind.TAKE_PROFIT_MARKET}
        for order, level in ((by_kind[ConditionalKind.STOP_MARKET], STOP_LEVEL),
                             (by_kind[ConditionalKind.TAKE_PROFIT_MARKET], TAKE_PROFIT_LEVEL)):  # fmt: skip
            own = parse(order.client_id)
            assert own is not None
            assert (own.bot, own.side, own.level) == ("h1", Side.SELL, level)
            assert order.close_position
        entry = r.manager.bot("h1").inventory.entry_price
        stop = by_kind[ConditionalKind.STOP_MARKET]
        assert stop.trigger_price == floor_to(entry * STOP_BPS, Decimal("0.1"))

    scenario(body)


def test_the_venue_closes_the_position_when_the_held_stop_triggers() -> None:
    """A drop through the stop triggers it on the venue itself; the closing fill is the bot's (its id is
    the stop's), the bot is flat, and the take-profit it no longer needs is cancelled."""

    async def body(r: Rig) -> None:
        [stop] = [o for o in await holding(r) if o.kind is ConditionalKind.STOP_MARKET]
        r.mids[BTC] = Decimal(89_000)
        await r.run(1)
        bot = r.manager.bot("h1")
        assert bot.inventory.qty == 0
        fills = [e for e in r.manager.events.since(0, "h1") if e.kind == "fill"]
        assert fills[-1].data["client_order_id"] == stop.client_id
        assert await r.paper.open_conditionals(BTC) == []

    scenario(body)


def test_a_stop_cancels_the_held_exits_and_keeps_the_position() -> None:
    """`stop` cancels the bot's exits held on the venue (confirmed: the venue lists none) and, without
    --flatten, leaves the position as it is."""

    async def body(r: Rig) -> None:
        assert len(await holding(r)) == 2
        [stopped] = await r.until_done(r.manager.stop(["h1"]))
        assert stopped["ok"], stopped
        assert stopped["cancelled"] >= 2
        assert await r.paper.open_conditionals(BTC) == []
        assert r.manager.bot("h1").inventory.qty > 0

    scenario(body)
