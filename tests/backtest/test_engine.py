"""The backtest engine (mmctl.backtest.engine): the bot's own code over market data on simulated time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from mmctl.backtest.engine import BacktestResult, BacktestSpec, run_backtest
from mmctl.backtest.metrics import LedgerTotals, MetricsRecorder, OrderCounts, sharpe
from mmctl.errors import ValidationError
from mmctl.exchange.paper import SyntheticFeed, SyntheticParams
from mmctl.model import BookTop, Fill, Side, Trade
from mmctl.strategies.market_maker import MarketMakerParams

D = Decimal
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
BTC = "BTCUSDT"


def book(at_ms: int, mid: str, symbol: str = BTC) -> BookTop:
    """A BTC book one tick (0.1) either side of `mid`, at T0 + at_ms."""
    m = D(mid)
    return BookTop(symbol, m - D("0.1"), D(1), m + D("0.1"), D(1), T0 + at_ms)


def trade(at_ms: int, price: str, side: Side, qty: str = "0.002") -> Trade:
    return Trade(BTC, D(price), D(qty), side, T0 + at_ms)


def params(**changes: object) -> MarketMakerParams:
    """One level of 0.002 BTC each side 10 bps from the mid, no skew, position limit 0.002: at mid 100000
    the bid rests at 99900.0 and the ask at 100100.0; a long of 0.002 quotes no bid."""
    values: dict[str, object] = {
        "levels": 1,
        "order_size": "0.002",
        "max_position": "0.002",
        "inventory_skew": "0",
        "spread_bps": "10",
        "refresh_tolerance_bps": "50",
        "max_order_age_s": 86_400,
        "quote_interval_ms": 10,
        "stale_data_s": 0,
        **changes,
    }
    return MarketMakerParams().replace(**values)


def spec(p: MarketMakerParams | None = None, **changes: Any) -> BacktestSpec:
    return BacktestSpec("market_maker", p if p is not None else params(), **{"symbol": BTC, **changes})


def synthetic(books: int, seed: int = 3) -> Iterator[BookTop | Trade]:
    """`books` book tops of the synthetic BTC market (100 ms apart) and the trades among them."""
    rules = spec().rules()
    count = 0
    for event in SyntheticFeed([rules], SyntheticParams(seed=seed), T0).events():
        if type(event) is BookTop:
            count += 1
            if count > books:
                return
        yield event  # type: ignore[misc]


def loss_scenario(last_ms: int = 3_000) -> list[BookTop | Trade]:
    """Quotes at mid 100000; a taker sells into the bid (long 0.002 at 99900); the mid falls to 99800:
    net PnL -0.03996 fee - 0.2 unrealized = -0.23996. Books continue until `last_ms`."""
    events: list[BookTop | Trade] = [
        book(0, "100000.0"),
        trade(1_000, "99900.0", Side.SELL),
        book(2_000, "99800.0"),
    ]
    events += [book(t, "99800.0") for t in range(3_000, last_ms + 1, 1_000)]
    return events


def dumps(result: BacktestResult) -> bytes:
    return json.dumps(result.to_json_dict(), sort_keys=True).encode()


# --- accounting -------------------------------------------------------------------------------------------


def test_pnl_lines_add_up_to_the_equity_change_and_match_the_fills() -> None:
    """Realized + commission + funding + unrealized equals the equity change exactly, the ledger lines equal
    the fills' own figures, and funding was paid along the way."""
    result = run_backtest(spec(MarketMakerParams(levels=3), funding_interval_s=300), synthetic(20_000))
    m = result.metrics
    assert m.fills > 10
    assert m.funding != 0
    assert m.realized_pnl + m.commission + m.funding + m.unrealized_pnl == m.net_pnl
    assert m.end_equity - m.start_equity == m.net_pnl
    assert m.realized_pnl == sum((f.realized_pnl for f in result.fills), D(0))
    assert m.commission == -sum((f.fee for f in result.fills), D(0))
    assert m.volume == sum((f.price * f.qty for f in result.fills), D(0))
    assert result.samples[-1].equity == m.end_equity
    assert result.samples[-1].inventory == m.end_inventory
    assert m.max_drawdown >= 0
    assert m.events == sum(1 for _ in synthetic(20_000))


