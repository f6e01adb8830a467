"""The rsi, macd and mean_reversion strategies: entries when their rule fires, exits from fills and books,
sizing, the signals' version, parameter checks, and a round trip on the paper venue."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_UP, Context, Decimal, localcontext
from typing import Any

import pytest

from mmctl.errors import ValidationError
from mmctl.exchange.paper import PaperVenue, builtin_markets
from mmctl.model import (
    BookTop,
    Fill,
    IncomeType,
    LeverageBracket,
    MarketRules,
    OrderUpdate,
    Side,
    Trade,
)
from mmctl.strategies.base import DataNeeds, Quote, Strategy
from mmctl.strategies.candles import Candle
from mmctl.strategies.directional import Direction, SignalRule, allow
from mmctl.strategies.directional_params import DirectionalParams
from mmctl.strategies.directional_strategy import DirectionalSignals, DirectionalStrategy
from mmctl.strategies.macd import Macd, MacdParams, macd_rule
from mmctl.strategies.mean_reversion import MeanReversion, MeanReversionParams, mean_reversion_rule
from mmctl.strategies.params import parse_params
from mmctl.strategies.rsi import Rsi, RsiParams, rsi_rule

D = Decimal
WIDE = Context(prec=60)
SYMBOL = "BTC/USDT:USDT"
MINUTE = 60_000
START = 1_700_000_040_000 - 1_700_000_040_000 % MINUTE
# Closes that make every rule below go long and short at least once (checked in `test_series_fires`).
SERIES = [100, 101, 102, 103, 104, 103, 101, 99, 97, 96, 97, 99, 101, 103, 104, 103, 101, 99]


def market(
    min_notional: str = "5", min_qty: str = "0.001", max_leverage: int = 50, up: str = "0", down: str = "0"
) -> MarketRules:
    return MarketRules(
        symbol=SYMBOL,
        id="BTCUSDT",
        base="BTC",
        quote="USDT",
        tick_size=D("0.01"),
        step_size=D("0.001"),
        min_qty=D(min_qty),
        max_qty=D(1000),
        min_notional=D(min_notional),
        max_open_orders=200,
        brackets=(LeverageBracket(max_leverage, D(50_000), D("0.004")),),
        maker_fee=D("0.0002"),
        taker_fee=D("0.0005"),
        multiplier_up=D(up),
        multiplier_down=D(down),
    )


@dataclass(frozen=True)
class Case:
    strategy: DirectionalStrategy[Any]
    rule: Callable[[Any], SignalRule]
    own: dict[str, object]  # the rule's params: short periods so SERIES fires


CASES = {
    "rsi": Case(Rsi(), rsi_rule, {"period": 3}),
    "macd": Case(Macd(), macd_rule, {"fast": 2, "slow": 3, "signal": 2}),
    "mean_reversion": Case(
        MeanReversion(), mean_reversion_rule, {"period": 5, "entry_z": "1.5", "exit_z": "0.2"}
    ),
}
NAMES = list(CASES)


def params(name: str, **values: object) -> Any:
    case = CASES[name]
    return parse_params(case.strategy.params_cls, {"order_size": "0.1", **case.own, **values})


def book(mid: Decimal | str | int, ts_ms: int, half: str = "0.01") -> BookTop:
    m = D(mid)
    return BookTop(SYMBOL, m - D(half), D(3), m + D(half), D(3), ts_ms)


def close_candle(signals: DirectionalSignals, k: int, price: int | str) -> BookTop:
    """One trade inside candle k at `price`, then the book at the candle's end (mid = price) closing it."""
    signals.on_trade(Trade(SYMBOL, D(price), D(1), Side.BUY, START + k * MINUTE + 1000))
    top = book(price, START + (k + 1) * MINUTE)
    signals.on_book(top)
    return top


