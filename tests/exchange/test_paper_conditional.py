"""Conditional orders: the pure trigger rules and request checks (`mmctl.exchange.conditional`), and what
only the paper venue shows (mirrored short-side exits, persistence of open conditionals, the countdown
leaving them alone)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from mmctl.errors import FilterRejected
from mmctl.exchange.conditional import (
    ConditionalKind,
    ConditionalOrder,
    ConditionalRequest,
    ConditionalStatus,
    WorkingType,
    check_request,
    condition_met,
    trail_triggered,
)
from mmctl.exchange.paper import PaperVenue
from mmctl.exchange.paper.snapshot import Epoch, dumps, loads, restore_venue
from mmctl.model import OrderUpdate, Side

from .builders import BTC, ETH, MARKETS, START_MS, book, make_venue, market, trade

K = ConditionalKind
S = ConditionalStatus


def req(cid: str, kind: ConditionalKind, side: Side, **kw: object) -> ConditionalRequest:
    fields: dict[str, object] = {"qty": Decimal("0.002")}
    fields.update(kw)
    return ConditionalRequest(symbol=BTC, side=side, kind=kind, client_id=cid, **fields)  # type: ignore[arg-type]


def recorded(venue: PaperVenue) -> tuple[list[ConditionalOrder], list[OrderUpdate]]:
    conds: list[ConditionalOrder] = []
    orders: list[OrderUpdate] = []
    venue.conditionals.add_listener(conds.append)
    venue.add_listener(orders.append)
    return conds, orders


# --- the rules --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "side", "price", "met"),
    [
        (K.STOP_MARKET, Side.SELL, "99.9", True),  # a long's stop: at or below
        (K.STOP_MARKET, Side.SELL, "100.1", False),
        (K.STOP_MARKET, Side.BUY, "100.0", True),  # a short's stop: at or above
        (K.STOP_MARKET, Side.BUY, "99.9", False),
        (K.TAKE_PROFIT_MARKET, Side.SELL, "100.0", True),  # a long's take-profit: at or above
        (K.TAKE_PROFIT_MARKET, Side.SELL, "99.9", False),
        (K.TAKE_PROFIT_MARKET, Side.BUY, "99.9", True),  # a short's take-profit: at or below
        (K.TAKE_PROFIT_MARKET, Side.BUY, "100.1", False),
    ],
)
def test_stop_and_take_profit_trigger_on_the_side_binance_does(
    kind: ConditionalKind, side: Side, price: str, met: bool
) -> None:
    """Each kind and side triggers on Binance's side of its trigger price of 100.0, the price itself
    included."""
    assert condition_met(kind, side, Decimal("100.0"), Decimal(price)) is met


def test_a_trailing_retrace_is_exact_at_the_callback() -> None:
    """A 2.5% retrace from 200 triggers a SELL at 195 and not at 195.0001; a BUY's from 100 at 102.5."""
    assert trail_triggered(Side.SELL, Decimal(200), Decimal("2.5"), Decimal(195))
    assert not trail_triggered(Side.SELL, Decimal(200), Decimal("2.5"), Decimal("195.0001"))
    assert trail_triggered(Side.BUY, Decimal(100), Decimal("2.5"), Decimal("102.5"))
    assert not trail_triggered(Side.BUY, Decimal(100), Decimal("2.5"), Decimal("102.4999"))


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"trigger_price": None}, "trigger_price"),
        ({"trigger_price": Decimal("50000.0"), "callback_rate": Decimal(1)}, "callback_rate"),
        ({"trigger_price": Decimal("50000.0"), "close_position": True}, "qty"),
        ({"trigger_price": Decimal("50000.0"), "qty": Decimal("0.0015")}, "qty"),
        ({"trigger_price": Decimal("50000.0"), "client_id": "has space"}, "client_id"),
        ({"trigger_price": Decimal("NaN")}, "trigger_price"),
    ],
)
def test_malformed_stops_are_refused_naming_the_field(kw: dict[str, object], field: str) -> None:
    """A stop without a trigger, with trailing terms, with both a size and close-position, off the step,
    with a bad client id or a NaN trigger is refused, the error naming the field."""
    fields = dict(kw)
    cid = str(fields.pop("client_id", "ok"))
    with pytest.raises(FilterRejected) as e:
        check_request(req(cid, K.STOP_MARKET, Side.SELL, **fields), MARKETS[BTC])
    assert e.value.data["field"] == field


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"callback_rate": Decimal("0.09")}, "callback_rate"),
        ({"callback_rate": Decimal("20.01")}, "callback_rate"),
        ({"callback_rate": None}, "callback_rate"),
        ({"callback_rate": Decimal(1), "trigger_price": Decimal("50000.0")}, "trigger_price"),
        ({"callback_rate": Decimal(1), "qty": None, "close_position": True}, "close_position"),
    ],
)
def test_malformed_trailing_stops_are_refused(kw: dict[str, object], field: str) -> None:
    """A trailing stop's callback rate must be 0.1 to 20 percent; it takes no trigger price and cannot
    close the position."""
    with pytest.raises(FilterRejected) as e:
        check_request(req("t", K.TRAILING_STOP_MARKET, Side.SELL, **kw), MARKETS[BTC])
    assert e.value.data["field"] == field


