"""What the `Store` port reads and writes: typed records, the write operations, and `StoreError`.

Records read back from the store are frozen dataclasses built from core types (`Fill`, `IncomeRow`,
`Order` fields). Writes are values too: each `Write[R]` subclass is one operation whose result has type
`R` (e.g. `NewFill` -> `bool`, "was this fill new?"). A write is validated when it is constructed, on the
caller's side: every money or quantity field must be a finite `Decimal` and every JSON field must encode,
so a caller's mistake raises `ValidationError` at once and can never make the store fail later.

Money and quantities are `Decimal`; the store keeps them as exact decimal text (`str(d)`), which
`Decimal(text)` reads back with the same sign, digits and exponent whatever the decimal context.
JSON fields (`data`, `params`, `info`) accept JSON values plus finite `Decimal`s, stored as strings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar

from mmctl.errors import ValidationError
from mmctl.model import Fill, IncomeRow, Order, OrderRequest, OrderStatus

R = TypeVar("R")


class DesiredState(StrEnum):
    """Where the operator left a bot: what the daemon restores it to after a restart."""

    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


SUBMITTING = "submitting"  # recorded before the place request leaves; resolved by recovery
NOT_FOUND = "not_found"  # an ambiguous submit the venue has no record of
ORDER_STATES: frozenset[str] = frozenset({SUBMITTING, NOT_FOUND, *(s.value for s in OrderStatus)})
OPEN_ORDER_STATES: tuple[str, ...] = (SUBMITTING, OrderStatus.NEW.value, OrderStatus.PARTIALLY_FILLED.value)
FINAL_ORDER_STATES: tuple[str, ...] = tuple(
    s.value for s in OrderStatus if s not in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)
)


# --- records read back -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BotRecord:
    """A bot's definition (`params` as `BotDefinition.to_dict()` writes them) and its desired state."""

    name: str
    account: str
    symbol: str
    strategy: str
    params: Mapping[str, Any]
    desired_state: DesiredState = DesiredState.STOPPED
    created_ms: int = 0
    updated_ms: int = 0

    def definition(self) -> dict[str, Any]:
        """The flat definition dict `BotDefinition.from_dict` validates (the TOML file's shape)."""
        return {
            "version": 1,
            "name": self.name,
            "account": self.account,
            "symbol": self.symbol,
            "strategy": self.strategy,
            "created_ms": self.created_ms,
            "params": dict(self.params),
        }

    @classmethod
    def from_definition(
        cls,
        definition: Mapping[str, Any],
        desired_state: DesiredState = DesiredState.STOPPED,
        updated_ms: int | None = None,
    ) -> BotRecord:
        """A record from a `BotDefinition.to_dict()`-shaped dict (already validated by the caller)."""
        try:
            created = definition.get("created_ms", 0)
            record = cls(
                name=definition["name"],
                account=definition["account"],
                symbol=definition["symbol"],
                strategy=definition["strategy"],
                params=dict(definition.get("params", {})),
                desired_state=desired_state,
                created_ms=created,
                updated_ms=created if updated_ms is None else updated_ms,
            )
        except KeyError as e:
            raise ValidationError(f"bot definition needs a {e.args[0]}", data={"field": e.args[0]}) from e
        except (TypeError, ValueError) as e:
            raise ValidationError(f"bot definition is malformed: {e}") from e
        for key in ("name", "account", "symbol", "strategy"):
            if not isinstance(getattr(record, key), str) or not getattr(record, key):
                raise ValidationError(f"bot definition needs a {key}", data={"field": key})
        return record


@dataclass(frozen=True, slots=True)
class ParamsChange:
    """One entry of a bot's parameter history: the full parameters from `ts_ms` on."""

    bot: str
    ts_ms: int
    params: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StoredFill:
    """A fill as recorded: the venue's execution plus the account and the bot it belongs to."""

    account: str
    bot: str | None
    fill: Fill