def reference(name: str, p: DirectionalParams) -> list[Direction]:
    """The direction a fresh rule wants after each candle of SERIES, after `sides`."""
    rule = CASES[name].rule(p)
    out = []
    for k, x in enumerate(SERIES):
        price = D(x)
        out.append(
            allow(rule.update(Candle(k * MINUTE, MINUTE, price, price, price, price, D(1), 1)), p.sides)
        )
    return out


def run_until(name: str, p: DirectionalParams, want: Direction) -> tuple[DirectionalSignals, BookTop]:
    """Fresh signals fed SERIES up to the first candle after which the rule wants `want`."""
    k = reference(name, p).index(want)
    signals = CASES[name].strategy.signals(p, market())
    top = book(SERIES[0], START)
    for i in range(k + 1):
        top = close_candle(signals, i, SERIES[i])
    assert signals.target is want
    return signals, top


def fill(side: Side, price: str, qty: str, ts_ms: int = START) -> Fill:
    return Fill("t", "o", "c", SYMBOL, side, D(price), D(qty), D(0), "USDT", True, D(0), ts_ms)


def quotes(
    name: str, p: DirectionalParams, top: BookTop, position: str, s: DirectionalSignals
) -> list[Quote]:
    return CASES[name].strategy.quotes(p, top, D(position), market(), s)


# -- entries ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_series_fires(name: str) -> None:
    """The fixed series makes each rule want both a long and a short (so the tests below can fail)."""
    wanted = set(reference(name, params(name)))
    assert {Direction.LONG, Direction.SHORT} <= wanted


@pytest.mark.parametrize("name", NAMES)
def test_entry_quote_follows_the_rule(name: str) -> None:
    """While flat, after every candle the strategy quotes one post-only entry at its own touch on the side
    the rule wants, and nothing while it wants flat."""
    p = params(name)
    want = reference(name, p)
    signals = CASES[name].strategy.signals(p, market())
    for k, x in enumerate(SERIES):
        top = close_candle(signals, k, x)
        got = quotes(name, p, top, "0", signals)
        if want[k] is Direction.FLAT:
            assert got == [], k
        elif want[k] is Direction.LONG:
            assert got == [Quote(Side.BUY, 0, top.bid, D("0.1"))], k
        else:
            assert got == [Quote(Side.SELL, 0, top.ask, D("0.1"))], k


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("want", [Direction.LONG, Direction.SHORT])
def test_market_entry_is_a_marketable_limit_bounded_by_the_slippage(name: str, want: Direction) -> None:
    """A market entry is a non-post-only limit at the opposite touch moved max_slippage_bps against us,
    rounded toward the touch so the bound holds."""
    p = params(name, entry="market", max_slippage_bps="25")
    signals, top = run_until(name, p, want)
    [q] = quotes(name, p, top, "0", signals)
    assert (q.side, q.level, q.qty, q.post_only, q.reduce_only) == (
        want.entry_side,
        0,
        D("0.1"),
        False,
        False,
    )
    with localcontext(WIDE):
        if want is Direction.LONG:
            bound = top.ask * (1 + D("0.0025"))
            assert top.ask <= q.price <= bound < q.price + D("0.01")
        else:
            bound = top.bid * (1 - D("0.0025"))
            assert top.bid >= q.price >= bound > q.price - D("0.01")
    assert q.price % D("0.01") == 0


def test_market_price_stays_inside_the_percent_price_band() -> None:
    """A marketable limit is cut to the venue's PERCENT_PRICE band around the mid (on the grid)."""
    p = params("rsi", entry="market", max_slippage_bps="500")
    signals, top = run_until("rsi", p, Direction.LONG)
    rules = market(up="1.001", down="0.999")
    [q] = CASES["rsi"].strategy.quotes(p, top, D(0), rules, signals)
    assert q.price == D("97.09")  # floor(97 × 1.001), not 97.01 × 1.05


