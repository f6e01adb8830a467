"""The market_maker strategy on explicit books: prices, sizes, skew, limits, market checks, registry."""

from __future__ import annotations

from decimal import ROUND_UP, Decimal, localcontext

import pytest

from mmctl.errors import ValidationError
from mmctl.model import BookTop, LeverageBracket, MarketRules, Side
from mmctl.strategies import get_strategy, registry
from mmctl.strategies.base import Quote
from mmctl.strategies.market_maker import (
    MarketMaker,
    MarketMakerParams,
    check_against_market,
    quotes,
    reference_price,
    sizing,
)

D = Decimal


def market(
    tick: str = "0.1",
    step: str = "0.001",
    min_qty: str = "0.001",
    min_notional: str = "100",
    max_open_orders: int = 200,
    max_leverage: int = 125,
    max_qty: str = "1000",
) -> MarketRules:
    return MarketRules(
        symbol="BTC/USDT:USDT",
        id="BTCUSDT",
        base="BTC",
        quote="USDT",
        tick_size=D(tick),
        step_size=D(step),
        min_qty=D(min_qty),
        max_qty=D(max_qty),
        min_notional=D(min_notional),
        max_open_orders=max_open_orders,
        brackets=(LeverageBracket(max_leverage, D(50_000), D("0.004")),),
        maker_fee=D("0.0002"),
        taker_fee=D("0.0005"),
    )


BTC = market()
BTC_BOOK = BookTop("BTC/USDT:USDT", D("100000.0"), D("1"), D("100000.1"), D("1"), 0)  # mid 100000.05


def ladder(qs: list[Quote], side: Side) -> list[tuple[int, Decimal, Decimal]]:
    """(level, price, qty) of one side's quotes; compare with Decimals, which ignore trailing zeros."""
    return [(q.level, q.price, q.qty) for q in qs if q.side is side]


def test_defaults_quote_three_minimum_size_levels_each_side() -> None:
    """Default parameters quote 3 levels 10 bps apart from 10 bps out, at the market's minimum size."""
    qs = quotes(MarketMakerParams(), BTC_BOOK, D(0), BTC)
    # 100 USDT at the deepest bid 99700.0 needs 0.001003 BTC: 0.002 after rounding up to the step.
    assert ladder(qs, Side.BUY) == [
        (0, D("99900.0"), D("0.002")),
        (1, D("99800.0"), D("0.002")),
        (2, D("99700.0"), D("0.002")),
    ]
    assert ladder(qs, Side.SELL) == [
        (0, D("100100.1"), D("0.002")),
        (1, D("100200.1"), D("0.002")),
        (2, D("100300.1"), D("0.002")),
    ]


def test_sizing_resolves_automatic_order_size_and_max_position() -> None:
    """order_size 0 is the minimum size at the deepest unskewed bid; max_position 0 is 10 first sizes."""
    s = sizing(MarketMakerParams(), BTC, D("100000.05"))
    assert (s.min_size, s.min_size_price, s.first_size, s.max_position) == (
        D("0.002"),
        D("99700.0"),
        D("0.002"),
        D("0.020"),
    )
    explicit = sizing(MarketMakerParams(order_size=D("0.0159"), max_position=D(1)), BTC, D("100000.05"))
    assert (explicit.first_size, explicit.max_position) == (D("0.015"), D(1))


def test_microprice_reference_leans_toward_the_thin_side() -> None:
    """With `reference = microprice` the ladder centres on the size-weighted mid, not the mid."""
    rules = market(tick="0.01", step="1", min_qty="1", min_notional="5")
    book = BookTop("X", D(100), D(3), D(101), D(1), 0)  # microprice (100×1 + 101×3) / 4 = 100.75
    params = MarketMakerParams(reference="microprice", levels=1)
    assert reference_price(params, book) == D("100.75")
    qs = quotes(params, book, D(0), rules)
    assert ladder(qs, Side.BUY) == [(0, D("100.64"), D("1"))]  # 100.64925 rounded down
    assert ladder(qs, Side.SELL) == [(0, D("100.86"), D("1"))]  # 100.85075 rounded up


def test_levels_closer_than_a_tick_are_spread_one_tick_apart() -> None:
    """With level_step_bps 0 each deeper level still sits one tick further out than the one before."""
    qs = quotes(MarketMakerParams(level_step_bps=D(0)), BTC_BOOK, D(0), BTC)
    assert [q.price for q in qs if q.side is Side.BUY] == [D("99900.0"), D("99899.9"), D("99899.8")]
    assert [q.price for q in qs if q.side is Side.SELL] == [D("100100.1"), D("100100.2"), D("100100.3")]