def test_a_reduce_only_exit_is_exempt_from_the_notional_minimum_an_entry_is_not() -> None:
    """A tiny reduce-only stop passes (it closes a remainder); the same size opening a position does not."""
    tiny = {"trigger_price": Decimal("50000.0"), "qty": Decimal("0.001")}
    check_request(req("exit", K.STOP_MARKET, Side.SELL, **tiny), MARKETS[BTC])
    with pytest.raises(FilterRejected):
        check_request(req("entry", K.STOP_MARKET, Side.BUY, reduce_only=False, **tiny), MARKETS[BTC])


# --- the paper venue --------------------------------------------------------------------------------


def short_venue() -> PaperVenue:
    venue = make_venue()
    book(venue, "60000.0", "60000.1")
    venue.place(market(Side.SELL, "0.002", "short"))
    return venue


def test_a_shorts_stop_and_trailing_stop_buy_back_on_the_way_up() -> None:
    """Mirrored for a short: a BUY stop triggers when the mid rises to it, and a BUY trailing stop tracks
    the low and triggers on the bounce, each buying at the ask, reduce-only."""
    venue = short_venue()
    conds, orders = recorded(venue)
    venue.conditionals.place(req("ts", K.TRAILING_STOP_MARKET, Side.BUY, callback_rate=Decimal(1)))
    venue.conditionals.place(req("sl", K.STOP_MARKET, Side.BUY, trigger_price=Decimal("61000.0")))
    book(venue, "59000.0", "59000.1")  # low 59000.05: the trailing stop buys back at >= 59590.0505
    book(venue, "59590.0", "59590.1")  # 59590.05: not yet
    assert [c.client_id for c in venue.conditionals.open_orders(BTC)] == ["ts", "sl"]
    book(venue, "59590.1", "59590.2")  # 59590.15: the bounce
    fills = [u.fill for u in orders if u.fill is not None and u.order.client_order_id == "ts"]
    assert [(f.side, f.qty, f.price, f.maker) for f in fills] == [
        (Side.BUY, Decimal("0.002"), Decimal("59590.2"), False)
    ]
    assert venue.position(BTC).qty == 0
    book(venue, "61000.0", "61000.1")  # the stop triggers with nothing left to buy back
    assert [(c.client_id, c.status) for c in conds if c.status is not S.NEW] == [
        ("ts", S.TRIGGERED),
        ("ts", S.FINISHED),
        ("sl", S.EXPIRED),
    ]


def test_a_conditional_on_another_symbol_ignores_this_ones_market() -> None:
    """Books and trades of BTC never touch an ETH conditional, and a symbol without conditionals keeps
    none to check."""
    venue = make_venue()
    book(venue, "3000.00", "3000.01", symbol=ETH)
    venue.conditionals.place(
        ConditionalRequest(
            symbol=ETH,
            side=Side.SELL,
            kind=K.STOP_MARKET,
            trigger_price=Decimal("2900.00"),
            qty=Decimal("0.01"),
            client_id="eth-sl",
        )
    )
    book(venue, "100.0", "100.1")
    trade(venue, Side.SELL, "100.0", "1")
    assert venue.state(BTC).conditionals == {}
    assert [c.client_id for c in venue.conditionals.open_orders()] == ["eth-sl"]


def test_the_countdown_cancels_orders_but_not_conditionals() -> None:
    """The dead-man's switch cancels the symbol's orders; its stops stay on the venue (they are meant to
    outlive the daemon)."""
    venue = make_venue()
    book(venue, "60000.0", "60000.1")
    venue.conditionals.place(req("sl", K.STOP_MARKET, Side.SELL, trigger_price=Decimal("59000.0")))
    venue.arm_countdown(BTC, 1000)
    venue.advance_to(START_MS + 5000)
    assert [c.client_id for c in venue.conditionals.open_orders(BTC)] == ["sl"]


def test_each_conditional_event_moves_the_revision_the_persistence_saves_on() -> None:
    """Placing, cancelling and triggering a conditional each change the venue's revision."""
    venue = make_venue()
    book(venue, "60000.0", "60000.1")
    before = venue.revision
    venue.conditionals.place(req("a", K.STOP_MARKET, Side.SELL, trigger_price=Decimal("59000.0")))
    placed = venue.revision
    venue.conditionals.cancel(BTC, "a")
    assert before < placed < venue.revision