@pytest.mark.parametrize("name", NAMES)
def test_sides_long_never_shorts(name: str) -> None:
    """With sides = long the strategy never quotes a sell while flat, though the rule wants shorts."""
    p = params(name, sides="long")
    signals = CASES[name].strategy.signals(p, market())
    seen: set[Side] = set()
    for k, x in enumerate(SERIES):
        top = close_candle(signals, k, x)
        seen.update(q.side for q in quotes(name, p, top, "0", signals))
    assert seen == {Side.BUY}


# -- exits --------------------------------------------------------------------------------------------


def entered(name: str, **values: object) -> tuple[DirectionalParams, DirectionalSignals, BookTop]:
    """Signals that went long and saw their entry of 0.1 fill at the ask."""
    p = params(name, **values)
    signals, top = run_until(name, p, Direction.LONG)
    signals.on_fill(fill(Side.BUY, str(top.ask), "0.1"), D("0.1"))
    return p, signals, top


def to_tick(value: Decimal, rounding: str) -> Decimal:
    return value.quantize(D("0.01"), rounding=rounding, context=WIDE)


@pytest.mark.parametrize("name", NAMES)
def test_a_fill_gives_the_take_profit_quote(name: str) -> None:
    """After the entry fills, the strategy rests a reduce-only post-only take-profit for the whole position,
    rounded away from the entry."""
    p, signals, top = entered(name, take_profit="2", stop_loss="1")
    assert signals.entry_price == top.ask
    assert signals.stop_loss == to_tick(WIDE.multiply(top.ask, D("0.99")), ROUND_FLOOR)
    target = to_tick(WIDE.multiply(top.ask, D("1.02")), ROUND_CEILING)
    assert quotes(name, p, top, "0.1", signals) == [
        Quote(Side.SELL, 1, target, D("0.1"), post_only=True, reduce_only=True)
    ]


@pytest.mark.parametrize("name", NAMES)
def test_a_book_beyond_the_stop_gives_the_reduce_only_exit(name: str) -> None:
    """A book whose mid reaches the stop turns the take-profit into a reduce-only marketable exit, which
    stays wanted when the book comes back."""
    p, signals, top = entered(name, take_profit="2", stop_loss="1", max_slippage_bps="10")
    stop = signals.stop_loss
    assert stop is not None
    ts = top.ts_ms + 1  # within the next candle: no candle closes
    signals.on_book(above := book(stop + D("0.01"), ts))
    assert quotes(name, p, above, "0.1", signals)[0].post_only  # one tick above the stop: nothing hit
    signals.on_book(low := book(stop, ts + 1))
    assert signals.exit_hit == "stop_loss"
    price = to_tick(WIDE.multiply(low.bid, D("0.999")), ROUND_CEILING)
    assert quotes(name, p, low, "0.1", signals) == [
        Quote(Side.SELL, 0, price, D("0.1"), post_only=False, reduce_only=True)
    ]
    signals.on_book(back := book(top.ask, ts + 2))
    assert quotes(name, p, back, "0.1", signals)[0].reduce_only


def test_trailing_stop_ratchets_with_the_mid_and_exits() -> None:
    """The trailing stop rises with the best mid, never falls, and a mid back through it exits."""
    p, signals, top = entered("rsi", trailing_stop="1")
    assert top.ask == D("97.01")
    assert signals.trailing_stop == D("96.03")
    ts = top.ts_ms + 1
    signals.on_book(book("100", ts))
    assert signals.trailing_stop == D("99.00")
    signals.on_book(top := book("99.50", ts + 1))
    assert signals.trailing_stop == D("99.00")
    assert quotes("rsi", p, top, "0.1", signals) == []  # no take-profit, nothing hit
    signals.on_book(top := book("98.99", ts + 2))
    assert signals.exit_hit == "trailing_stop"
    assert [q.reduce_only for q in quotes("rsi", p, top, "0.1", signals)] == [True]


