"""Opening a Binance account: each start-up problem is one line naming the cause and the fix, with nothing
left running; a healthy start reports its health, feeds the budgets and honours the venue's limits."""

from __future__ import annotations

import decimal
import traceback
from collections.abc import Callable
from decimal import Decimal

import pytest
from tests.fakebinance.fixture import running_fake
from tests.fakebinance.server import FakeBinance

from mmctl.clock import SystemClock
from mmctl.errors import VenueUnavailable
from mmctl.exchange.budget import RequestBudget
from mmctl.model import OrderRequest, OrderType, Side
from mmctl.pnl.income import iter_income

from .harness import ENV, binance_venue, eventually, open_on

BTC = "BTC/USDT:USDT"


@pytest.mark.parametrize(
    ("arrange", "env", "expected"),
    [
        (lambda fake: None, {"MMCTL_CONTRACT_API_KEY": "k"}, "MMCTL_CONTRACT_API_SECRET"),
        (lambda fake: None, {**ENV, "MMCTL_CONTRACT_API_SECRET": "wrong-secret-value"}, "-1022"),
        (lambda fake: None, {**ENV, "MMCTL_CONTRACT_API_KEY": "unknown-key-value"}, "-2015"),
        (lambda fake: fake.set_permissions(futures=False), ENV, "futures trading enabled"),
        (lambda fake: fake.set_ip_allowed(False), ENV, "whitelist"),
        (lambda fake: fake.set_hedge_mode(True), ENV, "hedge mode"),
    ],
)
async def test_start_up_problems_are_one_clear_line_and_leave_nothing_running(
    arrange: Callable[[FakeBinance], object], env: dict[str, str], expected: str
) -> None:
    """Missing or wrong keys, no futures permission, IP not whitelisted, hedge mode: VenueUnavailable."""
    async with running_fake() as fake:
        arrange(fake)
        with pytest.raises(VenueUnavailable) as caught:
            await open_on(fake, env=env)
        message = str(caught.value)
        assert expected in message
        assert "\n" not in message
        assert message.startswith("account 'contract':") or "MMCTL_CONTRACT" in message
        rendered = "".join(traceback.format_exception(caught.value))
        for secret in ("wrong-secret-value", "unknown-key-value", ENV["MMCTL_CONTRACT_API_SECRET"] + "x"):
            assert secret not in rendered.replace(expected, "")
        assert fake.ws_clients() == 0
        assert fake.open_orders() == []


async def test_a_venue_that_cannot_be_reached_is_unavailable() -> None:
    """A rest_url where nothing listens: VenueUnavailable saying it cannot reach it."""
    async with running_fake() as fake:
        url = fake.rest_url
    with pytest.raises(VenueUnavailable) as caught:  # the fake is stopped: nothing listens there now
        await open_on(fake, request_timeout_s=1)
    assert f"cannot reach {url}" in str(caught.value)


async def test_health_reports_reachability_latency_clock_streams_and_countdowns() -> None:
    """After start: reachable, a latency, the clock offset, the user stream connected, book and countdown."""
    async with binance_venue() as v:
        v.fake.set_book("BTCUSDT", Decimal("60000.0"), Decimal("60000.1"))
        watch = v.exchange.watch_book(BTC)
        await anext(watch)
        await eventually(lambda: v.exchange.books.states() == {BTC: "streaming"}, "the book stream")
        await v.exchange.arm_countdown(BTC, 120)
        assert 119 < v.fake.countdowns_left()["BTCUSDT"] <= 120
        health = v.exchange.health()
        assert health.connected
        assert health.latency_ms is not None
        assert health.market_data_age_s is not None
        assert health.detail["user_stream"] == "connected"
        assert int(health.detail["clock_offset_ms"]) > 86_400_000  # the harness runs the fake 100 days ahead
        assert health.detail[f"book:{BTC}"] == "streaming"
        assert health.detail[f"countdown:{BTC}"].startswith("120 s, refreshed")
        assert "weight_1m" in health.detail
        await v.exchange.disarm_countdown(BTC)
        assert v.fake.countdowns_left() == {}
        assert f"countdown:{BTC}" not in v.exchange.health().detail


