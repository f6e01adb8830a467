"""Funding per bot: the exact split of each payment (mmctl.pnl.funding), the account's funding poll that
credits it to the bots quoting the symbol, and the PnL figures and guards that include it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal, localcontext

from hypothesis import given
from hypothesis import strategies as st
from tests.support.rig import BTC, ETH, PaperFleet
from tests.support.rig import scenario as run_scenario

from mmctl.bots.inventory import Inventory
from mmctl.bots.risk import BotRiskMonitor, RiskAction
from mmctl.bots.status import detail
from mmctl.clock import now_ms
from mmctl.config.schema import PaperAccount, RiskSettings
from mmctl.fleet.portfolio import portfolio
from mmctl.model import IncomeType, OrderRequest, OrderType, Side, Trade
from mmctl.pnl.funding import allocate_funding
from mmctl.pnl.income import iter_income
from mmctl.strategies.market_maker import MarketMakerParams

D = Decimal
MIDS = {BTC: D(50_000), ETH: D(3000)}

amounts = st.decimals(min_value=D(-(10**9)), max_value=D(10**9), places=8, allow_nan=False)
quantities = st.decimals(min_value=D(-1000), max_value=D(1000), places=3, allow_nan=False)


# --- the split ---------------------------------------------------------------------------------------


@given(amounts, st.dictionaries(st.sampled_from("abcdefg"), quantities, max_size=6), st.none() | quantities)
def test_shares_plus_unattributed_equal_the_payment_exactly(
    amount: Decimal, positions: dict[str, Decimal], account_qty: Decimal | None
) -> None:
    """Whatever the payment, positions and account position, the bots' shares plus the unattributed
    rest equal the payment exactly, even in a 3-digit decimal context."""
    with localcontext() as ctx:
        ctx.prec = 3
        split = allocate_funding(amount, positions, account_qty)
    assert set(split.shares) == set(positions)
    total = split.unattributed
    for share in split.shares.values():
        total = _exact_add(total, share)
    assert total == amount
    if account_qty is None and sum(positions.values()) != 0:
        assert split.unattributed == 0  # no position besides the bots': everything is attributed
    mirrored = allocate_funding(-amount, positions, account_qty)
    assert mirrored.shares == {name: -share for name, share in split.shares.items()}


def _exact_add(a: Decimal, b: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 60
        return a + b


@given(amounts, st.dictionaries(st.sampled_from("abcde"), quantities, min_size=1, max_size=5))
def test_each_share_is_within_one_unit_of_its_exact_value(
    amount: Decimal, positions: dict[str, Decimal]
) -> None:
    """A share differs from payment × position / net by less than one unit of 1e-8."""
    net = sum(positions.values())
    split = allocate_funding(amount, positions)
    with localcontext() as ctx:
        ctx.prec = 80
        for name, q in positions.items():
            exact = amount * q / net if net else D(0)
            assert abs(split.shares[name] - exact) < D("1e-8") or not net


def test_the_last_unit_goes_to_the_largest_remainder_then_to_the_first_name() -> None:
    """-0.00000001 over two equal positions: one bot gets it, the one whose name sorts first."""
    split = allocate_funding(D("-0.00000001"), {"b": D(1), "a": D(1)})
    assert split.shares == {"a": D("-0.00000001"), "b": D(0)}
    assert allocate_funding(D("0.00000001"), {"b": D(1), "a": D(1)}).shares["a"] == D("0.00000001")
    assert split.unattributed == 0
    split = allocate_funding(D("1.00000000"), {"x": D(1), "y": D(2)})
    assert split.shares == {"x": D("0.33333333"), "y": D("0.66666667")}


def test_positions_against_the_net_get_the_opposite_sign_and_others_are_unattributed() -> None:
    """A short among longs receives what the longs pay; a hand-opened part of the net stays unattributed;
    a zero net attributes nothing."""
    split = allocate_funding(D("-10"), {"long": D(2), "short": D(-1)})
    assert split.shares == {"long": D(-20), "short": D(10)}
    split = allocate_funding(D("-10"), {"bot": D(1)}, account_qty=D(4))
    assert (split.shares["bot"], split.unattributed) == (D("-2.5"), D("-7.5"))
    split = allocate_funding(D("-3"), {"a": D(1), "b": D(-1)})
    assert split.unattributed == D(-3)
    assert set(split.shares.values()) == {0}


# --- net PnL and the loss guard --------------------------------------------------------------------------


def test_a_bots_net_pnl_and_its_max_loss_guard_include_funding() -> None:
    """A flat bot that paid 6 USDT of funding has a net PnL of -6 and trips max_loss = 5."""
    inv = Inventory()
    inv.add_funding(D("-6"))
    assert inv.net(D(100)) == D(-6)
    assert inv.lifetime_net(D(100)) == D(-6)
    monitor = BotRiskMonitor(MarketMakerParams(max_loss=D(5)))
    monitor.reset(0.0)
    assert monitor.check(1.0, inv.net(D(100))).action is RiskAction.STOP
    inv.reset_session()
    assert inv.net(None) == 0
    assert inv.lifetime_net(None) == D(-6)


# --- the poll on a paper account ---------------------------------------------------------------------


class Rig(PaperFleet):
    """Paper account `a` on BTC and ETH with a funding settlement every 60 s at a rate of 0.0003, and a
    manager over it; books republished every 10 steps."""

    def __init__(self, risk: RiskSettings | None = None) -> None:
        settings = PaperAccount(
            symbols=("BTCUSDT", "ETHUSDT"),
            balance=D(1_000_000),
            funding_interval_s=60,
            funding_rate=D("0.0003"),
        )
        super().__init__({"a": settings}, MIDS, books_every=10, risk=risk)

    def sweep_bids(self, symbol: str) -> None:
        """A taker sells into every resting bid at the best bid price."""
        bids = [o.price for o in self.paper.venue.open_orders() if o.side is Side.BUY and o.symbol == symbol]
        bid = max(p for p in bids if p is not None)
        self.paper.venue.on_trade(Trade(symbol, bid, D(5), Side.SELL, now_ms(self.clock)))


def scenario(body: Callable[[Rig], Awaitable[None]], risk: RiskSettings | None = None) -> None:
    run_scenario(Rig(risk), body)


async def three_bots_with_positions(r: Rig) -> None:
    """Two BTC bots of different sizes and one ETH bot, all long after a sweep of their bids."""
    m = r.manager
    for name, symbol, size in (
        ("b1", "BTCUSDT", "0.01"),
        ("b2", "BTCUSDT", "0.03"),
        ("e1", "ETHUSDT", "0.1"),
    ):
        await m.create(
            name, "a", symbol, "market_maker", {"levels": "1", "order_size": size, "max_position": "1"}
        )
    await m.start([], all_bots=True)
    await r.run(0.5)
    r.sweep_bids(BTC)
    r.sweep_bids(ETH)
    await r.run(0.3)
    assert all(m.bot(n).inventory.qty > 0 for n in ("b1", "b2", "e1"))


async def past_funding(r: Rig, times: int) -> None:
    """Quote on until `times` funding settlements have passed."""
    for _ in range(times):
        await r.run(61.0)


def test_funding_is_split_over_the_symbols_bots_by_position_and_sums_to_the_ledger() -> None:
    """After funding settlements, each bot's funding is its position's share of each payment, and the
    bots' funding plus the unattributed rest equals the account's FUNDING_FEE income exactly."""

    async def body(r: Rig) -> None:
        m = r.manager
        await three_bots_with_positions(r)
        await past_funding(r, 2)
        funding = await m.account("a").poll_funding(lambda: list(m.bots.values()), m.started_ms, 0.0)
        assert funding.error is None
        rows = [row async for row in iter_income(r.paper, m.started_ms) if row.type is IncomeType.FUNDING_FEE]
        assert len(rows) >= 4  # two settlements on two symbols
        ledger = sum((row.amount for row in rows), D(0))
        bots = {n: m.bot(n).inventory.funding for n in ("b1", "b2", "e1")}
        assert all(v < 0 for v in bots.values())  # longs pay a positive rate
        assert sum(bots.values()) + funding.sum_unattributed() == ledger == funding.sum_total()
        assert funding.sum_unattributed() == 0  # no position but the bots'
        for row in rows:  # each payment split by the positions at its settlement time
            if row.symbol == BTC:
                q1, q2 = (m.bot(n).inventory.qty_at(row.ts_ms) for n in ("b1", "b2"))
                expected = allocate_funding(row.amount, {"b1": q1, "b2": q2})
                assert sum(expected.shares.values()) == row.amount
        # net PnL includes funding, in the bot's status and the fleet's daily figure
        b1 = m.bot("b1")
        mid = r.paper.book(BTC).mid  # type: ignore[union-attr]
        inv = b1.inventory
        assert inv.net(mid) == inv.realized_pnl - inv.fees + inv.funding + inv.unrealized(mid)
        doc = await detail(b1)
        assert doc["funding"] == str(inv.funding)
        assert doc["net_pnl"] == str(inv.net(mid))
        assert m.fleet.daily_net() == sum(
            (b.inventory.lifetime_net(r.paper.book(b.definition.symbol).mid) for b in m.bots.values()),  # type: ignore[union-attr]
            D(0),
        )

    scenario(body)


def test_portfolio_bot_funding_plus_unattributed_equals_the_accounts_funding() -> None:
    """`portfolio` shows each bot's funding; the bots' total plus `unattributed_funding` equals the
    account's funding income since the daemon started, including funding on a position no bot holds."""

    async def body(r: Rig) -> None:
        m = r.manager
        await three_bots_with_positions(r)
        await m.stop(["e1"], flatten=True)  # ETH is flat for the bots ...
        await r.run(0.5)
        # ... but the operator holds ETH by hand: its funding belongs to no bot
        manual = OrderRequest(ETH, Side.BUY, D("0.5"), None, "manual-1", OrderType.MARKET)
        hand = await r.paper.place_orders([manual])
        assert hand[0].error is None
        await past_funding(r, 1)
        doc = await portfolio(m, m.started_ms)
        account = doc["accounts"][0]
        ledger = D(account["income_since_start"][IncomeType.FUNDING_FEE.value])
        bots_total = sum((D(b["funding"]) for b in doc["bots"]), D(0))
        assert D(doc["totals"]["funding"]) == bots_total
        assert bots_total + D(doc["totals"]["unattributed_funding"]) == ledger
        assert D(account["funding"]["total"]) == ledger
        assert D(account["funding"]["unattributed"]) < 0  # the hand-held long paid
        assert D(account["funding"]["bots"]) == bots_total
        for row in doc["bots"]:
            realized, fees, funding, unrealized = (
                D(row[k]) for k in ("realized_pnl", "fees", "funding", "unrealized_pnl")
            )
            assert D(row["net_pnl"]) == realized - fees + funding + unrealized

    scenario(body)
