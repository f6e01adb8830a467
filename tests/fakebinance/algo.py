"""The fake's Algo Service: conditional orders (STOP_MARKET, TAKE_PROFIT_MARKET, TRAILING_STOP_MARKET) held
apart from the order book, triggered by the mark price or the last trade price, with ALGO_UPDATE events.

Binance's rules (developers.binance.com/docs/derivatives/usds-margined-futures: New Algo Order, Event Algo
Order Update): `algoType=CONDITIONAL`; `quantity` or `closePosition=true` (not both; no `reduceOnly`
beside `closePosition`); `triggerPrice` for STOP_MARKET / TAKE_PROFIT_MARKET; `callbackRate` (0.1 to 20,
percent) and an optional `activatePrice` for TRAILING_STOP_MARKET; `workingType` MARK_PRICE or
CONTRACT_PRICE (default); `clientAlgoId` unique among the account's open algo orders. A STOP or
TAKE_PROFIT whose condition already holds is refused with -2021; more than 200 open per account -4045.
STOP and TAKE_PROFIT limit types are not simulated (-1116).

Triggering: the venue calls `on_price(symbol, working_type)` after every book move (mark: pinned by the
test, else the book's mid) and every public trade (last price). A trailing stop activates at placement
(or when the price reaches `activatePrice`), tracks the best price since and triggers on a retrace of
`callbackRate` percent. A triggered order pushes TRIGGERING, then becomes a reduce-only (or
close-position) MARKET order with the `clientAlgoId` as its client id, placed through the fake's own
order entry (taker at the book), then TRIGGERED (with `ai`, the order id) and FINISHED; with nothing to
reduce it is EXPIRED instead, and an order the venue refuses makes it REJECTED (`rm` says why).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from . import parsing as rq
from . import trading
from .amounts import CTX, ZERO
from .errors import BinanceError
from .markets import SymbolSpec, check_price, check_qty
from .venue import Venue

MAX_OPEN_PER_ACCOUNT = 200
CALLBACK_MIN, CALLBACK_MAX = Decimal("0.1"), Decimal("20")
KINDS = ("STOP_MARKET", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")
OPEN_STATUSES = frozenset({"NEW"})


@dataclass(slots=True, eq=False)
class AlgoOrder:
    """One conditional order in the Algo Service."""

    algo_id: int
    client_algo_id: str
    account_key: str
    symbol: str
    side: str
    order_type: str
    quantity: Decimal | None  # None with closePosition
    trigger_price: Decimal | None
    working_type: str
    close_position: bool
    reduce_only: bool
    callback_rate: Decimal | None
    activate_price: Decimal | None
    create_time: int
    update_time: int
    status: str = "NEW"
    trigger_time: int = 0
    actual_order_id: str = ""
    executed_qty: Decimal = ZERO
    avg_price: Decimal = ZERO
    best: Decimal | None = None  # a trailing stop's reference once active
    failed_reason: str = ""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class AlgoService:
    """Every account's conditional orders on the fake venue (see the module docstring)."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.orders: dict[int, AlgoOrder] = {}
        self.last_prices: dict[str, Decimal] = {}
        self._next_id = 1_000_000_000

    # --- entry ----------------------------------------------------------------------------------------

    def place(self, key: str, params: Mapping[str, Any]) -> AlgoOrder:
        """POST /fapi/v1/algoOrder."""
        if rq.need(params, "algoType") != "CONDITIONAL":
            raise BinanceError(-1130, name="algoType")
        symbol = rq.need(params, "symbol")
        spec = self.venue.spec(symbol)
        side = rq.need(params, "side")
        if side not in ("BUY", "SELL"):
            raise BinanceError(-1117)
        order_type = rq.need(params, "type")
        if order_type not in KINDS:
            raise BinanceError(-1116)
        if self.venue.account(key).hedge_mode or rq.text(params, "positionSide", required=False) not in (
            None,
            "BOTH",
        ):
            raise BinanceError(-4061)
        working = rq.text(params, "workingType", required=False) or "CONTRACT_PRICE"
        if working not in ("MARK_PRICE", "CONTRACT_PRICE"):
            raise BinanceError(-1130, name="workingType")
        client_id = rq.text(params, "clientAlgoId", required=False) or f"algo{self._next_id + 1}"
        if not rq.CLIENT_ID.match(client_id):
            raise BinanceError(-1100, name="clientAlgoId", legal=rq.CLIENT_ID_LEGAL)
        close = rq.flag(params, "closePosition")
        quantity, reduce_only = self._size(params, spec, close, order_type)
        trigger, rate, activate = self._prices(params, spec, order_type)
        opened = [o for o in self.orders.values() if o.account_key == key and o.is_open]
        if any(o.client_algo_id == client_id for o in opened):
            raise BinanceError(-4116)
        if len(opened) >= MAX_OPEN_PER_ACCOUNT:
            raise BinanceError(-4045)
        price = self.price(symbol, working)
        if trigger is not None and price is not None and _met(order_type, side, trigger, price):
            raise BinanceError(-2021)
        self._next_id += 1
        now = self.venue.now_ms()
        order = AlgoOrder(
            self._next_id, client_id, key, symbol, side, order_type, quantity, trigger, working, close,
            reduce_only, rate, activate, now, now,
        )  # fmt: skip
        if order_type == "TRAILING_STOP_MARKET" and price is not None and _activates(order, price):
            order.best = price
        self.orders[order.algo_id] = order
        self._emit(order)
        return order

    def _size(
        self, params: Mapping[str, Any], spec: SymbolSpec, close: bool, order_type: str
    ) -> tuple[Decimal | None, bool]:
        reduce_only = rq.flag(params, "reduceOnly")
        if close:
            if rq.text(params, "quantity", required=False) is not None:
                raise BinanceError(-1106, name="quantity")
            if reduce_only:
                raise BinanceError(-1106, name="reduceOnly")
            if order_type == "TRAILING_STOP_MARKET":
                raise BinanceError(-1106, name="closePosition")
            return None, True
        quantity = rq.number(params, "quantity")
        assert quantity is not None
        check_qty(spec, quantity, market=True)
        return quantity, reduce_only

    def _prices(
        self, params: Mapping[str, Any], spec: SymbolSpec, order_type: str
    ) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
        if order_type != "TRAILING_STOP_MARKET":
            trigger = rq.number(params, "triggerPrice")
            assert trigger is not None
            check_price(spec, trigger)
            return trigger, None, None
        rate = rq.number(params, "callbackRate")
        assert rate is not None
        if not CALLBACK_MIN <= rate <= CALLBACK_MAX:
            raise BinanceError(-1130, name="callbackRate")
        activate = rq.number(params, "activatePrice", required=False)
        if activate is not None:
            check_price(spec, activate)
        return None, rate, activate

    def cancel(self, key: str, params: Mapping[str, Any]) -> AlgoOrder:
        """DELETE /fapi/v1/algoOrder (-2011 when unknown or no longer open)."""
        order = self.find(key, params, missing=-2011)
        if not order.is_open:
            raise BinanceError(-2011)
        self._set(order, "CANCELED")
        return order

    def cancel_all(self, key: str, symbol: str) -> list[AlgoOrder]:
        """DELETE /fapi/v1/algoOpenOrders."""
        self.venue.spec(symbol)
        orders = self.open_orders(key, symbol)
        for order in orders:
            self._set(order, "CANCELED")
        return orders

    def find(self, key: str, params: Mapping[str, Any], *, missing: int) -> AlgoOrder:
        """By `algoId` or `clientAlgoId` (any case; a client id means the latest such order)."""
        lowered = {k.lower(): v for k, v in params.items()}
        raw_id, client_id = lowered.get("algoid"), lowered.get("clientalgoid")
        if raw_id in (None, "") and client_id in (None, ""):
            raise BinanceError(-1102, name="algoId")
        mine = [o for o in self.orders.values() if o.account_key == key]
        if raw_id not in (None, ""):
            found = [o for o in mine if str(o.algo_id) == str(raw_id)]
        else:
            found = [o for o in mine if o.client_algo_id == str(client_id)]
        if not found:
            raise BinanceError(missing)
        return max(found, key=lambda o: (o.is_open, o.algo_id))

    def open_orders(self, key: str, symbol: str | None = None) -> list[AlgoOrder]:
        return [
            o
            for o in sorted(self.orders.values(), key=lambda o: o.algo_id)
            if o.account_key == key and o.is_open and symbol in (None, o.symbol)
        ]

    # --- prices and triggering ------------------------------------------------------------------------

    def price(self, symbol: str, working_type: str) -> Decimal | None:
        """The working price: the mark, or the last trade's price (None before any trade)."""
        return self.venue.mark(symbol) if working_type == "MARK_PRICE" else self.last_prices.get(symbol)

    def on_trade(self, symbol: str, price: Decimal) -> None:
        self.last_prices[symbol] = price
        self.on_price(symbol, "CONTRACT_PRICE")

    def on_price(self, symbol: str, working_type: str) -> None:
        """Trigger the symbol's open orders of `working_type` that the working price reaches."""
        price = self.price(symbol, working_type)
        if price is None:
            return
        due = [
            o
            for o in sorted(self.orders.values(), key=lambda o: o.algo_id)
            if o.symbol == symbol and o.is_open and o.working_type == working_type and _reached(o, price)
        ]
        for order in due:
            if order.is_open:
                self._trigger(order)

    def _trigger(self, order: AlgoOrder) -> None:
        order.trigger_time = self.venue.now_ms()
        self._set(order, "TRIGGERING")
        amount = self.venue.account(order.account_key).position(order.symbol).amount
        reducible = abs(amount) if amount != 0 and (amount > 0) != (order.side == "BUY") else ZERO
        if order.reduce_only and reducible == 0:
            self._set(order, "EXPIRED")
            return
        qty = reducible if order.close_position else order.quantity
        assert qty is not None
        req = rq.NewOrder(
            order.symbol,
            order.side,
            "MARKET",
            qty,
            None,
            "GTC",
            order.reduce_only,
            order.client_algo_id,
            None,
        )
        try:
            placed = trading.place(self.venue, order.account_key, req)
        except BinanceError as e:
            order.failed_reason = e.msg
            self._set(order, "REJECTED")
            return
        order.actual_order_id = str(placed.order_id)
        order.executed_qty, order.avg_price = placed.executed_qty, _avg(placed.cum_quote, placed.executed_qty)
        self._set(order, "TRIGGERED")
        self._set(order, "FINISHED")  # a market order is done once placed

    def _set(self, order: AlgoOrder, status: str) -> None:
        order.status = status
        order.update_time = self.venue.now_ms()
        self._emit(order)

    def _emit(self, order: AlgoOrder) -> None:
        now = self.venue.now_ms()
        payload = {
            "e": "ALGO_UPDATE",
            "T": now,
            "E": now,
            "o": algo_event(order, self.venue.specs[order.symbol]),
        }
        self.venue.publisher.user_event(order.account_key, payload)


