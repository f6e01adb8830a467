"""Health checks that answer "is it quoting?": per running bot, its intended quotes against its orders
live on the venue, the time since the venue last accepted one of its quotes and its symbol's countdown
cancel; per account, whether the balance covers the margin the bots' configured quotes need.

Nothing here sends a request: the intended quotes are the strategy's for the latest book (memoized by
the bot), the live orders are the bot's view kept current by the order stream, acceptances and
rejections come from the event log, and the balance from the account's shared refresh, with its age.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from mmctl.bots.account import AccountShared, CountdownState
from mmctl.bots.bot import Bot
from mmctl.bots.events import Event
from mmctl.clock import now_ms
from mmctl.daemon.health import Check
from mmctl.exchange.margin import check_orders, initial_margin
from mmctl.exchange.rules import EXACT
from mmctl.fleet.manager import BotManager
from mmctl.model import ZERO, Side

QUOTE_GRACE_S = 30.0
"""A running bot with fewer quotes live than it intends fails once the venue has accepted none of its
quotes for this long (a post-only reject or a fill is re-quoted within a tick; a lasting gap is not)."""

COUNTDOWN_SLACK_S = 10.0  # a countdown refresh this much later than its interval fails health


@dataclass(slots=True)
class QuoteHistory:
    """What the event log says of one bot: its last accepted quote and its last rejection."""

    placed_ms: int | None = None
    reject: str | None = None


def quote_history(events: Iterable[Event]) -> dict[str, QuoteHistory]:
    """Per bot, the newest "placed" order event and the newest rejection (one pass over the log)."""
    seen: dict[str, QuoteHistory] = {}
    for e in events:
        if e.bot is None or e.kind not in ("order", "reject"):
            continue
        h = seen.setdefault(e.bot, QuoteHistory())
        if e.kind == "order":
            h.placed_ms = e.ts_ms
        else:
            h.reject = e.message
    return seen


def quoting_checks(manager: BotManager) -> list[Check]:
    """`quoting:BOT` for each running bot."""
    running = [b for b in manager.bots.values() if b.state.value == "running"]
    if not running:
        return []
    history = quote_history(manager.events.since(0, limit=0))
    return [quoting_check(b, history.get(b.name, QuoteHistory())) for b in sorted(running, key=_name)]


def _name(bot: Bot) -> str:
    return bot.name


def quoting_check(bot: Bot, history: QuoteHistory) -> Check:
    """Intended quotes vs live orders, the last accepted quote's age, rejections and the countdown."""
    name = f"quoting:{bot.name}"
    now = now_ms(bot.clock)
    live = len(bot.quoter.live)
    stats = bot.quoter.stats
    newest_live = max((o.created_ms for o in bot.quoter.live.values()), default=None)
    candidates = (newest_live, bot.quoter.last_accepted_ms, history.placed_ms)
    accepted = max((t for t in candidates if t is not None), default=None)
    since = None if accepted is None else max(0.0, (now - accepted) / 1000)
    parts = [f"last quote accepted {since:.0f} s ago" if since is not None else "no quote accepted yet"]
    if stats.rejected:
        parts.append(f"{stats.rejected} of {stats.placed + stats.rejected} placements rejected")
    countdown = _countdown_text(bot)
    problems: list[str] = []
    if countdown is not None:
        parts.append(countdown[0])
        if not countdown[1]:
            problems.append("countdown cancel not refreshed on time")
    if bot.hold is not None:
        return Check(name, False, "; ".join([f"quotes pulled: {bot.hold}", *parts]))
    intended = _intended(bot)
    if intended is None:
        return Check(name, False, "; ".join(["no book or market rules yet: nothing to quote on", *parts]))
    head = f"{live} of {intended} intended quote(s) live"
    if intended == 0:
        problems.append("the strategy proposes no quote at the current book (sizes below the minimum?)")
    elif live < intended:
        uptime = (now - bot.started_ms) / 1000 if bot.started_ms is not None else None
        if stats.placed == 0 and stats.rejected > 0:
            last = f" (last: {history.reject})" if history.reject else ""
            problems.append(f"every order was rejected{last}")
        elif not _recent(since) and not _recent(uptime):
            why = f" (last rejection: {history.reject})" if history.reject else ""
            problems.append(f"quotes missing for over {QUOTE_GRACE_S:g} s{why}")
    return Check(name, not problems, "; ".join([head, *parts, *problems]))


