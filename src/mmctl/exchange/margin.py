"""Whether orders fit an account's available margin, by Binance USDⓈ-M's rule, as pure functions.

Binance charges a new order initial margin = notional / leverage (the leverage set for the symbol), taken
from the account's available balance (`Balance.available`, what `Exchange.balance()` reports). In one-way
mode opposite open orders on a symbol are charged for the larger side only, so a set of quotes on both
sides needs margin for max(buy notional, sell notional). Figures here are rounded up to 1e-8 USDT, so "it
fits" is never optimistic. (Binance also adds an open-loss term for orders priced through the mark price;
resting quotes are not, so it is left out.)

A caller such as `start` asks the port for `balance().available`, `leverage(symbol)` and the market's
rules, builds the bot's first orders, and calls `check_orders`: the result says whether they fit and
carries every number needed to refuse with them (`MarginCheck.describe()`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from mmctl.exchange.rules import EXACT
from mmctl.model import ZERO, OrderRequest, OrderType, Side

MARGIN_QUANTUM = Decimal("0.00000001")
CENT = Decimal("0.01")


def initial_margin(notional: Decimal, leverage: int) -> Decimal:
    """notional / leverage, rounded up to 1e-8 USDT (`leverage` >= 1)."""
    if isinstance(leverage, bool) or not isinstance(leverage, int) or leverage < 1:
        raise ValueError(f"leverage must be an integer >= 1, got {leverage!r}")
    quotient, rest = EXACT.divmod(EXACT.multiply(notional, 10**8), leverage)
    if rest > 0:
        quotient = EXACT.add(quotient, 1)
    return EXACT.multiply(quotient, MARGIN_QUANTUM)


@dataclass(frozen=True, slots=True)
class MarginCheck:
    """Orders' initial margin against what is available, with every figure a refusal should show."""

    symbol: str
    leverage: int
    buy_notional: Decimal
    sell_notional: Decimal
    required: Decimal
    available: Decimal

    @property
    def notional(self) -> Decimal:
        """The notional margin is charged for: the larger side."""
        return max(self.buy_notional, self.sell_notional)

    @property
    def fits(self) -> bool:
        return self.required <= self.available

    @property
    def shortfall(self) -> Decimal:
        """How much more available balance the orders need (0 when they fit)."""
        return max(ZERO, EXACT.subtract(self.required, self.available))

    def describe(self) -> str:
        """One line with the numbers, e.g. for `start` refusing a bot."""
        verdict = "fits" if self.fits else f"short by {self.shortfall:f} USDT"
        notional = EXACT.quantize(self.notional, CENT)
        return (
            f"{self.symbol}: orders of {notional:f} USDT notional need {self.required:f} USDT initial "
            f"margin at {self.leverage}x; {self.available:f} USDT available ({verdict})"
        )


def check_orders(
    orders: Iterable[OrderRequest], leverage: int, available: Decimal, mark_price: Decimal | None = None
) -> MarginCheck:
    """Initial margin of opening `orders` (one symbol, no other open orders or position on it) at
    `leverage` against `available`. Market orders are priced at `mark_price`; reduce-only orders need no
    margin."""
    symbol = ""
    buys = sells = ZERO
    for order in orders:
        symbol = symbol or order.symbol
        if order.symbol != symbol:
            raise ValueError(f"orders for one symbol only, got {symbol} and {order.symbol}")
        if order.reduce_only:
            continue
        price = order.price if order.type is OrderType.LIMIT else mark_price
        if price is None:
            raise ValueError(f"a {order.type} order needs a price (give mark_price for market orders)")
        if order.side is Side.BUY:
            buys = EXACT.add(buys, EXACT.multiply(price, order.qty))
        else:
            sells = EXACT.add(sells, EXACT.multiply(price, order.qty))
    required = initial_margin(max(buys, sells), leverage)
    return MarginCheck(symbol, leverage, buys, sells, required, available)