def test_metrics_of_a_hand_made_run_have_the_known_values() -> None:
    """A maker buy at 99900, a 100-dollar fall that trips max_loss, a taker flatten at the bid: every
    figure as computed by hand."""
    result = run_backtest(spec(params(max_loss="0.2", on_loss="flatten")), loss_scenario())
    m = result.metrics
    assert [(f.ts_ms - T0, f.side, f.price, f.qty, f.maker) for f in result.fills] == [
        (1_000, Side.BUY, D("99900.0"), D("0.002"), True),
        (2_000, Side.SELL, D("99799.9"), D("0.002"), False),
    ]
    assert (m.fills, m.maker_fills, m.taker_fills, m.maker_share) == (2, 1, 1, 0.5)
    assert m.realized_pnl == D("-0.2002")  # 0.002 × (99799.9 - 99900)
    assert m.commission == D("-0.1397599")  # 99900 × 0.002 × 2 bps + 99799.9 × 0.002 × 5 bps
    assert (m.funding, m.unrealized_pnl) == (0, 0)
    assert m.net_pnl == D("-0.3399599")
    assert m.end_equity == D("9999.6600401")
    # peak 10000.16004 right after the buy (mid 100000), lowest 9999.6600401 after the flatten
    assert m.max_drawdown == D("0.4999999")
    assert m.time_in_market == pytest.approx(1 / 3, abs=1e-6)  # long from 1 s to 2 s of 3 s
    assert m.max_inventory == D("0.002")
    assert m.volume == D("399.3998")
    assert (m.sharpe, m.hourly_returns) == (None, 0)
    assert (m.orders.placed, m.orders.cancelled, m.orders.amended) == (3, 1, 0)  # bid, ask, flatten
    assert result.stop is not None
    assert (result.stop.ts_ms - T0, result.stop.action, result.stop.guard) == (2_000, "flatten", "max_loss")
    assert result.open_orders == 0


def test_hourly_returns_give_the_sharpe_ratio() -> None:
    """Equity at the start and at each full hour gives the hourly returns, and Sharpe is their mean over
    their sample deviation × sqrt(8760); the minute samples hold the same equities."""
    result = run_backtest(spec(MarketMakerParams(levels=3)), synthetic(2 * 36_000 + 10))
    m = result.metrics
    assert m.fills > 0
    assert m.hourly_returns == 2
    minutes = [s.ts_ms - T0 for s in result.samples]
    assert minutes[:3] == [0, 60_000, 120_000]
    assert len(minutes) == 2 * 60 + 2  # start, every minute, the end
    e0, e1, e2 = (float(result.samples[i].equity) for i in (0, 60, 120))
    r1, r2 = e1 / e0 - 1, e2 / e1 - 1
    mean, deviation = (r1 + r2) / 2, abs(r1 - r2) / 2**0.5
    assert m.sharpe == pytest.approx(mean / deviation * 8760**0.5, rel=1e-4)


def test_sharpe_of_known_returns() -> None:
    """Returns of 1 % and 2 %: mean 0.015 over deviation 0.00707 × sqrt(8760) = 198.5447; undefined for
    one return or for returns that never vary."""
    assert sharpe([D(100), D(101), D("103.02")]) == pytest.approx(198.544705, abs=1e-6)
    assert sharpe([D(100), D(101)]) is None
    assert sharpe([D(100), D(100), D(100)]) is None


def test_drawdown_of_a_short_counts_the_rise_between_samples() -> None:
    """Short 1 at 100: the mid goes 101, 99, 102 (equity 999, 1001, 998), then the buy back at 102: the
    largest fall from a peak is 1001 - 998 = 3, though no minute sample saw either point."""
    recorder = MetricsRecorder(T0, D(1000))
    recorder.first_book(D(200))
    recorder.fill(_fill(Side.SELL, "100", 1), D(-1), D(100), D(1000))
    for mid2 in ("202", "198", "204"):
        recorder.book2(D(mid2))
    recorder.fill(_fill(Side.BUY, "102", 4), D(0), D(0), D(998))
    m = recorder.finish(T0 + 5, LedgerTotals(), events=6, orders=OrderCounts())
    assert m.max_drawdown == D(3)
    assert m.time_in_market == pytest.approx(3 / 5)
    assert m.max_inventory == D(1)
    assert recorder.samples == []


