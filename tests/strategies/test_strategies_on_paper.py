"""Each built-in strategy end to end on the paper venue: a bot created through the manager, fed the
synthetic market's book tops and public trades on simulated time, trades, and stops with nothing left
open. The runtime is the daemon's (`BotManager`, `Bot`, the trade subscription, the order diff)."""

from __future__ import annotations

import pytest
from tests.support.rig import BTC, PaperFleet
from tests.support.rig import scenario as run_scenario
from tests.support.settle import settle

from mmctl.backtest.data import synthetic_events
from mmctl.clock import now_ms
from mmctl.config.schema import PaperAccount
from mmctl.model import BookTop

MINUTES = 15
CASES = {
    "avellaneda_stoikov": {"levels": "2", "k_window_s": "120", "sigma_window_s": "60"},
    "rsi": {"candle_interval_s": "5", "period": "5", "entry": "market", "stop_loss": "0.1",
            "take_profit": "0.1"},
    "macd": {"candle_interval_s": "5", "fast": "3", "slow": "6", "signal": "3", "entry": "market",
             "stop_loss": "0.1"},
    "mean_reversion": {"candle_interval_s": "5", "period": "10", "entry_z": "1", "exit_z": "0.2",
                       "entry": "market", "stop_loss": "0.1"},
}  # fmt: skip


class Market(PaperFleet):
    """One paper account on BTCUSDT whose market is the synthetic feed, pushed event by event."""

    def __init__(self) -> None:
        super().__init__({"paper": PaperAccount(symbols=("BTCUSDT",))}, {BTC: 90_000})

    async def play(self, minutes: int, seed: int = 7) -> None:
        """Push `minutes` of the synthetic market, moving the clock to each event's time."""
        start = now_ms(self.clock)
        venue = self.paper.venue
        for event in synthetic_events("BTCUSDT", start, minutes * 60, seed):
            ahead = (event.ts_ms - now_ms(self.clock)) / 1000
            if ahead > 0:
                self.clock.advance(ahead)
            if isinstance(event, BookTop):
                venue.on_book(event)
                await settle(3)
            else:
                venue.on_trade(event)


@pytest.mark.parametrize("strategy", sorted(CASES))
def test_each_strategy_trades_on_the_paper_venue_and_stops_clean(strategy: str) -> None:
    """A bot of each strategy quotes or enters from what the market shows it (estimates warmed up from
    trades, signals from candles), gets filled, and its stop leaves no order open."""

    async def body(m: Market) -> None:
        await m.manager.create("s1", "paper", "BTCUSDT", strategy, CASES[strategy])
        [started] = await m.until_done(m.manager.start(["s1"]))
        assert started["ok"], started
        await m.play(MINUTES)
        bot = m.manager.bot("s1")
        placed = [e for e in m.manager.events.since(0, "s1") if e.kind == "order"]
        assert placed, "the bot never placed an order"
        assert bot.inventory.volume > 0, "the bot never traded"
        [stopped] = await m.until_done(m.manager.stop(["s1"]))
        assert stopped["ok"], stopped
        assert m.paper.venue.open_orders(BTC) == []

    run_scenario(Market(), body)