def _recent(age_s: float | None) -> bool:
    return age_s is not None and age_s <= QUOTE_GRACE_S


def _intended(bot: Bot) -> int | None:
    """How many quotes the strategy wants live at the latest book (None: no book or rules yet)."""
    book = bot.exchange.book(bot.definition.symbol)
    rules = bot.rules
    if book is None or rules is None:
        return None
    return len(bot.quotes_for(book, rules))


def _countdown_text(bot: Bot) -> tuple[str, bool] | None:
    """The bot's symbol's countdown cancel: a phrase and whether its refresh is on time (None: the
    account keeps no countdown for the symbol, e.g. nothing quoted yet)."""
    cd = _countdown_of(bot.account, bot.definition.symbol)
    if cd is None:
        return None
    if cd.age_s is None:
        return ("countdown cancel never armed", not bot.quoter.live)
    on_time = cd.lapsed or cd.age_s <= cd.refresh_s + COUNTDOWN_SLACK_S
    return (f"countdown refreshed {cd.age_s:.0f} s ago (every {cd.refresh_s:g} s)", on_time)


def _countdown_of(account: AccountShared, symbol: str) -> CountdownState | None:
    return next((cd for cd in account.countdowns() if cd.symbol == symbol), None)


# --- the account's balance against the bots' configured quotes -------------------------------------


def balance_checks(manager: BotManager) -> list[Check]:
    """`balance:ACCOUNT` for each account a bot uses: the margin its running bots' quotes need at
    their leverage, against the available balance plus what their own open orders hold."""
    checks = []
    for account, shared in sorted(manager.shared.items()):
        bots = [
            b for b in manager.bots.values() if b.definition.account == account and b.state.value == "running"
        ]
        checks.append(balance_check(account, shared, bots))
    return checks


def balance_check(account: str, shared: AccountShared, bots: list[Bot]) -> Check:
    name = f"balance:{account}"
    snap = shared.figures.peek()
    if snap.value is None:
        why = f": {snap.error}" if snap.error else ""
        return Check(name, not bots, f"balance not read yet{why}")
    available = snap.value.balance.available
    age = f" ({snap.age_s:.0f} s old)" if snap.age_s is not None else ""
    if not bots:
        return Check(name, True, f"{_money(available)} available{age}; no bot quotes on this account")
    needed = held = ZERO
    for bot in bots:
        need, hold = _margins(bot)
        needed, held = EXACT.add(needed, need), EXACT.add(held, hold)
    free = EXACT.add(available, held)
    ok = needed <= free
    detail = (
        f"{len(bots)} running bot(s) need {_money(needed)} initial margin for their quotes; "
        f"{_money(available)} available{age} + {_money(held)} held by their open orders"
    )
    if not ok:
        detail += f": short by {_money(EXACT.subtract(needed, free))} (orders will be rejected)"
    return Check(name, ok, detail)


def _margins(bot: Bot) -> tuple[Decimal, Decimal]:
    """Initial margin the bot's configured quotes need at the latest book, and that its live orders hold."""
    leverage = bot.account.known_leverage(bot.definition.symbol) or bot.params.leverage
    book = bot.exchange.book(bot.definition.symbol)
    rules = bot.rules
    need = ZERO
    if book is not None and rules is not None:
        quotes = bot.quotes_for(book, rules)
        if quotes:
            requests = [q.to_request(rules.symbol, f"health-{i}") for i, q in enumerate(quotes)]
            need = check_orders(requests, leverage, ZERO, book.mid).required
    buys = sells = ZERO
    for o in bot.quoter.live.values():
        notional = EXACT.multiply(o.price, o.remaining)
        if o.side is Side.BUY:
            buys = EXACT.add(buys, notional)
        else:
            sells = EXACT.add(sells, notional)
    return need, initial_margin(max(buys, sells), leverage)


def _money(value: Decimal) -> str:
    return f"{EXACT.quantize(value, Decimal('0.01')):f} USDT"
