"""Conditional orders on Binance USDⓈ-M: its Algo Service, through ccxt's implicit endpoints.

Since 2025-12-09 Binance refuses STOP_MARKET, TAKE_PROFIT_MARKET and TRAILING_STOP_MARKET on
/fapi/v1/order (-4120); they are placed with POST /fapi/v1/algoOrder (`algoType=CONDITIONAL`, `type`,
`side`, `quantity` or `closePosition=true`, `triggerPrice`, `workingType`, `reduceOnly`, `clientAlgoId`,
`callbackRate`/`activatePrice` for trailing stops; ccxt 4.5 maps them to `fapiPrivatePostAlgoOrder`),
listed with GET openAlgoOrders, queried with GET algoOrder and cancelled with DELETE algoOrder (by
`clientAlgoId`) and DELETE algoOpenOrders (a symbol's all). Every value sent is exact decimal text and
every answer is read from Binance's raw strings.

Their life comes on the user data stream as `ALGO_UPDATE` (`o`: `caid` client id, `aid` algo id, `o`
type, `X` status, `ai` the order it became, `tp` trigger, `wt`, `cp`, `R`, `rm` reason); the account's
message hook (`events.UserEvents`) hands each raw `o` to `AlgoOrders.on_event`, which publishes a
`ConditionalOrder` to `conditional_updates()` subscribers when it moves the order's state forward
(Binance's transient TRIGGERING is not published: TRIGGERED or REJECTED follows it). REST answers only
update what is known (a NEW placed by REST is still published when the stream reports it).

After a gap in the user stream, `reconcile()` asks REST (GET openAlgoOrders per symbol with conditionals
not settled, GET algoOrder for each that left the list) and publishes what the stream missed; the market
order a conditional became while the stream was down is fetched once (GET order) so the order tracker
knows it and the account's order reconciliation (run right after) recovers its fills.

Binance's types mmctl does not place (STOP and TAKE_PROFIT limit orders, placed by hand) are left out of
`open()` and of the events; `cancel_all` still sweeps them (DELETE algoOpenOrders).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Protocol

import structlog

from mmctl.errors import FilterRejected, TransientError, UnknownOrder
from mmctl.exchange.binance.convert import ConversionError, SymbolOf, dec, ms, side, text
from mmctl.exchange.binance.tracker import OrderTracker
from mmctl.exchange.conditional import (
    ConditionalKind,
    ConditionalOrder,
    ConditionalRequest,
    ConditionalStatus,
    WorkingType,
    check_request,
)
from mmctl.exchange.fanout import Fanout, Subscription
from mmctl.model import MarketRules, Order, Side

log = structlog.get_logger("mmctl.binance")

STATUS = {
    "NEW": ConditionalStatus.NEW,
    "TRIGGERING": ConditionalStatus.TRIGGERED,  # on its way to the matching engine
    "TRIGGERED": ConditionalStatus.TRIGGERED,
    "FINISHED": ConditionalStatus.FINISHED,
    "CANCELED": ConditionalStatus.CANCELED,
    "EXPIRED": ConditionalStatus.EXPIRED,
    "REJECTED": ConditionalStatus.REJECTED,
}
KINDS = {k.value: k for k in ConditionalKind}
MAX_SETTLED = 5_000
_RANK = {ConditionalStatus.NEW: 0, ConditionalStatus.TRIGGERED: 1}  # every final status ranks 2


# --- parameters and conversions (pure) ----------------------------------------------------------------


def algo_params(req: ConditionalRequest, rules: MarketRules) -> dict[str, str]:
    """POST /fapi/v1/algoOrder for `req` on `rules`' market."""
    params = {
        "algoType": "CONDITIONAL",
        "symbol": rules.id,
        "side": "BUY" if req.side is Side.BUY else "SELL",
        "type": req.kind.value,
        "workingType": req.working_type.value,
        "clientAlgoId": req.client_id,
    }
    if req.close_position:
        params["closePosition"] = "true"  # Binance refuses reduceOnly beside it: it is reduce-only anyway
    else:
        assert req.qty is not None
        params["quantity"] = text(req.qty)
        if req.reduce_only:
            params["reduceOnly"] = "true"
    if req.trigger_price is not None:
        params["triggerPrice"] = text(req.trigger_price)
    if req.callback_rate is not None:
        params["callbackRate"] = text(req.callback_rate)
    if req.activate_price is not None:
        params["activatePrice"] = text(req.activate_price)
    return params


