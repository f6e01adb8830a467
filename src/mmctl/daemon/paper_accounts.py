"""Paper accounts that outlive the daemon: open (restore + catch up) and `paper.reset`.

`open_paper_account` gives the daemon a started `PaperExchange` whose venue state is kept in the store
(`mmctl.exchange.paper.persist`: saved on every account change, before anything else can see the change):
- nothing saved: a fresh account from the settings (balance, seed). Id counters and venue time continue
  from whatever history the store holds for the account name, so ids are never reused.
- saved: the venue comes back exactly (wallet, positions, leverage, open orders with their queue
  priority, countdowns, clock, market), with its trades (`my_trades`), recently closed orders
  (`fetch_order`) and income ledger (`income`, 90 days) read back from the store. Then the market catches
  up over the downtime, unpaced: simulated time = min(wall downtime × speed, `catch_up_s`), from the
  saved venue time; resting orders fill, funding settles and an armed countdown fires at its deadline,
  all stamped with venue times inside that window. Then the market goes on paced. A live market
  (`market = "live"`, Binance's public data) cannot be caught up: nothing is replayed, resting orders
  do not fill from the downtime's trades, and the venue resumes at the live market's next event (its
  time jumps to the live market's now; funding and a countdown that fell due meanwhile settle then).
- saved but incompatible with the settings (another market type, another set of symbols, or a state
  this version cannot read): refused with `VenueUnavailable`, one line naming the account and
  `mmctl paper reset ACCOUNT`. Other settings apply going forward (fees, funding, synthetic knobs, speed,
  replay path); `balance` is used by the next reset only.

`paper.reset {account}` (`PAPER_RESET`) starts an account afresh: refused (`InvalidState`, naming them)
while `active_bots(account)` is not empty. Otherwise its open orders are cancelled (recorded in the old
epoch), and the live `PaperExchange` gets a fresh venue in place (same object: budgets and subscribers
keep working): wallet = settings.balance, no positions, orders or ledger, a synthetic market afresh from
the seed at the later of now and the old venue time (a replay continues where it was: time never goes
back). Nothing recorded is deleted: the account's income rows, venue trades and closed orders stay as
history of the old epoch, and the new epoch starts its ids after the old ones. An account that failed to
open (its saved state did not fit the config) has its saved state deleted; the next daemon start opens it
afresh.

How a read-only checker (bench/crash_recovery.py) reads a paper account from the SQLite file, also while
the daemon is down or killed (`sqlite3.connect(f"file:{path}?mode=ro", uri=True)`; WAL: the -wal file
beside it holds the last commits, the reader sees them):
- the venue's trade ids, every epoch (ids are unique per account across resets):
  `SELECT symbol, trade_id FROM paper_trades WHERE account = ? ORDER BY seq`
  (the current epoch only: `AND epoch = <state.epoch.n>`). Compare with the bots' recorded fills:
  `SELECT symbol, trade_id FROM fills WHERE account = ?`.
- the wallet: `state = json.loads(SELECT state FROM paper_state WHERE account = ?)`;
  `Decimal(state["venue"]["wallet"])`. It must equal `Decimal(state["epoch"]["start_balance"])` plus the
  sum of `Decimal(amount)` over `SELECT amount FROM income WHERE account = ? AND CAST(tran_id AS INTEGER)
  >= state["epoch"]["first_income_id"]` (sum in Python with Decimal, never in SQL). Without resets the
  epoch starts at id 1 with the configured balance, so it is simply balance + Σ income rows.
  Open orders: `state["open_orders"]` (`client_order_id`, `status`, ...); positions:
  `state["venue"]["symbols"][SYMBOL]["position_qty"]`.
The state row and the rows it counts are committed in one transaction, so they always agree.
`read_saved_venue(conn, account)` does exactly this on a connection the caller opened (stdlib only).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog

from mmctl.clock import Clock, now_ms
from mmctl.config.schema import PaperAccount
from mmctl.errors import ConfigError, InvalidState, NotFound, VenueUnavailable
from mmctl.exchange.paper.exchange import PaperExchange, new_venue, paper_markets
from mmctl.exchange.paper.feed import LiveFeed, MarketFeed
from mmctl.exchange.paper.ledger import RETENTION_MS
from mmctl.exchange.paper.orders import MAX_CLOSED_ORDERS
from mmctl.exchange.paper.persist import PaperPersistence, persistence_of
from mmctl.exchange.paper.replay import ReplayFeed
from mmctl.exchange.paper.snapshot import (
    Epoch,
    SavedAccount,
    SnapshotError,
    loads,
    order_from_json,
    restore_venue,
)
from mmctl.exchange.paper.synthetic import SyntheticFeed, SyntheticParams
from mmctl.exchange.paper.venue import FILLS_KEPT, PaperVenue
from mmctl.rpc.protocol import PAPER_RESET
from mmctl.rpc.registry import MethodTable
from mmctl.store.base import Store
from mmctl.store.records import DeletePaperState, PaperHistory

log = structlog.get_logger("mmctl.paper")


async def open_paper_account(
    name: str, settings: PaperAccount, clock: Clock, store: Store | None
) -> PaperExchange:
    """The paper account `name`, restored and caught up if the store has it, else fresh; persisted into
    `store` from now on (None: not persisted); loaded and started. `VenueUnavailable` when the saved state
    does not fit the settings; `ConfigError` on bad settings."""
    if store is None:
        exchange = PaperExchange.from_settings(name, settings, clock, live_feed=_live_feed(settings, clock))
    else:
        saved_row = await store.read(lambda r: r.paper_state(name))
        if saved_row is None:
            exchange = await _open_fresh(name, settings, clock, store)
        else:
            exchange = await _open_saved(name, settings, clock, store, _parse(name, saved_row.state))
    await exchange.load_markets()
    await exchange.start()
    return exchange


async def _open_fresh(name: str, settings: PaperAccount, clock: Clock, store: Store) -> PaperExchange:
    history = await store.read(lambda r: r.paper_history(name))
    exchange, epoch = _fresh(name, settings, clock, history)
    persistence = PaperPersistence(exchange, store, name, clock, epoch, settings.market)
    persistence.attach()
    persistence.save()
    await store.flush()
    log.info("paper_account_created", account=name, epoch=epoch.n, balance=str(settings.balance))
    return exchange


def _fresh(
    name: str, settings: PaperAccount, clock: Clock, history: PaperHistory
) -> tuple[PaperExchange, Epoch]:
    """A fresh account whose ids continue after `history` (and whose synthetic market starts no earlier
    than the history's last venue time)."""
    start = max(now_ms(clock), history.last_ts_ms + 1)
    exchange = PaperExchange.from_settings(
        name, settings, clock, start_ms=start, live_feed=_live_feed(settings, clock)
    )
    venue = exchange.venue
    venue.last_trade_id = history.last_trade_id
    venue.orders.last_id = history.last_order_id
    venue.wallet.last_id = history.last_income_id
    epoch = Epoch(
        n=history.last_epoch + 1,
        start_balance=settings.balance,
        first_income_id=history.last_income_id + 1,
        first_trade_id=history.last_trade_id + 1,
        first_order_id=history.last_order_id + 1,
        started_wall_ms=now_ms(clock),
    )
    return exchange, epoch


def _parse(name: str, text: str) -> SavedAccount:
    try:
        return loads(text)
    except SnapshotError as e:
        raise VenueUnavailable(
            f"paper account {name!r}: its saved state cannot be read ({e}); run `mmctl paper reset {name}` "
            "to start it afresh"
        ) from e


def _check_fits(name: str, settings: PaperAccount, saved: SavedAccount, symbols: list[str]) -> None:
    if saved.market != settings.market or sorted(saved.symbols) != sorted(symbols):
        raise VenueUnavailable(
            f"paper account {name!r}: its saved state ({saved.market} market, symbols "
            f"{', '.join(saved.symbols)}) does not fit the config ({settings.market} market, symbols "
            f"{', '.join(symbols)}); restore the config, or run `mmctl paper reset {name}` to start it "
            "afresh",
            data={"account": name},
        )


async def _open_saved(
    name: str, settings: PaperAccount, clock: Clock, store: Store, saved: SavedAccount
) -> PaperExchange:
    markets = paper_markets(settings)
    _check_fits(name, settings, saved, [r.symbol for r in markets.values()])
    epoch = saved.epoch
    since = saved.now_ms - RETENTION_MS
    trades, closed, income = await store.read(
        lambda r: (
            r.paper_trades(name, epoch=epoch.n, limit=FILLS_KEPT),
            r.paper_orders(name, epoch=epoch.n, limit=MAX_CLOSED_ORDERS),
            r.paper_income(name, from_id=epoch.first_income_id, since_ms=since),
        )
    )
    try:
        venue = restore_venue(
            saved,
            markets,
            funding_rate=settings.funding_rate,
            funding_interval_s=settings.funding_interval_s,
            trades=[t.fill for t in trades],
            closed_orders=[order_from_json(text) for text in closed],
            income=income,
        )
        feed = _resumed_feed(settings, markets, saved, clock)
    except (SnapshotError, ValueError, KeyError, TypeError) as e:
        raise VenueUnavailable(
            f"paper account {name!r}: its saved state cannot be restored ({e}); run "
            f"`mmctl paper reset {name}` to start it afresh",
            data={"account": name},
        ) from e
    exchange = PaperExchange(
        name, venue, clock, feed, speed=settings.speed, start_ms=venue.now_ms, settings=settings
    )
    persistence = PaperPersistence(exchange, store, name, clock, epoch, settings.market)
    persistence.attach()
    downtime_ms = max(0, now_ms(clock) - saved.saved_wall_ms)
    window_ms = min(round(downtime_ms * settings.speed), settings.catch_up_s * 1000)
    if settings.market == "live":  # nothing to replay: the venue resumes at the live market's next event
        window_ms = 0
    events = await exchange.catch_up(venue.now_ms + window_ms)
    persistence.save()
    await store.flush()
    log.info(
        "paper_account_restored",
        account=name,
        epoch=epoch.n,
        wallet=str(venue.wallet.balance),
        open_orders=len(venue.orders.open),
        downtime_s=round(downtime_ms / 1000, 3),
        caught_up_s=round(window_ms / 1000, 3),
        market_events=events,
    )
    return exchange


def _resumed_feed(
    settings: PaperAccount, markets: Mapping[str, Any], saved: SavedAccount, clock: Clock
) -> MarketFeed | LiveFeed:
    after = saved.now_ms
    if settings.market == "live":
        return _require_live_feed(settings, clock)
    if settings.market == "replay":
        return ReplayFeed.from_path(settings.replay_path, markets, after_ms=after)
    return SyntheticFeed(
        list(markets.values()),
        SyntheticParams.from_settings(settings),
        after,
        resume=saved.feed if saved.feed.get("kind") == "synthetic" else None,
        after_ms=after,
    )


def _live_feed(settings: PaperAccount, clock: Clock) -> LiveFeed | None:
    """The live market data feed of a `market = "live"` account (None for the other markets)."""
    return _require_live_feed(settings, clock) if settings.market == "live" else None


def _require_live_feed(settings: PaperAccount, clock: Clock) -> LiveFeed:
    """Binance USDⓈ-M's public market data for the account's markets, from `rest_url`/`ws_url` ("" =
    Binance's hosts). Imported here, so ccxt loads only when a live paper market is configured. A live
    market cannot be caught up after a restart: the venue resumes at the live market's next event
    (funding and countdowns that fell due meanwhile are settled then, resting orders did not fill)."""
    from mmctl.exchange.binance.public_feed import BinancePublicFeed

    markets = list(paper_markets(settings).values())
    return BinancePublicFeed(markets, clock, rest_url=settings.rest_url, ws_url=settings.ws_url)


# --- reset -----------------------------------------------------------------------------------------


async def reset_paper_account(exchange: PaperExchange, store: Store) -> dict[str, Any]:
    """Start `exchange`'s account afresh in place (the caller checked that no bot runs on it)."""
    persistence = persistence_of(exchange)
    settings = exchange.settings
    if persistence is None or settings is None:
        raise InvalidState(f"paper account {exchange.name!r} is not persisted: it cannot be reset")
    old = exchange.venue
    cancelled = sum(len(old.cancel_all(st.symbol)) for st in old.symbol_states)
    exchange.settle_changes()  # the old epoch's last state and closed orders
    clock = exchange.clock
    epoch = Epoch(
        n=persistence.epoch.n + 1,
        start_balance=settings.balance,
        first_income_id=old.wallet.last_id + 1,
        first_trade_id=old.last_trade_id + 1,
        first_order_id=old.orders.last_id + 1,
        started_wall_ms=now_ms(clock),
    )
    venue, feed, start_ms = _reset_market(exchange, settings, old)
    venue.last_trade_id = old.last_trade_id
    venue.orders.last_id = old.orders.last_id
    venue.wallet.last_id = old.wallet.last_id
    await exchange.replace_venue(venue, feed, start_ms)
    persistence.rebase(epoch)
    persistence.save()
    await store.flush()
    log.info("paper_account_reset", account=exchange.name, epoch=epoch.n, cancelled=cancelled)
    return {
        "account": exchange.name,
        "reset": True,
        "epoch": epoch.n,
        "balance": settings.balance,
        "cancelled": cancelled,
        "first_trade_id": epoch.first_trade_id,
        "first_income_id": epoch.first_income_id,
    }


def _reset_market(
    exchange: PaperExchange, settings: PaperAccount, old: PaperVenue
) -> tuple[PaperVenue, MarketFeed | LiveFeed, int | None]:
    """A fresh venue; a synthetic market afresh from the seed, a replay where it was, a live market
    from its next event."""
    markets = paper_markets(settings)
    start = max(now_ms(exchange.clock), old.now_ms + 1)
    feed: MarketFeed | LiveFeed
    if settings.market == "live":
        feed = _require_live_feed(settings, exchange.clock)
    elif settings.market == "replay":
        start = old.now_ms
        feed = ReplayFeed.from_path(settings.replay_path, markets, after_ms=start)
    else:
        feed = SyntheticFeed(list(markets.values()), SyntheticParams.from_settings(settings), start)
    return new_venue(settings, markets, start), feed, start


def register_paper_methods(
    table: MethodTable,
    papers: Mapping[str, PaperExchange],
    store: Store,
    active_bots: Callable[[str], list[str]],
) -> None:
    """Register `paper.reset`."""

    async def reset(account: str) -> dict[str, Any]:
        """Start a paper account afresh (refused while bots run on it)."""
        exchange = papers.get(account)
        if exchange is None:
            return await _reset_unopened(account, papers, store)
        bots = active_bots(account)
        if bots:
            raise InvalidState(
                f"paper account {account!r} has bots running on it: {', '.join(sorted(bots))}; stop them "
                "first (mmctl stop NAME...)",
                data={"account": account, "bots": sorted(bots)},
            )
        try:
            return await reset_paper_account(exchange, store)
        except ConfigError as e:
            raise InvalidState(f"paper account {account!r} cannot be reset: {e}") from e

    table.add(PAPER_RESET, reset)


async def _reset_unopened(account: str, papers: Mapping[str, PaperExchange], store: Store) -> dict[str, Any]:
    """An account the daemon could not open (its saved state did not fit): forget the saved state."""
    if not await store.write(DeletePaperState(account)):
        known = ", ".join(sorted(papers)) or "none"
        raise NotFound(f"no paper account {account!r} (paper accounts: {known})", data={"field": "account"})
    log.info("paper_account_reset", account=account, epoch=None, note="saved state deleted")
    return {
        "account": account,
        "reset": True,
        "epoch": None,
        "note": "its saved state was deleted; the next daemon start opens it afresh",
    }


# --- the read-only checker's view ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SavedVenue:
    """A paper account as its saved state and rows in the store say (see the module docstring)."""

    account: str
    epoch: int
    wallet: Decimal
    start_balance: Decimal
    income_total: Decimal  # Σ of the current epoch's income rows: wallet == start_balance + income_total
    trade_ids: list[str]  # the venue's trade ids, every epoch, oldest first
    open_client_order_ids: list[str]
    positions: dict[str, Decimal]  # symbol -> signed quantity (non-zero only)


def read_saved_venue(conn: sqlite3.Connection, account: str) -> SavedVenue:
    """Read `account`'s saved venue on `conn` (e.g. `sqlite3.connect("file:DB?mode=ro", uri=True)`), in
    one read transaction; `LookupError` if the account has no saved state."""
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        row = conn.execute("SELECT state FROM paper_state WHERE account = ?", (account,)).fetchone()
        if row is None:
            raise LookupError(f"no saved paper state for account {account!r}")
        state = json.loads(row[0])
        epoch = state["epoch"]
        amounts = conn.execute(
            "SELECT amount FROM income WHERE account = ? AND CAST(tran_id AS INTEGER) >= ?",
            (account, epoch["first_income_id"]),
        )
        income_total = sum((Decimal(a) for (a,) in amounts), Decimal(0))
        trade_ids = [
            r[0]
            for r in conn.execute(
                "SELECT trade_id FROM paper_trades WHERE account = ? ORDER BY seq", (account,)
            )
        ]
    finally:
        if own:
            conn.execute("COMMIT")
    positions = {
        symbol: Decimal(sd["position_qty"])
        for symbol, sd in state["venue"]["symbols"].items()
        if Decimal(sd["position_qty"])
    }
    return SavedVenue(
        account=account,
        epoch=int(epoch["n"]),
        wallet=Decimal(state["venue"]["wallet"]),
        start_balance=Decimal(epoch["start_balance"]),
        income_total=income_total,
        trade_ids=trade_ids,
        open_client_order_ids=[o["client_order_id"] for o in state["open_orders"]],
        positions=positions,
    )
