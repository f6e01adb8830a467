"""A paper account's venue state as JSON text, and back: what makes a paper account outlive the daemon.

`dumps` writes the compact part of the account (everything except the ever-growing trade list, income
ledger and closed-order history, which the persistence writes row by row as they happen): the wallet
balance, each symbol's position (quantity and entry price; realized PnL lives in the income ledger),
leverage, armed countdown deadline, last book and last public trade (the mark price), every open order
with its queue priority (sequence), filled quantity, cost and flags, the id counters, the venue clock and
funding schedule, the market feed's resume state, the account's epoch (see `Epoch`) and the wall time of
the save. `restore_venue` rebuilds a `PaperVenue` from it plus those rows.

Money and quantities are exact decimal text (`str(Decimal)`, read back with `Decimal(text)`: same sign,
digits and exponent); never a float. The synthetic market's walk state holds floats by design (the mid of
a random walk, not money); Python writes and reads them back exactly. Stdlib and core types only.

Format (`"format": 2`), top level: `format`, `account`, `market` ("synthetic" | "replay"), `symbols`
(unified, in market order), `saved_wall_ms`, `epoch` {n, start_balance, first_income_id, first_trade_id,
first_order_id, started_wall_ms}, `venue` {now_ms, next_funding_ms, asset, wallet, last_order_id,
last_trade_id, last_income_id, last_conditional_id, symbols {SYMBOL: {position_qty, entry_price,
leverage, countdown_ms, top, last_trade}}}, `feed` (the feed's own resume document), `conditionals`
[open conditional order...] (`LiveConditional.to_doc`: trigger, trailing reference, flags), `open_orders`
[order...] (last). Format 1 (before conditional orders) is read as having none. An order's `amendments`
(times amended) may be absent in states saved before amends existed: 0.

Cost: a save re-serializes the open orders, so `OrderTexts` keeps each open order's JSON text until the
order changes (a fill, an amend or its end): a save with many resting orders joins cached texts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mmctl.exchange.paper.state import LiveOrder
from mmctl.exchange.paper.state import decimal_text as _decimal
from mmctl.exchange.paper.venue import PaperVenue
from mmctl.model import BookTop, Fill, IncomeRow, MarketRules, OrderStatus, OrderType, Side, Trade

FORMAT = 2
READABLE_FORMATS = (1, 2)


class SnapshotError(ValueError):
    """Saved paper state that cannot be read (unknown format, missing or malformed field)."""


@dataclass(frozen=True, slots=True)
class Epoch:
    """One life of a paper account, from its creation or its last `mmctl paper reset`.

    Id counters never restart (a reset continues them), so trade, order and income ids stay unique per
    account across epochs; the epoch's rows are those with ids from `first_*_id` on. The wallet of the
    epoch is `start_balance` plus the sum of its income rows.
    """

    n: int
    start_balance: Decimal
    first_income_id: int = 1
    first_trade_id: int = 1
    first_order_id: int = 1
    started_wall_ms: int = 0

    def to_doc(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "start_balance": str(self.start_balance),
            "first_income_id": self.first_income_id,
            "first_trade_id": self.first_trade_id,
            "first_order_id": self.first_order_id,
            "started_wall_ms": self.started_wall_ms,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Epoch:
        return cls(
            n=_int(doc, "n"),
            start_balance=_dec(doc, "start_balance"),
            first_income_id=_int(doc, "first_income_id"),
            first_trade_id=_int(doc, "first_trade_id"),
            first_order_id=_int(doc, "first_order_id"),
            started_wall_ms=_int(doc, "started_wall_ms"),
        )


class OrderTexts:
    """Each open order's JSON text, kept until the order changes (its fill, status or amendment)."""

    def __init__(self) -> None:
        self._texts: dict[str, tuple[Decimal, OrderStatus, int, int, str]] = {}

    def texts(self, orders: Iterable[LiveOrder]) -> list[str]:
        """The texts of `orders` (forgets those of orders no longer given)."""
        old, new = self._texts, {}
        out = []
        for order in orders:
            hit = old.get(order.id)
            if (
                hit is None
                or hit[0] != order.filled
                or hit[1] is not order.status
                or hit[2] != order.updated_ms
                or hit[3] != order.priority[1]  # an amend (new price, size) always takes a new seq
            ):
                hit = (order.filled, order.status, order.updated_ms, order.priority[1], order_json(order))
            new[order.id] = hit
            out.append(hit[4])
        self._texts = new
        return out


