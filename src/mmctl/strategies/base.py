"""What a strategy is: a pure function from book, position and parameters to desired quotes.

A `Strategy` names its parameter class (a `StrategyParams` dataclass), checks parameters against a
market's rules, and proposes `Quote`s. It does no I/O and keeps no state: the bot runtime calls it on every
book update and diffs the result against its live orders (`mmctl.bots.orders`). Every quote is placed
post-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, TypeVar

from mmctl.model import BookTop, MarketRules, OrderRequest, Side
from mmctl.strategies.params import StrategyParams

P = TypeVar("P", bound=StrategyParams)


@dataclass(frozen=True, slots=True)
class Quote:
    """One desired resting order: `level` 0 is the one nearest the reference price on its side."""

    side: Side
    level: int
    price: Decimal
    qty: Decimal

    def to_request(self, symbol: str, client_order_id: str) -> OrderRequest:
        """The post-only limit order that places this quote."""
        return OrderRequest(
            symbol=symbol,
            side=self.side,
            qty=self.qty,
            price=self.price,
            client_order_id=client_order_id,
            post_only=True,
        )


class Strategy(Protocol[P]):
    """A quoting strategy. Implementations are stateless; the registry holds one instance of each."""

    @property
    def name(self) -> str:
        """The name users type (`--strategy market_maker`)."""
        ...

    @property
    def params_cls(self) -> type[P]:
        """The strategy's parameter dataclass (parse it with `mmctl.strategies.params.parse_params`)."""
        ...

    def check_against_market(self, params: P, rules: MarketRules, reference_price: Decimal) -> None:
        """Raise `ValidationError` naming the field if `params` cannot quote this market at this price."""
        ...

    def quotes(self, params: P, book: BookTop, position: Decimal, rules: MarketRules) -> list[Quote]:
        """The desired quotes for this book and position: on the market's grids, above its minimums."""
        ...