def _fill(side: Side, price: str, at_ms: int) -> Fill:
    return Fill("1", "1", "c", BTC, side, D(price), D(1), D(0), "USDT", True, D(0), T0 + at_ms)


# --- latency ----------------------------------------------------------------------------------------------


def latency_events() -> list[BookTop | Trade]:
    return [
        book(0, "100000.0"),
        trade(20, "99900.0", Side.SELL),
        trade(60, "99900.0", Side.SELL),
        book(100, "100000.0"),
    ]


def test_an_order_cannot_fill_before_it_reaches_the_venue() -> None:
    """With 50 ms of latency the bid decided at 0 misses the sell at 20 ms and fills on the one at 60 ms;
    without latency it fills at 20 ms."""
    slow = run_backtest(spec(latency_ms=50), latency_events())
    assert [f.ts_ms - T0 for f in slow.fills] == [60]
    fast = run_backtest(spec(latency_ms=0), latency_events())
    assert [f.ts_ms - T0 for f in fast.fills] == [20]


# --- risk -------------------------------------------------------------------------------------------------


def test_a_loss_stop_cancels_everything_and_quotes_no_more() -> None:
    """After max_loss trips, the ask is cancelled, nothing is placed again however long the data goes on,
    and later trades through the old prices fill nothing."""
    events = loss_scenario(last_ms=60_000)
    events.append(trade(61_000, "100200.0", Side.BUY))
    events.append(trade(62_000, "99000.0", Side.SELL))
    events.sort(key=lambda e: e.ts_ms)
    result = run_backtest(spec(params(max_loss="0.2")), events)
    assert result.stop is not None
    assert (result.stop.action, result.stop.guard) == ("stop", "max_loss")
    assert [f.ts_ms - T0 for f in result.fills] == [1_000]
    assert (result.metrics.orders.placed, result.metrics.orders.cancelled) == (2, 1)
    assert result.open_orders == 0
    assert result.metrics.end_inventory == D("0.002")  # a stop keeps the position


@pytest.mark.parametrize("on_loss", ["stop", "flatten"])
def test_a_stop_on_the_last_event_leaves_no_order_open(on_loss: str) -> None:
    """A stop tripped by the last book, with its requests still on their way when the data ends: they
    reach the venue anyway, so no order is left open (and a flatten closes the position)."""
    result = run_backtest(spec(params(max_loss="0.2", on_loss=on_loss), latency_ms=30), loss_scenario(2_000))
    assert result.stop is not None
    assert result.stop.ts_ms == T0 + 2_000
    assert result.open_orders == 0
    assert result.metrics.end_inventory == (0 if on_loss == "flatten" else D("0.002"))


def test_stale_data_pulls_the_quotes_until_a_book_arrives() -> None:
    """A 20-s gap in the data with stale_data_s = 10: the heartbeat pulls the quotes at 10 s, the next
    book brings them back."""
    events = [book(0, "100000.0"), book(20_000, "100000.0"), book(21_000, "100000.0")]
    result = run_backtest(spec(params(stale_data_s=10)), events)
    assert [(n.ts_ms - T0, n.action) for n in result.risk_events] == [(10_000, "pull"), (20_000, "resume")]
    assert (result.metrics.orders.cancelled, result.metrics.orders.placed) == (2, 4)
    assert result.open_orders == 2


