"""What feeds a bot's strategy signals (`mmctl.strategies.base.Signals`, per-bot market state).

Fresh signals are built for the current params at each start and on a change of params; a position the
bot already holds is handed to them as one fill. While the bot runs they get its own booked fills
(`on_fill`, with the position after each) and, when the strategy's `needs` ask for them, every public
trade of the symbol (`on_trade`, through the account's shared trade subscription, watched by a task of
its own). When the signals' `version` changes the bot wakes to re-quote. A bot without signals
(market_maker) has neither hook nor trade subscription.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING

from mmctl.clock import now_ms
from mmctl.model import ZERO, Fill, MarketRules, Side, Trade
from mmctl.strategies.base import Signals

if TYPE_CHECKING:
    from mmctl.bots.bot import Bot


class SignalFeed:
    """One bot's signals plumbing: builds its signals and feeds them fills and public trades."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.trade_watch: asyncio.Task[None] | None = None  # while running, if the strategy reads trades

    def fresh(self, rules: MarketRules) -> Signals | None:
        """Fresh signals for the current params. A position the bot already holds (restored after a
        restart, or held when its params change) is handed to them as one fill at the bot's average entry
        price, so a strategy that manages positions (exits measured from the entry) keeps managing it."""
        bot = self.bot
        signals = bot.strategy.signals(bot.params, rules)
        qty = bot.inventory.qty
        if signals is not None and qty != 0:
            side = Side.BUY if qty > 0 else Side.SELL
            held = Fill(
                trade_id="held-position",
                order_id="",
                client_order_id="",
                symbol=rules.symbol,
                side=side,
                price=bot.inventory.entry_price,
                qty=qty.copy_abs(),
                fee=ZERO,
                fee_asset=rules.quote,
                maker=True,
                realized_pnl=ZERO,
                ts_ms=now_ms(bot.clock),
            )
            signals.on_fill(held, qty)
        return signals

    def follow_trades(self, helpers: list[asyncio.Task[None]]) -> None:
        """While running (`helpers`: the running bot's helper tasks, empty when it is not running), watch
        the symbol's public trades exactly when the strategy's signals read them (its `needs` for the
        current params). A new watcher joins `helpers`."""
        bot = self.bot
        task = self.trade_watch
        wants = bool(helpers) and bot.signals is not None and bot.strategy.needs(bot.params).wants_trades
        if wants == (task is not None):
            return
        if task is not None:
            task.cancel()  # its subscription closes on the way out; the bot's helper stop awaits it
            self.trade_watch = None
        else:
            self.trade_watch = asyncio.create_task(self._watch_trades(), name=f"{bot.name}-trades")
            helpers.append(self.trade_watch)

    async def _watch_trades(self) -> None:
        """Public trades from the account's shared subscription into the signals (`on_trade`).
        Resubscribe if the stream fails (or the signals raised)."""
        bot = self.bot
        while True:
            try:
                async with bot.market_data.subscribe_trades(bot.definition.symbol, self.on_trade) as sub:
                    await sub.wait_closed()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                bot.events.add(bot.name, "error", f"trade stream failed: {e}; resubscribing")
            await bot.clock.sleep(1.0)

    def on_trade(self, trade: Trade) -> None:
        """A public trade for the signals; a new signals `version` wakes the loop (its quotes may move)."""
        signals = self.bot.signals
        if signals is not None:
            version = signals.version
            signals.on_trade(trade)
            if signals.version != version:
                self.bot.wake()

    def on_fill(self, fill: Fill, position: Decimal) -> None:
        """One of the bot's fills, booked, for the signals; a new `version` wakes the loop."""
        signals = self.bot.signals
        if signals is not None:
            version = signals.version
            signals.on_fill(fill, position)
            if signals.version != version:
                self.bot.wake()
