"""The dead-man's switch per account: each account's countdown settings reach its bots, the keeper
refreshes the venue's countdown whatever the bots' order traffic does, and a missed refresh fails
health naming the account and the symbol."""

from __future__ import annotations

from decimal import Decimal

from tests.support.rig import BTC, OPTIONS, PaperFleet, scenario

from mmctl.bots.state import BotOptions, BotState
from mmctl.clock import now_ms
from mmctl.config.load import parse_settings
from mmctl.config.schema import PaperAccount
from mmctl.daemon.checks import countdown_checks
from mmctl.daemon.compose import account_options
from mmctl.exchange.faults import FaultyExchange
from mmctl.exchange.paper.exchange import PaperExchange

SHORT = BotOptions(
    countdown_s=30.0, countdown_refresh_s=10.0, stop_timeout_s=2.0, max_failures=3, backoff_base_s=0.1
)
LONG = BotOptions(
    countdown_s=200.0, countdown_refresh_s=60.0, stop_timeout_s=2.0, max_failures=3, backoff_base_s=0.1
)
PARAMS = {"levels": "1", "spread_bps": "10"}


class Fleet(PaperFleet):
    """Accounts "a" (30 s countdown, refreshed every 10 s) and "b" (200 s / 60 s), each behind a
    `FaultyExchange` on the rig's clock (`faulty[name]`)."""

    def __init__(self) -> None:
        self.faulty: dict[str, FaultyExchange] = {}
        accounts = {"a": PaperAccount(symbols=("BTCUSDT",)), "b": PaperAccount(symbols=("BTCUSDT",))}
        super().__init__(
            accounts,
            {BTC: 50_000},
            books_every=10,
            options=OPTIONS,
            wrap=self._wrap,
            account_options={"a": SHORT, "b": LONG},
        )

    def _wrap(self, name: str, paper: PaperExchange) -> FaultyExchange:
        self.faulty[name] = FaultyExchange(paper, self.clock)
        return self.faulty[name]


def venue_countdown_left_s(fleet: Fleet, account: str) -> float | None:
    deadline = fleet.papers[account].venue.state(BTC).countdown_ms
    return None if deadline is None else (deadline - now_ms(fleet.clock)) / 1000


def test_settings_give_each_account_its_countdown_and_paper_accounts_have_one_too() -> None:
    """`account_options` maps every configured account, paper and Binance, to its countdown keys."""
    settings = parse_settings(
        {
            "accounts": {
                "p": {"exchange": "paper", "countdown_s": 40, "countdown_refresh_s": 15},
                "q": {"exchange": "paper"},
                "b": {"exchange": "binanceusdm", "countdown_s": 300, "countdown_refresh_s": 100},
            }
        }
    )
    got = {n: (o.countdown_s, o.countdown_refresh_s) for n, o in account_options(settings).items()}
    assert got == {"p": (40.0, 15.0), "q": (120.0, 30.0), "b": (300.0, 100.0)}


def test_each_bot_arms_the_venue_countdown_of_its_own_account() -> None:
    """Bots on two accounts get their account's options and arm their venue's countdown for its length."""
    fleet = Fleet()

    async def body(r: Fleet) -> None:
        await r.manager.create("x", "a", "BTCUSDT", "market_maker", PARAMS)
        await r.manager.create("y", "b", "BTCUSDT", "market_maker", PARAMS)
        assert r.manager.bots["x"].options == SHORT
        assert r.manager.bots["y"].options == LONG
        await r.until_done(r.manager.start(["x", "y"]))
        await r.run(0.5)
        assert 29 < (venue_countdown_left_s(r, "a") or 0) <= 30
        assert 199 < (venue_countdown_left_s(r, "b") or 0) <= 200

    scenario(fleet, body)