@dataclass(frozen=True, slots=True)
class SavedAccount:
    """A parsed saved state (the venue part is rebuilt by `restore_venue`)."""

    account: str
    market: str
    symbols: tuple[str, ...]
    saved_wall_ms: int
    epoch: Epoch
    venue: Mapping[str, Any]
    feed: Mapping[str, Any]
    open_orders: tuple[Mapping[str, Any], ...] = ()
    conditionals: tuple[Mapping[str, Any], ...] = ()

    @property
    def now_ms(self) -> int:
        """Venue time of the save: every market event at or before it had been delivered."""
        return _int(self.venue, "now_ms")


def dumps(
    account: str,
    market: str,
    venue: PaperVenue,
    epoch: Epoch,
    feed: Mapping[str, Any],
    saved_wall_ms: int,
    order_texts: OrderTexts | None = None,
) -> str:
    """The account's compact state as JSON text (`order_texts`: reuse the texts of unchanged orders)."""
    open_orders = venue.orders.open.values()
    texts = (order_texts or OrderTexts()).texts(open_orders)
    doc = {
        "format": FORMAT,
        "account": account,
        "market": market,
        "symbols": [st.symbol for st in venue.symbol_states],
        "saved_wall_ms": saved_wall_ms,
        "epoch": epoch.to_doc(),
        "venue": venue_doc(venue),
        "feed": dict(feed),
        "conditionals": [c.to_doc() for c in venue.conditionals.open.values()],
    }
    head = json.dumps(doc, separators=(",", ":"), allow_nan=False)
    return f'{head[:-1]},"open_orders":[{",".join(texts)}]}}'


def loads(text: str) -> SavedAccount:
    """Parse saved state; `SnapshotError` if it is not a state this version can read."""
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise SnapshotError(f"saved paper state is not JSON: {e}") from e
    if not isinstance(doc, dict):
        raise SnapshotError("saved paper state is not a JSON object")
    if doc.get("format") not in READABLE_FORMATS:
        raise SnapshotError(
            f"saved paper state has format {doc.get('format')!r}, this mmctl reads {READABLE_FORMATS}"
        )
    try:
        return SavedAccount(
            account=str(doc["account"]),
            market=str(doc["market"]),
            symbols=tuple(str(s) for s in doc["symbols"]),
            saved_wall_ms=_int(doc, "saved_wall_ms"),
            epoch=Epoch.from_doc(doc["epoch"]),
            venue=_mapping(doc, "venue"),
            feed=_mapping(doc, "feed"),
            open_orders=tuple(doc["open_orders"]),
            conditionals=tuple(doc.get("conditionals", ())),  # format 1: none
        )
    except (KeyError, TypeError) as e:
        raise SnapshotError(f"saved paper state lacks or garbles {e}") from e


# --- the venue ---------------------------------------------------------------------------------------


def venue_doc(venue: PaperVenue) -> dict[str, Any]:
    symbols = {}
    for st in venue.symbol_states:
        symbols[st.symbol] = {
            "position_qty": str(st.position_qty),
            "entry_price": str(st.entry_price),
            "leverage": st.leverage,
            "countdown_ms": st.countdown_ms,
            "top": _top_doc(st.top),
            "last_trade": _trade_doc(st.last_trade),
        }
    return {
        "now_ms": venue.now_ms,
        "next_funding_ms": venue.next_funding_ms,
        "asset": venue.wallet.asset,
        "wallet": str(venue.wallet.balance),
        "last_order_id": venue.orders.last_id,
        "last_trade_id": venue.last_trade_id,
        "last_income_id": venue.wallet.last_id,
        "last_conditional_id": venue.conditionals.last_id,
        "symbols": symbols,
    }