def test_a_book_through_the_take_profit_exits_at_market() -> None:
    """When the mid reaches the take-profit (a post-only order there would cross), the exit is marketable."""
    p, signals, top = entered("rsi", take_profit="2")
    signals.on_book(top := book("99.00", top.ts_ms + 1))
    [q] = quotes("rsi", p, top, "0.1", signals)
    assert (q.level, q.post_only, q.reduce_only, q.side) == (0, False, True, Side.SELL)


def test_reversal_exits_first_then_enters_the_other_way() -> None:
    """A long whose rule turns short is closed with a reduce-only exit; once flat, the short is entered."""
    p = params("macd")
    signals, _ = run_until("macd", p, Direction.LONG)
    signals.on_fill(fill(Side.BUY, "97.01", "0.1"), D("0.1"))
    k = reference("macd", p).index(Direction.SHORT)
    for i in range(SERIES.index(96) + 1, k + 1):
        top = close_candle(signals, i, SERIES[i])
    [q] = quotes("macd", p, top, "0.1", signals)
    assert (q.side, q.reduce_only, q.post_only, q.qty) == (Side.SELL, True, False, D("0.1"))
    signals.on_fill(fill(Side.SELL, str(top.bid), "0.1"), D(0))
    assert quotes("macd", p, top, "0", signals) == [Quote(Side.SELL, 0, top.ask, D("0.1"))]


def test_no_reentry_after_an_exit_until_a_new_signal() -> None:
    """After a stop closes the long, the unchanged long target does not re-enter; a new signal does."""
    p, signals, top = entered("mean_reversion", stop_loss="1")
    signals.on_book(book("95", top.ts_ms + 1))
    signals.on_fill(fill(Side.SELL, "94.9", "0.1"), D(0))
    assert signals.target is Direction.LONG
    assert quotes("mean_reversion", p, top, "0", signals) == []
    want = reference("mean_reversion", p)
    k = want.index(Direction.SHORT)
    for i in range(want.index(Direction.LONG) + 1, k + 1):
        top = close_candle(signals, i, SERIES[i])
    assert [q.side for q in quotes("mean_reversion", p, top, "0", signals)] == [Side.SELL]


def test_a_position_the_signals_did_not_see_open_is_closed() -> None:
    """A position without a known entry (no stop protects it) gets a reduce-only marketable exit."""
    p = params("rsi", take_profit="2")
    signals, top = run_until("rsi", p, Direction.LONG)
    [q] = quotes("rsi", p, top, "-0.3", signals)
    assert (q.side, q.qty, q.reduce_only, q.post_only) == (Side.BUY, D("0.3"), True, False)


def test_a_reduce_only_exit_below_the_minimum_notional_is_kept() -> None:
    """A reduce-only exit is exempt from the minimum notional (as on the venue) but not the minimum qty."""
    p, signals, top = entered("rsi", take_profit="2")
    rules = market(min_notional="1000")
    assert CASES["rsi"].strategy.quotes(p, top, D("0.1"), rules, signals) != []
    assert CASES["rsi"].strategy.quotes(p, top, D("0.1"), market(min_qty="1"), signals) == []


# -- sizing -------------------------------------------------------------------------------------------


def test_risk_sizing_uses_the_distance_to_the_stop() -> None:
    """With risk_fraction the entry size is capital × risk / (entry - stop), rounded down to the step."""
    p = params("rsi", risk_fraction="0.01", capital="1000", stop_loss="1", leverage=20)
    signals, top = run_until("rsi", p, Direction.LONG)
    [q] = quotes("rsi", p, top, "0", signals)
    assert top.bid == D("96.99")
    stop = D("96.02")  # floor(96.99 × 0.99 = 96.0201)
    with localcontext(WIDE):
        expected = (D(10) / (top.bid - stop)).quantize(D("0.001"), rounding="ROUND_DOWN")
    assert q.qty == expected == D("10.309")


