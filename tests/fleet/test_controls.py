"""Fleet controls on the paper venue: pause/resume, leverage rules, cancel-all forms, portfolio totals."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from tests.support.rig import BTC, ETH, PaperFleet
from tests.support.rig import scenario as run_scenario

from mmctl.bots.account import FIGURES_TTL_S
from mmctl.bots.bot import BotOptions, BotState
from mmctl.clock import now_ms
from mmctl.config.schema import PaperAccount
from mmctl.errors import InvalidState, LeverageRejected, ValidationError
from mmctl.fleet import controls
from mmctl.fleet.portfolio import portfolio
from mmctl.model import OrderRequest, OrderType, Side, Trade

OPTIONS = BotOptions(stop_timeout_s=2.0)


class Fleet(PaperFleet):
    """One paper account `paper` quoting BTC and ETH (5 on each side of every book), and a manager."""

    def __init__(self) -> None:
        settings = PaperAccount(symbols=("BTCUSDT", "ETHUSDT"), balance=Decimal(1_000_000))
        super().__init__({"paper": settings}, {BTC: "50000", ETH: "3000"}, size=Decimal(5), options=OPTIONS)


def scenario(body: Callable[[Fleet], Awaitable[None]]) -> None:
    run_scenario(Fleet(), body)


async def two_btc_bots_and_one_eth(f: Fleet) -> None:
    m = f.manager
    await m.create("b1", "paper", "BTCUSDT", "market_maker", {"levels": "2"})
    await m.create("b2", "paper", "BTCUSDT", "market_maker", {"levels": "1", "spread_bps": "40"})
    await m.create("e1", "paper", "ETHUSDT", "market_maker", {"levels": "1"})
    assert all(o["ok"] for o in await m.start([], all_bots=True))
    await f.run(0.5)


def test_pause_cancels_and_keeps_watching_then_resume_quotes_again() -> None:
    """`pause` cancels a bot's four orders and keeps it ticking without quoting while the market moves, and
    `resume` restores all four."""

    async def body(f: Fleet) -> None:
        await two_btc_bots_and_one_eth(f)
        (out,) = await f.manager.pause(["b1"])
        assert out["ok"]
        assert out["cancelled"] == 4
        assert not any(cid.startswith("mm.b1.") for cid in f.orders())
        f.books(BTC, "50100")
        await f.run(0.5)
        bot = f.manager.bot("b1")
        assert bot.state is BotState.PAUSED
        assert not any(cid.startswith("mm.b1.") for cid in f.orders())
        assert bot.last_tick_ms is not None  # still ticking: watching the market
        await f.manager.resume(["b1"])
        await f.run(0.5)
        assert len([c for c in f.orders() if c.startswith("mm.b1.")]) == 4

    scenario(body)


def test_pause_and_resume_refuse_bots_in_the_wrong_state() -> None:
    """`pause` of a bot that never started is a failed row and `resume` of a bot that is not paused raises
    `InvalidState`."""

    async def body(f: Fleet) -> None:
        await f.manager.create("idle", "paper", "BTCUSDT", "market_maker", {})
        (out,) = await f.manager.pause(["idle"])
        assert not out["ok"]
        assert "only a running bot" in out["error"]
        with pytest.raises(InvalidState):
            await f.manager.bot("idle").resume()

    scenario(body)


def test_leverage_set_within_range_and_shared_by_bots_on_the_symbol() -> None:
    """Setting leverage through one bot sets it on the venue and in every bot on that symbol, says it is
    shared, and leaves other symbols' bots alone."""

    async def body(f: Fleet) -> None:
        await two_btc_bots_and_one_eth(f)
        info = await controls.set_leverage(f.manager, "b1", 20)
        assert info["leverage"] == 20
        assert info["previous"] == 5
        assert info["shared_with"] == ["b2"]
        assert "share it" in info["note"]
        assert await f.paper.leverage(BTC) == 20
        assert f.manager.bot("b2").params.leverage == 20  # its next start keeps the shared setting
        assert f.manager.bot("e1").params.leverage == 5

    scenario(body)


@pytest.mark.parametrize("value", [0, -3, 126, 1000])
def test_leverage_outside_1_to_the_symbol_max_is_refused_unchanged(value: int) -> None:
    """A leverage outside 1..the symbol's maximum is a validation error and the venue's leverage stays as it
    was."""

    async def body(f: Fleet) -> None:
        await f.manager.create("b1", "paper", "BTCUSDT", "market_maker", {})
        before = await f.paper.leverage(BTC)
        with pytest.raises(ValidationError, match="between 1 and"):
            await controls.set_leverage(f.manager, "b1", value)
        assert await f.paper.leverage(BTC) == before

    scenario(body)


