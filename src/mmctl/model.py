"""Core value types shared by every layer: market rules, books, orders, fills, positions, balances, income.

Money and quantities are `Decimal` everywhere; times are integer milliseconds since the Unix epoch (UTC),
as Binance reports them. Symbols are ccxt's unified form (`BTC/USDT:USDT`); `MarketRules.id` holds the
venue id (`BTCUSDT`). These types carry no behaviour beyond small derived properties.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for buy, -1 for sell: the sign of the position change a fill on this side makes."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class StpMode(StrEnum):
    """Binance USDⓈ-M `selfTradePreventionMode`: what happens when a taker order meets a resting order of
    the same account. It applies to GTC/IOC/GTD and market orders; a post-only (GTX) order crossing our
    own order is rejected as crossing instead."""

    NONE = "NONE"  # the orders trade with each other
    EXPIRE_TAKER = "EXPIRE_TAKER"  # the incoming order's remaining quantity expires
    EXPIRE_MAKER = "EXPIRE_MAKER"  # the resting order expires; the incoming order goes on
    EXPIRE_BOTH = "EXPIRE_BOTH"  # both expire


class OrderStatus(StrEnum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class IncomeType(StrEnum):
    REALIZED_PNL = "REALIZED_PNL"
    COMMISSION = "COMMISSION"
    FUNDING_FEE = "FUNDING_FEE"
    TRANSFER = "TRANSFER"


@dataclass(frozen=True, slots=True)
class LeverageBracket:
    """One notional tier: positions up to `notional_cap` may use up to `max_leverage`."""

    max_leverage: int
    notional_cap: Decimal
    maint_margin_rate: Decimal


@dataclass(frozen=True, slots=True)
class MarketRules:
    """A perpetual's trading rules, as the venue enforces them."""

    symbol: str  # unified, e.g. "BTC/USDT:USDT"
    id: str  # venue id, e.g. "BTCUSDT"
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    max_open_orders: int
    brackets: tuple[LeverageBracket, ...]  # ascending notional_cap; brackets[0] has the highest leverage
    maker_fee: Decimal
    taker_fee: Decimal
    market_max_qty: Decimal | None = None  # Binance's MARKET_LOT_SIZE maxQty, when it differs
    min_price: Decimal = ZERO  # PRICE_FILTER minPrice (0: no minimum)
    max_price: Decimal = ZERO  # PRICE_FILTER maxPrice (0: no maximum)
    multiplier_up: Decimal = ZERO  # PERCENT_PRICE: a buy's price <= mark × multiplierUp (0: off)
    multiplier_down: Decimal = ZERO  # PERCENT_PRICE: a sell's price >= mark × multiplierDown (0: off)

    @property
    def max_leverage(self) -> int:
        return self.brackets[0].max_leverage if self.brackets else 1

    def bracket_for_leverage(self, leverage: int) -> LeverageBracket | None:
        """The largest-notional bracket that still allows `leverage` (None if above the maximum)."""
        best: LeverageBracket | None = None
        for b in self.brackets:
            if b.max_leverage >= leverage:
                best = b
        return best

    def notional_cap(self, leverage: int) -> Decimal:
        """Largest position notional allowed at `leverage` (0 if the leverage is above the maximum)."""
        b = self.bracket_for_leverage(leverage)
        return b.notional_cap if b is not None else ZERO


@dataclass(frozen=True, slots=True)
class BookTop:
    """Best bid and ask with their sizes at time `ts_ms`."""

    symbol: str
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    ts_ms: int

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    @property
    def microprice(self) -> Decimal:
        """Size-weighted mid: leans toward the side with less size (the likelier next move)."""
        total = self.bid_qty + self.ask_qty
        if total <= 0:
            return self.mid
        return (self.bid * self.ask_qty + self.ask * self.bid_qty) / total


@dataclass(frozen=True, slots=True)
class Trade:
    """A public trade: `side` is the aggressor's (taker's) side."""

    symbol: str
    price: Decimal
    qty: Decimal
    side: Side
    ts_ms: int


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What a caller asks the venue to place. `price` is None only for market orders."""

    symbol: str
    side: Side
    qty: Decimal
    price: Decimal | None
    client_order_id: str
    type: OrderType = OrderType.LIMIT
    post_only: bool = False
    reduce_only: bool = False
    # mmctl always sends an explicit mode. EXPIRE_MAKER (also Binance's documented default): an order
    # that must trade now (a flatten, a manual taker) is never stopped by a resting quote of another bot
    # on the same account; the quote expires and its bot re-quotes on its next tick.
    stp_mode: StpMode = StpMode.EXPIRE_MAKER


@dataclass(frozen=True, slots=True)
class Order:
    """A snapshot of an order as the venue knows it."""

    id: str
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    price: Decimal | None
    qty: Decimal
    filled: Decimal
    avg_price: Decimal | None
    status: OrderStatus
    post_only: bool
    reduce_only: bool
    created_ms: int
    updated_ms: int

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one of our orders. `fee` is positive when paid; `realized_pnl` excludes fees."""

    trade_id: str
    order_id: str
    client_order_id: str
    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_asset: str
    maker: bool
    realized_pnl: Decimal
    ts_ms: int


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """An event on the account's own order stream: the order's new state and the fill that caused it."""

    order: Order
    fill: Fill | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """One-way net position on a symbol: `qty` > 0 long, < 0 short."""

    symbol: str
    qty: Decimal
    entry_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    leverage: int
    liquidation_price: Decimal | None = None

    @property
    def notional(self) -> Decimal:
        return abs(self.qty) * self.mark_price