def test_size_step_grows_each_level_geometrically_rounded_down() -> None:
    """size_step 0.5 makes each level 50% bigger than the one before, rounded down to the step."""
    params = MarketMakerParams(order_size=D("0.01"), size_step=D("0.5"), max_position=D(1))
    qs = quotes(params, BTC_BOOK, D(0), BTC)
    assert [q.qty for q in qs if q.side is Side.BUY] == [D("0.010"), D("0.015"), D("0.022")]


def test_long_position_moves_bids_out_and_asks_in() -> None:
    """Half the max long with skew 0.5: the bid is 12.5 bps out, the ask 7.5 bps, sizes keep the minimum."""
    qs = quotes(MarketMakerParams(), BTC_BOOK, D("0.010"), BTC)
    assert ladder(qs, Side.BUY)[0] == (0, D("99875.0"), D("0.002"))
    assert ladder(qs, Side.SELL)[0] == (0, D("100075.1"), D("0.002"))


def test_short_position_moves_asks_out_and_bids_in() -> None:
    """Half the max short mirrors the long case: the ask 12.5 bps out, the bid 7.5 bps."""
    qs = quotes(MarketMakerParams(), BTC_BOOK, D("-0.010"), BTC)
    assert ladder(qs, Side.BUY)[0] == (0, D("99925.0"), D("0.002"))
    assert ladder(qs, Side.SELL)[0] == (0, D("100125.1"), D("0.002"))


def test_full_skew_at_the_limit_puts_the_ask_at_min_spread() -> None:
    """At max_position with inventory_skew 1 the reducing side quotes at min_spread_bps, no nearer."""
    params = MarketMakerParams(inventory_skew=D(1), order_size=D("0.01"), max_position=D("0.05"))
    qs = quotes(params, BTC_BOOK, D("0.05"), BTC)
    assert ladder(qs, Side.BUY) == []
    assert ladder(qs, Side.SELL)[0] == (0, D("100020.1"), D("0.010"))  # 100000.05 × 1.0002 rounded up


def test_skew_shrinks_the_adding_side_but_not_below_the_minimum() -> None:
    """The side that adds to the position shrinks with the position, down to the minimum size only."""
    params = MarketMakerParams(inventory_skew=D(1), order_size=D("0.01"), max_position=D("0.05"))
    half = quotes(params, BTC_BOOK, D("0.025"), BTC)
    assert [q.qty for q in half if q.side is Side.BUY] == [D("0.005")] * 3
    assert [q.qty for q in half if q.side is Side.SELL] == [D("0.010")] * 3
    near = quotes(params, BTC_BOOK, D("0.045"), BTC)
    # shrink 0.1 would give 0.001, below the 0.002 minimum: the level keeps 0.002; only 0.005 of room left
    # after level 0's full size of 0.010 is counted, so the deeper levels are dropped.
    assert ladder(near, Side.BUY) == [(0, D("99810.0"), D("0.002"))]


def test_a_side_never_quotes_past_max_position() -> None:
    """Bids total at most max_position - position: the level that no longer fits is cut to the remainder."""
    params = MarketMakerParams(inventory_skew=D(0), order_size=D("0.01"), max_position=D("0.05"))
    qs = quotes(params, BTC_BOOK, D("0.035"), BTC)
    assert [q.qty for q in qs if q.side is Side.BUY] == [D("0.010"), D("0.005")]
    assert sum(q.qty for q in qs if q.side is Side.SELL) == D("0.030")


def test_at_or_beyond_the_limit_only_the_reducing_side_quotes() -> None:
    """At +max_position there are no bids, at -max_position no asks, and beyond it neither adds."""
    params = MarketMakerParams(order_size=D("0.01"), max_position=D("0.05"))
    for position, empty in ((D("0.05"), Side.BUY), (D("0.08"), Side.BUY), (D("-0.05"), Side.SELL)):
        qs = quotes(params, BTC_BOOK, position, BTC)
        assert not [q for q in qs if q.side is empty]
        assert [q for q in qs if q.side is empty.opposite]


def test_reducing_side_may_at_most_reach_the_opposite_limit() -> None:
    """Asks total at most max_position + position: from +0.01 they may take the position to -max."""
    params = MarketMakerParams(inventory_skew=D(0), order_size=D("0.03"), max_position=D("0.05"), levels=5)
    qs = quotes(params, BTC_BOOK, D("0.01"), BTC)
    assert [q.qty for q in qs if q.side is Side.SELL] == [D("0.030"), D("0.030")]  # 0.06 = 0.05 + 0.01


