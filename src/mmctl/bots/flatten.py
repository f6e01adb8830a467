"""Flattening: close a bot's own position with one reduce-only market order, never more than the venue's
net position on the symbol (several bots may share it), and wait for its fills to be booked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmctl.exchange.rules import round_qty
from mmctl.model import OrderRequest, OrderType, Side

if TYPE_CHECKING:
    from mmctl.bots.bot import Bot

SETTLE_S = 5.0  # how long a flatten waits for its fills to arrive on the order stream


async def flatten_position(bot: Bot) -> dict[str, Any]:
    symbol = bot.definition.symbol
    own = bot.inventory.qty
    net = (await bot.exchange.position(symbol)).qty
    if own == 0 or net == 0 or (own > 0) != (net > 0):
        return {"closed": "0", "note": "no position of this bot to close"}
    rules = bot.rules or bot.exchange.market(symbol)
    qty = round_qty(min(abs(own), abs(net)), rules.step_size)
    if qty <= 0:
        return {"closed": "0", "note": "position below the step size"}
    side = Side.SELL if own > 0 else Side.BUY
    request = OrderRequest(
        symbol, side, qty, None, bot.quoter.new_id(side, 0), OrderType.MARKET, reduce_only=True
    )
    (result,) = await bot.exchange.place_orders([request])
    if result.error is not None:
        return {"closed": "0", "error": str(result.error)}
    filled = result.order.filled if result.order is not None else qty
    bot.events.add(bot.name, "order", f"flatten: {side} {filled} of {qty} reduce-only market")
    await bot.fills.wait_for(own - filled if own > 0 else own + filled, SETTLE_S)
    return {"closed": str(filled), "side": side.value}
