"""Orders on a Binance USDⓈ-M account: place, amend, cancel, fetch and list them (`BinanceExchange`'s
order methods).

Orders are checked against the market's filters before they are sent (a request the venue would refuse
costs neither weight nor an order count); batches of up to 5 go to POST batchOrders and their answers are
matched to the requests by client order id; amends go to PUT order (what ccxt's `edit_order` calls), one
concurrent request per amend, by client order id. Every order Binance answers with is handed to the
account's order tracker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from mmctl.errors import FilterRejected, OrderRejected, PostOnlyWouldCross, TransientError, UnknownOrder
from mmctl.exchange.base import MAX_CANCEL_BATCH
from mmctl.exchange.binance import convert
from mmctl.exchange.binance.batches import match_legs
from mmctl.exchange.binance.orders import amend_params, order_params, order_ref
from mmctl.exchange.binance.tracker import OrderTracker
from mmctl.exchange.rules import check_order
from mmctl.exchange.weights import BATCH_ORDERS_MAX
from mmctl.model import (
    Amend,
    AmendResult,
    CancelResult,
    MarketRules,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    PlaceResult,
)

if TYPE_CHECKING:
    from mmctl.exchange.binance.streams import BookStreams


class OrderVenue(Protocol):
    """What the order requests need from the Binance account."""

    tracker: OrderTracker
    active_symbols: set[str]
    books: BookStreams

    def market(self, symbol: str) -> MarketRules: ...

    def symbol_of(self, venue_id: str) -> str: ...

    async def call(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Any: ...


# --- placing ------------------------------------------------------------------------------------------


async def place_orders(venue: OrderVenue, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
    """One POST order, or one POST batchOrders for several; one result per request, in request order."""
    if len(requests) > BATCH_ORDERS_MAX:
        raise FilterRejected(
            f"a batch holds at most {BATCH_ORDERS_MAX} orders, got {len(requests)}; nothing was placed",
            data={"field": "batch", "max_batch": BATCH_ORDERS_MAX},
        )
    results: dict[int, PlaceResult] = {}  # by request index
    legs: list[tuple[int, OrderRequest, dict[str, str]]] = []
    for i, req in enumerate(requests):
        try:
            rules = venue.market(req.symbol)
            check_order(req, rules, _mark_estimate(venue, req, rules))
        except OrderRejected as e:
            results[i] = PlaceResult(req, error=e)
            continue
        venue.active_symbols.add(rules.symbol)
        legs.append((i, req, order_params(req, rules)))
    if len(legs) == 1:
        i, req, params = legs[0]
        try:
            results[i] = _placed(venue, req, await venue.call("fapiPrivatePostOrder", params))
        except OrderRejected as e:
            results[i] = PlaceResult(req, error=e)
    elif legs:
        answer = await venue.call("fapiPrivatePostBatchOrders", {"batchOrders": [p for _, _, p in legs]})
        legs_out = match_legs([r.client_order_id for _, r, _ in legs], answer)
        for (i, req, _), item in zip(legs, legs_out, strict=True):
            results[i] = _placed(venue, req, item)
    return [results[i] for i in range(len(requests))]


def _placed(venue: OrderVenue, req: OrderRequest, raw: Any) -> PlaceResult:
    if isinstance(raw, Exception):
        return PlaceResult(req, error=raw)
    order = convert.order(raw, venue.symbol_of)
    if req.post_only and order.status is OrderStatus.EXPIRED and order.filled == 0:
        return PlaceResult(req, error=PostOnlyWouldCross(f"post-only {req.client_order_id} would cross"))
    venue.tracker.on_rest(order)
    return PlaceResult(req, order=order)


def _mark_estimate(venue: OrderVenue, req: OrderRequest, rules: MarketRules) -> Decimal | None:
    """The book's mid for a market order's notional check. Limit orders get None: the PERCENT_PRICE
    band is checked by Binance against the mark price, which the book top does not carry."""
    top = venue.books.latest(rules.symbol) if req.type is OrderType.MARKET else None
    return top.mid if top is not None else None


# --- amending -----------------------------------------------------------------------------------------


async def amend_orders(venue: OrderVenue, symbol: str, amends: Sequence[Amend]) -> list[AmendResult]:
    """One PUT /fapi/v1/order per amend, all sent concurrently, by client order id; never PUT
    batchOrders. Binance runs a batch's legs concurrently and independently anyway, so concurrent
    single PUTs have a batch's semantics, and for every size they cost no more on the IP weight
    (0 against 5) or the 10 s order counter (n against 5); only the 1 min order counter pays more
    (n against 1). The adapter does not switch to a batch when that counter is the tighter one: the
    choice would hang on live usage and `weights.cost` could no longer price a call from its
    arguments alone (see `mmctl.exchange.weights`).

    One result per amend, in request order. An amend that breaks the market's filters is refused
    here, unsent (Binance would reject it and leave the order as it is); one Binance rejects is that
    amend's error and the others stand. Any other failure (transport, rate limit, ban) is raised once
    every request has its answer: the amends whose answers arrived are in the tracker all the same."""
    if len(amends) > BATCH_ORDERS_MAX:
        raise FilterRejected(
            f"a batch holds at most {BATCH_ORDERS_MAX} amends, got {len(amends)}; nothing was amended",
            data={"field": "batch", "max_batch": BATCH_ORDERS_MAX},
        )
    rules = venue.market(symbol)
    results: dict[int, AmendResult] = {}
    legs: list[tuple[int, Amend, dict[str, str]]] = []
    for i, amend in enumerate(amends):
        try:
            check_order(_as_request(amend, rules), rules)
        except OrderRejected as e:
            results[i] = AmendResult(amend, error=e)
            continue
        legs.append((i, amend, amend_params(amend, rules)))
    if legs:
        venue.active_symbols.add(rules.symbol)
    answers = await asyncio.gather(
        *(_amend_one(venue, amend, params) for _, amend, params in legs), return_exceptions=True
    )
    for (i, _, _), answer in zip(legs, answers, strict=True):
        if isinstance(answer, BaseException):
            raise answer
        results[i] = answer
    return [results[i] for i in range(len(amends))]


async def _amend_one(venue: OrderVenue, amend: Amend, params: Mapping[str, str]) -> AmendResult:
    """PUT /fapi/v1/order for one amend; Binance's refusal of it is its result."""
    try:
        raw = await venue.call("fapiPrivatePutOrder", params)
    except (OrderRejected, UnknownOrder) as e:
        return AmendResult(amend, error=e)
    if not isinstance(raw, Mapping) or str(raw.get("clientOrderId")) != amend.client_order_id:
        unknown = TransientError(
            f"Binance's answer to the amend of {amend.client_order_id} is not that order: "
            "its outcome is unknown",
            data={"client_order_id": amend.client_order_id},
        )
        return AmendResult(amend, error=unknown)
    return _amended(venue, amend, raw)


