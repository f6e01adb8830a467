"""Many bots in one manager on the paper venue: shared subscriptions, batch control, isolation of a
failing venue, a shared request budget under load, every risk guard, and the daemon-wide limits."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from tests.support.rig import PaperFleet
from tests.support.rig import scenario as run_scenario

from mmctl.bots.bot import BotState
from mmctl.clock import now_ms
from mmctl.config.schema import PaperAccount, RiskSettings
from mmctl.errors import InvalidState
from mmctl.exchange.base import Exchange
from mmctl.exchange.budget import BudgetLimits, RequestBudget
from mmctl.exchange.budgeted import BudgetedExchange
from mmctl.exchange.faults import FaultyExchange
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.model import Side, Trade

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
MIDS = {"BTC/USDT:USDT": "50000", "ETH/USDT:USDT": "3000", "SOL/USDT:USDT": "150"}


class Rig(PaperFleet):
    """Accounts `a`, `b` and `bad` on three symbols, each behind its own request budget (`limits`),
    `bad` also behind a `FaultyExchange` the test can fail; books republished every 10 steps."""

    def __init__(self, limits: BudgetLimits | None = None, risk: RiskSettings | None = None) -> None:
        settings = PaperAccount(symbols=SYMBOLS, balance=Decimal(10_000_000))
        self.limits = limits
        self.budgets: dict[str, RequestBudget] = {}
        super().__init__(
            {name: settings for name in ("a", "b", "bad")}, MIDS, books_every=10, wrap=self._wrap, risk=risk
        )

    def _wrap(self, name: str, paper: PaperExchange) -> Exchange:
        self.budgets[name] = RequestBudget(self.clock, self.limits)
        budgeted = BudgetedExchange(paper, self.budgets[name])
        if name != "bad":
            return budgeted
        self.faulty = FaultyExchange(budgeted, self.clock)
        return self.faulty


def scenario(body: Callable[[Rig], Awaitable[None]], **rig: object) -> None:
    run_scenario(Rig(**rig), body)  # type: ignore[arg-type]


async def twenty_bots(r: Rig) -> None:
    for i in range(20):
        account, symbol = ("a", "b")[i % 2], SYMBOLS[i % 3]
        await r.manager.create(
            f"m{i}", account, symbol, "market_maker", {"levels": "1", "spread_bps": str(5 + i)}
        )


def test_twenty_bots_share_one_book_subscription_per_symbol_and_start_stop_together() -> None:
    """Twenty bots over two accounts open one upstream book stream per symbol per account, all quote after
    `start --all`, and `stop --all` leaves no order."""

    async def body(r: Rig) -> None:
        await twenty_bots(r)
        started = await r.manager.start([], all_bots=True)
        assert len(started) == 20
        assert all(o["ok"] for o in started)
        await r.run(1.0)
        for account in ("a", "b"):
            hub = r.manager.market_data[account]
            assert hub.upstream_count() == 3
            assert sum(hub.subscriptions().values()) == 10
        assert len(r.orders("mm.", "a")) + len(r.orders("mm.", "b")) == 40
        stopped = await r.manager.stop([], all_bots=True)
        assert all(o["ok"] and o["state"] == "stopped" for o in stopped)
        assert r.orders("mm.", "a") == []
        assert r.orders("mm.", "b") == []

    scenario(body)


def test_a_bot_whose_venue_fails_does_not_disturb_the_others() -> None:
    """When one account's venue fails, its bot ends in `error` while the twenty bots on healthy accounts keep
    running with all their orders."""

    async def body(r: Rig) -> None:
        await twenty_bots(r)
        await r.manager.create("sick", "bad", "BTCUSDT", "market_maker", {"levels": "1"})
        await r.manager.start([], all_bots=True)
        await r.run(0.5)
        r.faulty.fail()
        await r.run(5.0)
        assert r.manager.bot("sick").state is BotState.ERROR
        healthy = [b for b in r.manager.bots.values() if b.name != "sick"]
        assert {b.state for b in healthy} == {BotState.RUNNING}
        assert len(r.orders("mm.", "a")) + len(r.orders("mm.", "b")) == 40
        r.faulty.heal()

    scenario(body)


def test_many_bots_on_a_tight_budget_never_exceed_it() -> None:
    """Twenty bots starting on a tight request budget never exceed any of its counters, the budget holds
    requests back, and the bots still quote."""
    limits = BudgetLimits(weight_per_min=300, orders_per_10s=20, orders_per_min=60, use_fraction=1.0)

    async def body(r: Rig) -> None:
        await twenty_bots(r)
        starting = asyncio.ensure_future(r.manager.start([], all_bots=True))
        peak = {"weight_1m": 0, "orders_10s": 0, "orders_1m": 0}
        for _ in range(120):
            await r.run(0.5)
            use = r.budgets["a"].usage()
            peak = {k: max(v, use[k]) for k, v in peak.items()}
        assert all(o["ok"] for o in await starting)
        assert peak["weight_1m"] <= 300
        assert peak["orders_10s"] <= 20
        assert peak["orders_1m"] <= 60
        held = r.budgets["a"].queued + r.budgets["a"].exhausted
        assert held > 0  # the budget did hold requests back (queued, or refused fast past a deadline)
        assert r.orders("mm.", "a")  # and the bots still quote

    scenario(body, limits=limits)


def test_a_sudden_move_pauses_the_bot_for_the_cooldown_with_no_orders() -> None:
    """A mid move beyond `max_move_bps` pauses the bot with no orders and a risk event for the cooldown, after
    which it quotes again."""

    async def body(r: Rig) -> None:
        m = r.manager
        await m.create(
            "cb",
            "a",
            "BTCUSDT",
            "market_maker",
            {"max_move_bps": "50", "move_window_s": "5", "cooldown_s": "3"},
        )
        await m.start(["cb"])
        await r.run(0.5)
        assert r.orders("mm.", "a")
        r.books("BTC/USDT:USDT", "50400")  # +80 bps at once
        await r.run(0.5, refresh_books=False)
        bot = m.bot("cb")
        assert bot.state is BotState.PAUSED
        assert r.orders("mm.", "a") == []
        risk = [e for e in m.events.since(0, "cb") if e.kind == "risk"]
        assert risk
        assert risk[0].data["move_bps"]
        await r.run(4.0)
        assert bot.state is BotState.RUNNING
        assert r.orders("mm.", "a")

    scenario(body)


def test_a_stalled_feed_pulls_quotes_until_data_returns() -> None:
    """With no book for longer than `stale_data_s` the bot holds with no orders while staying running, and
    quotes again once books return."""

    async def body(r: Rig) -> None:
        m = r.manager
        await m.create("st", "a", "ETHUSDT", "market_maker", {"stale_data_s": "2"})
        await m.start(["st"])
        await r.run(0.5)
        assert r.orders("mm.", "a")
        await r.run(3.0, refresh_books=False)
        bot = m.bot("st")
        assert bot.hold is not None
        assert r.orders("mm.", "a") == []
        assert bot.state is BotState.RUNNING
        await r.run(1.0)
        assert bot.hold is None
        assert r.orders("mm.", "a")

    scenario(body)


@pytest.mark.parametrize("on_loss", ["stop", "flatten"])
def test_a_losing_run_stops_the_bot_with_no_orders(on_loss: str) -> None:
    """A loss beyond `max_loss` stops the bot with no orders, its position left open with `on_loss = stop` and
    closed with `flatten`."""

    async def body(r: Rig) -> None:
        m = r.manager
        await m.create(
            "lo",
            "a",
            "BTCUSDT",
            "market_maker",
            {"max_loss": "5", "on_loss": on_loss, "order_size": "0.01", "max_position": "0.05"},
        )
        await m.start(["lo"])
        await r.run(0.5)
        bid = max(o.price for o in r.papers["a"].venue.open_orders() if o.side is Side.BUY)  # type: ignore[type-var]
        r.papers["a"].venue.on_trade(Trade("BTC/USDT:USDT", bid, Decimal(1), Side.SELL, now_ms(r.clock)))
        r.books("BTC/USDT:USDT", "48000")  # long into a falling market: a loss far beyond 5 USDT
        await r.run(1.0, refresh_books=False)
        bot = m.bot("lo")
        assert bot.state is BotState.STOPPED
        assert "max_loss" in (bot.last_error or "") or "loss" in (bot.last_error or "")
        assert r.orders("mm.", "a") == []
        position = (await r.papers["a"].position("BTCUSDT")).qty
        assert (position == 0) is (on_loss == "flatten")

    scenario(body)


async def fleet_with_a_long_btc_position(r: Rig) -> None:
    """Twenty quoting bots; a taker sweep fills the best BTC bid on account a."""
    await twenty_bots(r)
    await r.manager.start([], all_bots=True)
    await r.run(0.5)
    bid = max(o.price for o in r.papers["a"].venue.open_orders("BTCUSDT") if o.side is Side.BUY)  # type: ignore[type-var]
    r.papers["a"].venue.on_trade(Trade("BTC/USDT:USDT", bid, Decimal(1), Side.SELL, now_ms(r.clock)))
    await r.run(0.3)


def test_the_daemon_wide_notional_limit_stops_every_bot_and_refuses_starts() -> None:
    """Exceeding `max_total_notional` stops every bot on every account and refuses further starts with "risk
    halt"."""

    async def body(r: Rig) -> None:
        m = r.manager
        await fleet_with_a_long_btc_position(r)
        verdict = await m.fleet.check()
        assert verdict.halts
        assert {b.state for b in m.bots.values()} == {BotState.STOPPED}
        assert r.orders("mm.", "a") == []
        assert r.orders("mm.", "b") == []
        with pytest.raises(InvalidState, match="risk halt"):
            await m.start(["m0"])

    scenario(body, risk=RiskSettings(max_total_notional=Decimal(50)))


