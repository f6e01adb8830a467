"""What the directional strategies (rsi, macd, mean_reversion) share: their per-bot signals and the strategy
object that turns a signal rule into orders. Each strategy module supplies its parameters and its rule.

Signals (`DirectionalSignals`): public trades make candles of `candle_interval_s` (each book's time also
closes candles, so a quiet market still moves the indicators); each closed candle goes to the rule and
to the ATR. The rule's direction, filtered by `sides`, is the target. The bot's own fills give the
position and its average entry price, which fix the stop-loss and take-profit (rounded away from the
entry on the tick grid); the trailing stop ratchets with each book's mid. An exit is hit when the mid
reaches the stop, the trailing stop or the take-profit; that stays so until the position is closed.
`version` moves when the target, the position, an exit level, the hit state (or, while an entry waits
for it, the ATR) changes: not on every book.

Orders (`quotes`):
- Flat with a target: one entry at level 0 on the target's side. `entry = post_only`: a post-only limit
  at the own touch (the bid for a long, the ask for a short). `entry = market`: a marketable limit at the
  opposite touch plus `max_slippage_bps`, rounded toward the touch (a buy down, a sell up) so the bound
  holds, and kept within the venue's PERCENT_PRICE band around the mid (the mark's stand-in; a limit the
  band cuts short of the touch rests until the book comes back). Sized by `order_size` (0: the venue
  minimum at the price) or by risk against the stop; nothing when the size is below the minimums.
  A position closed by an exit is not re-entered while the target stays the same: re-entry waits for a
  new signal (the target changing). With exits in ATRs, entries wait for the ATR to warm up.
- In a position: when an exit is hit, when the target is flat or the other way (the signal's exit), or
  when the signals did not see the position open (e.g. carried over a restart: it has no entry price,
  hence no stop), a reduce-only marketable limit at level 0 for the whole position, bounded like market
  entries. Otherwise, with a take-profit, a reduce-only post-only limit at it for the whole position at
  level 1. A reversal closes first and enters the other way on a later call, once flat.
- Reduce-only exits are exempt from the venue's minimum notional (Binance -4164 "unless you choose reduce
  only"; the paper venue the same), not from its minimum quantity: a position smaller than that cannot be
  closed by an order and gets none. Sizes are capped at the venue's maximum quantity.
Every price is on the tick grid and every size on the step, computed exactly in `EXACT` whatever the
thread's decimal context. `quote_bands` returns None: the bot wakes on every book, which a candle strategy
with one or two orders can afford (its exits watch the mid anyway).

Exits are watched by the bot and sent as marketable limits; venue-held conditional orders (STOP_MARKET,
TAKE_PROFIT_MARKET) are not used yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Generic, Literal, TypeVar

from mmctl.exchange.rules import EXACT, ceil_to, floor_to, meets_minimums, min_qty_for, percent_price_bound
from mmctl.model import ZERO, BookTop, Fill, MarketRules, Side, Trade
from mmctl.strategies.base import DataNeeds, HeldExit, PriceWindows, Quote, QuoteBands, Signals
from mmctl.strategies.candles import Candle, CandleBuilder
from mmctl.strategies.directional import (
    Direction,
    ExitDistance,
    ExitLevels,
    SignalRule,
    TrailingStop,
    allow,
    exit_levels,
    fixed_size,
    risk_size,
    stop_loss_price,
)
from mmctl.strategies.directional_params import DirectionalParams, check_against_market
from mmctl.strategies.indicators import Atr

DP = TypeVar("DP", bound=DirectionalParams)
ExitHit = Literal["stop_loss", "take_profit", "trailing_stop"]
HALF = Decimal("0.5")
_AVERAGE = Context(prec=34, rounding=ROUND_HALF_EVEN)  # the average entry (rounded: levels go on the grid)


def mid_price(book: BookTop) -> Decimal:
    """(bid + ask) / 2, exactly."""
    return EXACT.multiply(EXACT.add(book.bid, book.ask), HALF)


def _direction_of(position: Decimal) -> Direction:
    return Direction.LONG if position > 0 else Direction.SHORT if position < 0 else Direction.FLAT


class DirectionalSignals:
    """A directional bot's state: candles, the rule's target, its position's entry, exits and hit state."""

    __slots__ = (
        "_atr",
        "_builder",
        "_entry",
        "_hit",
        "_levels",
        "_mid",
        "_params",
        "_position",
        "_rule",
        "_spent",
        "_target",
        "_tick",
        "_trailing",
        "_version",
    )

    def __init__(self, params: DirectionalParams, rules: MarketRules, rule: SignalRule) -> None:
        self._params = params
        self._tick = rules.tick_size
        self._rule = rule
        self._builder = CandleBuilder(params.candle_interval_s)
        self._atr = Atr(params.atr_period)
        self._target = Direction.FLAT
        self._spent: Direction | None = None  # the direction of the last closed position, until a new signal
        self._position = ZERO
        self._entry: Decimal | None = None
        self._levels = ExitLevels(None, None)
        self._trailing: TrailingStop | None = None
        self._hit: ExitHit | None = None
        self._mid: Decimal | None = None
        self._version = 0

    # -- what `quotes` reads ------------------------------------------------------------------------------

    @property
    def version(self) -> int:
        return self._version

    @property
    def target(self) -> Direction:
        """The direction the rule wants, after `sides` (flat while the indicator warms up)."""
        return self._target

    @property
    def spent(self) -> Direction | None:
        """The direction of the last closed position while the target has not changed since: no re-entry."""
        return self._spent

    @property
    def position(self) -> Decimal:
        """The position after the last fill seen."""
        return self._position

    @property
    def direction(self) -> Direction:
        """The side of the position the signals saw open (flat: none)."""
        return _direction_of(self._position)

    @property
    def entry_price(self) -> Decimal | None:
        """The average entry of the open position (None when flat)."""
        return self._entry

    @property
    def stop_loss(self) -> Decimal | None:
        return self._levels.stop_loss

    @property
    def take_profit(self) -> Decimal | None:
        return self._levels.take_profit

    @property
    def trailing_stop(self) -> Decimal | None:
        return None if self._trailing is None else self._trailing.stop

    @property
    def exit_hit(self) -> ExitHit | None:
        """The exit the mid reached since the position opened (None: none yet)."""
        return self._hit

    @property
    def atr(self) -> float | None:
        return self._atr.value

    def hit_at(self, mid: Decimal) -> ExitHit | None:
        """Which exit of the open position a mid of `mid` reaches (None when flat or none)."""
        direction = self.direction
        if direction is Direction.FLAT:
            return None
        fixed = self._levels.hit(direction, mid)
        if fixed is not None:
            return fixed
        if self._trailing is not None and self._trailing.hit(mid):
            return "trailing_stop"
        return None

    # -- feeding --------------------------------------------------------------------------------------

    def on_trade(self, trade: Trade) -> None:
        closed = self._builder.on_trade(trade)
        if closed:
            self._on_candles(closed)

    def on_book(self, book: BookTop) -> None:
        closed = self._builder.advance(book.ts_ms)
        if closed:
            self._on_candles(closed)
        if book.bid <= 0 or book.ask <= 0:
            return
        self._mid = mid = mid_price(book)
        if self._position == 0:
            return
        changed = False
        trailing = self._trailing
        if trailing is not None:
            before = trailing.stop
            changed = trailing.update(mid, self._exit_atr()) != before
        if self._hit is None:
            self._hit = self.hit_at(mid)
            changed = changed or self._hit is not None
        if changed:
            self._version += 1

    def on_fill(self, fill: Fill, position: Decimal) -> None:
        prev = self._position
        if position == prev:
            return
        self._position = position
        self._version += 1
        if position == 0:
            self._spent = _direction_of(prev)
            self._entry, self._levels, self._trailing, self._hit = None, ExitLevels(None, None), None, None
            return
        opened = _direction_of(prev) is not _direction_of(position)
        if opened:
            self._entry = fill.price
            self._trailing = self._new_trailing(fill.price)
            self._hit = None
        elif (size := EXACT.abs(position)) > (held := EXACT.abs(prev)) and self._entry is not None:
            added = EXACT.subtract(size, held)
            cost = EXACT.add(EXACT.multiply(held, self._entry), EXACT.multiply(added, fill.price))
            self._entry = _AVERAGE.divide(cost, size)
        else:
            return  # reduced: entry and exits stay
        self._levels = self._exit_levels()
        if self._hit is None and self._mid is not None:
            self._hit = self.hit_at(self._mid)

    def _on_candles(self, candles: Iterable[Candle]) -> None:
        atr_before = self._atr.value
        changed = False
        for candle in candles:
            self._atr.update(candle)
            target = allow(self._rule.update(candle), self._params.sides)
            if target is not self._target:
                self._target, self._spent, changed = target, None, True
        if changed or (self._atr.value != atr_before and self._entry_reads_atr(atr_before)):
            self._version += 1

    def _entry_reads_atr(self, before: float | None) -> bool:
        """True when a wanted entry waits for the ATR (`before` None) or is sized with it."""
        params, target = self._params, self._target
        return (
            self._position == 0
            and target is not Direction.FLAT
            and target is not self._spent
            and params.exits_in_atr
            and (before is None or params.risk_fraction > 0)
        )

    def _exit_atr(self) -> float | None:
        return self._atr.value if self._params.exit_unit == "atr" else None

    def _distance(self, value: Decimal) -> ExitDistance | None:
        """`value` in the exit unit, or None when that exit is off or cannot be measured (no ATR yet)."""
        if value <= 0 or (self._params.exit_unit == "atr" and self._atr.value is None):
            return None
        return ExitDistance(self._params.exit_unit, value)

    def _exit_levels(self) -> ExitLevels:
        assert self._entry is not None
        return exit_levels(
            self._entry,
            self.direction,
            self._tick,
            stop_loss=self._distance(self._params.stop_loss),
            take_profit=self._distance(self._params.take_profit),
            atr=self._exit_atr(),
        )

    def _new_trailing(self, entry: Decimal) -> TrailingStop | None:
        distance = self._distance(self._params.trailing_stop)
        if distance is None:
            return None
        return TrailingStop(self.direction, entry, distance, self._tick, self._exit_atr())


