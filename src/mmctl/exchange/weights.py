"""What one call of each `Exchange` port method costs on Binance USDⓈ-M, as data.

Binance limits each IP to a request weight per minute and each account to a number of new orders per
10 seconds and per minute (developers.binance.com, "Request Weight"; the same costs ccxt 4.5's
binanceusdm declares). `cost(method, n_requests, symbol_given)` gives the `Cost` of one port call as the
Binance adapter issues it, so the request budget, benchmarks and reports all read the same table:

    method            endpoint                          weight  orders 10 s  orders 1 min
    place_orders 1    POST /fapi/v1/order                    0            1             1
    place_orders 2-5  POST /fapi/v1/batchOrders              5            5             1
    amend_orders n    n concurrent PUT /fapi/v1/order        0            n             n
    cancel_order      DELETE /fapi/v1/order                  1
    cancel_orders     DELETE /fapi/v1/batchOrders            1
    cancel_all        DELETE /fapi/v1/allOpenOrders          1
    open_orders       GET /fapi/v1/openOrders                1 with a symbol, 40 without
    fetch_order       GET /fapi/v1/order                     1
    balance           GET /fapi/v3/account                   5
    positions         GET /fapi/v3/positionRisk              5   (position: the same)
    leverage          GET /fapi/v1/symbolConfig              5
    set_leverage      POST /fapi/v1/leverage                 1
    income            GET /fapi/v1/income                   30
    my_trades         GET /fapi/v1/userTrades                5
    arm/disarm_countdown POST /fapi/v1/countdownCancelAll   10
    place_conditional POST /fapi/v1/algoOrder                0            1             1
    cancel_conditional DELETE /fapi/v1/algoOrder             1
    cancel_all_conditionals GET openAlgoOrders + DELETE /fapi/v1/algoOpenOrders   2
    open_conditionals GET /fapi/v1/openAlgoOrders            1 with a symbol, 40 without
    server_time_ms    GET /fapi/v1/time                      1
    load_markets      GET /fapi/v1/exchangeInfo              1   (once)
    market, book, health, name, max_batch, trade_window_ms, watch_book, watch_trades, order_updates,
    conditional_updates, close: no REST request, 0

Cancels do not count as orders; an amend counts as one order (cancel + new counts two). The amend costs
are Binance's "Modify Order" page (developers.binance.com/docs/derivatives/usds-margined-futures/trade/
rest-api/Modify-Order: 1 on each order counter, 0 IP weight). The adapter never sends "Modify Multiple
Orders" (PUT batchOrders: 5 IP weight, 5 on the 10 s counter, 1 on the 1 min counter): Binance runs a
batch's legs concurrently anyway, so n concurrent single PUTs behave the same and cost no more weight or
10 s orders for any n <= 5; only the 1 min order counter pays n instead of 1.

Conditional orders live in Binance's Algo Service (developers.binance.com/docs/derivatives/
usds-margined-futures/trade/rest-api: New Algo Order "0 on IP rate limit", Cancel Algo Order 1, Cancel
All Algo Open Orders 1, Current All Algo Open Orders "1 for a single symbol; 40 when the symbol parameter
is omitted"). New Algo Order's page names no order-counter cost; mmctl counts it as one new order on
each counter, as a new order is, so a budget never under-counts. `cancel_all_conditionals` lists the
open ones (to say what it cancelled) and then sweeps: two requests. `cancel_conditional` of one this
process never saw (placed before a restart and not listed since) also asks its final state (GET
algoOrder, 1): the usage headers count that one. Core module: stdlib and
`mmctl.model` only.
"""

from __future__ import annotations

from dataclasses import dataclass

BATCH_ORDERS_MAX = 5
"""Most orders one POST /fapi/v1/batchOrders takes."""


@dataclass(frozen=True, slots=True)
class Cost:
    """What one request uses: IP weight (1 min window) and new orders on the 10 s and 1 min counters."""

    weight: int = 0
    orders_10s: int = 0
    orders_1m: int = 0

    def __post_init__(self) -> None:
        if min(self.weight, self.orders_10s, self.orders_1m) < 0:
            raise ValueError(f"a cost cannot be negative: {self}")

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.weight + other.weight, self.orders_10s + other.orders_10s, self.orders_1m + other.orders_1m
        )

    @property
    def free(self) -> bool:
        """True when the call sends no request at all."""
        return self.weight == 0 and self.orders_10s == 0 and self.orders_1m == 0