def test_risk_sizing_is_capped_at_capital_times_leverage() -> None:
    """A tight stop cannot size a position above capital × leverage of notional."""
    p = params("rsi", risk_fraction="0.5", capital="1000", stop_loss="1", leverage=2)
    signals, top = run_until("rsi", p, Direction.LONG)
    [q] = quotes("rsi", p, top, "0", signals)
    assert q.qty == D("20.620")  # floor(2000 / 96.99)
    assert q.qty * top.bid <= 2000 < (q.qty + D("0.001")) * top.bid


def test_order_size_zero_is_the_minimum_and_atr_exits_wait_for_the_atr() -> None:
    """order_size 0 quotes the venue minimum; with exits in ATRs no entry is quoted before the ATR exists."""
    p = params("rsi", order_size="0")
    signals, top = run_until("rsi", p, Direction.LONG)
    assert quotes("rsi", p, top, "0", signals)[0].qty == D("0.052")  # ceil(5 / 96.99) on the step
    p = params("rsi", stop_loss="2", exit_unit="atr", atr_period=50)
    signals, top = run_until("rsi", p, Direction.LONG)
    assert signals.atr is None
    assert quotes("rsi", p, top, "0", signals) == []
    p = params("rsi", stop_loss="2", exit_unit="atr", atr_period=2)
    signals, top = run_until("rsi", p, Direction.LONG)
    assert signals.atr is not None
    assert len(quotes("rsi", p, top, "0", signals)) == 1


def test_quotes_do_not_depend_on_the_decimal_context() -> None:
    """The same quotes and entry prices come out under a 3-digit, rounding-up thread context."""
    values = {
        "entry": "market",
        "risk_fraction": "0.01",
        "capital": "777",
        "stop_loss": "1.3",
        "take_profit": "2",
    }
    for extra in (values, {"take_profit": "1.7"}):
        results = []
        for context in (WIDE, Context(prec=3, rounding=ROUND_UP)):
            p = params("rsi", **extra)
            signals, top = run_until("rsi", p, Direction.LONG)
            with localcontext(context):
                flat = quotes("rsi", p, top, "0", signals)
                signals.on_fill(fill(Side.BUY, "97.0123", "0.1234"), D("0.1234"))
                signals.on_fill(fill(Side.BUY, "97.0567", "0.2"), D("0.3234"))
                held = quotes("rsi", p, top, "0.3234", signals)
                results.append((flat, held, signals.entry_price))
        assert results[0] == results[1]
        assert results[0][0] != []
        assert results[0][1] != []


# -- version ------------------------------------------------------------------------------------------


def test_version_changes_only_when_what_quotes_reads_changes() -> None:
    """Books and trades that change no target, position, exit level or hit leave the version alone."""
    p = params("rsi", trailing_stop="1")
    signals = CASES["rsi"].strategy.signals(p, market())
    want = reference("rsi", p)
    for k, x in enumerate(SERIES[: want.index(Direction.LONG) + 1]):
        before = signals.version
        signals.on_trade(Trade(SYMBOL, D(x) + 1, D(1), Side.SELL, START + k * MINUTE + 5))
        signals.on_book(book(x + 3, START + k * MINUTE + 10))
        assert signals.version == before  # inside the candle: nothing closed
        top = close_candle(signals, k, x)
        changed = want[k] is not (want[k - 1] if k else Direction.FLAT)
        assert (signals.version != before) == changed, k
    before = signals.version
    signals.on_fill(fill(Side.BUY, "97.01", "0.1"), D("0.1"))
    assert signals.version != before
    ts = top.ts_ms + 1
    for mid, moves in (("97.01", False), ("98", True), ("97.90", False), ("98", False), ("97.02", True)):
        before = signals.version
        signals.on_book(book(mid, ts))
        assert (signals.version != before) == moves, mid
        ts += 1
    assert signals.exit_hit == "trailing_stop"
    before = signals.version
    signals.on_book(book("90", ts))
    assert signals.version == before


