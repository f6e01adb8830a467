"""`mmctl health` means "quoting": per bot, intended quotes against orders live on the venue, the last
accepted quote and the countdown; per account, the clock offset and a balance that covers the bots'
quotes; for the daemon, disk space in the state directory and a writable store."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from tests.support.rig import BTC, PaperFleet, scenario

from mmctl.clock import ManualClock
from mmctl.config.schema import PaperAccount
from mmctl.daemon.checks import account_checks, bot_checks, clock_check, store_checks
from mmctl.daemon.health import Check
from mmctl.daemon.quoting_checks import QUOTE_GRACE_S
from mmctl.errors import OrderRejected
from mmctl.exchange.forwarding import ForwardingExchange
from mmctl.exchange.paper.exchange import PaperExchange
from mmctl.model import ExchangeHealth, OrderRequest, PlaceResult
from mmctl.store.sqlite.store import SqliteStore

D = Decimal
BALANCE = D(10_000)
PARAMS = {"levels": "2", "order_size": "0.01", "spread_bps": "10"}


class Rejecting(ForwardingExchange):
    """A venue that refuses every new order while `rejecting` is set (as one out of margin would)."""

    def __init__(self, inner: PaperExchange) -> None:
        super().__init__(inner)
        self.rejecting = False

    async def place_orders(self, requests: Sequence[OrderRequest]) -> list[PlaceResult]:
        if not self.rejecting:
            return await super().place_orders(requests)
        return [PlaceResult(r, None, OrderRejected("Margin is insufficient.")) for r in requests]


class Rig(PaperFleet):
    """Paper account `a` (10 000 USDT) quoting BTC behind a `Rejecting` wrapper (`venue`)."""

    def __init__(self, balance: Decimal = BALANCE) -> None:
        self.venue: Rejecting | None = None
        super().__init__(
            {"a": PaperAccount(symbols=("BTCUSDT",), balance=balance)},
            {BTC: 50_000},
            books_every=10,
            wrap=self._wrap,
        )

    def _wrap(self, name: str, paper: PaperExchange) -> Rejecting:
        self.venue = Rejecting(paper)
        return self.venue

    def checks(self) -> dict[str, Check]:
        return {c.name: c for c in bot_checks(self.manager)}


def test_a_quoting_bot_passes_with_every_intended_quote_live() -> None:
    """A running bot with all its quotes on the venue passes `quoting:BOT`, naming the count, the last
    accepted quote and the countdown; its account's balance covers its quotes."""

    async def body(r: Rig) -> None:
        await r.manager.create("q", "a", "BTCUSDT", "market_maker", PARAMS)
        await r.manager.start(["q"])
        await r.run(1.0)
        checks = r.checks()
        quoting = checks["quoting:q"]
        assert quoting.ok, quoting.detail
        assert "4 of 4 intended quote(s) live" in quoting.detail
        assert "last quote accepted" in quoting.detail
        assert "countdown refreshed" in quoting.detail
        balance = checks["balance:a"]
        assert balance.ok, balance.detail
        assert "1 running bot(s) need" in balance.detail
        assert "available" in balance.detail

    scenario(Rig(), body)


def test_a_bot_whose_every_order_is_rejected_is_not_healthy() -> None:
    """A running, ticking bot whose every placement the venue rejects fails `quoting:BOT` at once,
    with the rejection, even though `bot:BOT` (ticking) passes."""

    async def body(r: Rig) -> None:
        assert r.venue is not None
        await r.manager.create("r", "a", "BTCUSDT", "market_maker", PARAMS)
        r.venue.rejecting = True
        await r.manager.start(["r"])
        await r.run(1.0)
        checks = r.checks()
        assert checks["bot:r"].ok, checks["bot:r"].detail
        quoting = checks["quoting:r"]
        assert not quoting.ok
        assert "0 of 4 intended quote(s) live" in quoting.detail
        assert "every order was rejected" in quoting.detail
        assert "Margin is insufficient" in quoting.detail

    scenario(Rig(), body)


