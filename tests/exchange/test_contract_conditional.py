"""The `Exchange` port's venue-held conditional orders (stop-loss, take-profit, trailing stop), run against
every implementation: the paper venue here, the Binance adapter on the fake server through
tests/binance/test_contract.py, which imports these tests.

Prices: the book starts at 60000.0 / 60000.1 (mid 60000.05, the mark a MARK_PRICE conditional watches);
CONTRACT_PRICE conditionals watch public trades.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from mmctl.errors import FilterRejected, OrderRejected, UnknownOrder
from mmctl.exchange.base import Exchange
from mmctl.exchange.conditional import (
    ConditionalKind,
    ConditionalOrder,
    ConditionalRequest,
    ConditionalStatus,
    WorkingType,
)
from mmctl.model import Fill, OrderStatus, OrderUpdate, Side

from .harness import Venue, VenueFactory
from .test_contract import BTC, market, place_one, ready
from .test_contract_trades import eventually

S = ConditionalStatus
SIZE = Decimal("0.002")


def stop(
    cid: str,
    trigger: str,
    *,
    side: Side = Side.SELL,
    qty: Decimal | None = SIZE,
    close_position: bool = False,
    reduce_only: bool = True,
) -> ConditionalRequest:
    return ConditionalRequest(
        symbol=BTC,
        side=side,
        kind=ConditionalKind.STOP_MARKET,
        trigger_price=Decimal(trigger),
        qty=qty,
        close_position=close_position,
        reduce_only=reduce_only,
        client_id=cid,
    )


def take_profit(cid: str, trigger: str, working_type: WorkingType) -> ConditionalRequest:
    return ConditionalRequest(
        symbol=BTC,
        side=Side.SELL,
        kind=ConditionalKind.TAKE_PROFIT_MARKET,
        trigger_price=Decimal(trigger),
        qty=SIZE,
        working_type=working_type,
        client_id=cid,
    )


def trailing(cid: str, rate: str, activate: str | None = None) -> ConditionalRequest:
    return ConditionalRequest(
        symbol=BTC,
        side=Side.SELL,
        kind=ConditionalKind.TRAILING_STOP_MARKET,
        callback_rate=Decimal(rate),
        activate_price=None if activate is None else Decimal(activate),
        qty=SIZE,
        client_id=cid,
    )


class Recorder:
    """Reads a stream in a task into `seen` (subscribed when built, so nothing after is missed)."""

    def __init__(self, stream: AsyncIterator[object]) -> None:
        self.stream = stream
        self.seen: list[object] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for item in self.stream:
            self.seen.append(item)

    def conditionals(self, cid: str) -> list[ConditionalOrder]:
        return [c for c in self.seen if isinstance(c, ConditionalOrder) and c.client_id == cid]

    def statuses(self, cid: str) -> list[ConditionalStatus]:
        return [c.status for c in self.conditionals(cid)]

    def fills(self, cid: str) -> list[tuple[OrderUpdate, Fill]]:
        return [
            (u, u.fill)
            for u in self.seen
            if isinstance(u, OrderUpdate) and u.fill is not None and u.order.client_order_id == cid
        ]

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        aclose = getattr(self.stream, "aclose", None)
        if aclose is not None:
            await aclose()


async def watching(ex: Exchange) -> tuple[Recorder, Recorder]:
    """Recorders of the conditional and the order streams."""
    return Recorder(ex.conditional_updates()), Recorder(ex.order_updates())


async def go_long(v: Venue, qty: Decimal = SIZE, cid: str = "entry") -> Exchange:
    ex = await ready(v)
    await place_one(ex, market(Side.BUY, qty, cid))
    return ex


async def position_qty(ex: Exchange) -> Decimal:
    return (await ex.position(BTC)).qty


async def test_place_list_cancel_and_cancel_all(open_venue: VenueFactory) -> None:
    """Conditionals are listed open with their exact terms, cancel one by client id, cancel-all clears the
    rest (and only cancel-all_conditionals does: the orders' cancel-all leaves them), each state reaching
    the conditional stream."""
    async with open_venue() as v:
        ex = await ready(v)
        conds, orders = await watching(ex)
        try:
            sl = await ex.place_conditional(stop("sl-1", "59000.0"))
            tp = await ex.place_conditional(take_profit("tp-1", "61000.0", WorkingType.CONTRACT_PRICE))
            assert (sl.status, sl.kind, sl.side, sl.trigger_price, sl.qty) == (
                S.NEW,
                ConditionalKind.STOP_MARKET,
                Side.SELL,
                Decimal("59000.0"),
                SIZE,
            )
            assert (sl.reduce_only, sl.close_position, sl.working_type) == (
                True,
                False,
                WorkingType.MARK_PRICE,
            )
            assert (bool(sl.id), sl.id == tp.id, sl.order_id) == (True, False, None)
            listed = await ex.open_conditionals(BTC)
            assert [(c.client_id, c.status, c.trigger_price) for c in listed] == [
                ("sl-1", S.NEW, Decimal("59000.0")),
                ("tp-1", S.NEW, Decimal("61000.0")),
            ]
            assert [c.client_id for c in await ex.open_conditionals()] == ["sl-1", "tp-1"]
            assert await ex.cancel_all(BTC) == []  # ordinary orders only
            assert len(await ex.open_conditionals(BTC)) == 2
            cancelled = await ex.cancel_conditional(BTC, "sl-1")
            assert (cancelled.client_id, cancelled.status) == ("sl-1", S.CANCELED)
            assert [c.client_id for c in await ex.open_conditionals(BTC)] == ["tp-1"]
            with pytest.raises(UnknownOrder):
                await ex.cancel_conditional(BTC, "sl-1")
            swept = await ex.cancel_all_conditionals(BTC)
            assert [(c.client_id, c.status) for c in swept] == [("tp-1", S.CANCELED)]
            assert await ex.open_conditionals(BTC) == []
            assert await ex.cancel_all_conditionals(BTC) == []
            await eventually(lambda: conds.statuses("tp-1") == [S.NEW, S.CANCELED], "tp-1's events")
            assert conds.statuses("sl-1") == [S.NEW, S.CANCELED]
            assert conds.conditionals("sl-1")[0].trigger_price == Decimal("59000.0")
        finally:
            await conds.close()
            await orders.close()


async def test_a_stop_triggers_on_the_mark_and_fills_reduce_only_as_taker(open_venue: VenueFactory) -> None:
    """A long's stop (SELL STOP_MARKET on the mark) triggers when the mid falls to its trigger: a reduce-only
    market order with the stop's client id takes the bid, the position is flat, and the stop reports NEW,
    TRIGGERED (naming that order) and FINISHED."""
    async with open_venue() as v:
        ex = await go_long(v)
        conds, orders = await watching(ex)
        try:
            await ex.place_conditional(stop("sl-2", "59900.0"))
            await v.driver.set_book(BTC, Decimal("59950.0"), Decimal("59950.1"))  # mid 59950.05: above
            assert [c.client_id for c in await ex.open_conditionals(BTC)] == ["sl-2"]
            await v.driver.set_book(BTC, Decimal("59899.9"), Decimal("59900.0"))  # mid 59899.95 <= trigger
            await eventually(lambda: S.FINISHED in conds.statuses("sl-2"), "the stop to finish")
            await eventually(lambda: bool(orders.fills("sl-2")), "the stop's fill")
            update, fill = orders.fills("sl-2")[0]
            assert (fill.side, fill.qty, fill.price, fill.maker) == (
                Side.SELL,
                SIZE,
                Decimal("59899.9"),
                False,
            )
            assert (update.order.reduce_only, update.order.status) == (True, OrderStatus.FILLED)
            assert conds.statuses("sl-2") == [S.NEW, S.TRIGGERED, S.FINISHED]
            triggered = conds.conditionals("sl-2")[1]
            assert (triggered.order_id, triggered.order_client_id) == (fill.order_id, "sl-2")
            assert await position_qty(ex) == 0
            assert await ex.open_conditionals(BTC) == []
        finally:
            await conds.close()
            await orders.close()


async def test_a_take_profit_on_the_last_price_waits_for_a_trade(open_venue: VenueFactory) -> None:
    """A CONTRACT_PRICE take-profit ignores the book and triggers on a public trade at its trigger, closing
    the long as taker at the bid."""
    async with open_venue() as v:
        ex = await go_long(v)
        conds, orders = await watching(ex)
        try:
            await ex.place_conditional(take_profit("tp-2", "60100.0", WorkingType.CONTRACT_PRICE))
            await v.driver.set_book(BTC, Decimal("60150.0"), Decimal("60150.1"))
            await v.driver.trade(BTC, Side.BUY, Decimal("60099.9"), Decimal("0.001"))
            assert [c.client_id for c in await ex.open_conditionals(BTC)] == ["tp-2"]
            await v.driver.trade(BTC, Side.BUY, Decimal("60100.0"), Decimal("0.001"))
            await eventually(lambda: bool(orders.fills("tp-2")), "the take-profit's fill")
            _, fill = orders.fills("tp-2")[0]
            assert (fill.side, fill.qty, fill.price, fill.maker) == (
                Side.SELL,
                SIZE,
                Decimal("60150.0"),
                False,
            )
            await eventually(lambda: conds.statuses("tp-2") == [S.NEW, S.TRIGGERED, S.FINISHED], "its events")
            assert await position_qty(ex) == 0
        finally:
            await conds.close()
            await orders.close()


async def test_a_trailing_stop_ratchets_up_and_triggers_on_the_retrace(open_venue: VenueFactory) -> None:
    """A 1% SELL trailing stop follows the mark's high (61000.05) and triggers exactly when the mid falls
    1% below it (60390.0495), far above where it would from its starting price."""
    async with open_venue() as v:
        ex = await go_long(v)
        conds, orders = await watching(ex)
        try:
            placed = await ex.place_conditional(trailing("ts-1", "1"))
            assert (placed.kind, placed.callback_rate, placed.trigger_price) == (
                ConditionalKind.TRAILING_STOP_MARKET,
                Decimal("1"),
                None,
            )
            for bid in ("60500.0", "61000.0", "60500.0", "60390.0"):  # 60390.05 is not yet 1% off 61000.05
                await v.driver.set_book(BTC, Decimal(bid), Decimal(bid) + Decimal("0.1"))
            assert [c.client_id for c in await ex.open_conditionals(BTC)] == ["ts-1"]
            await v.driver.set_book(BTC, Decimal("60389.9"), Decimal("60390.0"))
            await eventually(lambda: bool(orders.fills("ts-1")), "the trailing stop's fill")
            _, fill = orders.fills("ts-1")[0]
            assert (fill.side, fill.qty, fill.price, fill.maker) == (
                Side.SELL,
                SIZE,
                Decimal("60389.9"),
                False,
            )
            await eventually(lambda: conds.statuses("ts-1") == [S.NEW, S.TRIGGERED, S.FINISHED], "its events")
        finally:
            await conds.close()
            await orders.close()


async def test_a_trailing_stop_waits_for_its_activation_price(open_venue: VenueFactory) -> None:
    """Before the mark reaches its activation price a trailing stop ignores any fall; once activated it
    triggers on the retrace from the high since."""
    async with open_venue() as v:
        ex = await go_long(v)
        conds, orders = await watching(ex)
        try:
            await ex.place_conditional(trailing("ts-2", "0.5", activate="60200.0"))
            await v.driver.set_book(BTC, Decimal("58000.0"), Decimal("58000.1"))  # -3%: not active yet
            assert [c.client_id for c in await ex.open_conditionals(BTC)] == ["ts-2"]
            await v.driver.set_book(BTC, Decimal("60200.0"), Decimal("60200.1"))  # activates at 60200.05
            await v.driver.set_book(BTC, Decimal("59950.0"), Decimal("59950.1"))  # 59950.05 > 59899.05
            assert [c.client_id for c in await ex.open_conditionals(BTC)] == ["ts-2"]
            await v.driver.set_book(BTC, Decimal("59890.0"), Decimal("59890.1"))
            await eventually(lambda: bool(orders.fills("ts-2")), "the trailing stop's fill")
            assert orders.fills("ts-2")[0][1].price == Decimal("59890.0")
        finally:
            await conds.close()
            await orders.close()


async def test_a_reduce_only_stop_with_nothing_to_reduce_expires(open_venue: VenueFactory) -> None:
    """A reduce-only stop that triggers while the account is flat expires: no order, no position."""
    async with open_venue() as v:
        ex = await ready(v)
        conds, orders = await watching(ex)
        try:
            await ex.place_conditional(stop("sl-3", "59900.0"))
            await v.driver.set_book(BTC, Decimal("59800.0"), Decimal("59800.1"))
            await eventually(lambda: conds.statuses("sl-3") == [S.NEW, S.EXPIRED], "the stop to expire")
            assert not any(
                isinstance(u, OrderUpdate) and u.order.client_order_id == "sl-3" for u in orders.seen
            )
            assert await position_qty(ex) == 0
            assert await ex.open_conditionals(BTC) == []
        finally:
            await conds.close()
            await orders.close()


async def test_a_close_position_stop_closes_the_whole_position(open_venue: VenueFactory) -> None:
    """A close-position stop takes no quantity and, when it triggers, closes all the position holds."""
    async with open_venue() as v:
        ex = await go_long(v, Decimal("0.003"))
        conds, orders = await watching(ex)
        try:
            placed = await ex.place_conditional(stop("sl-4", "59900.0", qty=None, close_position=True))
            assert (placed.close_position, placed.qty, placed.reduce_only) == (True, None, True)
            await v.driver.set_book(BTC, Decimal("59899.9"), Decimal("59900.0"))
            await eventually(lambda: bool(orders.fills("sl-4")), "the stop's fill")
            assert orders.fills("sl-4")[0][1].qty == Decimal("0.003")
            await eventually(lambda: S.FINISHED in conds.statuses("sl-4"), "the stop to finish")
            assert await position_qty(ex) == 0
        finally:
            await conds.close()
            await orders.close()


async def test_a_triggered_order_the_venue_refuses_is_rejected(open_venue: VenueFactory) -> None:
    """A non-reduce-only stop entry whose market order the account cannot afford is REJECTED when it
    triggers, with the venue's reason, and opens nothing."""
    async with open_venue(balance=Decimal("50")) as v:
        ex = await ready(v)
        conds, orders = await watching(ex)
        try:
            entry = stop("entry-1", "60100.0", side=Side.BUY, qty=Decimal("1.000"), reduce_only=False)
            placed = await ex.place_conditional(entry)
            assert not placed.reduce_only
            await v.driver.set_book(BTC, Decimal("60100.0"), Decimal("60100.1"))
            await eventually(lambda: S.REJECTED in conds.statuses("entry-1"), "the rejection")
            assert conds.statuses("entry-1") == [S.NEW, S.REJECTED]
            assert conds.conditionals("entry-1")[-1].reason
            assert await position_qty(ex) == 0
        finally:
            await conds.close()
            await orders.close()


async def test_refusals_at_placement(open_venue: VenueFactory) -> None:
    """A stop whose condition already holds (-2021), a client id already open and a malformed trailing stop
    are refused and leave nothing open."""
    async with open_venue() as v:
        ex = await ready(v)
        with pytest.raises(OrderRejected):
            await ex.place_conditional(stop("bad-1", "60100.0"))  # SELL stop above the mark: at once
        with pytest.raises(OrderRejected):
            await ex.place_conditional(take_profit("bad-2", "59000.0", WorkingType.MARK_PRICE))
        await ex.place_conditional(stop("dup", "59000.0"))
        with pytest.raises(OrderRejected):
            await ex.place_conditional(stop("dup", "58000.0"))
        with pytest.raises(FilterRejected):
            await ex.place_conditional(trailing("bad-3", "25"))
        with pytest.raises(FilterRejected):
            await ex.place_conditional(stop("bad-4", "59000.05"))  # off the tick
        assert [(c.client_id, c.trigger_price) for c in await ex.open_conditionals(BTC)] == [
            ("dup", Decimal("59000.0"))
        ]