def _met(order_type: str, side: str, trigger: Decimal, price: Decimal) -> bool:
    rises = (order_type == "STOP_MARKET") == (side == "BUY")
    return price >= trigger if rises else price <= trigger


def _activates(order: AlgoOrder, price: Decimal) -> bool:
    if order.activate_price is None:
        return True
    return price >= order.activate_price if order.side == "SELL" else price <= order.activate_price


def _reached(order: AlgoOrder, price: Decimal) -> bool:
    if order.order_type != "TRAILING_STOP_MARKET":
        assert order.trigger_price is not None
        return _met(order.order_type, order.side, order.trigger_price, price)
    if order.best is None:
        if _activates(order, price):
            order.best = price
        return False
    assert order.callback_rate is not None
    hundred = Decimal(100)
    if order.side == "SELL":
        if price * hundred <= order.best * (hundred - order.callback_rate):
            return True
        order.best = max(order.best, price)
    else:
        if price * hundred >= order.best * (hundred + order.callback_rate):
            return True
        order.best = min(order.best, price)
    return False


def _avg(cum_quote: Decimal, executed: Decimal) -> Decimal:
    return CTX.divide(cum_quote, executed) if executed else ZERO


# --- rendering ------------------------------------------------------------------------------------------


def algo_json(order: AlgoOrder, spec: SymbolSpec) -> dict[str, Any]:
    """An algo order as POST/GET algoOrder and GET openAlgoOrders answer it."""
    out: dict[str, Any] = {
        "algoId": order.algo_id,
        "clientAlgoId": order.client_algo_id,
        "algoType": "CONDITIONAL",
        "orderType": order.order_type,
        "symbol": order.symbol,
        "side": order.side,
        "positionSide": "BOTH",
        "timeInForce": "GTC",
        "quantity": spec.qty_str(order.quantity if order.quantity is not None else ZERO),
        "algoStatus": order.status,
        "actualOrderId": order.actual_order_id,
        "actualPrice": spec.price_str(order.avg_price),
        "triggerPrice": spec.price_str(order.trigger_price if order.trigger_price is not None else ZERO),
        "price": spec.price_str(ZERO),
        "icebergQuantity": None,
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "workingType": order.working_type,
        "priceMatch": "NONE",
        "closePosition": order.close_position,
        "priceProtect": False,
        "reduceOnly": order.reduce_only and not order.close_position,
        "createTime": order.create_time,
        "updateTime": order.update_time,
        "triggerTime": order.trigger_time,
        "goodTillDate": 0,
    }
    if order.order_type == "TRAILING_STOP_MARKET":
        assert order.callback_rate is not None
        out["callbackRate"] = str(order.callback_rate)
        if order.activate_price is not None:
            out["activatePrice"] = spec.price_str(order.activate_price)
    return out


