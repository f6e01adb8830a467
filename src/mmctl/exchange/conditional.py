"""Venue-held conditional orders: stop-loss, take-profit and trailing stops that live on the venue.

A conditional order waits on the venue (Binance USDⓈ-M: its Algo Service, `POST /fapi/v1/algoOrder`) and,
when its working price (the mark price, or the last trade price) reaches its trigger, becomes an ordinary
market order placed by the venue itself, so it holds while the daemon is down. The triggered order reuses
the conditional's client id (Binance's `clientAlgoId`), so its fills reach the `order_updates` stream as
any order's do and are matched to the bot by client id.

Trigger rules, Binance's, for a working price `p`:
- STOP_MARKET: a SELL (a long's stop) triggers when `p <= trigger_price`, a BUY when `p >= trigger_price`;
- TAKE_PROFIT_MARKET: a SELL triggers when `p >= trigger_price`, a BUY when `p <= trigger_price`;
- TRAILING_STOP_MARKET: active from placement, or once `p` reaches `activate_price` (a SELL at or above
  it, a BUY at or below); then it tracks the best price since activation (a SELL the highest, a BUY the
  lowest) and triggers on a retrace of `callback_rate` percent from it (`1` is 1%).
A STOP or TAKE_PROFIT whose condition already holds when it is placed is refused (Binance -2021, "Order
would immediately trigger"). A reduce-only (or close-position) conditional that finds nothing to reduce
when it triggers expires without placing an order.

Lifecycle (`ConditionalStatus`): NEW (waiting) → TRIGGERED (the market order is on the venue:
`order_id`, `order_client_id`) → FINISHED (that order is done); or CANCELED (by the account), EXPIRED
(nothing to reduce), REJECTED (the venue refused the triggered order; `reason` says why). Each state is
published on the port's `conditional_updates()` stream. Binance's transient TRIGGERING is not a state of
its own (TRIGGERED or REJECTED follows it).

Core module: stdlib, `mmctl.model`, `mmctl.errors` and `mmctl.exchange.rules` only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from mmctl.errors import FilterRejected, OrderRejected
from mmctl.exchange.rules import EXACT, check_order, on_grid
from mmctl.model import MarketRules, OrderRequest, OrderType, Side

CALLBACK_RATE_MIN = Decimal("0.1")
CALLBACK_RATE_MAX = Decimal("20")
"""A trailing stop's retrace in percent: Binance accepts 0.1 to 20 (20 since 2026-10-23, 10 before)."""

MAX_OPEN_CONDITIONALS = 200
"""Binance keeps at most 200 open conditional (algo) orders per account, all symbols together."""

_CLIENT_ID = re.compile(r"[.A-Za-z0-9:/_-]{1,36}")  # Binance's clientAlgoId rule (as newClientOrderId)
_HUNDRED = Decimal(100)


class ConditionalKind(StrEnum):
    """The order a conditional becomes is always a market order (Binance's *_MARKET types)."""

    STOP_MARKET = "STOP_MARKET"
    TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"
    TRAILING_STOP_MARKET = "TRAILING_STOP_MARKET"


class WorkingType(StrEnum):
    """Which price triggers: the mark price (the paper venue: its book's mid) or the last trade price."""

    MARK_PRICE = "MARK_PRICE"
    CONTRACT_PRICE = "CONTRACT_PRICE"