@dataclass(frozen=True, slots=True)
class StoredIncome:
    """An income ledger row of an account, with the venue's raw record (`info`) when given."""

    account: str
    row: IncomeRow
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IncomeSum:
    """Income rows of one account summed by group (`StoreReads.income_sums`): the local day (`day`: days
    since 1970-01-01 of the wall clock the query's offset gives), the venue's own income type
    (`IncomeRow.venue_type`) and symbol, and when attributed the bot of the fill a row's trade id names
    (None: no recorded bot; funding and transfers never name one) and a FUNDING_FEE row's time. The
    exact sum is `units` × 1e-8 plus the `rest` amounts (rows whose text is not a plain decimal with at
    most 8 places, summed by the caller); `rows` counts the rows."""

    day: int
    venue_type: str
    symbol: str
    bot: str | None
    ts_ms: int | None
    units: int
    rest: tuple[Decimal, ...]
    rows: int


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """The latest recorded state of one order (`status` is one of `ORDER_STATES`)."""

    client_order_id: str
    bot: str | None
    account: str
    symbol: str
    side: str
    type: str
    price: Decimal | None
    qty: Decimal
    filled: Decimal
    avg_price: Decimal | None
    venue_order_id: str | None
    status: str
    post_only: bool
    reduce_only: bool
    created_ms: int
    updated_ms: int

    @property
    def is_open(self) -> bool:
        """Submitting or resting on the venue as far as the store knows."""
        return self.status in OPEN_ORDER_STATES


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One status change of an order, with its time and a free-text detail (e.g. a reject reason)."""

    client_order_id: str
    status: str
    ts_ms: int
    detail: str = ""


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One audit-trail event; `uid`/`user` name the caller of a control command."""

    seq: int
    ts_ms: int
    bot: str | None
    kind: str
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)
    uid: int | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True)
class EquitySnapshot:
    """An account's (bot = "") or one bot's equity and PnL figures at `ts_ms`."""

    ts_ms: int
    account: str
    bot: str
    wallet: Decimal
    equity: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    fees: Decimal
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PaperState:
    """A paper account's whole venue state, serialized by the paper exchange (opaque to the store)."""

    account: str
    state: str
    updated_ms: int


@dataclass(frozen=True, slots=True)
class PruneResult:
    """How many rows a prune removed."""

    events: int
    order_changes: int
    orders: int


@dataclass(frozen=True, slots=True)
class PreviousRun:
    """How the last daemon run on this database ended: `clean` False after a crash or `kill -9`.

    `ended_ms` is the clean close time, or after an unclean end the time of its last commit (None for a
    new database).
    """

    clean: bool
    ended_ms: int | None


# --- writes --------------------------------------------------------------------------------------------


class Write(Generic[R]):
    """A write operation whose result has type `R`; see the subclasses."""

    __slots__ = ()


def finite(value: object, name: str) -> Decimal:
    """`value` if it is a finite `Decimal`, else `ValidationError` naming the field."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValidationError(f"{name} must be a finite Decimal, got {value!r}", data={"field": name})
    return value


def _json_default(obj: object) -> str:
    if isinstance(obj, Decimal) and obj.is_finite():
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serializable")


def to_json(value: object, name: str, *, sort_keys: bool = False) -> str:
    """Compact JSON of `value`; finite Decimals become strings; anything else is a `ValidationError`."""
    try:
        return json.dumps(
            value, default=_json_default, sort_keys=sort_keys, separators=(",", ":"), allow_nan=False
        )
    except (TypeError, ValueError) as e:
        raise ValidationError(f"{name} cannot be stored as JSON: {e}", data={"field": name}) from e


def _desired(state: str) -> DesiredState:
    try:
        return DesiredState(state)
    except ValueError as e:
        known = ", ".join(s.value for s in DesiredState)
        raise ValidationError(
            f"desired state must be one of {known}, got {state!r}", data={"field": "state"}
        ) from e


def _order_state(status: str) -> str:
    if status not in ORDER_STATES:
        raise ValidationError(
            f"unknown order status {status!r} (known: {', '.join(sorted(ORDER_STATES))})",
            data={"field": "status"},
        )
    return status


@dataclass(frozen=True, slots=True)
class NewFill(Write[bool]):
    """Record a fill once (unique by account, symbol, trade id). Result: True if it was new."""

    account: str
    bot: str | None
    fill: Fill

    def __post_init__(self) -> None:
        for name in ("price", "qty", "fee", "realized_pnl"):
            finite(getattr(self.fill, name), f"fill.{name}")


@dataclass(frozen=True, slots=True)
class NewIncome(Write[bool]):
    """Record an income row once (unique by account, the venue's income type and id: Binance's `tranId`
    is unique only within its type). Result: True if it was new."""

    account: str
    row: IncomeRow
    info: Mapping[str, Any] = field(default_factory=dict)
    info_json: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        finite(self.row.amount, "row.amount")
        object.__setattr__(self, "info_json", to_json(self.info, "info"))


@dataclass(frozen=True, slots=True)
class OrderSubmitting(Write[bool]):
    """Record an order as `submitting` before its request leaves. Result: False if the id was known."""

    bot: str | None
    account: str
    request: OrderRequest
    ts_ms: int

    def __post_init__(self) -> None:
        finite(self.request.qty, "request.qty")
        if self.request.price is not None:
            finite(self.request.price, "request.price")


@dataclass(frozen=True, slots=True)
class OrderSnapshot(Write[bool]):
    """Record the venue's view of an order (insert or update). Result: True if its status changed.

    A final status (filled, canceled, rejected, expired) is never replaced by an open one: a late ack
    that arrives after the fill does not resurrect the order (only a missing venue id is taken from it),
    and the filled quantity never decreases.
    """

    bot: str | None
    account: str
    order: Order
    detail: str = ""

    def __post_init__(self) -> None:
        finite(self.order.qty, "order.qty")
        finite(self.order.filled, "order.filled")
        for name in ("price", "avg_price"):
            if getattr(self.order, name) is not None:
                finite(getattr(self.order, name), f"order.{name}")


@dataclass(frozen=True, slots=True)
class OrderStatusChange(Write[bool]):
    """Set a known order's status (e.g. `rejected` with the reason, `not_found`). Result: changed?"""

    client_order_id: str
    status: str
    ts_ms: int
    detail: str = ""

    def __post_init__(self) -> None:
        _order_state(self.status)