# -- orders -------------------------------------------------------------------------------------------


def marketable_price(side: Side, book: BookTop, slippage_bps: Decimal, rules: MarketRules) -> Decimal:
    """The limit price of a taker order on `side`: the opposite touch moved `slippage_bps` against us,
    rounded toward the touch (a buy down, a sell up: never worse than the bound), within PERCENT_PRICE
    around the mid."""
    slip = EXACT.scaleb(slippage_bps, -4)
    band = percent_price_bound(side, mid_price(book), rules)
    if side is Side.BUY:
        price = floor_to(EXACT.add(book.ask, EXACT.multiply(book.ask, slip)), rules.tick_size)
        return price if band is None else min(price, floor_to(band, rules.tick_size))
    price = ceil_to(EXACT.subtract(book.bid, EXACT.multiply(book.bid, slip)), rules.tick_size)
    return price if band is None else max(price, ceil_to(band, rules.tick_size))


def entry_size(
    params: DirectionalParams, price: Decimal, target: Direction, rules: MarketRules, atr: float | None
) -> Decimal | None:
    """The entry's size at `price`: fixed (`order_size`, 0 = the minimum) or by risk against the stop,
    capped at capital × leverage of notional; None below the venue's minimums (or with no stop)."""
    if params.risk_fraction <= 0:
        fixed = params.order_size if params.order_size > 0 else min_qty_for(price, rules)
        return fixed_size(fixed, price, rules)
    distance = ExitDistance(params.exit_unit, params.risk_stop)
    stop = stop_loss_price(
        price, target, distance, rules.tick_size, atr if params.exit_unit == "atr" else None
    )
    if stop is None:
        return None
    risked = risk_size(params.capital, params.risk_fraction, price, stop, rules)
    if risked is None:
        return None
    budget = EXACT.multiply(params.capital, params.leverage)
    steps, _ = EXACT.divmod(budget, EXACT.multiply(price, rules.step_size))
    size = min(risked, EXACT.multiply(steps, rules.step_size))
    return size if size > 0 and meets_minimums(price, size, rules) else None