# -- parameters and market checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "values", "field_name"),
    [
        ("rsi", {"risk_fraction": "0.01", "stop_loss": "1"}, "capital"),
        ("rsi", {"risk_fraction": "0.01", "capital": "100"}, "stop_loss"),
        ("rsi", {"stop_loss": "100"}, "stop_loss"),
        ("rsi", {"trailing_stop": "150"}, "trailing_stop"),
        ("rsi", {"take_profit": "100"}, "take_profit"),
        ("rsi", {"oversold": "50"}, "oversold"),
        ("rsi", {"sides": "up"}, "sides"),
        ("rsi", {"entry": "limit"}, "entry"),
        ("rsi", {"candle_interval_s": "0"}, "candle_interval_s"),
        ("macd", {"fast": "26", "slow": "26"}, "fast"),
        ("mean_reversion", {"entry_z": "1", "exit_z": "1"}, "exit_z"),
    ],
)
def test_bad_params_name_the_field(name: str, values: dict[str, object], field_name: str) -> None:
    """Out-of-range and inconsistent parameters are refused with an error naming the field."""
    with pytest.raises(ValidationError) as err:
        parse_params(CASES[name].strategy.params_cls, {**CASES[name].own, **values})
    assert err.value.data == {"field": field_name}
    assert err.value.message.startswith(field_name) or field_name in err.value.message


def test_take_profit_beyond_100_pct_is_fine_for_longs_only_and_in_atr() -> None:
    """A take-profit of 150 % is accepted for a long-only strategy and in ATRs."""
    assert parse_params(RsiParams, {"take_profit": "150", "sides": "long"}).take_profit == 150
    assert parse_params(MacdParams, {"take_profit": "150", "exit_unit": "atr"}).exit_unit == "atr"


@pytest.mark.parametrize(
    ("values", "field_name"),
    [
        ({"leverage": 60}, "leverage"),
        ({"order_size": "0.01"}, "order_size"),
        ({"order_size": "5000"}, "order_size"),
        ({"risk_fraction": "0.01", "stop_loss": "1", "capital": "1", "leverage": 1}, "capital"),
    ],
)
def test_check_against_market_names_the_field(values: dict[str, object], field_name: str) -> None:
    """Params the market cannot trade (leverage, sizes, capital) are refused naming the field."""
    p = parse_params(MeanReversionParams, values)
    with pytest.raises(ValidationError) as err:
        MeanReversion().check_against_market(p, market(), D(100))
    assert err.value.data == {"field": field_name}
    MeanReversion().check_against_market(
        parse_params(MeanReversionParams, {"order_size": "0.05"}), market(), D(100)
    )


@pytest.mark.parametrize("name", NAMES)
def test_strategy_object(name: str) -> None:
    """Each strategy wants candles of its interval and trades, wakes on every book, and is a `Strategy`."""
    strategy: Strategy[Any] = CASES[name].strategy
    p = params(name, candle_interval_s=300)
    assert strategy.name == name == p.strategy
    assert strategy.needs(p) == DataNeeds(trades=True, candle_interval_s=300)
    assert (
        strategy.quote_bands(p, book(100, START), D(0), market(), {}, strategy.signals(p, market())) is None
    )
    with pytest.raises(TypeError):
        strategy.quotes(p, book(100, START), D(0), market(), None)


# -- end to end on the paper venue ---------------------------------------------------------------------