def test_quotes_missing_past_the_grace_period_fail_but_a_brief_gap_does_not() -> None:
    """After the market moves and the venue starts refusing the replacements, health still passes while
    the last accepted quote is recent, and fails once none was accepted for `QUOTE_GRACE_S`."""

    async def body(r: Rig) -> None:
        assert r.venue is not None
        await r.manager.create("g", "a", "BTCUSDT", "market_maker", PARAMS)
        await r.manager.start(["g"])
        await r.run(1.0)
        assert r.checks()["quoting:g"].ok
        r.venue.rejecting = True
        r.mids[BTC] = D(50_500)  # every quote is now far from the price: replaced, and refused
        await r.run(2.0)
        brief = r.checks()["quoting:g"]
        assert brief.ok, brief.detail
        assert "of 4 intended quote(s) live" in brief.detail
        assert "rejected" in brief.detail
        await r.run(QUOTE_GRACE_S + 5)
        late = r.checks()["quoting:g"]
        assert not late.ok
        assert f"quotes missing for over {QUOTE_GRACE_S:g} s" in late.detail

    scenario(Rig(), body)


def test_a_balance_short_of_the_bots_quotes_fails_with_the_shortfall() -> None:
    """When a running bot's configured size grows beyond what the account can margin, `balance:ACCOUNT`
    fails and says by how much it is short."""

    async def body(r: Rig) -> None:
        await r.manager.create("b", "a", "BTCUSDT", "market_maker", PARAMS)
        await r.manager.start(["b"])
        await r.run(1.0)
        assert r.checks()["balance:a"].ok
        await r.manager.set_params("b", {"order_size": "5"})  # 250 000 USDT a level, at 5x
        await r.run(6.0)  # the shared balance refresh comes round
        balance = r.checks()["balance:a"]
        assert not balance.ok
        assert "short by" in balance.detail

    scenario(Rig(balance=D(1_000)), body)


def test_paper_accounts_have_no_clock_offset_and_binance_offsets_are_judged() -> None:
    """`clock:ACCOUNT` passes for a paper venue, passes a small Binance offset, and fails a large or an
    unmeasured one naming NTP."""

    async def body(r: Rig) -> None:
        assert r.venue is not None
        checks = {c.name: c for c in account_checks({"a": r.venue}, {}, {})}
        assert checks["clock:a"].ok

    scenario(Rig(), body)
    binance = {"venue": "binanceusdm", "clock_synced_s_ago": "12"}
    good = clock_check("main", ExchangeHealth(True, detail={**binance, "clock_offset_ms": "-40"}))
    assert good.ok
    assert "offset -40 ms" in good.detail
    bad = clock_check("main", ExchangeHealth(True, detail={**binance, "clock_offset_ms": "2500"}))
    assert not bad.ok
    assert "NTP" in bad.detail
    unmeasured = clock_check("main", ExchangeHealth(False, detail={"venue": "binanceusdm"}))
    assert not unmeasured.ok


def test_store_and_disk_checks_name_the_state_directory(tmp_path: Path) -> None:
    """A healthy SQLite store passes `store` and `disk` (free space in the state directory); a disk
    below the threshold fails `disk` with the figures."""
    store = SqliteStore.open(tmp_path / "mmctl.sqlite", ManualClock())
    try:
        checks = {c.name: c for c in store_checks(store)}
        assert checks["store"].ok
        assert "writable" in checks["store"].detail
        assert checks["disk"].ok
        assert str(tmp_path) in checks["disk"].detail
        huge = {c.name: c for c in store_checks(store, min_free_bytes=2**62)}
        assert not huge["disk"].ok
        assert "free of" in huge["disk"].detail
        assert "below" in huge["disk"].detail
    finally:
        store.close_sync()