def restore_venue(
    saved: SavedAccount,
    markets: Mapping[str, MarketRules],
    *,
    funding_rate: Decimal,
    funding_interval_s: int,
    trades: Iterable[Fill] = (),
    closed_orders: Iterable[LiveOrder] = (),
    income: Iterable[IncomeRow] = (),
) -> PaperVenue:
    """A venue in exactly the saved state. `markets` must hold the saved symbols (the caller checks);
    `trades`, `closed_orders` and `income` are the epoch's rows from the store, oldest first.

    The funding schedule is kept unless the funding interval changed (then the next settlement is the
    next multiple of the new interval)."""
    doc = saved.venue
    try:
        now = _int(doc, "now_ms")
        venue = PaperVenue(
            markets,
            balance=_dec(doc, "wallet"),
            start_ms=now,
            funding_rate=funding_rate,
            funding_interval_s=funding_interval_s,
            asset=str(doc["asset"]),
        )
        next_funding = _int(doc, "next_funding_ms")
        interval = venue.funding_interval_ms
        if next_funding <= now or next_funding % interval:
            next_funding = (now // interval + 1) * interval
        venue.set_clock(now, next_funding)
        venue.wallet.restore(_dec(doc, "wallet"), _int(doc, "last_income_id"), list(income))
        venue.orders.last_id = _int(doc, "last_order_id")
        venue.last_trade_id = _int(doc, "last_trade_id")
        venue.trades.extend(trades)
        for symbol, sd in _mapping(doc, "symbols").items():
            st = venue.state(symbol)
            st.position_qty = _dec(sd, "position_qty")
            st.entry_price = _dec(sd, "entry_price")
            st.leverage = _int(sd, "leverage")
            countdown = sd.get("countdown_ms")
            st.countdown_ms = None if countdown is None else int(countdown)
            st.top = _top(sd.get("top"), st.symbol)
            st.last_trade = _trade(sd.get("last_trade"), st.symbol)
        venue.orders.restore_closed(list(closed_orders))
        venue.conditionals.restore(saved.conditionals, int(doc.get("last_conditional_id", 0)))
        for od in saved.open_orders:
            order = live_order(od)
            venue.orders.add(order)
            if order.resting:
                order.resting = False
                venue.state(order.symbol).rest(order)
        venue.set_clock(now, next_funding)  # countdown deadlines are timers too
    except (KeyError, TypeError, ValueError) as e:
        raise SnapshotError(f"saved paper state of {saved.account!r} is malformed: {e!r}") from e
    return venue


# --- orders ------------------------------------------------------------------------------------------


def order_doc(order: LiveOrder) -> dict[str, Any]:
    """One order with everything the venue keeps (its queue position is `seq`)."""
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "price": None if order.price is None else str(order.price),
        "qty": str(order.qty),
        "filled": str(order.filled),
        "cost": str(order.cost),
        "status": order.status.value,
        "post_only": order.post_only,
        "reduce_only": order.reduce_only,
        "created_ms": order.created_ms,
        "updated_ms": order.updated_ms,
        "seq": order.priority[1],
        "resting": order.resting,
        "amendments": order.amendments,
    }


def live_order(doc: Mapping[str, Any]) -> LiveOrder:
    price = doc["price"]
    order = LiveOrder(
        str(doc["id"]),
        str(doc["client_order_id"]),
        str(doc["symbol"]),
        Side(doc["side"]),
        OrderType(doc["type"]),
        None if price is None else _decimal(price),
        _dec(doc, "qty"),
        post_only=bool(doc["post_only"]),
        reduce_only=bool(doc["reduce_only"]),
        seq=_int(doc, "seq"),
        ts_ms=_int(doc, "created_ms"),
    )
    order.filled = _dec(doc, "filled")
    order.cost = _dec(doc, "cost")
    order.status = OrderStatus(doc["status"])
    order.updated_ms = _int(doc, "updated_ms")
    order.resting = bool(doc["resting"])
    order.amendments = int(doc.get("amendments", 0))  # absent from states saved before amends existed
    return order


def order_json(order: LiveOrder) -> str:
    return json.dumps(order_doc(order), separators=(",", ":"))


def order_from_json(text: str) -> LiveOrder:
    try:
        return live_order(json.loads(text))
    except (KeyError, TypeError, ValueError) as e:
        raise SnapshotError(f"a saved paper order is malformed: {e!r}") from e


# --- helpers -----------------------------------------------------------------------------------------


def _top_doc(top: BookTop | None) -> list[Any] | None:
    if top is None:
        return None
    return [str(top.bid), str(top.bid_qty), str(top.ask), str(top.ask_qty), top.ts_ms]


def _top(doc: Any, symbol: str) -> BookTop | None:
    if doc is None:
        return None
    bid, bid_qty, ask, ask_qty, ts = doc
    return BookTop(symbol, _decimal(bid), _decimal(bid_qty), _decimal(ask), _decimal(ask_qty), int(ts))


def _trade_doc(trade: Trade | None) -> list[Any] | None:
    if trade is None:
        return None
    return [str(trade.price), str(trade.qty), trade.side.value, trade.ts_ms]


def _trade(doc: Any, symbol: str) -> Trade | None:
    if doc is None:
        return None
    price, qty, side, ts = doc
    return Trade(symbol, _decimal(price), _decimal(qty), Side(side), int(ts))


def _dec(doc: Mapping[str, Any], key: str) -> Decimal:
    return _decimal(doc[key])


def _int(doc: Mapping[str, Any], key: str) -> int:
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{key} must be an integer, got {value!r}")
    return value


def _mapping(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = doc[key]
    if not isinstance(value, dict):
        raise TypeError(f"{key} must be an object")
    return value