def conditional(raw: Mapping[str, Any], symbol_of: SymbolOf) -> ConditionalOrder:
    """A conditional order from a REST algo order (POST/GET algoOrder, openAlgoOrders)."""
    close = _flag(raw.get("closePosition"))
    updated = ms(raw.get("updateTime") or raw.get("createTime") or 0)
    actual = str(raw.get("actualOrderId") or "")
    return ConditionalOrder(
        id=str(_field(raw, "algoId")),
        client_id=str(_field(raw, "clientAlgoId")),
        symbol=symbol_of(str(_field(raw, "symbol"))),
        side=side(_field(raw, "side")),
        kind=_kind(_field(raw, "orderType")),
        status=_status(_field(raw, "algoStatus")),
        trigger_price=_price(raw.get("triggerPrice")),
        callback_rate=_price(raw.get("callbackRate")),
        activate_price=_price(raw.get("activatePrice")),
        qty=None if close else dec(_field(raw, "quantity")),
        close_position=close,
        reduce_only=close or _flag(raw.get("reduceOnly")),
        working_type=_working(raw.get("workingType")),
        created_ms=ms(raw.get("createTime") or updated),
        updated_ms=updated,
        order_id=actual or None,
        order_client_id=str(_field(raw, "clientAlgoId")) if actual else None,
        reason=str(raw.get("failedReason") or ""),
    )


def conditional_from_event(
    o: Mapping[str, Any], event_ms: int, symbol_of: SymbolOf, created_ms: int | None = None
) -> ConditionalOrder:
    """A conditional order from the `o` object of an ALGO_UPDATE (which carries no creation time: pass
    it when known, else the event time stands for it)."""
    close = _flag(o.get("cp"))
    actual = str(o.get("ai") or "")
    client_id = str(_field(o, "caid"))
    return ConditionalOrder(
        id=str(_field(o, "aid")),
        client_id=client_id,
        symbol=symbol_of(str(_field(o, "s"))),
        side=side(_field(o, "S")),
        kind=_kind(_field(o, "o")),
        status=_status(_field(o, "X")),
        trigger_price=_price(o.get("tp")),
        callback_rate=_price(o.get("cr")),
        activate_price=_price(o.get("AP")),
        qty=None if close else dec(_field(o, "q")),
        close_position=close,
        reduce_only=close or _flag(o.get("R")),
        working_type=_working(o.get("wt")),
        created_ms=created_ms if created_ms is not None else event_ms,
        updated_ms=event_ms,
        order_id=actual or None,
        order_client_id=client_id if actual else None,
        reason=str(o.get("rm") or ""),
    )


def _field(raw: Mapping[str, Any], key: str) -> Any:
    try:
        return raw[key]
    except KeyError:
        raise ConversionError(f"field {key!r} missing from {sorted(raw)}") from None


def _kind(value: Any) -> ConditionalKind:
    try:
        return KINDS[str(value)]
    except KeyError:
        raise ConversionError(f"conditional order type {value!r} is not one mmctl places") from None


def _status(value: Any) -> ConditionalStatus:
    try:
        return STATUS[str(value)]
    except KeyError:
        raise ConversionError(f"unknown algo order status {value!r}") from None


def _working(value: Any) -> WorkingType:
    return (
        WorkingType.MARK_PRICE if value == "MARK_PRICE" else WorkingType.CONTRACT_PRICE
    )  # Binance's default