def test_the_keeper_refreshes_while_every_order_request_hangs() -> None:
    """With the bot's order requests stuck for minutes, the countdown is still refreshed on schedule,
    so the venue never lets it run out and health shows it refreshed on time."""
    fleet = Fleet()
    faulty = fleet.faulty

    async def body(r: Fleet) -> None:
        await r.manager.create("x", "a", "BTCUSDT", "market_maker", PARAMS)
        await r.until_done(r.manager.start(["x"]))
        await r.run(1.0)
        faulty["a"].delay(600.0, "place_orders", "cancel_orders", "cancel_all", "open_orders")
        r.mids[BTC] = Decimal(51_000)  # the market moves: the bot re-quotes, and its requests hang
        armed = faulty["a"].calls["arm_countdown"]
        await r.run(95.0)
        bot = r.manager.bots["x"]
        assert bot.state is BotState.RUNNING
        assert (bot.tick_age_s() or 0) > 60  # the tick is stuck behind its order request
        assert faulty["a"].calls["arm_countdown"] - armed >= 9  # every 10 s: 95 s → 9 refreshes
        assert (venue_countdown_left_s(r, "a") or 0) > 20
        (check,) = countdown_checks(r.manager)
        assert check.name == f"countdown:a:{BTC}"
        assert check.ok, check
        faulty["a"].delay(0, "place_orders", "cancel_orders", "cancel_all", "open_orders")

    scenario(fleet, body)


def test_a_missed_refresh_fails_health_naming_account_and_symbol_until_one_succeeds() -> None:
    """Refreshes failing for longer than the interval plus slack fail the countdown check, which names
    the account and the symbol and carries the venue's error; the next success clears it."""
    fleet = Fleet()
    faulty = fleet.faulty

    async def body(r: Fleet) -> None:
        await r.manager.create("x", "a", "BTCUSDT", "market_maker", PARAMS)
        await r.until_done(r.manager.start(["x"]))
        await r.run(1.0)
        faulty["a"].fail("arm_countdown")
        await r.run(21.5)
        (check,) = countdown_checks(r.manager)
        assert not check.ok
        assert f"refresh missed on account a, {BTC}" in check.detail
        assert "last refresh failed" in check.detail
        faulty["a"].heal()
        await r.run(2.5)  # failed refreshes are retried every COUNTDOWN_RETRY_S
        (check,) = countdown_checks(r.manager)
        assert check.ok, check
        assert (venue_countdown_left_s(r, "a") or 0) > 25

    scenario(fleet, body)


def test_stop_disarms_and_the_keeper_ends() -> None:
    """After a clean stop the venue holds no countdown, the keeper sends nothing more and health lists
    no countdown for the account."""
    fleet = Fleet()
    faulty = fleet.faulty

    async def body(r: Fleet) -> None:
        await r.manager.create("x", "a", "BTCUSDT", "market_maker", PARAMS)
        await r.until_done(r.manager.start(["x"]))
        await r.run(1.0)
        await r.until_done(r.manager.stop(["x"]))
        await r.until_done(r.manager.settle_background(5.0))
        assert venue_countdown_left_s(r, "a") is None
        sent = faulty["a"].calls["arm_countdown"]
        await r.run(40.0)
        assert faulty["a"].calls["arm_countdown"] == sent
        assert countdown_checks(r.manager) == []

    scenario(fleet, body)


def test_a_countdown_nobody_asks_for_lapses_and_health_says_so() -> None:
    """A paused bot stops asking: after the lease the keeper lets it expire on the venue, and health
    reports it as lapsed (passing), not as a missed refresh; resuming arms it again."""
    fleet = Fleet()

    async def body(r: Fleet) -> None:
        await r.manager.create("x", "a", "BTCUSDT", "market_maker", PARAMS)
        await r.until_done(r.manager.start(["x"]))
        await r.run(1.0)
        r.manager.account("a").countdown_lease_s = 40.0
        await r.until_done(r.manager.pause(["x"]))
        await r.run(30.0)
        assert (venue_countdown_left_s(r, "a") or 0) > 15  # still refreshed within the lease
        await r.run(75.0)
        (check,) = countdown_checks(r.manager)
        assert check.ok, check
        assert "no bot quotes" in check.detail
        assert venue_countdown_left_s(r, "a") is None  # it ran out on the venue
        assert r.papers["a"].venue.open_orders(BTC) == []
        await r.until_done(r.manager.resume(["x"]))
        await r.run(1.0)
        assert (venue_countdown_left_s(r, "a") or 0) > 25  # quoting again re-arms it

    scenario(fleet, body)
