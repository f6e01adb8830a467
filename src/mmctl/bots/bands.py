"""Which book updates may leave a bot asleep: the band of books under which its next tick would do nothing.

After each quoting tick, once its first requests are out, the bot registers with the market-data hub the
books, in integer ticks, under which the diff between its desired quotes and its orders will be empty
once the tick's plan is carried out (kept orders where they are, amended and new ones at the desired
prices): `band_after_tick`, given that plan (the tick's own diff, or `resting_plan` when it is not at
hand), which is
- the strategy's `quote_band` for the price windows those orders allow (`tolerance_window`);
- narrowed, while the bot holds a position and a loss guard is on, to the mids at which neither
  `max_loss` nor `max_drawdown` trips and the PnL peak the drawdown is measured from does not rise
  (`loss_guard_mids`);
- until the oldest of those orders reaches `max_order_age_s`.
When the plan is not carried out, the bot is woken by that news: a rejected placement (the quoter's
rejection count moved since the tick began: the next book wakes it, as before), a fill or an order closed
by someone else (the order stream), an error (the retry).

Every other input wakes the bot by its own path, as it always did: parameter changes, the heartbeat
(countdown refresh, stale data), a resume. A bot that is not quoting (paused, quotes pulled) is woken by
every book, so it notices fresh data or the end of a cooldown at once. Every book still reaches the bot's
risk monitor, woken or not, so the circuit breaker sees every mid and the stale-data guard every arrival;
`BotRiskMonitor.move_tripped` says when a book inside the band trips the breaker, which then wakes the bot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from mmctl.bots.inventory import Inventory
from mmctl.bots.orders import Key, LiveOrder, Plan, reconcile, tolerance_window, tolerance_window_ticks
from mmctl.bots.risk import EXACT, BotRiskMonitor
from mmctl.bots.stale import StaleTest
from mmctl.model import BookTop, MarketRules
from mmctl.strategies.base import UNBOUNDED, BookBand, Quote, Signals, Strategy
from mmctl.strategies.params import StrategyParams
from mmctl.strategies.ticks import Grid

EDGE_STEPS = 8  # exact evaluations allowed to settle a loss-guard edge; beyond that the edge stays put


def band_after_tick(
    strategy: Strategy[Any],
    params: StrategyParams,
    book: BookTop,
    rules: MarketRules,
    plan: Plan,
    inventory: Inventory,
    risk: BotRiskMonitor,
    *,
    now_ms: int,
    now_s: float,
    signals: Signals | None = None,
    stale_test: bool = True,
) -> tuple[BookBand | None, float, StaleTest | None]:
    """The band to register for a tick whose diff against its live orders is `plan` (with or without
    amends: `resting_plan`, or the tick's own `reconcile(..., amend=True)`), once that plan is carried
    out: kept orders where they are, amended and new ones at their desired prices, quoted at `now_ms`;
    until when (`now_s`'s clock), and the test naming the orders a later book makes stale
    (`mmctl.bots.stale`; None when `stale_test` is False, as the backtester asks, or for a strategy
    with signals); (None, 0, None) when the strategy cannot tell."""
    tolerance = params.refresh_tolerance_bps
    grid = Grid.of(rules.tick_size)
    windows: dict[Key, tuple[int, int]] = {}
    prices: dict[Key, Decimal] = {}
    oldest: int | None = None
    for order in plan.kept:
        window = _window(order.price, grid.index_of_kept(order.price), grid, tolerance)
        if window is None:
            return None, 0.0, None
        key = (order.side, order.level)
        windows[key] = window
        prices[key] = order.price
        if oldest is None or order.created_ms < oldest:
            oldest = order.created_ms
    for quotes in (plan.places, [a.quote for a in plan.amends]):
        for q in quotes:
            ticks = q.ticks if q.grid is grid else grid.index_of_kept(q.price)
            window = _window(q.price, ticks, grid, tolerance)
            if window is None:
                return None, 0.0, None
            key = (q.side, q.level)
            windows[key] = window
            prices[key] = q.price
            if oldest is None or now_ms < oldest:
                oldest = now_ms
    bands = strategy.quote_bands(params, book, inventory.qty, rules, windows, signals)
    if bands is None:
        return None, 0.0, None
    band = bands.band
    mids = loss_guard_mids(inventory, risk, grid, book)
    if mids is not None:
        band = band.narrowed(*mids)
    max_age_ms = params.max_order_age_s * 1000
    until = float("inf") if oldest is None else now_s + (oldest + max_age_ms - now_ms) / 1000 - 0.001
    if signals is not None or not stale_test:  # a `StaleTest` does not watch the signals' version
        return band, until, None
    levels = {key: (prices[key], level_band) for key, level_band in bands.levels.items() if key in prices}
    return band, until, StaleTest(params, inventory.qty, grid, bands.sizing, levels)


def resting_plan(
    desired: Sequence[Quote],
    live: Sequence[LiveOrder],
    params: StrategyParams,
    now_ms: int,
    *,
    amend: bool = False,
) -> Plan:
    """The diff between `desired` and `live` under `params`' tolerance and order age: the replace view
    (what `band_after_tick` needs when the tick's own plan is not at hand), or with `amend` the plan the
    quoter sends."""
    return reconcile(
        desired,
        live,
        tolerance_bps=params.refresh_tolerance_bps,
        max_age_ms=params.max_order_age_s * 1000,
        now_ms=now_ms,
        amend=amend,
    )


def _window(price: Decimal, ticks: int | None, grid: Grid, tolerance: Decimal) -> tuple[int, int] | None:
    """The desired prices (ticks) that keep an order resting at `price` (`ticks` on the grid, or None)."""
    if ticks is None:
        return tolerance_window(price, grid, tolerance)
    return tolerance_window_ticks(ticks, 1, tolerance)


def loss_guard_mids(
    inventory: Inventory, risk: BotRiskMonitor, grid: Grid, book: BookTop
) -> tuple[int, int] | None:
    """The mids (bid + ask in ticks) at which the loss guards' check changes nothing: no trip and no new
    PnL peak (when `max_drawdown` is on). None when no guard watches a position; an empty range when the
    current mid itself is not such a mid."""
    params = risk.params
    qty = inventory.qty
    if qty == 0 or (params.max_loss <= 0 and params.max_drawdown <= 0):
        return None
    bid, ask = grid.index(book.bid), grid.index(book.ask)
    if bid is None or ask is None:
        return 1, 0
    now = bid + ask
    peak = risk.peak

    def ok(mid2: int) -> bool:
        pnl = inventory.net(EXACT.divide(grid.value(mid2), Decimal(2)))
        if params.max_loss > 0 and pnl <= -params.max_loss:
            return False
        return params.max_drawdown <= 0 or (pnl <= peak and peak - pnl < params.max_drawdown)

    if not ok(now):
        return 1, 0
    floors = [-params.max_loss] if params.max_loss > 0 else []
    if params.max_drawdown > 0:
        floors.append(peak - params.max_drawdown)
    falling_pnl = _mid2_for_pnl(inventory, max(floors), grid)  # the PnL below which a guard trips
    rising_pnl = _mid2_for_pnl(inventory, peak, grid) if params.max_drawdown > 0 else None  # a new peak
    # a long position loses as the mid falls; a short one as it rises
    down_guess, up_guess = (falling_pnl, rising_pnl) if qty > 0 else (rising_pnl, falling_pnl)
    low = -UNBOUNDED if down_guess is None else _edge(ok, now, -1, down_guess)
    high = UNBOUNDED if up_guess is None else _edge(ok, now, 1, up_guess)
    return low, high


def _mid2_for_pnl(inventory: Inventory, pnl: Decimal, grid: Grid) -> int:
    """About the mid (bid + ask, ticks) at which the inventory's net PnL is `pnl` (exact arithmetic,
    before the PnL's rounding to 1e-8)."""
    base = Fraction(inventory.realized_pnl) - Fraction(inventory.fees)
    mark = Fraction(inventory.entry_price) + (Fraction(pnl) - base) / Fraction(inventory.qty)
    return int(mark * 2 / Fraction(grid.num, grid.den))


def _edge(ok: Callable[[int], bool], start: int, step: int, guess: int) -> int:
    """The last mid from `start` (where `ok` holds) in direction `step` (±1) before `ok` fails, found
    from `guess` with a few exact evaluations (`ok` holds on an interval). If they do not settle it, the
    edge stays at `start`: the next move that way wakes the bot."""
    at = guess if (guess - start) * step > 0 else start
    for _ in range(EDGE_STEPS):
        if ok(at):
            if not ok(at + step):
                return at
            at += step
        else:
            at -= step
            if (at - start) * step <= 0:
                return start
    return start
