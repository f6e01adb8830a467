"""`[risk] on_trip`: what a tripped daemon-wide guard does to positions ("stop" leaves them open and says
so in the risk event, `status` and `health`; "flatten" closes them), and its config key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from tests.support.rig import BTC, PaperFleet
from tests.support.rig import scenario as run_scenario

from mmctl.bots.bot import BotState
from mmctl.bots.status import detail
from mmctl.clock import now_ms
from mmctl.config.load import parse_settings
from mmctl.config.schema import PaperAccount, RiskSettings
from mmctl.daemon.checks import bot_checks
from mmctl.errors import ConfigError
from mmctl.model import Side, Trade

D = Decimal


class Rig(PaperFleet):
    """Paper account `a` on BTC with a manager under the daemon-wide `risk` settings; books republished
    every 10 steps at the mid in `mids`."""

    def __init__(self, risk: RiskSettings) -> None:
        settings = PaperAccount(symbols=("BTCUSDT",), balance=D(1_000_000))
        super().__init__({"a": settings}, {BTC: D(50_000)}, books_every=10, risk=risk)


def scenario(body: Callable[[Rig], Awaitable[None]], risk: RiskSettings) -> None:
    run_scenario(Rig(risk), body)


async def two_long_bots_in_a_falling_market(r: Rig) -> None:
    """Two BTC bots go long from a taker sweep of their bids, then the mid falls by 10%."""
    m = r.manager
    for name in ("l1", "l2"):
        await m.create(name, "a", "BTCUSDT", "market_maker", {"levels": "1", "order_size": "0.01"})
    await m.start([], all_bots=True)
    await r.run(0.5)
    bid = max(o.price for o in r.paper.venue.open_orders() if o.side is Side.BUY and o.price is not None)
    r.paper.venue.on_trade(Trade(BTC, bid, D(1), Side.SELL, now_ms(r.clock)))
    await r.run(0.3)
    assert all(m.bot(n).inventory.qty > 0 for n in ("l1", "l2"))
    r.mids[BTC] = D(45_000)
    r.books()


def test_on_trip_flatten_closes_every_bots_position() -> None:
    """With on_trip = "flatten" the daily loss limit stops every bot and closes its position: the venue
    is flat, nothing is reported left open and health has no risk-stop failure."""

    async def body(r: Rig) -> None:
        m = r.manager
        await two_long_bots_in_a_falling_market(r)
        verdict = await r.until_done(m.fleet.check())
        assert verdict.halts
        assert {b.state for b in m.bots.values()} == {BotState.STOPPED}
        assert (await r.paper.position("BTCUSDT")).qty == 0
        assert all(b.inventory.qty == 0 for b in m.bots.values())
        messages = [e.message for e in m.events.since(0) if e.kind == "risk"]
        assert any("stopping and flattening every bot" in msg for msg in messages)
        assert not any("left" in msg for msg in messages)
        for name in ("l1", "l2"):
            assert (await detail(m.bot(name)))["risk_stop_open"] is None
        assert all(c.ok for c in bot_checks(m) if c.name.startswith("bot:"))

    scenario(body, RiskSettings(daily_loss_limit=D(1), on_trip="flatten"))


def test_on_trip_stop_leaves_positions_open_and_says_how_large() -> None:
    """With the default on_trip = "stop" the positions stay open, and the risk event, each bot's status
    and health name the position left open and its notional."""

    async def body(r: Rig) -> None:
        m = r.manager
        await two_long_bots_in_a_falling_market(r)
        verdict = await r.until_done(m.fleet.check())
        assert verdict.halts
        assert {b.state for b in m.bots.values()} == {BotState.STOPPED}
        qty = {n: m.bot(n).inventory.qty for n in ("l1", "l2")}
        assert all(q > 0 for q in qty.values())
        assert (await r.paper.position("BTCUSDT")).qty == sum(qty.values())
        left = [e for e in m.events.since(0) if e.kind == "risk" and "left" in e.message]
        assert len(left) == 1
        assert left[0].data["positions"] == {n: str(q) for n, q in qty.items()}
        assert D(left[0].data["open_notional"]) == sum(qty.values()) * D(45_000)
        doc = await detail(m.bot("l1"))
        assert doc["risk_stop_open"]["position"] == str(qty["l1"])
        assert D(doc["risk_stop_open"]["notional"]) == qty["l1"] * D(45_000)
        assert "daily loss limit" in doc["risk_stop_open"]["reason"]
        failing = {c.name: c.detail for c in bot_checks(m) if not c.ok}
        assert set(failing) == {"bot:l1", "bot:l2"}
        assert f"position of {qty['l1']} open" in failing["bot:l1"]

    scenario(body, RiskSettings(daily_loss_limit=D(1)))


def test_on_trip_is_read_from_the_risk_table_and_a_bad_value_names_the_key() -> None:
    """`[risk] on_trip` defaults to "stop", accepts "flatten", and refuses anything else by name."""
    assert parse_settings({}).risk.on_trip == "stop"
    assert parse_settings({"risk": {"on_trip": "flatten"}}).risk.on_trip == "flatten"
    with pytest.raises(ConfigError, match=r"risk\.on_trip"):
        parse_settings({"risk": {"on_trip": "close"}})