def _amended(venue: OrderVenue, amend: Amend, raw: Any) -> AmendResult:
    if isinstance(raw, Exception):
        return AmendResult(amend, error=raw)
    order = convert.order(raw, venue.symbol_of)
    known = venue.tracker.known(order.client_order_id)
    if known is not None and known.id == order.id:  # PUT's answer has no creation time
        order = replace(order, created_ms=known.created_ms)
    venue.tracker.on_rest(order)
    return AmendResult(amend, order=order)


def _as_request(amend: Amend, rules: MarketRules) -> OrderRequest:
    """An amend's new price and quantity as a limit order, for the market's filters."""
    return OrderRequest(
        rules.symbol,
        amend.side,
        amend.qty,
        amend.price,
        amend.client_order_id,
        reduce_only=amend.reduce_only,  # exempt from the notional minimum, as on Binance
    )


# --- cancelling ---------------------------------------------------------------------------------------


async def cancel_order(
    venue: OrderVenue, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
) -> Order:
    """DELETE order, by id or client id."""
    params = order_ref(venue.market(symbol).id, order_id, client_order_id)
    order = convert.order(await venue.call("fapiPrivateDeleteOrder", params), venue.symbol_of)
    venue.tracker.on_rest(order)
    return order


async def cancel_orders(
    venue: OrderVenue, symbol: str, client_order_ids: Sequence[str]
) -> list[CancelResult]:
    """DELETE batchOrders by client ids; one result per id, in order."""
    if len(client_order_ids) > MAX_CANCEL_BATCH:
        raise FilterRejected(
            f"a batch cancel holds at most {MAX_CANCEL_BATCH} orders, got {len(client_order_ids)}; "
            "nothing was cancelled",
            data={"field": "batch", "max_batch": MAX_CANCEL_BATCH},
        )
    rules = venue.market(symbol)
    if not client_order_ids:
        return []
    answer = await venue.call(
        "fapiPrivateDeleteBatchOrders",
        {"symbol": rules.id, "origClientOrderIdList": list(client_order_ids)},
    )
    out = []
    for cid, item in zip(client_order_ids, match_legs(list(client_order_ids), answer), strict=True):
        if isinstance(item, Exception):
            out.append(CancelResult(cid, error=item))
        else:
            order = convert.order(item, venue.symbol_of)
            venue.tracker.on_rest(order)
            out.append(CancelResult(cid, order=order))
    return out


async def cancel_all(venue: OrderVenue, symbol: str) -> list[Order]:
    """Cancel by client id what is listed open (so the answer says what was cancelled), then sweep
    with DELETE allOpenOrders for anything placed meanwhile."""
    rules = venue.market(symbol)
    cancelled: list[Order] = []
    listed = await open_orders(venue, rules.symbol)
    for i in range(0, len(listed), MAX_CANCEL_BATCH):
        batch = [o.client_order_id for o in listed[i : i + MAX_CANCEL_BATCH]]
        results = await cancel_orders(venue, rules.symbol, batch)
        cancelled += [r.order for r in results if r.order is not None]
    await venue.call("fapiPrivateDeleteAllOpenOrders", {"symbol": rules.id})
    return cancelled


# --- reading ------------------------------------------------------------------------------------------


async def fetch_order(
    venue: OrderVenue, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
) -> Order:
    """GET order, by id or client id."""
    params = order_ref(venue.market(symbol).id, order_id, client_order_id)
    order = convert.order(await venue.call("fapiPrivateGetOrder", params), venue.symbol_of)
    venue.tracker.on_rest(order)
    return order


async def open_orders(venue: OrderVenue, symbol: str | None = None) -> list[Order]:
    """GET openOrders (of one symbol, or all), oldest first."""
    params = {"symbol": venue.market(symbol).id} if symbol is not None else {}
    answer = await venue.call("fapiPrivateGetOpenOrders", params)
    orders = [convert.order(raw, venue.symbol_of) for raw in answer or ()]
    return sorted(orders, key=lambda o: (o.created_ms, o.id))