def test_quotes_below_min_notional_are_dropped_not_enlarged() -> None:
    """A size that misses the minimum notional at its price is dropped; the other side still quotes."""
    rules = market(tick="0.00001", step="1", min_qty="1", min_notional="5")
    book = BookTop("DOGE/USDT:USDT", D("0.10000"), D(1000), D("0.10001"), D(1000), 0)
    qs = quotes(MarketMakerParams(order_size=D(50), max_position=D(1000)), book, D(0), rules)
    assert ladder(qs, Side.BUY) == []  # 50 × 0.0999 < 5
    assert [q.qty for q in qs if q.side is Side.SELL] == [D(50)] * 3


def test_no_quotes_for_an_empty_or_crossed_book_or_a_sub_step_size() -> None:
    """A crossed, locked or empty book, or an order size below one step, yields no quotes."""
    params = MarketMakerParams()
    for bid, ask in (("100", "100"), ("101", "100"), ("0", "100")):
        assert quotes(params, BookTop("X", D(bid), D(1), D(ask), D(1), 0), D(0), BTC) == []
    assert quotes(MarketMakerParams(order_size=D("0.0001")), BTC_BOOK, D(0), BTC) == []


def test_tight_spread_on_a_one_tick_book_stays_post_only() -> None:
    """Even a spread far below one tick quotes at the touch, never through it."""
    rules = market(tick="1", step="1", min_qty="1", min_notional="5")
    book = BookTop("X", D(100), D(5), D(101), D(5), 0)
    qs = quotes(MarketMakerParams(spread_bps=D(0), min_spread_bps=D("0.1"), levels=1), book, D(0), rules)
    assert ladder(qs, Side.BUY) == [(0, D("100"), D("1"))]
    assert ladder(qs, Side.SELL) == [(0, D("101"), D("1"))]


def test_result_does_not_depend_on_the_threads_decimal_context() -> None:
    """ccxt changes the thread's decimal context; quotes are the same under a coarse, rounding-up one."""
    params = MarketMakerParams(reference="microprice", order_size=D("0.0123"), size_step=D("0.37"))
    book = BookTop("X", D("100000.0"), D("1.7"), D("100000.1"), D("0.3"), 0)
    expected = quotes(params, book, D("0.031"), BTC)
    with localcontext() as ctx:
        ctx.prec, ctx.rounding = 6, ROUND_UP
        assert quotes(params, book, D("0.031"), BTC) == expected


def test_quote_becomes_a_post_only_limit_request() -> None:
    """Every quote is placed post-only (GTX on Binance)."""
    req = Quote(Side.BUY, 0, D("99900.0"), D("0.002")).to_request("BTC/USDT:USDT", "mm.a.b0.1")
    assert req.post_only
    assert not req.reduce_only
    assert (req.side, req.price, req.qty, req.client_order_id) == (
        Side.BUY,
        D("99900.0"),
        D("0.002"),
        "mm.a.b0.1",
    )


# --- check_against_market -----------------------------------------------------------------------------


def test_defaults_fit_typical_markets() -> None:
    """Default parameters pass the market check on BTC at 100k and on a 0.1-USDT coin."""
    check_against_market(MarketMakerParams(), BTC, D(100_000))
    doge = market(tick="0.00001", step="1", min_qty="1", min_notional="5")
    check_against_market(MarketMakerParams(), doge, D("0.1"))


def test_order_size_below_the_minimum_says_what_the_minimum_is() -> None:
    """An order_size too small for the minimums is refused with the minimum size at that price."""
    with pytest.raises(ValidationError) as e:
        check_against_market(MarketMakerParams(order_size=D("0.001")), BTC, D(100_000))
    assert e.value.data == {"field": "order_size"}
    msg = str(e.value)
    assert "order_size: 0.001 is below BTC/USDT:USDT's minimum size at 100000: 0.002" in msg
    assert "min notional 100 USDT at the deepest bid 99700" in msg


def test_order_size_above_the_maximum_quantity_is_refused() -> None:
    """An order_size above the market's maximum quantity is refused."""
    with pytest.raises(ValidationError) as e:
        check_against_market(MarketMakerParams(order_size=D(2000), max_position=D(5000)), BTC, D(100_000))
    assert e.value.data == {"field": "order_size"}