@dataclass
class PaperRun:
    """A strategy driving the synchronous paper venue: events in, quotes placed, fills fed back."""

    venue: PaperVenue
    strategy: DirectionalStrategy[Any]
    p: DirectionalParams
    signals: DirectionalSignals = field(init=False)
    fills: list[Fill] = field(default_factory=list)
    seen: list[Fill] = field(default_factory=list)
    cids: Iterator[int] = field(default_factory=lambda: iter(range(1, 10**6)))

    def __post_init__(self) -> None:
        self.rules = self.venue.markets[SYMBOL]
        self.signals = self.strategy.signals(self.p, self.rules)
        self.venue.add_listener(self._on_update)

    def _on_update(self, update: OrderUpdate) -> None:
        if update.fill is not None:
            self.fills.append(update.fill)

    def _drain(self) -> None:
        while self.fills:
            f = self.fills.pop(0)
            self.seen.append(f)
            self.signals.on_fill(f, self.venue.position(SYMBOL).qty)

    def event(self, event: BookTop | Trade) -> None:
        self.venue.on_event(event)
        if isinstance(event, BookTop):
            self.signals.on_book(event)
        else:
            self.signals.on_trade(event)
        self._drain()
        if isinstance(event, BookTop):
            for _ in range(3):  # a marketable order fills at once: quote again with the new position
                self._reconcile(event)

    def _reconcile(self, top: BookTop) -> None:
        position = self.venue.position(SYMBOL).qty
        desired = self.strategy.quotes(self.p, top, position, self.rules, self.signals)
        live = self.venue.open_orders(SYMBOL)
        keep = [
            o
            for o in live
            if any(
                (q.side, q.price, q.qty, q.post_only, q.reduce_only)
                == (o.side, o.price, o.remaining, o.post_only, o.reduce_only)
                for q in desired
            )
        ]
        for o in live:
            if o not in keep:
                self.venue.cancel(SYMBOL, o.id)
        for q in desired:
            if not any((q.side, q.price, q.reduce_only) == (o.side, o.price, o.reduce_only) for o in keep):
                self.venue.place(q.to_request(SYMBOL, f"t-{next(self.cids)}"))
        self._drain()


def scaled(x: int) -> Decimal:
    return D(90_000 + (x - 100) * 100)


@pytest.mark.parametrize(("exit_mid", "maker_exit"), [("90300", True), ("89000", False)])
def test_long_round_trip_on_the_paper_venue(exit_mid: str, maker_exit: bool) -> None:
    """On the paper venue an rsi long is entered at market, then closed by its resting take-profit (maker)
    or by a stop-loss exit (taker), and the venue's ledger shows the realized PnL of the round trip."""
    venue = PaperVenue(builtin_markets(D("0.0002"), D("0.0005")), balance=D(10_000), start_ms=START)
    p = parse_params(
        RsiParams,
        {
            "period": 3,
            "sides": "long",
            "entry": "market",
            "take_profit": "0.4",
            "stop_loss": "0.5",
            "order_size": "0",
        },
    )
    run = PaperRun(venue, Rsi(), p)
    k_long = reference("rsi", p).index(Direction.LONG)
    for k in range(k_long + 1):
        price = scaled(SERIES[k])
        run.event(Trade(SYMBOL, price, D(1), Side.BUY, START + k * MINUTE + 1000))
        run.event(BookTop(SYMBOL, price - D("0.1"), D(5), price + D("0.1"), D(5), START + (k + 1) * MINUTE))
    entry, *_ = run.seen
    assert (entry.side, entry.maker, entry.qty) == (Side.BUY, False, D("0.002"))
    assert venue.position(SYMBOL).qty == D("0.002")
    [tp] = venue.open_orders(SYMBOL)
    assert (tp.side, tp.reduce_only, tp.post_only) == (Side.SELL, True, True)
    ts = START + (k_long + 1) * MINUTE + 5000
    mid = D(exit_mid)
    run.event(BookTop(SYMBOL, mid - D("0.1"), D(5), mid + D("0.1"), D(5), ts))
    assert venue.position(SYMBOL).qty == 0
    assert venue.open_orders(SYMBOL) == []
    exit_fill = run.seen[-1]
    assert exit_fill.maker is maker_exit
    assert exit_fill.side is Side.SELL
    realized = [r.amount for r in venue.income(START, income_type=IncomeType.REALIZED_PNL)]
    assert realized == [(exit_fill.price - entry.price) * D("0.002")]
    assert (realized[0] > 0) is maker_exit