def test_leverage_above_the_positions_bracket_cap_is_refused_with_the_reason() -> None:
    """A leverage whose notional bracket cannot hold the open position is refused with the cap named and the
    old leverage kept."""

    async def body(f: Fleet) -> None:
        await f.manager.create("b1", "paper", "BTCUSDT", "market_maker", {})
        rules = f.paper.market(BTC)
        big = rules.notional_cap(rules.max_leverage) / Decimal(50000) + 1  # just above the top tier's cap
        qty = (big // rules.step_size) * rules.step_size
        await f.paper.set_leverage(BTC, 2)
        await f.manual(OrderRequest(BTC, Side.BUY, qty, None, "manual-big", type=OrderType.MARKET))
        with pytest.raises(LeverageRejected, match="exceeds the"):
            await controls.set_leverage(f.manager, "b1", rules.max_leverage)
        assert await f.paper.leverage(BTC) == 2

    scenario(body)


def test_cancel_all_by_bot_pauses_it_and_leaves_the_others() -> None:
    """`cancel-all` of one bot cancels its orders and pauses it while the other bot on the symbol keeps
    quoting."""

    async def body(f: Fleet) -> None:
        await two_btc_bots_and_one_eth(f)
        (out,) = await controls.cancel_bots(f.manager, ["b1"])
        assert out["ok"]
        assert f.manager.bot("b1").state is BotState.PAUSED
        assert f.manager.bot("b2").state is BotState.RUNNING
        assert not any(c.startswith("mm.b1.") for c in f.orders())
        assert any(c.startswith("mm.b2.") for c in f.orders())

    scenario(body)


def test_cancel_all_on_a_symbol_includes_manual_orders_and_pauses_its_bots() -> None:
    """`cancel-all --symbol` cancels hand-placed orders with the bots', pauses the symbol's bots, and nothing
    re-quotes afterwards while other symbols keep quoting."""

    async def body(f: Fleet) -> None:
        await two_btc_bots_and_one_eth(f)
        await f.manual(
            OrderRequest(BTC, Side.BUY, Decimal("0.01"), Decimal("40000.0"), "by-hand", post_only=True)
        )
        result = await controls.cancel_symbol(f.manager, "paper", "BTCUSDT")
        cancelled = {o["client_order_id"] for o in result["cancelled"]}
        assert "by-hand" in cancelled
        assert any(c.startswith("mm.b1.") for c in cancelled)
        assert result["remaining"] == []
        assert sorted(result["paused"]) == ["b1", "b2"]
        assert f.orders(symbol=BTC) == []
        await f.run(0.5)
        assert f.orders(symbol=BTC) == []  # paused bots do not re-quote
        assert f.manager.bot("e1").state is BotState.RUNNING
        assert f.orders(symbol=ETH)

    scenario(body)


def test_cancel_all_everything_clears_every_symbol() -> None:
    """`cancel-all --all` cancels every order on every symbol, hand-placed ones included, and pauses every
    bot."""

    async def body(f: Fleet) -> None:
        await two_btc_bots_and_one_eth(f)
        await f.manual(
            OrderRequest(ETH, Side.SELL, Decimal("0.1"), Decimal("3500.00"), "eth-hand", post_only=True)
        )
        results = await controls.cancel_everything(f.manager)
        assert {r["symbol"] for r in results} == {BTC, ETH}
        assert f.orders() == []
        assert {b.state for b in f.manager.bots.values()} == {BotState.PAUSED}

    scenario(body)


def test_cancel_all_on_an_unknown_symbol_is_a_validation_error() -> None:
    """`cancel-all` on a symbol the account does not list is a validation error naming it."""

    async def body(f: Fleet) -> None:
        with pytest.raises(ValidationError, match="FOOUSDT"):
            await controls.cancel_symbol(f.manager, "paper", "FOOUSDT")

    scenario(body)


def test_portfolio_totals_equal_the_sum_of_the_bots() -> None:
    """After fills on two symbols, the portfolio's totals equal the sums of the bot rows and the account's
    commission income equals the bots' fees."""

    async def body(f: Fleet) -> None:
        await two_btc_bots_and_one_eth(f)
        for symbol, price in ((BTC, "49900"), (ETH, "2990")):
            f.paper.venue.on_trade(Trade(symbol, Decimal(price), Decimal(5), Side.SELL, now_ms(f.clock)))
        await f.run(0.5)
        f.clock.advance(FIGURES_TTL_S)  # the account's figures are refreshed at most this often
        doc = await portfolio(f.manager, 0)
        assert sum(Decimal(b["position"]) != 0 for b in doc["bots"]) >= 2
        for key in ("realized_pnl", "fees", "unrealized_pnl", "net_pnl", "notional"):
            assert Decimal(doc["totals"][key]) == sum(Decimal(b[key]) for b in doc["bots"])
        (account,) = doc["accounts"]
        assert {p["symbol"] for p in account["positions"]} == {BTC, ETH}
        assert Decimal(account["income_since_start"]["COMMISSION"]) == -sum(
            Decimal(b["fees"]) for b in doc["bots"]
        )

    scenario(body)


EXPONENT = re.compile(r"\d[eE][+-]?\d")


def exponent_fields(doc: object, path: str = "") -> list[str]:
    """Every string in `doc` (nested dicts and lists) written in exponent notation, with its path."""
    if isinstance(doc, dict):
        return [hit for k, v in doc.items() for hit in exponent_fields(v, f"{path}.{k}")]
    if isinstance(doc, list):
        return [hit for i, v in enumerate(doc) for hit in exponent_fields(v, f"{path}[{i}]")]
    return [f"{path}={doc}"] if isinstance(doc, str) and EXPONENT.search(doc) else []


def test_a_fresh_accounts_portfolio_has_no_amount_in_exponent_notation() -> None:
    """On a fresh paper account (zero margin, zero positions, one idle bot) and after a fill, every amount
    in the portfolio document is plain notation: `margin_used` is never "0E-8"."""

    async def body(f: Fleet) -> None:
        await f.manager.create("idle", "paper", "BTCUSDT", "market_maker", {"levels": "1"})
        doc = await portfolio(f.manager, 0)
        (account,) = doc["accounts"]
        assert Decimal(account["margin_used"]) == 0
        assert exponent_fields(doc) == []
        await two_btc_bots_and_one_eth(f)
        f.paper.venue.on_trade(Trade(BTC, Decimal("49900"), Decimal(5), Side.SELL, now_ms(f.clock)))
        await f.run(0.5)
        f.clock.advance(FIGURES_TTL_S)
        doc = await portfolio(f.manager, 0)
        assert doc["accounts"][0]["positions"]
        assert exponent_fields(doc) == []

    scenario(body)