def entry_quotes(
    params: DirectionalParams, book: BookTop, rules: MarketRules, signals: DirectionalSignals
) -> list[Quote]:
    target = signals.target
    if target is Direction.FLAT or target is signals.spent:
        return []
    atr = signals.atr
    if params.exits_in_atr and atr is None:
        return []
    side = target.entry_side
    post_only = params.entry == "post_only"
    if post_only:
        tick = rules.tick_size
        price = floor_to(book.bid, tick) if side is Side.BUY else ceil_to(book.ask, tick)
    else:
        price = marketable_price(side, book, params.max_slippage_bps, rules)
    if price <= 0:
        return []
    qty = entry_size(params, price, target, rules, atr)
    if qty is None:
        return []
    return [Quote(side, 0, price, qty, post_only=post_only)]


def exit_quotes(
    params: DirectionalParams,
    book: BookTop,
    position: Decimal,
    rules: MarketRules,
    signals: DirectionalSignals,
) -> list[Quote]:
    direction = _direction_of(position)
    side = direction.entry_side.opposite
    qty = floor_to(EXACT.abs(position), rules.step_size)
    if rules.max_qty > 0:
        qty = min(qty, floor_to(rules.max_qty, rules.step_size))
    if qty <= 0 or qty < rules.min_qty:
        return []
    if (
        signals.direction is not direction
        or signals.target is not direction
        or signals.exit_hit is not None
        or signals.hit_at(mid_price(book)) is not None
    ):
        price = marketable_price(side, book, params.max_slippage_bps, rules)
        return [Quote(side, 0, price, qty, post_only=False, reduce_only=True)] if price > 0 else []
    target_price = signals.take_profit
    if target_price is None:
        return []
    return [Quote(side, 1, target_price, qty, reduce_only=True)]