def algo_event(order: AlgoOrder, spec: SymbolSpec) -> dict[str, Any]:
    """The `o` object of an ALGO_UPDATE user-stream event."""
    out: dict[str, Any] = {
        "caid": order.client_algo_id,
        "aid": order.algo_id,
        "at": "CONDITIONAL",
        "o": order.order_type,
        "s": order.symbol,
        "S": order.side,
        "ps": "BOTH",
        "f": "GTC",
        "q": spec.qty_str(order.quantity if order.quantity is not None else ZERO),
        "X": order.status,
        "ai": order.actual_order_id,
        "ap": spec.price_str(order.avg_price),
        "aq": spec.qty_str(order.executed_qty),
        "act": "MARKET" if order.actual_order_id else "0",
        "tp": spec.price_str(order.trigger_price if order.trigger_price is not None else ZERO),
        "p": spec.price_str(ZERO),
        "V": "EXPIRE_MAKER",
        "wt": order.working_type,
        "pm": "NONE",
        "cp": order.close_position,
        "pP": False,
        "R": order.reduce_only and not order.close_position,
        "tt": order.trigger_time,
        "gtd": 0,
        "rm": order.failed_reason,
    }
    if order.order_type == "TRAILING_STOP_MARKET":
        assert order.callback_rate is not None
        out["cr"] = str(order.callback_rate)
        if order.activate_price is not None:
            out["AP"] = spec.price_str(order.activate_price)
    return out