def _price(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    price = dec(value)
    return price if price > 0 else None


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


# --- the account's conditional orders -----------------------------------------------------------------


class AlgoVenue(Protocol):
    """What `AlgoOrders` needs from the Binance account."""

    tracker: OrderTracker
    active_symbols: set[str]

    def market(self, symbol: str) -> MarketRules: ...

    def symbol_of(self, venue_id: str) -> str: ...

    async def call(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Any: ...

    async def fetch_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order: ...


@dataclass(slots=True)
class _Tracked:
    known: ConditionalOrder  # the freshest state seen anywhere
    emitted: ConditionalOrder | None = None  # the last state published


class AlgoOrders:
    """The account's conditional orders: requests, stream events, reconciliation (module docstring)."""

    def __init__(self, venue: AlgoVenue, start_stream: Callable[[], None] = lambda: None) -> None:
        self.venue = venue
        self.start_stream = start_stream
        self.fanout: Fanout[ConditionalOrder] = Fanout()
        self._orders: OrderedDict[str, _Tracked] = OrderedDict()  # by client id
        self.malformed = 0
        self.recovered = 0

    def subscribe(self) -> Subscription[ConditionalOrder]:
        self.start_stream()
        return self.fanout.subscribe()

    def close(self) -> None:
        self.fanout.close()

    # --- requests -------------------------------------------------------------------------------------

    async def place(self, req: ConditionalRequest) -> ConditionalOrder:
        if not isinstance(req, ConditionalRequest):
            raise FilterRejected(f"expected a ConditionalRequest, got {type(req).__name__}")
        rules = self.venue.market(req.symbol)
        check_request(req, rules)  # refused here, unsent: Binance would refuse it too
        self.venue.active_symbols.add(rules.symbol)  # the order it becomes is reconciled with the rest
        answer = await self.venue.call("fapiPrivatePostAlgoOrder", algo_params(req, rules))
        try:
            return self._seen(conditional(answer, self.venue.symbol_of))
        except (ConversionError, AttributeError, TypeError) as e:
            raise TransientError(
                f"Binance's answer to conditional order {req.client_id} is not one mmctl reads: its outcome "
                "is unknown (open_conditionals tells)",
                data={"client_id": req.client_id},
            ) from e

    async def cancel(self, symbol: str, client_id: str) -> ConditionalOrder:
        rules = self.venue.market(symbol)
        answer = await self.venue.call("fapiPrivateDeleteAlgoOrder", {"clientAlgoId": client_id})
        algo_id = str(answer.get("algoId")) if isinstance(answer, Mapping) else None
        t = self._orders.get(client_id)
        if t is not None and t.known.symbol == rules.symbol and algo_id == t.known.id:
            return self._seen(replace(t.known, status=ConditionalStatus.CANCELED))
        raw = await self.venue.call("fapiPrivateGetAlgoOrder", {"clientAlgoId": client_id})
        return self._seen(conditional(raw, self.venue.symbol_of))  # not known here: Binance's own word

    async def cancel_all(self, symbol: str) -> list[ConditionalOrder]:
        """What is listed open is reported cancelled; then everything open on the symbol is swept."""
        listed = await self.open(symbol)
        await self.venue.call("fapiPrivateDeleteAlgoOpenOrders", {"symbol": self.venue.market(symbol).id})
        return [self._seen(replace(c, status=ConditionalStatus.CANCELED)) for c in listed]

    async def open(self, symbol: str | None = None) -> list[ConditionalOrder]:
        params = {"symbol": self.venue.market(symbol).id} if symbol is not None else {}
        answer = await self.venue.call("fapiPrivateGetOpenAlgoOrders", params)
        out = []
        for raw in answer if isinstance(answer, list) else ():
            try:
                out.append(self._seen(conditional(raw, self.venue.symbol_of)))
            except ConversionError:
                continue  # a kind mmctl does not place (a manual STOP limit): not ours to report
        return sorted(out, key=lambda c: (c.created_ms, len(c.id), c.id))  # ids are numbers

    # --- the stream ------------------------------------------------------------------------------------

    def on_event(self, o: Mapping[str, Any], event_ms: Any) -> None:
        """One ALGO_UPDATE's `o` object (raw): publish it when it moves the order's state forward."""
        if o.get("X") == "TRIGGERING":
            return  # transient: TRIGGERED (with the order it became) or REJECTED follows
        t = self._orders.get(str(o.get("caid")))
        created = t.known.created_ms if t is not None and t.known.id == str(o.get("aid")) else None
        try:
            cond = conditional_from_event(o, ms(event_ms), self.venue.symbol_of, created)
        except ConversionError:
            self.malformed += 1  # or a kind mmctl does not place; a reconciliation finds ours
            return
        self._publish(cond)

    def pending(self) -> bool:
        """Whether any conditional is not settled on the stream (so a quiet stream is worth a check)."""
        return any(_pending(t) for t in self._orders.values())

    async def reconcile(self) -> int:
        """Publish what the stream missed (see the module docstring); returns how many states."""
        pending = [t for t in self._orders.values() if _pending(t)]
        published = 0
        for symbol in sorted({t.known.symbol for t in pending}):
            listed = {c.client_id: c for c in await self.open(symbol)}
            for t in [t for t in pending if t.known.symbol == symbol]:
                cond = listed.get(t.known.client_id)
                if cond is None:
                    cond = await self._final_state(t.known)
                if cond is not None and self._publish(cond):
                    published += 1
                    self.recovered += 1
                    await self._register_order(cond)
        return published

    async def _final_state(self, cond: ConditionalOrder) -> ConditionalOrder | None:
        try:
            raw = await self.venue.call("fapiPrivateGetAlgoOrder", {"algoId": cond.id})
        except UnknownOrder:
            self._orders.pop(cond.client_id, None)  # too old for Binance to know
            return None
        return conditional(raw, self.venue.symbol_of)

    async def _register_order(self, cond: ConditionalOrder) -> None:
        """Make the order tracker know the market order a conditional became (so its fills are
        recovered by the order reconciliation that follows)."""
        if cond.order_id is None or self.venue.tracker.known(cond.client_id) is not None:
            return
        try:
            await self.venue.fetch_order(cond.symbol, order_id=cond.order_id)  # tracked by fetch_order
        except UnknownOrder:
            log.warning("triggered_order_unknown", client_id=cond.client_id, order_id=cond.order_id)

    # --- machinery ------------------------------------------------------------------------------------

    def _seen(self, cond: ConditionalOrder) -> ConditionalOrder:
        """A REST answer: remembered as the freshest state, not published."""
        t = self._orders.get(cond.client_id)
        if t is None or t.known.id != cond.id:
            self._orders[cond.client_id] = _Tracked(cond)
            self._orders.move_to_end(cond.client_id)
        elif _rank(cond) >= _rank(t.known):
            t.known = cond
        self._forget_settled()
        return cond

    def _publish(self, cond: ConditionalOrder) -> bool:
        """Publish `cond` if it is news to subscribers; True when it was."""
        t = self._orders.get(cond.client_id)
        if t is None or t.known.id != cond.id:
            t = self._orders[cond.client_id] = _Tracked(cond)
        elif _rank(cond) >= _rank(t.known):
            t.known = cond
        last = t.emitted
        if last is not None and last.id == cond.id and not _advances(cond, last):
            return False
        t.emitted = cond
        self.fanout.publish(cond)
        self._forget_settled()
        return True

    def _forget_settled(self) -> None:
        while len(self._orders) > MAX_SETTLED:
            key = next((k for k, t in self._orders.items() if not _pending(t)), None)
            if key is None:
                return
            del self._orders[key]


def _rank(cond: ConditionalOrder) -> int:
    return _RANK.get(cond.status, 2)


def _advances(new: ConditionalOrder, old: ConditionalOrder) -> bool:
    """A later state of the same conditional: a higher rank, or the order it became newly known."""
    if _rank(new) != _rank(old):
        return _rank(new) > _rank(old)
    if new.status is not old.status:
        return False  # two final states: the first one stands
    return new.order_id is not None and old.order_id is None


def _pending(t: _Tracked) -> bool:
    """Not settled on the stream: open or triggered as far as anyone knows, or final but not published."""
    e = t.emitted
    return not t.known.status.is_final or e is None or not e.status.is_final
