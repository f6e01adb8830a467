"""Backtests on simulated time: one bot's own code over a stream of book tops and trades, synchronously.

`run_backtest(spec, events)` runs a bot of `spec.strategy` on `spec.symbol` of a fresh paper venue (the
daemon's matching engine, `PaperVenue`) over `events` in time order and returns a `BacktestResult`
(`to_json_dict()`: the document `mmctl backtest --json` prints). The code that decides is the runtime's
own, not a model of it:
- the strategy object (`get_strategy`): its `signals()` fed every book, the bot's own fills and, when
  `needs` asks for them, every public trade; its `quotes`, recomputed only when the book, the position or
  the signals' version changed (as `mmctl.bots.reaction` remembers them); quotes with other flags than
  post-only (marketable limits, reduce-only exits) are placed as they say;
- the diff `reconcile(..., amend=True)` against the bot's live orders (`live_orders` of the venue's
  answers, client ids from `ClientIdGenerator`), sent as the quoter sends it (`mmctl.backtest.desk`);
- the band (`band_after_tick`): the books under which the next tick would do nothing. Such a book still
  reaches the venue, the strategy's signals and, with the circuit breaker on, the risk monitor, but wakes
  no one, as in the market-data hub (`mmctl.backtest.sim`);
- `BotRiskMonitor`, checked at every tick with the bot's net PnL (`Inventory`, from its own fills and its
  funding): a loss or drawdown stop cancels every order (with on_loss = flatten, then closes the position
  with a reduce-only market order) and the bot quotes no more (`BacktestResult.stop`); a circuit-breaker
  pause or a stale-data pull cancels the quotes and waits, as the bot does;
- the venue's matching, fees, funding (its own timers), margin checks and rejections.
Figures: `mmctl.backtest.metrics`. Time, wake-ups and latency: `mmctl.backtest.sim`.

Not modelled: the venue-side countdown (a backtested bot never goes silent), request budgets, the early
cancel of stale orders (`mmctl.bots.stale`: the same plan, sent in one step here), order-stream gaps.
Nothing depends on wall time: the same spec and events give the same result, byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mmctl.backtest.gate import RiskNote
from mmctl.backtest.metrics import FillRecord, Metrics, Sample
from mmctl.backtest.sim import Event, SimBot
from mmctl.bots.ids import validate_bot_name
from mmctl.bots.state import BotOptions
from mmctl.config.schema import PaperAccount
from mmctl.errors import UnknownSymbol, ValidationError
from mmctl.exchange.paper.markets import builtin_markets
from mmctl.model import MarketRules
from mmctl.pnl.position import CTX
from mmctl.strategies import get_strategy
from mmctl.strategies.params import StrategyParams, params_to_dict
from mmctl.timefmt import iso_utc

__all__ = ["BacktestResult", "BacktestSpec", "Event", "RiskNote", "run_backtest"]

_PAPER = PaperAccount()
BPS = Decimal(10_000)
MAX_LATENCY_MS = 60_000


def _bps(rate: Decimal) -> Decimal:
    return (rate * BPS).normalize()


MAKER_FEE_BPS = _bps(_PAPER.maker_fee)  # the paper account's default fees
TAKER_FEE_BPS = _bps(_PAPER.taker_fee)


@dataclass(frozen=True, slots=True)
class BacktestSpec:
    """What to backtest: a strategy with its params on one built-in paper market, and the venue's terms.

    Fees are in bps of notional (the paper account's defaults: maker 2, taker 5; a negative maker fee is a
    rebate); funding is the paper venue's fixed rate every `funding_interval_s`. `latency_ms` is the time
    from a decision to its requests reaching the venue. Nothing in a backtest is random: there is no seed.
    """

    strategy: str
    params: StrategyParams
    symbol: str = "BTCUSDT"
    balance: Decimal = _PAPER.balance
    maker_fee_bps: Decimal = MAKER_FEE_BPS
    taker_fee_bps: Decimal = TAKER_FEE_BPS
    latency_ms: int = 0
    funding_rate: Decimal = _PAPER.funding_rate
    funding_interval_s: int = _PAPER.funding_interval_s
    heartbeat_s: float = BotOptions().heartbeat_s
    bot: str = "backtest"

    def __post_init__(self) -> None:
        strategy = get_strategy(self.strategy)
        if not isinstance(self.params, strategy.params_cls):
            raise ValidationError(
                f"params: expected {strategy.params_cls.__name__} for strategy {self.strategy!r}, "
                f"got {type(self.params).__name__}",
                data={"field": "params"},
            )
        _check_decimal("balance", self.balance, Decimal(0), Decimal(10) ** 15, low_open=True)
        _check_decimal("maker_fee_bps", self.maker_fee_bps, Decimal(-100), Decimal(100))
        _check_decimal("taker_fee_bps", self.taker_fee_bps, Decimal(0), Decimal(100))
        _check_decimal("funding_rate", self.funding_rate, Decimal("-0.03"), Decimal("0.03"))
        _check_int("latency_ms", self.latency_ms, 0, MAX_LATENCY_MS)
        _check_int("funding_interval_s", self.funding_interval_s, 1, 31_536_000)
        heartbeat = self.heartbeat_s
        if (
            isinstance(heartbeat, bool)
            or not isinstance(heartbeat, int | float)
            or not 0.001 <= heartbeat <= 3600
        ):
            raise ValidationError(
                f"heartbeat_s: must be between 0.001 and 3600, got {self.heartbeat_s!r}",
                data={"field": "heartbeat_s"},
            )
        validate_bot_name(self.bot)
        self.rules()  # the symbol must be a built-in market

    def rules(self) -> MarketRules:
        """The market's rules with this spec's fees (`ValidationError` for an unknown symbol)."""
        try:
            maker, taker = CTX.divide(self.maker_fee_bps, BPS), CTX.divide(self.taker_fee_bps, BPS)
            (rules,) = builtin_markets(maker, taker, [self.symbol]).values()
        except UnknownSymbol as e:
            raise ValidationError(e.message, data={"field": "symbol"}) from e
        return rules

    def to_json_dict(self) -> dict[str, Any]:
        """The spec as JSON-safe values (money as strings)."""
        return {
            "strategy": self.strategy,
            "params": params_to_dict(self.params),
            "symbol": self.rules().id,
            "bot": self.bot,
            "balance": _text(self.balance),
            "fees": {"maker_bps": _text(self.maker_fee_bps), "taker_bps": _text(self.taker_fee_bps)},
            "funding": {"rate": _text(self.funding_rate), "interval_s": self.funding_interval_s},
            "latency_ms": self.latency_ms,
            "heartbeat_s": self.heartbeat_s,
        }


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """A finished backtest: its spec, data range, figures, series and fills (see `to_json_dict`)."""

    spec: BacktestSpec
    first_ms: int
    last_ms: int
    metrics: Metrics
    samples: tuple[Sample, ...]
    fills: tuple[FillRecord, ...]
    stop: RiskNote | None  # the loss or drawdown stop that ended quoting, if one did
    risk_events: tuple[RiskNote, ...]
    open_orders: int  # the bot's orders still open on the venue after the last event

    def to_json_dict(self) -> dict[str, Any]:
        """The result as one JSON document: money as strings, times ISO 8601 UTC with ms. The same spec and
        events give the same `json.dumps(..., sort_keys=True)` bytes."""
        spec = self.spec.to_json_dict()
        spec["data"] = {
            "from": iso_utc(self.first_ms),
            "to": iso_utc(self.last_ms),
            "events": self.metrics.events,
        }
        return {
            "spec": spec,
            "summary": _metrics_json(self.metrics),
            "stop": None if self.stop is None else self.stop.to_json_dict(),
            "risk_events": [note.to_json_dict() for note in self.risk_events],
            "open_orders_at_end": self.open_orders,
            "series": [
                {
                    "ts": iso_utc(s.ts_ms),
                    "equity": _text(s.equity),
                    "mid": _text(s.mid),
                    "inventory": _text(s.inventory),
                }
                for s in self.samples
            ],
            "fills": [
                {
                    "ts": iso_utc(f.ts_ms),
                    "side": f.side.value,
                    "price": _text(f.price),
                    "qty": _text(f.qty),
                    "maker": f.maker,
                    "fee": _text(f.fee),
                    "realized_pnl": _text(f.realized_pnl),
                }
                for f in self.fills
            ],
        }


def run_backtest(spec: BacktestSpec, events: Iterable[Event]) -> BacktestResult:
    """Run `spec` over `events` (book tops and trades of `spec.symbol`, in time order) and return the
    result. `ValidationError` for no data, events out of order or of another symbol, and params the
    market cannot take (checked at the first book, as `mmctl create` checks them)."""
    out = SimBot(spec).run(events)
    return BacktestResult(
        spec=spec,
        first_ms=out.first_ms,
        last_ms=out.last_ms,
        metrics=out.metrics,
        samples=out.samples,
        fills=out.fills,
        stop=out.stop,
        risk_events=out.notes,
        open_orders=out.open_orders,
    )


def _text(value: Decimal) -> str:
    return format(value, "f")


def _metrics_json(m: Metrics) -> dict[str, Any]:
    orders = m.orders
    return {
        "pnl": {
            "net": _text(m.net_pnl),
            "realized": _text(m.realized_pnl),
            "commission": _text(m.commission),
            "funding": _text(m.funding),
            "unrealized": _text(m.unrealized_pnl),
        },
        "start_equity": _text(m.start_equity),
        "end_equity": _text(m.end_equity),
        "volume": _text(m.volume),
        "fills": m.fills,
        "maker_fills": m.maker_fills,
        "taker_fills": m.taker_fills,
        "maker_share": m.maker_share,
        "max_inventory": _text(m.max_inventory),
        "end_inventory": _text(m.end_inventory),
        "end_mark": None if m.end_mark is None else _text(m.end_mark),
        "max_drawdown": _text(m.max_drawdown),
        "sharpe": m.sharpe,
        "hourly_returns": m.hourly_returns,
        "time_in_market": m.time_in_market,
        "events": m.events,
        "orders": {
            "placed": orders.placed,
            "amended": orders.amended,
            "cancelled": orders.cancelled,
            "rejected": orders.rejected,
            "post_only_rejects": orders.post_only_rejects,
            "ticks": orders.ticks,
        },
    }


def _check_decimal(name: str, value: object, low: Decimal, high: Decimal, *, low_open: bool = False) -> None:
    ok = isinstance(value, Decimal) and value.is_finite() and low <= value <= high
    if ok and low_open and value == low:
        ok = False
    if not ok:
        bound = f"above {low}" if low_open else f"at least {low}"
        raise ValidationError(
            f"{name}: must be a Decimal {bound} and at most {high}, got {value!r}", data={"field": name}
        )


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(
            f"{name}: must be an integer from {low} to {high}, got {value!r}", data={"field": name}
        )