def busy_venue() -> PaperVenue:
    """A long with a stop (mark), a take-profit (last price), a ratcheted trailing stop and one that is
    not active yet, on BTC, and a short's stop on ETH."""
    venue = make_venue()
    book(venue, "60000.0", "60000.1")
    book(venue, "3000.00", "3000.01", symbol=ETH)
    venue.place(market(Side.BUY, "0.002", "long"))
    venue.place(market(Side.SELL, "0.5", "short", symbol=ETH))
    c = venue.conditionals
    c.place(req("sl", K.STOP_MARKET, Side.SELL, trigger_price=Decimal("59000.0")))
    c.place(
        req(
            "tp",
            K.TAKE_PROFIT_MARKET,
            Side.SELL,
            trigger_price=Decimal("61000.0"),
            working_type=WorkingType.CONTRACT_PRICE,
        )
    )
    c.place(req("ts", K.TRAILING_STOP_MARKET, Side.SELL, callback_rate=Decimal("0.5")))
    c.place(
        req(
            "ts2",
            K.TRAILING_STOP_MARKET,
            Side.SELL,
            callback_rate=Decimal(2),
            activate_price=Decimal("65000.0"),
        )
    )
    c.place(
        ConditionalRequest(
            symbol=ETH,
            side=Side.BUY,
            kind=K.STOP_MARKET,
            trigger_price=Decimal("3100.00"),
            close_position=True,
            client_id="eth-sl",
        )
    )
    book(venue, "60400.0", "60400.1")  # the trailing reference ratchets to 60400.05
    book(venue, "60300.0", "60300.1")
    return venue


def restored(venue: PaperVenue, text: str) -> PaperVenue:
    return restore_venue(
        loads(text),
        MARKETS,
        funding_rate=venue.funding_rate,
        funding_interval_s=28_800,
        trades=list(venue.trades),
        income=venue.wallet.rows,
    )


def test_open_conditionals_round_trip_exactly_and_trigger_alike() -> None:
    """Every open conditional (terms, flags, ids, the trailing reference) comes back from the saved
    state, and the same market afterwards triggers the same ones at the same prices on both copies."""
    venue = busy_venue()
    epoch = Epoch(1, Decimal(10000))
    text = dumps("paper", "synthetic", venue, epoch, {}, 42)
    assert json.loads(text)["format"] == 2
    copy = restored(venue, text)
    assert dumps("paper", "synthetic", copy, epoch, {}, 42) == text
    assert copy.conditionals.open_orders() == venue.conditionals.open_orders()
    assert copy.conditionals.open["ts"].best == Decimal("60400.05")
    assert copy.conditionals.last_id == venue.conditionals.last_id
    seen: dict[str, list[object]] = {"a": [], "b": []}
    for v, key in ((venue, "a"), (copy, "b")):
        v.conditionals.add_listener(seen[key].append)
        v.add_listener(seen[key].append)
        book(v, "60099.0", "60099.1")  # 0.5% off 60400.05 is 60098.04975: not yet
        book(v, "60098.0", "60098.1")  # 60098.05: not yet either
        book(v, "60097.9", "60098.0")  # the trailing stop sells
        trade(v, Side.BUY, "61000.0", "0.001")  # the take-profit finds nothing left: expires
        book(v, "3100.00", "3100.01", symbol=ETH)  # the short's close-position stop buys back 0.5
        v.conditionals.place(req("new", K.STOP_MARKET, Side.BUY, trigger_price=Decimal("70000.0")))
    assert seen["a"] == seen["b"]
    statuses = [(c.client_id, c.status) for c in seen["b"] if isinstance(c, ConditionalOrder)]
    assert statuses == [
        ("ts", S.TRIGGERED),
        ("ts", S.FINISHED),
        ("tp", S.EXPIRED),
        ("eth-sl", S.TRIGGERED),
        ("eth-sl", S.FINISHED),
        ("new", S.NEW),
    ]
    assert copy.position(ETH).qty == 0
    assert [c.id for c in copy.conditionals.open_orders()][-1] == str(venue.conditionals.last_id)


def test_a_state_saved_before_conditional_orders_still_loads() -> None:
    """A format-1 state (no conditionals) restores with none open and the conditional ids from 1."""
    venue = make_venue()
    book(venue, "60000.0", "60000.1")
    doc = json.loads(dumps("paper", "synthetic", venue, Epoch(1, Decimal(10000)), {}, 42))
    doc["format"] = 1
    del doc["conditionals"]
    del doc["venue"]["last_conditional_id"]
    copy = restored(venue, json.dumps(doc))
    assert copy.conditionals.open_orders() == []
    placed = copy.conditionals.place(req("sl", K.STOP_MARKET, Side.SELL, trigger_price=Decimal("59000.0")))
    assert placed.id == "1"