class ConditionalStatus(StrEnum):
    NEW = "NEW"
    TRIGGERED = "TRIGGERED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"
    FINISHED = "FINISHED"

    @property
    def is_open(self) -> bool:
        """Still waiting for its trigger (cancellable)."""
        return self is ConditionalStatus.NEW

    @property
    def is_final(self) -> bool:
        """No further state will follow."""
        return self not in (ConditionalStatus.NEW, ConditionalStatus.TRIGGERED)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConditionalRequest:
    """A conditional order to place (keyword arguments only).

    `trigger_price` is required for STOP_MARKET and TAKE_PROFIT_MARKET and refused for trailing stops,
    which take `callback_rate` (percent, 0.1 to 20) and an optional `activate_price`. Exactly one of
    `qty` and `close_position` (the whole position when it triggers; STOP_MARKET and TAKE_PROFIT_MARKET
    only) says how much. `reduce_only` defaults to True (an exit takes risk off: a conditional that may
    open a position must say `reduce_only=False`); a close-position order is reduce-only by nature.
    `client_id` (1-36 characters of `[.A-Za-z0-9:/_-]`) is unique among the account's open
    conditionals, and is also the client order id of the market order it becomes."""

    symbol: str
    side: Side
    kind: ConditionalKind
    trigger_price: Decimal | None = None
    callback_rate: Decimal | None = None
    activate_price: Decimal | None = None
    qty: Decimal | None = None
    close_position: bool = False
    reduce_only: bool = True
    working_type: WorkingType = WorkingType.MARK_PRICE
    client_id: str

    @property
    def reduces(self) -> bool:
        """True when the triggered order can only take risk off (reduce-only or close-position)."""
        return self.reduce_only or self.close_position


@dataclass(frozen=True, slots=True, kw_only=True)
class ConditionalOrder:
    """A snapshot of a conditional order as the venue knows it. `id` is the venue's own id (Binance's
    `algoId`: its own id space, not an order id). Once triggered, `order_id` and `order_client_id` name
    the ordinary market order it became. `reduce_only` is true for close-position orders too."""

    id: str
    client_id: str
    symbol: str
    side: Side
    kind: ConditionalKind
    status: ConditionalStatus
    trigger_price: Decimal | None
    callback_rate: Decimal | None
    activate_price: Decimal | None
    qty: Decimal | None
    close_position: bool
    reduce_only: bool
    working_type: WorkingType
    created_ms: int
    updated_ms: int
    order_id: str | None = None
    order_client_id: str | None = None
    reason: str = ""

    @property
    def is_open(self) -> bool:
        return self.status.is_open


# --- request checks ---------------------------------------------------------------------------------


def check_request(req: object, rules: MarketRules) -> ConditionalRequest:
    """Refuse (`FilterRejected`) a request of the wrong shape or one that breaks the market's filters
    (tick, step, quantity limits; a non-reducing one also the notional minimum at its trigger price)."""
    if not isinstance(req, ConditionalRequest):
        raise FilterRejected(f"expected a ConditionalRequest, got {type(req).__name__}")
    if not isinstance(req.side, Side):
        raise _bad("side", f"side must be buy or sell, got {req.side!r}")
    if not isinstance(req.kind, ConditionalKind):
        raise _bad("kind", f"unknown conditional order kind {req.kind!r}")
    if not isinstance(req.working_type, WorkingType):
        raise _bad(
            "working_type", f"working type must be MARK_PRICE or CONTRACT_PRICE, got {req.working_type!r}"
        )
    if not isinstance(req.client_id, str) or not _CLIENT_ID.fullmatch(req.client_id):
        raise _bad("client_id", f"client id {req.client_id!r} must be 1-36 characters of [.A-Za-z0-9:/_-]")
    _check_prices(req, rules)
    _check_size(req, rules)
    return req


def _check_prices(req: ConditionalRequest, rules: MarketRules) -> None:
    if req.kind is ConditionalKind.TRAILING_STOP_MARKET:
        if req.trigger_price is not None:
            raise _bad("trigger_price", "a trailing stop takes a callback rate, not a trigger price")
        rate = req.callback_rate
        if (
            not isinstance(rate, Decimal)
            or not rate.is_finite()
            or not CALLBACK_RATE_MIN <= rate <= CALLBACK_RATE_MAX
        ):
            raise _bad(
                "callback_rate",
                f"a trailing stop's callback rate must be {CALLBACK_RATE_MIN} to {CALLBACK_RATE_MAX} "
                f"(percent), got {rate!r}",
            )
        if req.activate_price is not None:
            _check_price("activate_price", req.activate_price, rules)
        return
    if req.callback_rate is not None or req.activate_price is not None:
        raise _bad("callback_rate", f"{req.kind} takes a trigger price, not a callback rate or activation")
    if req.trigger_price is None:
        raise _bad("trigger_price", f"{req.kind} needs a trigger price")
    _check_price("trigger_price", req.trigger_price, rules)