def test_the_circuit_breaker_pauses_quoting_for_its_cooldown() -> None:
    """A 60-bps jump with max_move_bps = 50 pauses the bot: its quotes are cancelled, and it quotes again
    at the first book after the 30-s cooldown."""
    events = [book(0, "100000.0")] + [book(t, "100600.0") for t in range(1_000, 40_001, 1_000)]
    p = params(spread_bps="100", max_move_bps="50", move_window_s=10, cooldown_s=30)
    result = run_backtest(spec(p), events)
    assert [(n.ts_ms - T0, n.action, n.guard) for n in result.risk_events] == [
        (1_000, "pause", "max_move_bps"),
        (31_000, "resume", None),
    ]
    assert (result.metrics.orders.placed, result.metrics.orders.cancelled) == (4, 2)
    assert result.open_orders == 2


# --- the result document ----------------------------------------------------------------------------------


def test_the_same_data_and_params_give_the_same_bytes() -> None:
    """Two runs over the same events (a list once, a generator once) give byte-identical JSON."""
    events = list(synthetic(8_000))
    s = spec(MarketMakerParams(levels=3), latency_ms=7)
    first, second = run_backtest(s, events), run_backtest(s, synthetic(8_000))
    assert first.metrics.fills > 0
    assert dumps(first) == dumps(second)


def test_the_json_document_carries_the_spec_and_money_as_strings() -> None:
    """The document names the strategy, its params, symbol, latency, fees and data range, and writes money as
    strings and times as ISO 8601 UTC with milliseconds."""
    doc = run_backtest(spec(params(max_loss="0.2"), latency_ms=5), loss_scenario()).to_json_dict()
    assert doc["spec"]["strategy"] == "market_maker"
    assert doc["spec"]["params"]["max_loss"] == "0.2"
    assert doc["spec"]["symbol"] == "BTCUSDT"
    assert doc["spec"]["latency_ms"] == 5
    assert doc["spec"]["fees"] == {"maker_bps": "2", "taker_bps": "5"}
    assert doc["spec"]["data"] == {
        "from": "2026-01-01T00:00:00.000Z",
        "to": "2026-01-01T00:00:03.000Z",
        "events": 4,
    }
    assert doc["summary"]["pnl"]["net"] == doc["summary"]["pnl"]["unrealized"] or isinstance(
        doc["summary"]["pnl"]["net"], str
    )
    assert doc["fills"][0] == {
        "ts": "2026-01-01T00:00:01.000Z",
        "side": "buy",
        "price": "99900.00",
        "qty": "0.002",
        "maker": True,
        "fee": "0.03996000",
        "realized_pnl": "0",
    }
    assert doc["stop"]["guard"] == "max_loss"
    json.dumps(doc)  # nothing but JSON types


# --- bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: BacktestSpec("nope", params()), "strategy"),
        (lambda: spec(symbol="FOOUSDT"), "symbol"),
        (lambda: spec(latency_ms=-1), "latency_ms"),
        (lambda: spec(balance=D(0)), "balance"),
        (lambda: spec(taker_fee_bps=D(-1)), "taker_fee_bps"),
        (lambda: spec(bot="Bad Name"), "name"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_field(make: Any, field: str) -> None:
    """Each invalid spec value raises a ValidationError that names its field."""
    with pytest.raises(ValidationError) as e:
        make()
    assert e.value.data["field"] == field


@pytest.mark.parametrize(
    ("events", "words"),
    [
        ([], "no market data"),
        ([trade(0, "100000.0", Side.BUY)], "no book updates"),
        ([book(10, "100000.0"), book(5, "100000.0")], "out of time order"),
        ([book(0, "3000.00", symbol="ETHUSDT")], "another symbol"),
    ],
)
def test_bad_market_data_is_refused(events: list[BookTop | Trade], words: str) -> None:
    """No data, no book, events out of order or of another symbol: a ValidationError saying which."""
    with pytest.raises(ValidationError, match=words) as e:
        run_backtest(spec(), events)
    assert e.value.data["field"] == "data"


def test_params_the_market_cannot_take_are_refused_at_the_first_book() -> None:
    """A spread below one tick at the data's price is refused as `mmctl create` refuses it."""
    with pytest.raises(ValidationError) as e:
        run_backtest(spec(params(spread_bps="0.001", min_spread_bps="0.1")), [book(0, "100000.0")])
    assert e.value.data["field"] in {"spread_bps", "min_spread_bps"}
