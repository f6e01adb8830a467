"""Binance USDⓈ-M error answers → mmctl errors, in one table, from the response alone.

`classify(status, body, headers, now_ms)` turns one HTTP answer into the `mmctl.errors.ExchangeError`
subclass that tells the caller what to do (DESIGN.md §4): retry (`TransientError`), back off
(`RateLimited`, and `IpBanned` for a 418), resync the clock (`ClockSkew`), give up on that order
(`OrderRejected` and its subclasses, `UnknownOrder`), or stop (`AuthError`, `ExchangeError`). It reads
only the status, the `{"code": -NNNN, "msg": "..."}` body and the `Retry-After` header, never the URL,
so answers through a proxy or from the local fake server are classified exactly as Binance's own.
`leg_error(item)` does the same for one failed leg of a batch answer.

Codes not in the table fall back by Binance's numbering: -10xx server/network (retry), -11xx malformed
requests and -20xx/-40xx/-50xx order and filter problems (give up on the request), anything else stops.
Messages are one line and never contain credentials (Binance's bodies do not echo them).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mmctl.errors import (
    AuthError,
    ClockSkew,
    ExchangeError,
    FilterRejected,
    InsufficientMargin,
    LeverageRejected,
    OrderRejected,
    PostOnlyWouldCross,
    RateLimited,
    ReduceOnlyRejected,
    TransientError,
    UnknownOrder,
    UnknownSymbol,
)

AUTH_HINT = (
    "check the account's API key and secret, that the key has futures trading enabled, "
    "and that this machine's IP is on the key's whitelist"
)


class IpBanned(RateLimited):
    """HTTP 418: Binance banned this IP for ignoring 429s. Nothing may be sent before `banned_until_ms`
    (milliseconds since the epoch); `retry_after_s` is the time left when the ban was reported. A
    `RateLimited`, so every layer that backs off on a rate limit backs off on a ban too; its own code
    lets RPC clients tell a ban apart."""

    code = 1132

    def __init__(
        self,
        message: str,
        *,
        banned_until_ms: int,
        retry_after_s: float | None,
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, retry_after_s=retry_after_s, data=data)
        self.banned_until_ms = banned_until_ms
        self.data.setdefault("banned_until_ms", banned_until_ms)


class AlreadySet(OrderRejected):
    """Binance's "no need to change" answers (margin type, position mode): the wanted setting is
    already in place. Callers that change a setting treat it as success."""


@dataclass(frozen=True, slots=True)
class Rule:
    """What a Binance error code means for the caller, with an optional fix for the operator."""

    cls: type[ExchangeError]
    hint: str = ""


CODES: dict[int, Rule] = {
    # -10xx: server and network. Execution status of -1000/-1006/-1007 is unknown: the caller resyncs.
    -1000: Rule(TransientError),
    -1001: Rule(TransientError),
    -1002: Rule(AuthError, AUTH_HINT),
    -1003: Rule(RateLimited, "too many requests: back off"),
    -1006: Rule(TransientError),
    -1007: Rule(TransientError),
    -1008: Rule(TransientError, "the venue is overloaded: retry later"),
    -1015: Rule(RateLimited, "too many new orders: back off"),
    -1016: Rule(TransientError),
    -1021: Rule(ClockSkew, "the request's timestamp is outside the venue's window: resync the clock"),
    -1022: Rule(AuthError, "the request's signature is not valid: " + AUTH_HINT),
    -1034: Rule(RateLimited, "too many concurrent connections: back off"),
    # -11xx: the request itself.
    -1121: Rule(UnknownSymbol, "not a Binance USDⓈ-M market"),
    -1125: Rule(TransientError, "the user data stream's listen key expired: it is re-created"),
    # -20xx: processing.
    -2008: Rule(AuthError, AUTH_HINT),
    -2010: Rule(OrderRejected),
    -2011: Rule(UnknownOrder),
    -2013: Rule(UnknownOrder),
    -2014: Rule(AuthError, "the API key's format is invalid: " + AUTH_HINT),
    -2015: Rule(AuthError, AUTH_HINT),
    -2017: Rule(AuthError, "the account's API keys are locked"),
    -2018: Rule(InsufficientMargin),
    -2019: Rule(InsufficientMargin),
    -2020: Rule(OrderRejected),
    -2021: Rule(OrderRejected, "the conditional order would trigger at once: its condition already holds"),
    -2022: Rule(ReduceOnlyRejected),
    -2024: Rule(ReduceOnlyRejected),
    -2025: Rule(FilterRejected, "the symbol's maximum number of open orders is reached"),
    -2027: Rule(
        LeverageRejected,
        "the position plus open orders exceed the notional cap of this leverage's bracket: reduce them "
        "or choose a lower leverage",
    ),
    -2028: Rule(LeverageRejected, "the margin balance is too small for this leverage"),
    # -40xx: filters and account settings.
    -4001: Rule(FilterRejected),
    -4002: Rule(FilterRejected),
    -4003: Rule(FilterRejected),
    -4004: Rule(FilterRejected),
    -4005: Rule(FilterRejected),
    -4013: Rule(FilterRejected),
    -4014: Rule(FilterRejected),
    -4015: Rule(FilterRejected),
    -4016: Rule(FilterRejected),
    -4023: Rule(FilterRejected),
    -4024: Rule(FilterRejected),
    -4028: Rule(
        LeverageRejected,
        "the leverage is above the symbol's maximum: choose a lower one (mmctl leverage NAME shows it)",
    ),
    -4029: Rule(FilterRejected),
    -4030: Rule(FilterRejected),
    -4045: Rule(FilterRejected, "the account's open conditional orders are at Binance's maximum"),
    -4046: Rule(AlreadySet),
    -4059: Rule(AlreadySet),
    -4082: Rule(FilterRejected, "a batch takes at most 5 orders"),
    -4087: Rule(AuthError, "the account may only place reduce-only orders"),
    -4088: Rule(AuthError, "the account may not place orders now"),
    -4116: Rule(OrderRejected, "the client order id is already in use"),
    -4120: Rule(OrderRejected, "conditional orders go through Binance's Algo Order API (place_conditional)"),
    -4131: Rule(FilterRejected, "the price is outside the symbol's PERCENT_PRICE band"),
    -4161: Rule(LeverageRejected),
    -4164: Rule(FilterRejected, "the order's notional is below the symbol's minimum"),
    # -50xx: order execution.
    -5021: Rule(OrderRejected),
    -5022: Rule(PostOnlyWouldCross),
    -5026: Rule(OrderRejected, "the order was amended the most times Binance allows: cancel and replace it"),
    -5027: Rule(OrderRejected, "the amend changes nothing"),
    -5028: Rule(ClockSkew, "the request reached the matching engine too late: resync and retry"),
}
"""Every Binance USDⓈ-M error code mmctl treats specially (developers.binance.com, "Error Codes")."""

_BANNED_UNTIL = re.compile(r"banned until (\d{10,})")


def parse_body(body: str | None) -> Any:
    """The JSON of a response body, or None when it is empty or not JSON."""
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def classify(status: int, body: str | None, headers: Mapping[str, str], now_ms: int) -> ExchangeError | None:
    """The error one HTTP answer means, or None when it is a success."""
    payload = parse_body(body)
    code, msg = _code_and_msg(payload)
    retry_after = retry_after_s(headers)
    if status == 418:
        return _ban(msg, retry_after, now_ms)
    if status == 429:
        return RateLimited(
            _message(code if code is not None else 429, msg or "too many requests", "back off"),
            retry_after_s=retry_after if retry_after is not None else 1.0,
            data={"code": code, "http_status": status},
        )
    if code is not None and code < 0:
        return _from_code(code, msg, retry_after)
    if status >= 500:
        return TransientError(
            f"Binance answered HTTP {status} ({msg or 'no detail'}): the request's outcome is unknown",
            data={"http_status": status},
        )
    if status >= 400:
        return _from_status(status, msg)
    return None


def leg_error(item: Mapping[str, Any]) -> ExchangeError:
    """The error of one failed leg of a batch answer (`{"code": -5022, "msg": "..."}`)."""
    code, msg = _code_and_msg(item)
    return _from_code(code if code is not None else -1000, msg, None)


def is_leg_error(item: Any) -> bool:
    """True when a batch answer's element is an error rather than an order."""
    return isinstance(item, Mapping) and "code" in item and "orderId" not in item


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Seconds from the `Retry-After` header (any case), when present and sane."""
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                seconds = float(value)
            except ValueError:
                return None
            return seconds if 0 <= seconds < 1e9 else None
    return None


def _code_and_msg(payload: Any) -> tuple[int | None, str]:
    if not isinstance(payload, Mapping):
        return None, ""
    raw_code, msg = payload.get("code"), payload.get("msg")
    try:
        code = int(raw_code) if raw_code is not None and not isinstance(raw_code, bool) else None
    except (TypeError, ValueError):
        code = None
    return code, " ".join(str(msg).split()) if msg is not None else ""


def _message(code: int, msg: str, hint: str) -> str:
    text = f"Binance {code}: {msg or 'no message'}"
    return f"{text} ({hint})" if hint else text


def _from_code(code: int, msg: str, retry_after: float | None) -> ExchangeError:
    rule = CODES.get(code) or _fallback(code)
    message = _message(code, msg, rule.hint)
    data = {"code": code}
    if rule.cls is RateLimited:
        return RateLimited(message, retry_after_s=retry_after, data=data)
    return rule.cls(message, data=data)


def _fallback(code: int) -> Rule:
    """Binance numbers its codes by kind: -10xx server/network, -11xx request, -20xx processing,
    -40xx filters and settings, -50xx order execution."""
    if -1100 < code <= -1000:
        return Rule(TransientError)
    if -1200 < code <= -1100 or -2100 < code <= -2000 or -6000 < code <= -4000:
        return Rule(OrderRejected)
    return Rule(ExchangeError)


def _from_status(status: int, msg: str) -> ExchangeError:
    detail = f" ({msg})" if msg else ""
    if status == 401:
        return AuthError(f"Binance answered HTTP 401{detail}: {AUTH_HINT}", data={"http_status": status})
    if status == 403:
        return AuthError(
            f"Binance answered HTTP 403{detail}: its web application firewall refused the request",
            data={"http_status": status},
        )
    if status == 408:
        return TransientError(
            f"Binance answered HTTP 408{detail}: request timeout", data={"http_status": 408}
        )
    if status == 404:
        return ExchangeError(
            f"Binance answered HTTP 404{detail}: no such endpoint (check the account's rest_url)",
            data={"http_status": status},
        )
    return ExchangeError(f"Binance answered HTTP {status}{detail}", data={"http_status": status})


def _ban(msg: str, retry_after: float | None, now_ms: int) -> IpBanned:
    match = _BANNED_UNTIL.search(msg)
    if match is not None:
        until = int(match.group(1))
    else:
        until = now_ms + round((retry_after if retry_after is not None else 120.0) * 1000)
    left = max(0.0, (until - now_ms) / 1000)
    return IpBanned(
        f"Binance banned this IP until {_iso(until)} for too many requests: all trading on the account "
        "stops until then",
        banned_until_ms=until,
        retry_after_s=left,
        data={"http_status": 418},
    )


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