def test_the_daily_loss_limit_stops_every_bot() -> None:
    """A fleet loss beyond `daily_loss_limit` halts with a daily-loss reason and stops every bot."""

    async def body(r: Rig) -> None:
        m = r.manager
        await fleet_with_a_long_btc_position(r)
        r.books("BTC/USDT:USDT", "45000")
        verdict = await m.fleet.check()
        assert verdict.halts
        assert "daily" in verdict.reason
        assert {b.state for b in m.bots.values()} == {BotState.STOPPED}

    scenario(body, risk=RiskSettings(daily_loss_limit=Decimal(1)))


def test_yesterdays_loss_does_not_count_against_todays_limit() -> None:
    """Just past 00:00 UTC the daily net restarts at zero, so yesterday's loss no longer trips the daily
    limit."""

    async def body(r: Rig) -> None:
        m = r.manager
        await fleet_with_a_long_btc_position(r)
        r.books("BTC/USDT:USDT", "45000")
        assert m.fleet.daily_net() < -1
        r.clock.advance(86_400 - (r.clock.time() % 86_400) + 1)  # just past 00:00 UTC
        assert m.fleet.daily_net() == 0
        assert not (await m.fleet.check()).halts
        assert {b.state for b in m.bots.values()} == {BotState.RUNNING}

    scenario(body, risk=RiskSettings(daily_loss_limit=Decimal(1)))