FREE = Cost()

PLACE_SINGLE = Cost(weight=0, orders_10s=1, orders_1m=1)
"""POST /fapi/v1/order."""
PLACE_BATCH = Cost(weight=5, orders_10s=5, orders_1m=1)
"""POST /fapi/v1/batchOrders (2..5 orders)."""
AMEND_SINGLE = Cost(weight=0, orders_10s=1, orders_1m=1)
"""PUT /fapi/v1/order; an `amend_orders` call of n amends sends n of them, concurrently."""
OPEN_ORDERS_ALL = Cost(weight=40)
"""GET /fapi/v1/openOrders without a symbol."""
PLACE_CONDITIONAL = Cost(weight=0, orders_10s=1, orders_1m=1)
"""POST /fapi/v1/algoOrder."""
OPEN_CONDITIONALS_ALL = Cost(weight=40)
"""GET /fapi/v1/openAlgoOrders without a symbol."""

FIXED: dict[str, Cost] = {
    "cancel_order": Cost(1),
    "cancel_orders": Cost(1),
    "cancel_all": Cost(1),
    "open_orders": Cost(1),
    "fetch_order": Cost(1),
    "balance": Cost(5),
    "positions": Cost(5),
    "position": Cost(5),
    "leverage": Cost(5),
    "set_leverage": Cost(1),
    "income": Cost(30),
    "my_trades": Cost(5),
    "arm_countdown": Cost(10),
    "disarm_countdown": Cost(10),
    "place_conditional": PLACE_CONDITIONAL,
    "cancel_conditional": Cost(1),
    "cancel_all_conditionals": Cost(2),
    "open_conditionals": Cost(1),
    "server_time_ms": Cost(1),
    "load_markets": Cost(1),
    "market": FREE,
    "book": FREE,
    "health": FREE,
    "name": FREE,
    "max_batch": FREE,
    "trade_window_ms": FREE,
    "watch_book": FREE,
    "watch_trades": FREE,
    "order_updates": FREE,
    "conditional_updates": FREE,
    "close": FREE,
    "settle": FREE,
}
"""The cost of every port method whose cost does not depend on its arguments (place_orders and
amend_orders do)."""

METHODS = frozenset({*FIXED, "place_orders", "amend_orders"})
"""Every `Exchange` port method and property this table prices."""


def cost(method: str, n_requests: int = 1, symbol_given: bool = True) -> Cost:
    """The cost of one call of the port method `method`.

    `n_requests` is the number of orders in a `place_orders` or `amend_orders` call (0 sends nothing; above
    `BATCH_ORDERS_MAX` the adapter rejects the call unsent, but it is priced as sent so a budget never
    under-counts). An amend call costs `n_requests` single PUTs. `symbol_given` matters for `open_orders`
    and `open_conditionals` only. Raises `ValueError` for a name that is not a port method.
    """
    if method == "place_orders":
        return _batch_cost(n_requests, PLACE_SINGLE, PLACE_BATCH)
    if method == "amend_orders":
        return _singles_cost(n_requests, AMEND_SINGLE)
    if method == "open_orders" and not symbol_given:
        return OPEN_ORDERS_ALL
    if method == "open_conditionals" and not symbol_given:
        return OPEN_CONDITIONALS_ALL
    try:
        return FIXED[method]
    except KeyError:
        raise ValueError(f"not an Exchange port method: {method!r}") from None


def _batch_cost(n_requests: int, single: Cost, batch: Cost) -> Cost:
    _check_count(n_requests)
    if n_requests == 0:
        return FREE
    return single if n_requests == 1 else batch


def _singles_cost(n_requests: int, single: Cost) -> Cost:
    _check_count(n_requests)
    return Cost(single.weight * n_requests, single.orders_10s * n_requests, single.orders_1m * n_requests)


def _check_count(n_requests: int) -> None:
    if n_requests < 0:
        raise ValueError(f"n_requests must be >= 0, got {n_requests}")
