"""Parameters shared by the directional strategies (rsi, macd, mean_reversion): candles, sides, entries,
sizing and exits, their cross-field rules and their check against a market. Each strategy adds its rule's
own parameters in its module (`mmctl.strategies.rsi`...).

Sizing: `risk_fraction = 0` trades `order_size` base units (0 = the venue's minimum at the entry price).
`risk_fraction > 0` sizes each entry so that the stop costs that fraction of `capital` (size = capital ×
risk_fraction / distance from the entry to the stop, rounded down to the step), capped at capital ×
leverage of notional. The issue asks for a "fraction of equity", but a strategy sees the book and the
position only, never the wallet: `capital` is the quote-currency amount the operator gives the bot (its
share of the account), and must be set (> 0) with risk sizing, as must a stop (`stop_loss`, else
`trailing_stop`) to measure the risk against.

Exits: `stop_loss`, `take_profit` and `trailing_stop` are distances from the entry (from the best price
since entry for the trailing stop) in `exit_unit`: percent of the price ("pct") or multiples of the ATR
of `atr_period` candles ("atr"); 0 turns an exit off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, NoReturn

from mmctl.errors import ValidationError
from mmctl.exchange.rules import EXACT, floor_to, min_qty_for
from mmctl.model import MarketRules
from mmctl.strategies.directional import ExitUnit, Sides
from mmctl.strategies.params import StrategyParams, spec

Entry = Literal["post_only", "market"]
MAX_EXIT = Decimal(1000)  # percent or ATR multiples: no meaningful exit is farther
HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class DirectionalParams(StrategyParams):
    """Parameters every directional strategy shares (see the module docstring)."""

    candle_interval_s: int = field(
        default=60, metadata=spec("length of the candles the signal is computed on", min=1, max=86_400)
    )
    sides: Sides = field(
        default="both", metadata=spec("which positions the strategy may take: long, short or both")
    )
    entry: Entry = field(
        default="post_only",
        metadata=spec(
            "how a position is entered: post_only (a maker order at the own touch) or market (a "
            "marketable limit bounded by max_slippage_bps)"
        ),
    )
    order_size: Decimal = field(
        default=Decimal(0),
        metadata=spec(
            "entry size in base units when risk_fraction is 0; 0 = the market's minimum size at the price",
            min=Decimal(0),
            unit="base",
        ),
    )
    risk_fraction: Decimal = field(
        default=Decimal(0),
        metadata=spec(
            "risk per trade: size each entry so the stop loses this fraction of capital; 0 = order_size",
            min=Decimal(0),
            max=Decimal(1),
            unit="fraction",
        ),
    )
    capital: Decimal = field(
        default=Decimal(0),
        metadata=spec(
            "quote currency the bot trades with (risk sizing's equity; positions capped at capital × "
            "leverage); required with risk_fraction",
            min=Decimal(0),
            unit="quote",
        ),
    )
    stop_loss: Decimal = field(
        default=Decimal(0),
        metadata=spec(
            "close the position when the price moves this far against the entry; 0 = off",
            min=Decimal(0),
            max=MAX_EXIT,
            unit="pct|atr",
        ),
    )
    take_profit: Decimal = field(
        default=Decimal(0),
        metadata=spec(
            "rest a reduce-only order this far in favour of the entry; 0 = off",
            min=Decimal(0),
            max=MAX_EXIT,
            unit="pct|atr",
        ),
    )
    trailing_stop: Decimal = field(
        default=Decimal(0),
        metadata=spec(
            "close the position when the price falls back this far from its best since entry; 0 = off",
            min=Decimal(0),
            max=MAX_EXIT,
            unit="pct|atr",
        ),
    )
    exit_unit: ExitUnit = field(
        default="pct",
        metadata=spec("unit of stop_loss, take_profit and trailing_stop: pct (of the price) or atr"),
    )
    atr_period: int = field(
        default=14,
        metadata=spec("candles in the ATR that atr exits are measured in", min=1, max=1000, unit="candles"),
    )
    max_slippage_bps: Decimal = field(
        default=Decimal(20),
        metadata=spec(
            "market entries and exits pay at most this far beyond the opposite best price",
            min=Decimal(0),
            max=Decimal(1000),
        ),
    )

    def check(self) -> None:
        check_directional(self)

    @property
    def exits_in_atr(self) -> bool:
        """True when an exit is on and measured in ATRs (the strategy then needs the ATR to enter)."""
        return self.exit_unit == "atr" and (
            self.stop_loss > 0 or self.take_profit > 0 or self.trailing_stop > 0
        )

    @property
    def risk_stop(self) -> Decimal:
        """The exit distance risk sizing measures against: stop_loss, else trailing_stop (0: none)."""
        return self.stop_loss if self.stop_loss > 0 else self.trailing_stop


def check_directional(params: DirectionalParams) -> None:
    """The shared cross-field rules (subclasses' `check` call it first: zero-argument `super()` does not
    work in slotted dataclasses on Python 3.11)."""
    if params.risk_fraction > 0:
        if params.capital <= 0:
            _fail(
                "capital",
                f"capital: risk_fraction {params.risk_fraction} sizes trades as a fraction of capital; "
                "set capital (> 0, in quote currency) to the amount the bot trades with",
            )
        if params.risk_stop <= 0:
            _fail(
                "stop_loss",
                f"stop_loss: risk_fraction {params.risk_fraction} sizes trades by the distance to the stop; "
                "set stop_loss (or trailing_stop)",
            )
    if params.exit_unit == "pct":
        for name in ("stop_loss", "trailing_stop"):
            value: Decimal = getattr(params, name)
            if value >= HUNDRED:
                _fail(
                    name, f"{name}: {value} % would put the stop at or beyond a price of 0; use less than 100"
                )
        if params.take_profit >= HUNDRED and params.sides != "long":
            _fail(
                "take_profit",
                f"take_profit: {params.take_profit} % would put a short's target at or below a price of 0; "
                "use less than 100 (or sides = long)",
            )


def _fail(name: str, message: str) -> NoReturn:
    raise ValidationError(message, data={"field": name})


def check_against_market(params: DirectionalParams, rules: MarketRules, reference_price: Decimal) -> None:
    """Raise `ValidationError` naming the field when `params` cannot trade `rules`' market at this price."""
    sym = rules.symbol
    if reference_price <= 0:
        _fail("price", f"no usable price for {sym}: {reference_price}")
    if params.leverage > rules.max_leverage:
        _fail("leverage", f"leverage: {params.leverage} is above {sym}'s maximum of {rules.max_leverage}")
    minimum = min_qty_for(reference_price, rules)
    if params.order_size > 0 and params.risk_fraction == 0:
        if floor_to(params.order_size, rules.step_size) < minimum:
            _fail(
                "order_size",
                f"order_size: {params.order_size} is below {sym}'s minimum size at {reference_price}: "
                f"{minimum} (min qty {rules.min_qty}, min notional {rules.min_notional} {rules.quote}); use "
                f"at least {minimum}, or 0 for the minimum",
            )
        if params.order_size > rules.max_qty:
            _fail(
                "order_size",
                f"order_size: {params.order_size} is above {sym}'s maximum quantity {rules.max_qty}",
            )
    if params.risk_fraction > 0:
        needed = EXACT.multiply(minimum, reference_price)
        if EXACT.multiply(params.capital, params.leverage) < needed:
            _fail(
                "capital",
                f"capital: {params.capital} {rules.quote} at {params.leverage}x cannot buy {sym}'s minimum "
                f"size {minimum} at {reference_price} ({needed} {rules.quote} of notional)",
            )