@dataclass(frozen=True, slots=True)
class Balance:
    """Account balance in the settlement asset. Margin balance = wallet + unrealized PnL."""

    asset: str
    wallet: Decimal
    available: Decimal
    margin_used: Decimal
    unrealized_pnl: Decimal

    @property
    def margin_balance(self) -> Decimal:
        return self.wallet + self.unrealized_pnl


@dataclass(frozen=True, slots=True)
class IncomeRow:
    """A row of the venue's income ledger. `amount` is signed: + credits the wallet, - debits it.

    `venue_type` is the venue's own type, verbatim (Binance's `incomeType`: `INSURANCE_CLEAR`,
    `API_REBATE`, ...; empty means `type.value`, so the paper venue's rows leave it out). `type` is the
    nearest of mmctl's four, for code that only knows those; PnL reports go by `venue_type`
    (`mmctl.pnl.income_types`). `id` is unique only within a `venue_type` (Binance's `tranId`)."""

    id: str
    ts_ms: int
    symbol: str  # "" for account-level rows such as transfers
    type: IncomeType
    amount: Decimal
    asset: str
    trade_id: str | None = None
    venue_type: str = ""

    def __post_init__(self) -> None:
        if not self.venue_type:
            object.__setattr__(self, "venue_type", self.type.value)


@dataclass(frozen=True, slots=True)
class PlaceResult:
    """The outcome of one request in a batch: exactly one of `order` and `error` is set."""

    request: OrderRequest
    order: Order | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.order is not None


@dataclass(frozen=True, slots=True)
class Amend:
    """A request to modify a live limit order in place (Binance's PUT /fapi/v1/order): the order named
    by `client_order_id` gets `price` and `qty` (its new total quantity, the filled part included); it
    keeps its ids and loses its queue priority. Both values are sent even when only one changes (Binance
    requires both); an amend that changes neither is rejected. `side` must be the order's side (Binance
    requires it). `reduce_only` mirrors the amended order's flag and only sets the request's class: an
    amend of reduce-only orders takes risk off and is sent as such (`mmctl.exchange.priority`).
    `Amend.of(order, price=..., qty=...)` builds one from a live order."""

    client_order_id: str
    side: Side
    price: Decimal
    qty: Decimal
    reduce_only: bool = False

    @classmethod
    def of(cls, order: Order, *, price: Decimal | None = None, qty: Decimal | None = None) -> Amend:
        """Amend `order` to `price` and/or `qty` (each defaults to the order's current value)."""
        new_price = price if price is not None else order.price
        if new_price is None:
            raise ValueError(f"order {order.client_order_id} has no price: only limit orders can be amended")
        return cls(
            order.client_order_id,
            order.side,
            new_price,
            qty if qty is not None else order.qty,
            order.reduce_only,
        )


@dataclass(frozen=True, slots=True)
class AmendResult:
    """The outcome of one amend of a batch: exactly one of `order` and `error` is set.

    `order` is the venue's state of the order after the amend. It is usually open (amended, at the back
    of its price level), but Binance cancels the order instead of amending it when it is post-only and
    the new price would cross, or when it is partly filled and the new quantity is at or below the filled
    quantity (`cancelled_by_amend`); a non-post-only order amended through the book trades at once. An
    `error` (rejection, unknown order) leaves the order exactly as it was."""

    amend: Amend
    order: Order | None = None
    error: Exception | None = None

    @property
    def client_order_id(self) -> str:
        return self.amend.client_order_id

    @property
    def ok(self) -> bool:
        return self.order is not None

    @property
    def cancelled_by_amend(self) -> bool:
        """The venue cancelled the order instead of amending it."""
        return self.order is not None and self.order.status is OrderStatus.CANCELED


@dataclass(frozen=True, slots=True)
class CancelResult:
    """The outcome of cancelling one order of a batch: exactly one of `order` and `error` is set."""

    client_order_id: str
    order: Order | None = None
    error: Exception | None = None


@dataclass(frozen=True, slots=True)
class ExchangeHealth:
    """A venue connection's health: reachable, how old the freshest market data is, round-trip latency."""

    connected: bool
    market_data_age_s: float | None = None
    latency_ms: float | None = None
    detail: dict[str, str] = field(default_factory=dict)
