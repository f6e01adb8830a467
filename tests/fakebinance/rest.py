"""The REST pipeline of the fake: route, faults, ban, weight and order counts, auth, handler, headers, log.

Each request goes through, in order: injected delay; the 418 ban; the weight and order counters (429);
an injected failure; authentication by its security type (NONE, USER_STREAM: API key only, SIGNED: key,
signature, timestamp); the handler; then the answer with `X-MBX-USED-WEIGHT-1M` (and the account's
`X-MBX-ORDER-COUNT-10S` / `-1M` when the request carried a known API key). Every request, answered or
not, is appended to the request log.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from aiohttp import web

from . import auth
from .accounts import Account
from .errors import BinanceError
from .faults import Failure, FaultInjector
from .ratelimit import cost_of

if TYPE_CHECKING:
    from .server import FakeBinance

Params = dict[str, str]
Handler = Callable[["FakeBinance", Params, "Account | None"], Any]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A route: its handler and Binance's security type (NONE, USER_STREAM, SIGNED)."""

    handler: Handler
    security: str


ROUTES: dict[tuple[str, str], Endpoint] = {}


def route(method: str, *paths: str, security: str = "SIGNED") -> Callable[[Handler], Handler]:
    """Register a handler for `method` on each of `paths`."""

    def register(fn: Handler) -> Handler:
        for path in paths:
            ROUTES[(method, path)] = Endpoint(fn, security)
        return fn

    return register


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the fake saw it (for assertions on what a client sent and paid)."""

    method: str
    path: str
    params: dict[str, str]
    weight: int
    orders: int
    time_ms: int
    status: int
    code: int | None
    account_key: str | None


class RestPipeline:
    """The aiohttp handler for every REST path."""

    def __init__(self, fake: FakeBinance, faults: FaultInjector, log: list[RequestRecord]) -> None:
        self.fake = fake
        self.faults = faults
        self.log = log
        self.stopping = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one REST request."""
        method, path = request.method, request.path
        raw_query = request.rel_url.raw_query_string
        raw_body = await request.text() if request.can_read_body else ""
        params: Params = dict(parse_qsl(raw_query, keep_blank_values=True))
        params.update(parse_qsl(raw_body, keep_blank_values=True))
        endpoint = ROUTES.get((method, path))
        api_key = request.headers.get("X-MBX-APIKEY")
        known = api_key if api_key in self.fake.venue.accounts else None
        plan = self.faults.plan(method, path)
        if plan.delay:
            await asyncio.sleep(plan.delay)
        cost = cost_of(method, path, params)
        status, body, code, retry_after = 200, "", None, None
        try:
            self.fake.limiter.check_ban()
            self.fake.limiter.charge(
                cost, known if endpoint is not None and endpoint.security != "NONE" else None
            )
            if plan.failure is not None and not plan.failure.process:
                raise _failure_error(plan.failure)
            if endpoint is None:
                raise _NotFound
            account = self._authenticate(endpoint, api_key, raw_query, raw_body, params)
            result = endpoint.handler(self.fake, params, account)
            if plan.failure is not None:
                raise _failure_error(plan.failure)
            body = json.dumps(result)
        except _NotFound:
            status, body = 404, "<html><body><h2>404 Not found</h2></body></html>"
        except _RawFailure as e:
            status, body, retry_after = e.status, e.body, e.retry_after
        except BinanceError as e:
            status, body, code, retry_after = e.status, json.dumps(e.body()), e.code, e.retry_after
        self.log.append(
            RequestRecord(
                method, path, params, cost.weight, cost.orders_10s, self.fake.now_ms(), status, code, known
            )
        )
        if plan.swallow:
            await self.stopping.wait()
            raise web.HTTPServiceUnavailable
        headers = self.fake.limiter.headers(known)
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        content_type = "text/html" if status == 404 or body.startswith("<") else "application/json"
        return web.Response(status=status, text=body, headers=headers, content_type=content_type)

    def _authenticate(
        self, endpoint: Endpoint, api_key: str | None, raw_query: str, raw_body: str, params: Params
    ) -> Account | None:
        if endpoint.security == "NONE":
            return None
        account = auth.account_for(api_key, self.fake.venue.accounts)
        if endpoint.security == "SIGNED":
            auth.verify(raw_query, raw_body, params, account.secret, self.fake.now_ms())
        return account


class _NotFound(Exception):
    pass


class _RawFailure(Exception):
    def __init__(self, status: int, body: str, retry_after: int | None) -> None:
        super().__init__(status)
        self.status, self.body, self.retry_after = status, body, retry_after


def _failure_error(failure: Failure) -> Exception:
    if failure.body is not None:
        return _RawFailure(failure.status, failure.body, failure.retry_after)
    return BinanceError(failure.code, failure.msg, status=failure.status, retry_after=failure.retry_after)