def _check_price(field: str, price: Decimal, rules: MarketRules) -> None:
    if not _finite(price) or price <= 0:
        raise _bad(field, f"{field} must be a positive finite Decimal, got {price!r}")
    if not on_grid(price, rules.tick_size):
        raise _bad(field, f"{field} {price} is not a multiple of the tick size {rules.tick_size}")
    if (rules.min_price > 0 and price < rules.min_price) or (rules.max_price > 0 and price > rules.max_price):
        raise _bad(
            field, f"{field} {price} is outside {rules.min_price}..{rules.max_price} for {rules.symbol}"
        )


def _check_size(req: ConditionalRequest, rules: MarketRules) -> None:
    if req.close_position:
        if req.qty is not None:
            raise _bad("qty", "a close-position order takes no quantity (it closes the whole position)")
        if req.kind is ConditionalKind.TRAILING_STOP_MARKET:
            raise _bad("close_position", "close-position applies to STOP_MARKET and TAKE_PROFIT_MARKET only")
        return
    if not isinstance(req.qty, Decimal) or not req.qty.is_finite():
        raise _bad("qty", f"quantity must be a finite Decimal (or close_position), got {req.qty!r}")
    price = req.trigger_price if req.trigger_price is not None else req.activate_price
    probe = OrderRequest(
        rules.symbol,
        req.side,
        req.qty,
        None,
        req.client_id,
        type=OrderType.MARKET,
        reduce_only=req.reduce_only,
    )
    check_order(probe, rules, price)


def _finite(value: object) -> bool:
    return isinstance(value, Decimal) and value.is_finite()


def _bad(field: str, message: str) -> FilterRejected:
    return FilterRejected(message, data={"field": field})


# --- trigger rules ----------------------------------------------------------------------------------


def condition_met(kind: ConditionalKind, side: Side, trigger: Decimal, price: Decimal) -> bool:
    """Whether a STOP_MARKET or TAKE_PROFIT_MARKET on `side` triggers at working price `price`."""
    rises = (kind is ConditionalKind.STOP_MARKET) is (side is Side.BUY)  # triggers on the way up
    return price >= trigger if rises else price <= trigger


def immediate_trigger(req: ConditionalRequest, price: Decimal | None) -> OrderRejected | None:
    """Binance's -2021 for a STOP or TAKE_PROFIT whose condition holds at placement (None: acceptable)."""
    if price is None or req.trigger_price is None or req.kind is ConditionalKind.TRAILING_STOP_MARKET:
        return None
    if not condition_met(req.kind, req.side, req.trigger_price, price):
        return None
    return OrderRejected(
        f"{req.kind} {req.side} at {req.trigger_price} would trigger at once: the {req.working_type} of "
        f"{req.symbol} is {price} (Binance -2021 Order would immediately trigger)",
        data={"binance_code": -2021, "client_id": req.client_id, "field": "trigger_price"},
    )


def trail_activates(side: Side, activate_price: Decimal | None, price: Decimal) -> bool:
    """Whether a trailing stop on `side` is active at `price` (always, without an activation price)."""
    if activate_price is None:
        return True
    return price >= activate_price if side is Side.SELL else price <= activate_price


def trail_best(side: Side, best: Decimal, price: Decimal) -> Decimal:
    """The trailing reference after `price`: a SELL keeps the highest price, a BUY the lowest."""
    return max(best, price) if side is Side.SELL else min(best, price)


def trail_triggered(side: Side, best: Decimal, callback_rate: Decimal, price: Decimal) -> bool:
    """Whether `price` retraced `callback_rate` percent from `best` (exact: no division)."""
    scaled = EXACT.multiply(price, _HUNDRED)
    if side is Side.SELL:  # price <= best × (1 - rate/100)
        return scaled <= EXACT.multiply(best, EXACT.subtract(_HUNDRED, callback_rate))
    return scaled >= EXACT.multiply(
        best, EXACT.add(_HUNDRED, callback_rate)
    )  # price >= best × (1 + rate/100)
