"""Flattening: close a bot's own position with one market order and wait for its fills to be booked.

Several bots may quote one symbol on one account, and the venue keeps one net position for them all; each
bot's own position comes from its own fills. A flatten closes the bot's own position entirely, so the
account's net stays the sum of the remaining bots' own positions (issue 9 item 10: capping the order at
the net, or skipping it when the net was on the other side, left an unexplained residual once the bot
was removed). The order is reduce-only when it stays within the net on the same side (it can only
reduce the account's position); otherwise it is a plain market order, and the result says so. It is
recorded like every order of the bot (`mmctl.bots.submits`).
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
    if own == 0:
        return {"closed": "0", "note": "no position of this bot to close"}
    net = (await bot.exchange.position(symbol)).qty
    rules = bot.rules or bot.exchange.market(symbol)
    qty = round_qty(abs(own), rules.step_size)
    if qty <= 0:
        return {"closed": "0", "note": "position below the step size"}
    side = Side.SELL if own > 0 else Side.BUY
    reduce_only = (own > 0) == (net > 0) and net != 0 and qty <= abs(net)
    request = OrderRequest(
        symbol, side, qty, None, bot.quoter.new_id(side, 0), OrderType.MARKET, reduce_only=reduce_only
    )
    (result,) = await bot.quoter.submits.place([request])  # recorded; an ambiguous one is looked up later
    if result.error is not None:
        return {"closed": "0", "error": str(result.error), "reduce_only": reduce_only}
    filled = result.order.filled if result.order is not None else qty
    note = "" if reduce_only else f" (not reduce-only: the account's net position is {net})"
    bot.events.add(
        bot.name,
        "order",
        f"flatten: {side} {filled} of {qty} market{' reduce-only' if reduce_only else ''}{note}",
        side=side.value,
        qty=str(qty),
        filled=str(filled),
        reduce_only=reduce_only,
        client_order_id=request.client_order_id,
    )
    await bot.fills.wait_for(own - filled if own > 0 else own + filled, SETTLE_S)
    outcome: dict[str, Any] = {"closed": str(filled), "side": side.value, "reduce_only": reduce_only}
    if not reduce_only:
        outcome["note"] = f"closed beyond the account's net position of {net} (other bots hold the rest)"
    return outcome
