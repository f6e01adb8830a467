"""Binance's error answers are classified by what the caller must do, from the answer alone."""

from __future__ import annotations

import json

import pytest

from mmctl.errors import (
    Action,
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
from mmctl.exchange.binance.batches import match_legs
from mmctl.exchange.binance.errors import AlreadySet, IpBanned, classify, leg_error, retry_after_s

NOW_MS = 1_800_000_000_000


def body(code: int, msg: str = "message") -> str:
    return json.dumps({"code": code, "msg": msg})


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, -5022, PostOnlyWouldCross),
        (400, -2019, InsufficientMargin),
        (400, -4164, FilterRejected),
        (400, -4014, FilterRejected),
        (400, -2022, ReduceOnlyRejected),
        (400, -4028, LeverageRejected),
        (400, -2027, LeverageRejected),
        (400, -1121, UnknownSymbol),
        (400, -2011, UnknownOrder),
        (400, -2013, UnknownOrder),
        (400, -1021, ClockSkew),
        (401, -2015, AuthError),
        (400, -1022, AuthError),
        (503, -1001, TransientError),
        (503, -1007, TransientError),
        (400, -4046, AlreadySet),
        (400, -4059, AlreadySet),
        (400, -4116, OrderRejected),
    ],
)
def test_codes_map_to_their_class_whatever_the_host(status: int, code: int, cls: type[ExchangeError]) -> None:
    """Each known code gives its class and a one-line message carrying the code (no URL is involved)."""
    error = classify(status, body(code, "first line\nsecond line"), {}, NOW_MS)
    assert type(error) is cls
    assert error is not None
    assert str(code) in error.message
    assert "\n" not in error.message
    assert error.data["code"] == code


def test_the_actions_cover_retry_backoff_resync_give_up_and_stop() -> None:
    """The table's classes carry the five actions a bot distinguishes."""
    actions = {
        classify(status, body(code), {}, NOW_MS).action  # type: ignore[union-attr]
        for status, code in ((503, -1001), (429, -1003), (400, -1021), (400, -5022), (401, -2015))
    }
    assert actions == {Action.RETRY, Action.BACKOFF, Action.RESYNC, Action.GIVE_UP, Action.STOP}


def test_success_answers_are_not_errors() -> None:
    """A 200, even one whose body says {"code": 200}, is not an error."""
    assert classify(200, '{"orderId": 1}', {}, NOW_MS) is None
    assert classify(200, '{"code": 200, "msg": "success"}', {}, NOW_MS) is None
    assert classify(200, "[]", {}, NOW_MS) is None


def test_429_backs_off_for_retry_after() -> None:
    """A 429 is RateLimited with the Retry-After header's seconds (header name in any case)."""
    error = classify(429, body(-1003, "Too many requests"), {"retry-after": "7"}, NOW_MS)
    assert isinstance(error, RateLimited)
    assert not isinstance(error, IpBanned)
    assert error.retry_after_s == 7.0
    assert retry_after_s({"Retry-After": "garbage"}) is None


def test_418_is_a_ban_with_its_end_time() -> None:
    """A 418 is IpBanned carrying the ban's end from Binance's message, and the time left."""
    until = NOW_MS + 120_000
    msg = f"Way too many requests; IP(1.2.3.4) banned until {until}. Please use the websocket."
    error = classify(418, body(-1003, msg), {"Retry-After": "120"}, NOW_MS)
    assert isinstance(error, IpBanned)
    assert error.banned_until_ms == until
    assert error.retry_after_s == 120.0
    assert error.action is Action.BACKOFF
    assert "banned" in error.message


def test_418_without_a_time_in_its_message_uses_retry_after() -> None:
    """A ban whose message has no end time ends Retry-After seconds from now."""
    error = classify(418, "", {"Retry-After": "30"}, NOW_MS)
    assert isinstance(error, IpBanned)
    assert error.banned_until_ms == NOW_MS + 30_000


@pytest.mark.parametrize(
    ("status", "payload", "cls"),
    [
        (502, "<html>Bad gateway</html>", TransientError),
        (500, "", TransientError),
        (404, "<html>404</html>", ExchangeError),
        (401, "", AuthError),
        (403, "", AuthError),
        (400, body(-4999), OrderRejected),  # an unknown filter/settings code: give up on the request
        (400, body(-1099), TransientError),  # an unknown server code
        (400, body(-9999), ExchangeError),  # unknown family: stop
    ],
)
def test_answers_without_a_known_code_fall_back_by_status_and_family(
    status: int, payload: str, cls: type[ExchangeError]
) -> None:
    """Bodies that are HTML, empty or carry an unknown code are classified by status or code family."""
    assert type(classify(status, payload, {}, NOW_MS)) is cls


def test_batch_legs_match_by_client_id_even_when_reordered() -> None:
    """Results re-sorted (failed legs first, as ccxt does) still reach their own request."""
    answer = [
        {"code": -5022, "msg": "post only"},
        {"orderId": 2, "clientOrderId": "c"},
        {"orderId": 1, "clientOrderId": "a"},
    ]
    a, b, c = match_legs(["a", "b", "c"], answer)
    assert a == {"orderId": 1, "clientOrderId": "a"}
    assert isinstance(b, PostOnlyWouldCross)
    assert c == {"orderId": 2, "clientOrderId": "c"}


def test_a_leg_without_any_answer_is_an_unknown_outcome() -> None:
    """A request the batch answer says nothing about gets TransientError (it may exist)."""
    (leg,) = match_legs(["x"], [])
    assert isinstance(leg, TransientError)
    assert isinstance(leg_error({"code": -2011, "msg": "Unknown order sent."}), UnknownOrder)
