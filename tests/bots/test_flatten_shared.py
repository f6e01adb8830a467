"""Issue 9 item 10: `stop --flatten` of one bot while other bots quote the same symbol on the same account
leaves no residual: every bot's own position plus nothing else makes up the account's net position."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

from tests.support.rig import ETH, PaperFleet
from tests.support.rig import scenario as run_scenario

from mmctl.bots.bot import BotOptions
from mmctl.clock import now_ms
from mmctl.config.schema import PaperAccount
from mmctl.model import Side, Trade

MID = Decimal(3000)


class Desk(PaperFleet):
    """One paper account quoting ETH with several bots, on a manual clock; books republished every 10
    steps."""

    def __init__(self) -> None:
        settings = PaperAccount(symbols=("ETHUSDT",), balance=Decimal(1_000_000))
        super().__init__(
            {"a": settings},
            {ETH: MID},
            size=Decimal(50),
            books_every=10,
            options=BotOptions(stop_timeout_s=2.0),
        )

    def best(self, bot: str, side: Side) -> Decimal:
        prices = [
            o.price
            for o in self.paper.venue.open_orders(ETH)
            if o.side is side and o.price is not None and o.client_order_id.startswith(f"mm.{bot}.")
        ]
        return max(prices) if side is Side.BUY else min(prices)

    def trade(self, side: Side, price: Decimal, qty: Decimal) -> None:
        """A taker trade of `side` (SELL hits bids) at `price` from the market."""
        self.paper.venue.on_trade(Trade(ETH, price, qty, side, now_ms(self.clock)))

    async def net(self) -> Decimal:
        return (await self.paper.position("ETHUSDT")).qty


def scenario(body: Callable[[Desk], Awaitable[None]]) -> None:
    run_scenario(Desk(), body)


async def three_bots(d: Desk) -> None:
    """`long` (tight, 0.01 a level), `short` (wider, 0.03 a level) and `idle` (widest) quote ETH."""
    m = d.manager
    await m.create(
        "long", "a", "ETHUSDT", "market_maker", {"levels": "1", "spread_bps": "4", "order_size": "0.01"}
    )
    await m.create(
        "short", "a", "ETHUSDT", "market_maker", {"levels": "1", "spread_bps": "10", "order_size": "0.03"}
    )
    await m.create(
        "idle", "a", "ETHUSDT", "market_maker", {"levels": "1", "spread_bps": "40", "order_size": "0.01"}
    )
    assert all(row["ok"] for row in await m.start([], all_bots=True))
    await d.run(0.5)


def test_flattening_a_long_bot_while_the_account_is_net_short_closes_its_own_position() -> None:
    """A bot long 0.01 on an account net short (another bot is short 0.03) is flattened to zero: the
    account's net afterwards equals the other bots' own positions, so nothing is left unexplained."""

    async def body(d: Desk) -> None:
        m = d.manager
        await three_bots(d)
        d.trade(Side.SELL, d.best("long", Side.BUY), Decimal("0.01"))  # fills `long`'s tight bid only
        await d.run(0.3)
        await m.pause(["long"])
        d.trade(Side.BUY, d.best("short", Side.SELL), Decimal("0.03"))  # `short`'s ask, `long` is paused
        await d.run(0.3)
        assert m.bot("long").inventory.qty == Decimal("0.01")
        assert m.bot("short").inventory.qty == Decimal("-0.03")
        assert await d.net() == Decimal("-0.02")
        (outcome,) = await m.stop(["long"], flatten=True)
        assert outcome["ok"], outcome
        await d.run(0.3)  # the others keep quoting meanwhile
        assert m.bot("long").inventory.qty == 0
        m.remove("long")
        others = sum(b.inventory.qty for b in m.bots.values())
        assert await d.net() == others == Decimal("-0.03")

    scenario(body)


def test_flattening_a_bot_larger_than_the_net_closes_all_of_it() -> None:
    """A bot long 0.03 on an account net long only 0.02 (another bot is short 0.01) is flattened to zero,
    not just down to the account's net."""

    async def body(d: Desk) -> None:
        m = d.manager
        await three_bots(d)
        await m.set_params("long", {"order_size": "0.03"})
        await d.run(0.3)
        d.trade(Side.SELL, d.best("long", Side.BUY), Decimal("0.03"))
        await d.run(0.3)
        await m.pause(["long"])
        await m.set_params("short", {"order_size": "0.01"})
        await d.run(0.3)
        d.trade(Side.BUY, d.best("short", Side.SELL), Decimal("0.01"))
        await d.run(0.3)
        assert m.bot("long").inventory.qty == Decimal("0.03")
        assert m.bot("short").inventory.qty == Decimal("-0.01")
        (outcome,) = await m.stop(["long"], flatten=True)
        assert outcome["ok"], outcome
        await d.run(0.3)
        assert m.bot("long").inventory.qty == 0
        assert await d.net() == sum(b.inventory.qty for b in m.bots.values()) == Decimal("-0.01")

    scenario(body)


def test_flattening_within_the_net_stays_reduce_only() -> None:
    """When the bot's own position is within the account's net on the same side, the flatten order is
    reduce-only and leaves the other bots' positions alone."""

    async def body(d: Desk) -> None:
        m = d.manager
        await three_bots(d)
        d.trade(Side.SELL, d.best("long", Side.BUY), Decimal("0.01"))
        await d.run(0.3)
        await m.pause(["long"])
        d.trade(Side.SELL, d.best("short", Side.BUY), Decimal("0.03"))  # `short` buys: it is long too
        await d.run(0.3)
        assert await d.net() == Decimal("0.04")
        (outcome,) = await m.stop(["long"], flatten=True)
        assert outcome["flatten"]["reduce_only"] is True
        assert m.bot("long").inventory.qty == 0
        assert await d.net() == m.bot("short").inventory.qty == Decimal("0.03")

    scenario(body)
