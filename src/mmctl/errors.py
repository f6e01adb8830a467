"""The mmctl error tree: one class per thing a caller must do differently, each with a stable code.

Every error raised across a boundary (exchange port, RPC, config) is an `MmctlError`. Its `code` is the
stable application error code (>= 1000) carried in JSON-RPC error objects, and its `action` says what the
caller should do (DESIGN.md §4): retry, back off, resync the clock, give up on that order, or stop.
The CLI maps codes to exit codes through `EXIT_CODES`; `error_for_code` rebuilds the class on the client.
Messages must never contain secrets.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class Action(StrEnum):
    """What the caller of a failed operation should do next."""

    RETRY = "retry"  # transient: try again soon (network, 5xx, timeouts)
    BACKOFF = "backoff"  # rate limited: wait before any further request
    RESYNC = "resync"  # clock skew: resync server time, then retry
    GIVE_UP = "give_up"  # this order or request is rejected; the bot goes on
    STOP = "stop"  # the bot cannot go on (auth, risk, repeated failure)
    FAIL = "fail"  # a command failed; report it to the user


class MmctlError(Exception):
    """Base of every mmctl error. `data` is JSON-safe detail (e.g. the offending field)."""

    code: ClassVar[int] = 1000
    action: ClassVar[Action] = Action.FAIL

    def __init__(self, message: str, *, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data: dict[str, Any] = dict(data or {})

    def __str__(self) -> str:
        return self.message


# --- user-facing command errors -------------------------------------------------------------------


class ConfigError(MmctlError):
    """The configuration file is missing, unreadable or invalid (message names file and key)."""

    code = 1001


class ValidationError(MmctlError):
    """A parameter value is out of range or malformed; `data['field']` names it."""

    code = 1002


class NotFound(MmctlError):
    """A named thing (bot, account, symbol) does not exist."""

    code = 1003


class AlreadyExists(MmctlError):
    """A named thing already exists."""

    code = 1004


class InvalidState(MmctlError):
    """The operation is not allowed in the current state (e.g. remove a running bot)."""

    code = 1005


class ShuttingDown(MmctlError):
    """The daemon is shutting down and accepts no new commands."""

    code = 1006


class StopIncomplete(MmctlError):
    """Orders were still open when a stop's confirmation deadline passed; `data` lists them."""

    code = 1007


class Timeout(MmctlError):
    """The daemon did not answer, or an RPC request did not finish, in time (the CLI exits 5).

    Not for a venue or market condition that did not arrive in time: that is `NoMarketData` (exit 1)."""

    code = 1008
    action = Action.RETRY


class ApiMismatch(MmctlError):
    """The CLI and the daemon speak different API versions."""

    code = 1009


class DaemonUnreachable(MmctlError):
    """No daemon answers on the socket (client side)."""

    code = 1010


class PermissionDenied(MmctlError):
    """The socket exists but this user may not open it (client side)."""

    code = 1011


class NoMarketData(MmctlError):
    """A symbol's market data did not arrive in time (e.g. `create` waiting for a first book): the
    command failed (exit 1); the daemon itself answered."""

    code = 1012


class InvalidParams(ValidationError):
    """JSON-RPC invalid params: a missing, unknown or mistyped parameter; `data['field']` names it."""

    code = -32602


# --- exchange errors --------------------------------------------------------------------------------


class ExchangeError(MmctlError):
    """Any error from a venue, translated at the adapter."""

    code = 1100
    action = Action.STOP


class OrderRejected(ExchangeError):
    """The venue refused this order; give up on it, the bot goes on."""

    code = 1110
    action = Action.GIVE_UP


class PostOnlyWouldCross(OrderRejected):
    """A post-only order would have taken liquidity (Binance -5022). Normal: re-quote next tick."""

    code = 1111


class InsufficientMargin(OrderRejected):
    """Not enough available balance for the order's initial margin (Binance -2019)."""

    code = 1112


class FilterRejected(OrderRejected):
    """The request breaks a market rule: tick, step, min quantity/notional, max orders, batch size."""

    code = 1113


class ReduceOnlyRejected(OrderRejected):
    """A reduce-only order would increase the position."""

    code = 1114


class LeverageRejected(OrderRejected):
    """Leverage outside 1..max for the symbol, or the position's notional exceeds the bracket cap."""

    code = 1115


class UnknownSymbol(OrderRejected):
    """The venue has no such market."""

    code = 1116


class UnknownOrder(ExchangeError):
    """No such order (never existed, or already gone)."""

    code = 1120
    action = Action.GIVE_UP


class RateLimited(ExchangeError):
    """The venue's rate limit was hit (429/418 or -1003); back off. `retry_after_s` when known."""

    code = 1130
    action = Action.BACKOFF

    def __init__(
        self, message: str, *, retry_after_s: float | None = None, data: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, data=data)
        self.retry_after_s = retry_after_s
        if retry_after_s is not None:
            self.data.setdefault("retry_after_s", retry_after_s)


class BudgetExhausted(RateLimited):
    """mmctl's own request budget cannot admit the request before its deadline: nothing was sent."""

    code = 1131


class TransientError(ExchangeError):
    """Network failure, timeout, 5xx: safe to retry."""

    code = 1140
    action = Action.RETRY


class ClockSkew(TransientError):
    """The request's timestamp was outside the venue's window (-1021): resync time, then retry."""

    code = 1141
    action = Action.RESYNC


class AuthError(ExchangeError):
    """Credentials missing, invalid or lacking permission: the bot must stop."""

    code = 1150
    action = Action.STOP


class VenueUnavailable(ExchangeError):
    """The venue cannot be reached at all (used by start's connection check)."""

    code = 1160
    action = Action.STOP


class StoreError(MmctlError):
    """The store cannot be opened or a write failed; the message names the file and what to do."""

    code = 1200
    action = Action.STOP


def _all_subclasses(cls: type[MmctlError]) -> list[type[MmctlError]]:
    out: list[type[MmctlError]] = [cls]
    for sub in cls.__subclasses__():
        out.extend(_all_subclasses(sub))
    return out


ERRORS_BY_CODE: dict[int, type[MmctlError]] = {c.code: c for c in _all_subclasses(MmctlError)}
"""Every application error code, for the RPC client and documentation."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_PERMISSION, EXIT_TIMEOUT = 0, 1, 2, 3, 4, 5

EXIT_CODES: dict[int, int] = {
    ValidationError.code: EXIT_USAGE,
    InvalidParams.code: EXIT_USAGE,
    DaemonUnreachable.code: EXIT_UNREACHABLE,
    PermissionDenied.code: EXIT_PERMISSION,
    Timeout.code: EXIT_TIMEOUT,
}
"""Exit code for an application error code; anything not listed exits 1."""


def exit_code_for(code: int) -> int:
    """The CLI exit code for an application or JSON-RPC error code."""
    return EXIT_CODES.get(code, EXIT_FAILED)


def error_for_code(code: int, message: str, data: dict[str, Any] | None = None) -> MmctlError:
    """Rebuild the error class for `code` (falls back to `MmctlError`)."""
    cls = ERRORS_BY_CODE.get(code, MmctlError)
    if issubclass(cls, RateLimited):
        retry = (data or {}).get("retry_after_s")
        return cls(message, retry_after_s=float(retry) if retry is not None else None, data=data)
    return cls(message, data=data)