@pytest.mark.parametrize("name", ["spread_bps", "min_spread_bps"])
def test_spread_below_one_tick_is_refused(name: str) -> None:
    """spread_bps or min_spread_bps under one tick at the reference price is refused, naming the tick."""
    rules = market(tick="0.01", step="1", min_qty="1", min_notional="5")  # one tick at 10 is 10 bps
    values = {"spread_bps": D(20), "min_spread_bps": D(20)} | {name: D("9.99")}
    with pytest.raises(ValidationError) as e:
        check_against_market(MarketMakerParams(**values), rules, D(10))
    assert e.value.data == {"field": name}
    assert f"{name}: 9.99 bps is less than one tick" in str(e.value)
    assert "(0.01 = 10 bps)" in str(e.value)


def test_effective_max_position_below_the_first_size_is_refused() -> None:
    """An explicit max_position below the automatic first size is refused."""
    with pytest.raises(ValidationError) as e:
        check_against_market(MarketMakerParams(max_position=D("0.001")), BTC, D(100_000))
    assert e.value.data == {"field": "max_position"}
    assert "first level's size 0.002" in str(e.value)


def test_more_orders_than_the_market_allows_is_refused() -> None:
    """levels × 2 above the market's max open orders is refused with the largest allowed levels."""
    with pytest.raises(ValidationError) as e:
        check_against_market(MarketMakerParams(levels=6), market(max_open_orders=10), D(100_000))
    assert e.value.data == {"field": "levels"}
    assert "use at most 5" in str(e.value)
    check_against_market(MarketMakerParams(levels=5), market(max_open_orders=10), D(100_000))


def test_leverage_above_the_symbol_maximum_is_refused() -> None:
    """Leverage above the symbol's highest bracket is refused."""
    with pytest.raises(ValidationError) as e:
        check_against_market(MarketMakerParams(leverage=25), market(max_leverage=20), D(100_000))
    assert e.value.data == {"field": "leverage"}


# --- registry -------------------------------------------------------------------------------------------


def test_registry_serves_market_maker_and_refuses_unknown_names() -> None:
    """`market_maker` is registered with its params class; an unknown name is a ValidationError."""
    strategy = get_strategy("market_maker")
    assert strategy is registry().strategies["market_maker"]
    assert isinstance(strategy, MarketMaker)
    assert strategy.name == "market_maker"
    assert strategy.params_cls is MarketMakerParams
    assert strategy.quotes(MarketMakerParams(), BTC_BOOK, D(0), BTC) == quotes(
        MarketMakerParams(), BTC_BOOK, D(0), BTC
    )
    with pytest.raises(ValidationError) as e:
        get_strategy("grid")
    assert e.value.data == {"field": "strategy"}
    assert "known: " in str(e.value)
    assert "market_maker" in str(e.value)


def test_a_shrinking_level_frees_no_room_for_deeper_levels() -> None:
    """Room for level n is what the full sizes of levels 0..n-1 leave, so a tiny long never grows a bid."""
    rules = market(tick="0.1", step="0.001", min_qty="0.001", min_notional="5")
    book = BookTop("X", D("0.5"), D(0), D("0.6"), D(0), 0)
    params = MarketMakerParams(
        spread_bps=D(0), levels=5, level_step_bps=D(0), size_step=D("0.36"), inventory_skew=D("0.01")
    )
    flat = ladder(quotes(params, book, D(0), rules), Side.BUY)
    assert [q for _, _, q in flat] == [D(50), D(68), D("92.48"), D("125.772"), D("163.748")]  # sums to 500
    long = ladder(quotes(params, book, D("0.001"), rules), Side.BUY)
    assert [q for _, _, q in long] == [D(50), D("67.999"), D("92.479"), D("125.771"), D("163.747")]


def test_prices_and_sizes_carry_the_grid_exponent() -> None:
    """Quotes print plainly (`50.000`, `0.5`), never in exponent form (`5E+1`) as raw rounding can."""
    rules = market(tick="0.1", step="0.001", min_qty="0.001", min_notional="5")
    book = BookTop("X", D("0.5"), D(0), D("0.6"), D(0), 0)
    params = MarketMakerParams(spread_bps=D(0), levels=5, level_step_bps=D(0))
    qs = quotes(params, book, D(0), rules)
    assert (qs[0].side, str(qs[0].price), str(qs[0].qty)) == (Side.BUY, "0.5", "50.000")
    assert all("E" not in f"{q.price}{q.qty}" for q in qs)
    assert str(sizing(params, rules, D("0.55")).max_position) == "500.000"