class DirectionalStrategy(Generic[DP]):
    """A directional strategy: `rule(params)` makes the signal rule; the rest is shared (module docstring)."""

    def __init__(
        self, name: str, description: str, params_cls: type[DP], rule: Callable[[DP], SignalRule]
    ) -> None:
        self.name = name
        self.description = description
        self.params_cls = params_cls
        self._rule = rule

    def needs(self, params: DP) -> DataNeeds:
        return DataNeeds(trades=True, candle_interval_s=params.candle_interval_s)

    def signals(self, params: DP, rules: MarketRules) -> DirectionalSignals:
        return DirectionalSignals(params, rules, self._rule(params))

    def check_against_market(self, params: DP, rules: MarketRules, reference_price: Decimal) -> None:
        check_against_market(params, rules, reference_price)

    def quotes(
        self,
        params: DP,
        book: BookTop,
        position: Decimal,
        rules: MarketRules,
        signals: Signals | None = None,
    ) -> list[Quote]:
        if not isinstance(signals, DirectionalSignals):
            raise TypeError(f"the {self.name} strategy needs the signals its `signals` made, got {signals!r}")
        if book.bid <= 0 or book.ask <= 0:
            return []
        if position == 0:
            return entry_quotes(params, book, rules, signals)
        return exit_quotes(params, book, position, rules, signals)

    def quote_bands(
        self,
        params: DP,
        book: BookTop,
        position: Decimal,
        rules: MarketRules,
        windows: PriceWindows,
        signals: Signals | None = None,
    ) -> QuoteBands | None:
        return None

    def held_exits(
        self, params: DP, position: Decimal, rules: MarketRules, signals: Signals | None
    ) -> list[HeldExit]:
        """The exits held on the venue for an open position the signals know the entry of: one stop at the
        tighter of the stop-loss and the trailing stop (the trailing one as it stands: the runtime moves
        the venue's stop as it ratchets), and the take-profit. They stand in for the bot while the
        daemon is down; while it runs, the bot's own exits (`quotes`) act first."""
        if not isinstance(signals, DirectionalSignals) or position == 0 or signals.entry_price is None:
            return []
        if signals.position != position:
            return []
        long = position > 0
        stops = [p for p in (signals.stop_loss, signals.trailing_stop) if p is not None]
        held = []
        if stops:
            held.append(HeldExit("stop", max(stops) if long else min(stops)))
        if signals.take_profit is not None:
            held.append(HeldExit("take_profit", signals.take_profit))
        return held