@dataclass(frozen=True, slots=True)
class NewEvent(Write[int]):
    """Append an event. Result: its sequence number (`seq` if given and free, else the next one)."""

    ts_ms: int
    bot: str | None
    kind: str
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)
    uid: int | None = None
    user: str | None = None
    seq: int | None = None
    data_json: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_json", to_json(self.data, "data") if self.data else "{}")


@dataclass(frozen=True, slots=True)
class PutBot(Write[None]):
    """Create or update a bot's definition; a params change appends to its history.

    `record.desired_state` is used when the bot is created; an update keeps the stored desired state.
    """

    record: BotRecord
    params_json: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "params_json", to_json(self.record.params, "params", sort_keys=True))
        _desired(self.record.desired_state)


@dataclass(frozen=True, slots=True)
class DeleteBot(Write[bool]):
    """Remove a bot's definition and parameter history (its orders, fills and events stay)."""

    name: str


@dataclass(frozen=True, slots=True)
class SetDesiredState(Write[bool]):
    """Record where the operator left a bot. Result: False if there is no such bot."""

    name: str
    state: DesiredState
    ts_ms: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", _desired(self.state))


@dataclass(frozen=True, slots=True)
class NewSnapshot(Write[None]):
    """Record an equity snapshot (a second one for the same account, bot and time replaces it)."""

    snapshot: EquitySnapshot
    data_json: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        for name in ("wallet", "equity", "unrealized_pnl", "realized_pnl", "fees"):
            finite(getattr(self.snapshot, name), f"snapshot.{name}")
        object.__setattr__(self, "data_json", to_json(self.snapshot.data, "data"))


@dataclass(frozen=True, slots=True)
class SetMeta(Write[None]):
    """Set one key of the store's own notes (`StoreReads.meta`), e.g. the last day a daily report was
    written for. The keys the store uses itself (`RESERVED_META`) are refused."""

    key: str
    value: str

    def __post_init__(self) -> None:
        if self.key in RESERVED_META:
            raise ValidationError(f"meta key {self.key!r} is the store's own", data={"field": "key"})


RESERVED_META = frozenset({"clean_shutdown", "closed_ms", "imported_toml"})


@dataclass(frozen=True, slots=True)
class PaperOrderRow:
    """A closed order of the paper venue: its integer id, and the venue's full record as JSON text."""

    seq: int
    client_order_id: str
    symbol: str
    data: str


@dataclass(frozen=True, slots=True)
class StoredPaperTrade:
    """One trade of the paper venue as stored (`epoch`: the account's life it belongs to)."""

    account: str
    epoch: int
    fill: Fill


@dataclass(frozen=True, slots=True)
class PaperHistory:
    """What a paper account left in the store: its highest ids, epoch and venue time (0 when none).
    A fresh start or a reset continues from these, so ids are never reused and time never goes back."""

    last_trade_id: int = 0
    last_order_id: int = 0
    last_income_id: int = 0
    last_epoch: int = 0
    last_ts_ms: int = 0


@dataclass(frozen=True, slots=True)
class PutPaperState(Write[None]):
    """Replace a paper account's persisted venue state, and add in the same transaction what happened
    since the last one: the venue's new income rows (into the `income` table, once each), its new trades
    and its newly closed orders (of epoch `epoch`). Either all of it is durable or none of it."""

    account: str
    state: str
    ts_ms: int
    epoch: int = 1
    income: tuple[IncomeRow, ...] = ()
    trades: tuple[Fill, ...] = ()
    closed_orders: tuple[PaperOrderRow, ...] = ()

    def __post_init__(self) -> None:
        for row in self.income:
            finite(row.amount, "income.amount")
        for f in self.trades:
            for name in ("price", "qty", "fee", "realized_pnl"):
                finite(getattr(f, name), f"trade.{name}")


@dataclass(frozen=True, slots=True)
class DeletePaperState(Write[bool]):
    """Forget a paper account's state (`mmctl paper reset`). Result: False if there was none."""

    account: str
