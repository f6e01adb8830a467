"""Which part of an order's fills a bot has not booked yet, from the venue's own trade records (used to
recover the fills an order-stream gap hid; `mmctl.bots.quoting.Quoter.recover_fills`)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from mmctl.model import ZERO, Fill, Order
from mmctl.pnl.position import CTX, money


def unbooked_trades(
    order: Order, booked: Decimal, trades: list[Fill], fallback_price: Decimal, maker_fee: Decimal, now: int
) -> list[Fill]:
    """The fills of `order` beyond the `booked` quantity, from the venue's trade records (oldest first;
    a trade straddling `booked` contributes its unbooked part and that share of its fee), then, for any
    filled quantity the records do not show, one estimated fill at the maker rate."""
    out: list[Fill] = []
    seen = ZERO
    for trade in trades:
        if trade.order_id != order.id:
            continue
        start, seen = seen, CTX.add(seen, trade.qty)
        new = CTX.subtract(min(seen, order.filled), max(start, booked))
        if new <= 0:
            continue
        fee = trade.fee if new == trade.qty else money(CTX.divide(CTX.multiply(trade.fee, new), trade.qty))
        out.append(replace(trade, client_order_id=order.client_order_id, qty=new, fee=fee))
    rest = CTX.subtract(order.filled, max(seen, booked))
    if rest > 0:
        price = order.avg_price or order.price or fallback_price
        out.append(
            Fill(
                f"recovered:{order.client_order_id}:{order.filled}",
                order.id,
                order.client_order_id,
                order.symbol,
                order.side,
                price,
                rest,
                money(CTX.multiply(CTX.multiply(price, rest), maker_fee)),
                "USDT",
                True,
                ZERO,
                now,
            )
        )
    return out