async def test_every_answer_feeds_the_budgets_and_the_venue_limits_are_applied() -> None:
    """The IP budget follows X-MBX-USED-WEIGHT-1M, the account budget the order counts; limits come
    from exchangeInfo."""
    clock = SystemClock()
    ip, account = RequestBudget(clock), RequestBudget(clock)
    async with binance_venue(ip_budget=ip, account_budget=account) as v:
        v.fake.set_book("BTCUSDT", Decimal("60000.0"), Decimal("60000.1"))
        await v.exchange.place_orders(
            [OrderRequest(BTC, Side.BUY, Decimal("0.002"), Decimal("59990.0"), "u-1")]
        )
        assert ip.usage()["weight_1m"] >= v.fake.used_weight() - 5  # the last few answers' own headers
        assert account.usage()["orders_10s"] == 1
        assert v.exchange.venue_limits is not None
        assert v.exchange.venue_limits.weight_per_min == v.fake.limits.weight_per_min


async def test_income_pages_walk_to_the_wallet_change() -> None:
    """Every income row since the start, walked page by page, sums to the wallet's change exactly."""
    async with binance_venue() as v:
        ex = v.exchange
        await v.driver.set_book(BTC, Decimal("60000.0"), Decimal("60000.1"))
        start = (await ex.balance()).wallet
        since = v.fake.now_ms()
        req = OrderRequest(BTC, Side.BUY, Decimal("0.01"), Decimal("59990.0"), "inc-1", post_only=True)
        await ex.place_orders([req])
        await v.driver.trade(BTC, Side.SELL, Decimal("59990.0"), Decimal("0.01"))
        await v.driver.advance(v.driver.funding_interval_s)
        await v.driver.set_book(BTC, Decimal("60100.0"), Decimal("60100.1"))
        exit_ = OrderRequest(
            BTC, Side.SELL, Decimal("0.01"), None, "inc-2", OrderType.MARKET, reduce_only=True
        )
        await ex.place_orders([exit_])
        rows = [r async for r in iter_income(ex, since, page_size=2)]
        assert {r.type for r in rows} == {"REALIZED_PNL", "COMMISSION", "FUNDING_FEE"}
        assert sum(r.amount for r in rows) == (await ex.balance()).wallet - start


async def test_the_callers_decimal_context_is_left_alone() -> None:
    """Orders, cancels and queries through ccxt leave the caller's decimal context as it was."""
    async with binance_venue() as v:
        await v.driver.set_book(BTC, Decimal("60000.0"), Decimal("60000.1"))
        with decimal.localcontext() as ctx:
            ctx.prec, ctx.rounding = 12, decimal.ROUND_DOWN
            ctx.traps[decimal.Underflow] = False
            before = (ctx.prec, ctx.rounding, dict(ctx.traps))
            req = OrderRequest(BTC, Side.BUY, Decimal("0.002"), Decimal("59990.0"), "ctx-1", post_only=True)
            await v.exchange.place_orders([req])
            await v.exchange.cancel_all(BTC)
            await v.exchange.positions()
            current = decimal.getcontext()
            assert (current.prec, current.rounding, dict(current.traps)) == before


async def test_settings_already_in_place_count_as_done() -> None:
    """Setting the margin mode it already has, or the leverage it already has, succeeds."""
    async with binance_venue() as v:
        await v.exchange.set_margin_mode(BTC, "isolated")
        await v.exchange.set_margin_mode(BTC, "isolated")  # Binance answers -4046 "No need to change"
        await v.exchange.set_margin_mode(BTC, "cross")
        leverage = await v.exchange.leverage(BTC)
        assert await v.exchange.set_leverage(BTC, leverage) == leverage
        assert [r.code for r in v.fake.requests("/fapi/v1/marginType")] == [None, -4046, None]
