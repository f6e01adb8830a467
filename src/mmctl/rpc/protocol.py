"""JSON-RPC 2.0 wire format shared by the daemon and the CLI: one compact JSON object per line.

Messages are UTF-8, at most `MAX_MESSAGE_BYTES` including the newline. Money travels as strings,
points in time as ISO 8601 UTC strings (`mmctl.timefmt.iso_utc`); `to_jsonable` converts core types.

The method names (one constant each, registered by the daemon and called by the CLI) and the typed
shapes of the stable result documents live here too; `docs/json.md` describes every field. Stdlib only:
the CLI imports this module on every call.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, NotRequired, TypedDict

JSONRPC = "2.0"
MAX_MESSAGE_BYTES = 1 << 20

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

# --- method names ------------------------------------------------------------------------------------

DAEMON_VERSION = "daemon.version"
DAEMON_HEALTH = "daemon.health"
DAEMON_METHODS = "daemon.methods"
START_ANSWER_S = 300.0
"""The least time `bot.start` is given to answer (the daemon) and awaited (the CLI), `request_timeout_s` /
`--timeout` when longer: a start waits for the request budget, which admits starts in waves when
hundreds of bots start at once."""

BOT_CREATE = "bot.create"
BOT_START = "bot.start"
BOT_STOP = "bot.stop"
BOT_LIST = "bot.list"
BOT_STATUS = "bot.status"
BOT_ORDERS = "bot.orders"
BOT_SET = "bot.set"
BOT_EXPORT = "bot.export"
BOT_REMOVE = "bot.remove"
BOT_PAUSE = "bot.pause"
BOT_RESUME = "bot.resume"
BOT_LEVERAGE = "bot.leverage"
CANCEL_BOTS = "cancel.bots"
CANCEL_SYMBOL = "cancel.symbol"
CANCEL_ALL = "cancel.all"
PORTFOLIO_GET = "portfolio.get"
ACCOUNT_SUMMARY = "account.summary"
EVENTS_LIST = "events.list"
STRATEGY_PARAMS = "strategy.params"
FILLS_LIST = "fills.list"
ORDERS_HISTORY = "orders.history"
DB_BACKUP = "db.backup"
DB_CHECK = "db.check"
DB_VACUUM = "db.vacuum"
PAPER_RESET = "paper.reset"
PNL_REPORT = "pnl.report"

METHOD_NAMES = frozenset(
    {
        DAEMON_VERSION,
        DAEMON_HEALTH,
        DAEMON_METHODS,
        BOT_CREATE,
        BOT_START,
        BOT_STOP,
        BOT_LIST,
        BOT_STATUS,
        BOT_ORDERS,
        BOT_SET,
        BOT_EXPORT,
        BOT_REMOVE,
        BOT_PAUSE,
        BOT_RESUME,
        BOT_LEVERAGE,
        CANCEL_BOTS,
        CANCEL_SYMBOL,
        CANCEL_ALL,
        PORTFOLIO_GET,
        ACCOUNT_SUMMARY,
        EVENTS_LIST,
        STRATEGY_PARAMS,
        FILLS_LIST,
        ORDERS_HISTORY,
        DB_BACKUP,
        DB_CHECK,
        DB_VACUUM,
        PAPER_RESET,
        PNL_REPORT,
    }
)
"""Every method the daemon registers (a test checks this against `daemon.methods`)."""

EVENT_KINDS: tuple[str, ...] = (
    "state",
    "order",
    "cancel",
    "fill",
    "reject",
    "retry",
    "error",
    "risk",
    "info",
    "control",
    "recovery",
)
"""Every kind an event may have (`events.list kind=`, `mmctl events --kind`); a new kind is added here."""

MAX_PAGE = 5000
"""The most rows `fills.list`, `orders.history` and `events.list` return at once (`limit`'s maximum);
a page is also cut short to stay well under `MAX_MESSAGE_BYTES` (`truncated`, or `last_seq` to go on)."""

# --- result documents (money as decimal strings, times as ISO 8601 UTC strings) ------------------------


class VersionDoc(TypedDict):
    """`daemon.version`."""

    version: str
    api: int


class HealthCheckDoc(TypedDict):
    name: str
    ok: bool
    detail: str


class HealthDoc(TypedDict):
    """`daemon.health` (`mmctl health --json`)."""

    status: str
    checks: list[HealthCheckDoc]
    version: str
    api: int
    pid: int
    uptime_s: float
    config: str | None
    socket: str
    state_dir: str
    loop_lag_ms: float  # a duration, not a point in time
    notice: NotRequired[str]  # "recovered from an unclean shutdown at T", for an hour after such a start


class BotRowDoc(TypedDict):
    """One `bot.list` row (`mmctl list --json`); no venue calls behind it."""

    name: str
    state: str
    account: str
    symbol: str
    strategy: str
    mid: str | None
    position: str
    unrealized_pnl: str
    realized_pnl: str
    open_orders: int
    last_error: str | None
    notice: NotRequired[str]  # "recovered from an unclean shutdown at T", for an hour after such a start


class OrderRowDoc(TypedDict):
    """One open order of a bot (`bot.orders`, `bot.status` `orders`)."""

    client_order_id: str
    side: str
    level: int
    price: str
    qty: str
    age_s: float


class QuoteStatsDoc(TypedDict):
    placed: int
    amended: int
    cancelled: int
    rejected: int
    post_only_rejects: int
    ticks: int


class PnlSinceDoc(TypedDict):
    """Ledger PnL of a bot or account since a time (`pnl_since_start`, `pnl_since`)."""

    since: str
    realized: str
    commission: str
    funding: str
    net: str


class BotStatusDoc(BotRowDoc):
    """`bot.status` (`mmctl status NAME --json`): the row plus book, counters, orders, account figures."""

    best_bid: str | None
    best_ask: str | None
    entry_price: str | None
    fills: int
    fees_paid: str
    funding: str
    net_pnl: str
    risk_stop_open: dict[str, str] | None
    volume: str
    uptime_s: float | None
    last_tick_age_s: float | None
    quotes: QuoteStatsDoc
    params: dict[str, Any]
    orders: list[OrderRowDoc]
    leverage: int | None
    figures_age_s: float | None
    venue_error: NotRequired[str]
    wallet_balance: NotRequired[str]
    available_balance: NotRequired[str]
    account_position: NotRequired[str]
    account_entry_price: NotRequired[str | None]
    pnl_since_start: NotRequired[PnlSinceDoc | None]  # from the venue's ledger since the bot's last start
    pnl_since: NotRequired[PnlSinceDoc | None]  # since `[reports] pnl_since`
    ledger_as_of: NotRequired[str | None]  # the ledger sync these come from


class EventDoc(TypedDict):
    """One event (`events.list`, `mmctl events --json`); `uid`/`user` name a control command's caller."""

    seq: int
    ts: str
    bot: str | None
    kind: str
    message: str
    data: dict[str, Any]
    uid: NotRequired[int | None]
    user: NotRequired[str | None]


class EventsPageDoc(TypedDict):
    """`events.list`: events oldest first, and the sequence number to follow from (`after=last_seq`)."""

    events: list[EventDoc]
    last_seq: int


class FillDoc(TypedDict):
    """One recorded fill (`fills.list`, `mmctl fills NAME --json`); `fee` positive when paid."""

    ts: str
    account: str
    bot: str | None
    symbol: str
    trade_id: str
    order_id: str
    client_order_id: str
    side: str
    price: str
    qty: str
    fee: str
    fee_asset: str
    maker: bool
    realized_pnl: str


class FillsPageDoc(TypedDict):
    """`fills.list`: a bot's recorded fills, oldest first; `truncated` when older ones were left out."""

    bot: str
    fills: list[FillDoc]
    truncated: bool


class PnlSyncDoc(TypedDict):
    """`pnl.report`'s `sync` items: one account's ledger sync before the report (`error`: why it could
    not be brought up to date; the report then uses what the store holds, up to `complete_until`)."""

    account: str
    rows_read: int
    rows_new: int
    complete_until: str
    error: str | None


class PnlLinesDoc(TypedDict):
    """The lines of a PnL report or bucket, money as plain decimal strings: one per income type of the
    venue's ledger, `transfers` apart (never in `net`), and `net` = the sum of the others."""

    realized: str
    commission: str
    funding: str
    transfers: str
    net: str


class PnlBucketDoc(PnlLinesDoc):
    """One `--by` bucket: `key` (`2026-03-08`, `2026-W10`, `2026-03`, a symbol, a bot or
    `unattributed`, a venue income type such as `REALIZED_PNL` or `INSURANCE_CLEAR`) and `start` (ISO
    UTC; null for symbol, bot and type buckets)."""

    key: str
    start: str | None


class PnlDoc(PnlLinesDoc):
    """`pnl.report`: PnL over [since, until) from the venue's income ledger (docs/json.md, "pnl").
    `complete_until`: the store held every ledger row up to then; `complete`: that covers `until`.
    `unrealized`: at the mark now (null with an explicit `until`). `buckets` only with `by`; their
    lines sum exactly to the top-level ones."""

    since: str
    until: str
    timezone: str
    complete_until: str
    complete: bool
    accounts: list[str]
    symbol: str | None
    bot: str | None
    by: str | None
    unrealized: str | None
    rows: int
    sync: list[PnlSyncDoc]
    buckets: NotRequired[list[PnlBucketDoc]]


class StatusChangeDoc(TypedDict):
    """One recorded status of an order, with its time and detail (e.g. a reject reason)."""

    status: str
    ts: str
    detail: str


class OrderHistoryDoc(TypedDict):
    """One order as recorded (`orders.history`), with every status change it went through."""

    client_order_id: str
    venue_order_id: str | None
    bot: str | None
    account: str
    symbol: str
    side: str
    type: str
    price: str | None
    qty: str
    filled: str
    avg_price: str | None
    status: str
    post_only: bool
    reduce_only: bool
    created: str
    updated: str
    changes: list[StatusChangeDoc]


class OrdersHistoryDoc(TypedDict):
    """`orders.history`: a bot's recorded orders by creation time, oldest first."""

    bot: str
    orders: list[OrderHistoryDoc]
    truncated: bool


class BackupDoc(TypedDict):
    """`db.backup`: the new file and its size."""

    path: str
    bytes: int


class CheckDoc(TypedDict):
    """`db.check`: `ok` when SQLite's integrity and foreign-key checks found nothing."""

    ok: bool
    problems: list[str]


class VacuumDoc(TypedDict):
    """`db.vacuum`."""

    vacuumed: bool


class OutcomeDoc(TypedDict):
    """One bot's row of a batch command (start, stop, pause, resume, cancel-all by bot)."""

    bot: str
    ok: bool
    state: str
    error: NotRequired[str]
    code: NotRequired[int]
    data: NotRequired[dict[str, Any] | None]
    cancelled: NotRequired[int]
    flatten: NotRequired[dict[str, Any] | None]
    note: NotRequired[str]


class DefinitionDoc(TypedDict):
    """`bot.export` (`mmctl export NAME`, TOML or `--json`), readable by `create --from`."""

    version: int
    name: str
    account: str
    symbol: str
    strategy: str
    created: str
    params: dict[str, Any]


class AccountSummaryDoc(TypedDict):
    """`account.summary`: balances and income totals by type since a time."""

    account: str
    since: str
    wallet_balance: str
    available_balance: str
    unrealized_pnl: str
    income: dict[str, str]


class PortfolioDoc(TypedDict):
    """`portfolio.get` (`mmctl portfolio --json`); see docs/json.md for the account and bot rows."""

    accounts: list[dict[str, Any]]  # each with `pnl_since` (PnlSinceDoc or null)
    bots: list[dict[str, Any]]  # each with `pnl_since_start` and `pnl_since` (PnlSinceDoc or null)
    totals: dict[str, str]
    ledger_as_of: NotRequired[str | None]


def to_jsonable(value: Any) -> Any:
    """JSON's `default` hook: Decimal → str, Enum → value, datetime → ISO, dataclass → dict."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=to_jsonable)


def encode(obj: Any) -> bytes:
    """One message: compact JSON + newline."""
    return dumps(obj).encode("utf-8") + b"\n"


def request(
    method: str, params: dict[str, Any] | list[Any] | None, req_id: int | str | None
) -> dict[str, Any]:
    msg: dict[str, Any] = {"jsonrpc": JSONRPC, "method": method}
    if params is not None:
        msg["params"] = params
    if req_id is not None:
        msg["id"] = req_id
    return msg


def error_object(code: int, message: str, data: Any = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return err


def error_response(req_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    return {"jsonrpc": JSONRPC, "id": req_id, "error": error_object(code, message, data)}


def result_response(req_id: Any, result: Any) -> dict[str, Any]:
    return {"jsonrpc": JSONRPC, "id": req_id, "result": result}
