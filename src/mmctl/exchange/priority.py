"""Request classes: who goes first when the venue's request budget is tight (DESIGN.md §4).

Core layer: stdlib only. A request's class comes from what it does, or from the scope it runs in:

    SAFETY  cancels, cancel-all, reduce-only and flatten orders (placed or amended), and any request made
            inside a `request_class(SAFETY)` scope: the queries a stop, pause or cancel-all needs to
            confirm itself. Admitted first, with a reserved share of every budget.
    HEARTBEAT  the countdown cancel (arm/disarm): the dead-man's switch, refreshed well before it
            expires (every `countdown_refresh_s`, less than half of `countdown_s`). It shares SAFETY's
            reserve but is served after SAFETY: a mass stop's cancels never queue behind the refreshes of
            dozens of account-symbol countdowns (10 weight each), which can wait a few seconds.
    START   what a bot's start costs (reachability, leverage, leftovers, margin) inside a
            `request_class(START)` scope: ahead of quotes, so busy running bots cannot starve a start,
            but starts as a whole never hold more than their own share of a window: starting many bots
            proceeds in waves and cannot take the budget running bots and safety need.
    PLACE   new quotes and amends of quotes. An amend is a new quote in all but its id (a new price or
            size on the venue, priced as one new order), so it is PLACE even when it only shrinks the
            order: what must take risk off at once is a cancel, which is SAFETY. Only a batch of amends of
            reduce-only orders (every `Amend.reduce_only`) is SAFETY, as placing them is.
    QUERY   reads: balances, positions, orders, income.

A scope is a context variable, so it follows the task that set it and the tasks created inside it, and
nothing else. Safety methods stay SAFETY in any scope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import IntEnum


class Priority(IntEnum):
    """Request classes, served strictly in this order (lower first)."""

    SAFETY = 0
    HEARTBEAT = 1
    START = 2
    PLACE = 3
    QUERY = 4


SAFETY_METHODS = frozenset(
    {"cancel_order", "cancel_orders", "cancel_all", "cancel_conditional", "cancel_all_conditionals"}
)
"""Port methods that take risk off whatever scope they run in (placing a reduce-only or close-position
conditional order is SAFETY too: its `reduce_only`)."""

HEARTBEAT_METHODS = frozenset({"arm_countdown", "disarm_countdown"})
"""Port methods of the dead-man's switch: HEARTBEAT whatever scope they run in."""

_scope: ContextVar[Priority | None] = ContextVar("mmctl_request_class", default=None)
_on_send: ContextVar[Callable[[], None] | None] = ContextVar("mmctl_on_send", default=None)


@contextmanager
def on_send(callback: Callable[[], None]) -> Iterator[None]:
    """Run `callback` when the request made inside this block leaves the process: once its budget admits
    it (`mmctl.exchange.budgeted`). Lets a shared query take joiners while it waits for budget."""
    token = _on_send.set(callback)
    try:
        yield
    finally:
        _on_send.reset(token)


def sending() -> None:
    """The request being made here leaves now: run (once) the callback an `on_send` block gave."""
    callback = _on_send.get()
    if callback is not None:
        _on_send.set(None)
        callback()


@contextmanager
def request_class(priority: Priority) -> Iterator[None]:
    """Every venue request made inside this block (in this task and tasks it creates) is of `priority`,
    except safety and heartbeat methods, which keep their own class."""
    token = _scope.set(priority)
    try:
        yield
    finally:
        _scope.reset(token)


def classify(method: str, *, reduce_only: bool = False) -> Priority:
    """The class of a request to port method `method` made here and now."""
    if method in SAFETY_METHODS or reduce_only:
        return Priority.SAFETY
    if method in HEARTBEAT_METHODS:
        return Priority.HEARTBEAT
    scoped = _scope.get()
    if scoped is not None:
        return scoped
    if method in ("place_orders", "amend_orders", "place_conditional"):
        return Priority.PLACE
    return Priority.QUERY
